package ksp_test

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cardmod/cardmod/csptest"
	"github.com/cardmod/cardmod/keystore"
	"github.com/cardmod/cardmod/ksp"
	"github.com/cardmod/cardmod/minidriver"
)

// TestSuiteOnProfiles runs the provider behaviour suite (csptest
// Run) through the KSP on every simulated card profile. The KSP changes
// no PIN (as Windows's Smart Card KSP: PIN changes go through the card's
// Base CSP or minidriver), so the suite's PIN change and unblock run in
// basecsp's.
func TestSuiteOnProfiles(t *testing.T) {
	csptest.Run(t, csptest.Suite{Open: openSuite, ECDH: true})
}

func openSuite(t *testing.T, cfg csptest.OpenConfig) csptest.Provider {
	p, err := ksp.Open(ksp.Config{Backend: cfg.Backend, Prompt: cfg.Prompt, AdminResponse: cfg.Admin})
	require.NoError(t, err)
	t.Cleanup(func() { _ = p.Close() })
	return suiteProvider{p}
}

// suiteProvider adapts a Provider to the suite.
type suiteProvider struct{ p *ksp.Provider }

// suiteAlg is the CNG algorithm of a key spec.
func suiteAlg(spec minidriver.KeySpec) (ksp.Algorithm, error) {
	switch spec {
	case minidriver.KeyExchange, minidriver.Signature:
		return ksp.RSA, nil
	case minidriver.ECDSAP256:
		return ksp.ECDSAP256, nil
	case minidriver.ECDSAP384:
		return ksp.ECDSAP384, nil
	case minidriver.ECDSAP521:
		return ksp.ECDSAP521, nil
	case minidriver.ECDHP256:
		return ksp.ECDHP256, nil
	case minidriver.ECDHP384:
		return ksp.ECDHP384, nil
	case minidriver.ECDHP521:
		return ksp.ECDHP521, nil
	}
	return "", fmt.Errorf("no CNG algorithm for %v", spec)
}

func (s suiteProvider) Generate(ctx context.Context, name string, k csptest.KeyCase) (csptest.Key, error) {
	alg, err := suiteAlg(k.Spec)
	if err != nil {
		return nil, err
	}
	key, err := s.p.CreatePersistedKey(ctx, name, alg)
	if err != nil {
		return nil, err
	}
	if k.Bits != 0 {
		if err := key.SetProperty(ctx, ksp.PropLength, k.Bits); err != nil {
			return nil, err
		}
	}
	if err := key.Finalize(ctx); err != nil {
		return nil, err
	}
	return suiteKey{key}, nil
}

func (s suiteProvider) Import(ctx context.Context, name string, spec minidriver.KeySpec, priv crypto.PrivateKey) (csptest.Key, error) {
	alg, err := suiteAlg(spec)
	if err != nil {
		return nil, err
	}
	key, err := s.p.CreatePersistedKey(ctx, name, alg)
	if err != nil {
		return nil, err
	}
	if err := key.FinalizeImport(ctx, priv); err != nil {
		return nil, err
	}
	return suiteKey{key}, nil
}

// Keys lists the keys Keys lists: beside a keystore.CardErrors, those of the
// cards it could read.
func (s suiteProvider) Keys(ctx context.Context) ([]csptest.Entry, error) {
	list, listErr := s.p.Keys(ctx)
	var ce keystore.CardErrors
	if listErr != nil && !errors.As(listErr, &ce) {
		return nil, listErr
	}
	var out []csptest.Entry
	for _, e := range list {
		k, err := s.p.OpenKeySpec(ctx, e.FullName(), e.KeySpec)
		if err != nil {
			return nil, err
		}
		out = append(out, csptest.Entry{Name: e.FullName(), Spec: e.KeySpec, Public: k.Public()})
	}
	return out, listErr
}

func (s suiteProvider) Open(ctx context.Context, name string, spec minidriver.KeySpec) (csptest.Key, error) {
	k, err := s.p.OpenKeySpec(ctx, name, spec)
	if err != nil {
		return nil, err
	}
	return suiteKey{k}, nil
}

func (s suiteProvider) ListKeys(ctx context.Context) ([]keystore.KeyInfo, error) {
	return s.p.ListKeys(ctx)
}

func (s suiteProvider) Find(ctx context.Context, q ksp.KeyQuery) (csptest.Key, error) {
	k, err := s.p.FindKey(ctx, q)
	if err != nil {
		return nil, err
	}
	return suiteKey{k}, nil
}

func (s suiteProvider) Certificates(ctx context.Context) ([]keystore.CertEntry, error) {
	return s.p.Certificates(ctx)
}

// suiteKey is a Key with its certificate as the suite asks for it: the
// "SmartCardKeyCertificate" property.
type suiteKey struct{ *ksp.Key }

func (k suiteKey) SetCertificate(ctx context.Context, cert *x509.Certificate) error {
	return k.SetProperty(ctx, ksp.PropSmartCardKeyCertificate, cert)
}

func (k suiteKey) Certificate(ctx context.Context) (*x509.Certificate, error) {
	v, err := k.Property(ctx, ksp.PropSmartCardKeyCertificate)
	if err != nil {
		return nil, err
	}
	c, ok := v.(*x509.Certificate)
	if !ok {
		return nil, fmt.Errorf("SmartCardKeyCertificate is %T", v)
	}
	return c, nil
}

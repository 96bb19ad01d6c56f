package basecsp_test

import (
	"context"
	"crypto"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cardmod/cardmod/basecsp"
	"github.com/cardmod/cardmod/csptest"
	"github.com/cardmod/cardmod/keystore"
	"github.com/cardmod/cardmod/minidriver"
)

// TestSuiteOnProfiles runs the provider behaviour suite (csptest
// Run) through the Base CSP on every simulated card profile. The Base CSP
// has no key agreement (CAPI's smart card CSP has none; ECDH is the KSP's),
// so ECDH keys are generated and listed but not used here.
func TestSuiteOnProfiles(t *testing.T) {
	csptest.Run(t, csptest.Suite{Open: openSuite, PINChange: true})
}

func openSuite(t *testing.T, cfg csptest.OpenConfig) csptest.Provider {
	p, err := basecsp.Open(basecsp.Config{Backend: cfg.Backend, Prompt: cfg.Prompt, AdminResponse: cfg.Admin})
	require.NoError(t, err)
	t.Cleanup(func() { _ = p.Close() })
	return suiteProvider{p}
}

// suiteProvider adapts a Provider to the suite.
type suiteProvider struct{ p *basecsp.Provider }

func (s suiteProvider) Generate(ctx context.Context, name string, k csptest.KeyCase) (csptest.Key, error) {
	ct, err := s.p.CreateContainer(ctx, name, k.Spec, k.Bits, nil)
	if err != nil {
		return nil, err
	}
	return ct.Key(k.Spec)
}

func (s suiteProvider) Import(ctx context.Context, name string, spec minidriver.KeySpec, priv crypto.PrivateKey) (csptest.Key, error) {
	ct, err := s.p.CreateContainer(ctx, name, spec, 0, priv)
	if err != nil {
		return nil, err
	}
	return ct.Key(spec)
}

// Keys lists the keys of every container Containers lists: beside a
// keystore.CardErrors, those of the cards it could read.
func (s suiteProvider) Keys(ctx context.Context) ([]csptest.Entry, error) {
	list, listErr := s.p.Containers(ctx)
	var ce keystore.CardErrors
	if listErr != nil && !errors.As(listErr, &ce) {
		return nil, listErr
	}
	var out []csptest.Entry
	for _, e := range list {
		ct, err := s.p.Container(ctx, e.FullName())
		if err != nil {
			return nil, err
		}
		for _, spec := range ct.KeySpecs() {
			k, err := ct.Key(spec)
			if err != nil {
				return nil, err
			}
			out = append(out, csptest.Entry{Name: e.FullName(), Spec: spec, Public: k.Public()})
		}
	}
	return out, listErr
}

func (s suiteProvider) Open(ctx context.Context, name string, spec minidriver.KeySpec) (csptest.Key, error) {
	ct, err := s.p.Container(ctx, name)
	if err != nil {
		return nil, err
	}
	return ct.Key(spec)
}

func (s suiteProvider) ListKeys(ctx context.Context) ([]keystore.KeyInfo, error) {
	return s.p.ListKeys(ctx)
}

func (s suiteProvider) Find(ctx context.Context, q basecsp.KeyQuery) (csptest.Key, error) {
	return s.p.FindKey(ctx, q)
}

func (s suiteProvider) Certificates(ctx context.Context) ([]keystore.CertEntry, error) {
	return s.p.Certificates(ctx)
}

func (s suiteProvider) ChangePIN(ctx context.Context, old, new []byte) error {
	c, err := s.p.Card(ctx, csptest.SuiteReader)
	if err != nil {
		return err
	}
	return c.ChangePIN(ctx, minidriver.RoleUser, old, new)
}

func (s suiteProvider) UnblockPIN(ctx context.Context, by minidriver.PinID, secret, new []byte) error {
	c, err := s.p.Card(ctx, csptest.SuiteReader)
	if err != nil {
		return err
	}
	return c.UnblockPIN(ctx, minidriver.RoleUser, by, secret, new)
}

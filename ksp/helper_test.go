package ksp_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cardmod/cardmod/basecsp"
	simpiv "github.com/cardmod/cardmod/cardsim/piv"
	"github.com/cardmod/cardmod/csptest"
	"github.com/cardmod/cardmod/ksp"
	"github.com/cardmod/cardmod/minidriver/piv"
	"github.com/cardmod/cardmod/scrm/virtual"
)

const readerName = "Virtual Reader 0"

// prompt answers with the PIN it holds and counts the questions.
type prompt = csptest.Prompt

func newPrompt(pin string) *prompt { return csptest.NewPrompt(pin) }

type fixture struct {
	b      *virtual.Backend
	reader *virtual.Reader
	sim    *simpiv.Card
	prompt *prompt
	p      *ksp.Provider
}

// newFixture opens a KSP on a virtual reader holding a fresh simulated
// YubiKey. cfg's Backend, Prompt and AdminResponse are filled in when
// empty (Prompt only when not silent).
func newFixture(t testing.TB, cfg ksp.Config) *fixture {
	t.Helper()
	return newFixtureSim(t, simpiv.Config{}, cfg)
}

// newFixtureSim is newFixture with a simulated card set up by simCfg.
func newFixtureSim(t testing.TB, simCfg simpiv.Config, cfg ksp.Config) *fixture {
	t.Helper()
	sim, err := simpiv.New(simCfg)
	require.NoError(t, err)
	b := virtual.NewBackend()
	r := b.AddReader(readerName)
	r.Insert(sim)
	f := &fixture{b: b, reader: r, sim: sim, prompt: newPrompt(simpiv.DefaultPIN)}
	f.p = f.open(t, cfg)
	return f
}

// open opens another KSP on the fixture's backend.
func (f *fixture) open(t testing.TB, cfg ksp.Config) *ksp.Provider {
	t.Helper()
	cfg.Backend = f.b
	if cfg.Prompt == nil && !cfg.Silent {
		cfg.Prompt = f.prompt
	}
	if cfg.AdminResponse == nil {
		cfg.AdminResponse = piv.ManagementKey(simpiv.DefaultManagementKey)
	}
	p, err := ksp.Open(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// baseCSP opens a Base CSP on the fixture's backend.
func (f *fixture) baseCSP(t testing.TB) *basecsp.Provider {
	t.Helper()
	p, err := basecsp.Open(basecsp.Config{Backend: f.b, Prompt: f.prompt,
		AdminResponse: piv.ManagementKey(simpiv.DefaultManagementKey)})
	require.NoError(t, err)
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// create makes a key of alg named name, generated on the card (priv nil)
// or imported.
func (f *fixture) create(t testing.TB, name string, alg ksp.Algorithm, priv crypto.PrivateKey) *ksp.Key {
	t.Helper()
	ctx := context.Background()
	k, err := f.p.CreatePersistedKey(ctx, name, alg)
	require.NoError(t, err)
	if priv == nil {
		require.NoError(t, k.Finalize(ctx))
	} else {
		require.NoError(t, k.FinalizeImport(ctx, priv))
	}
	return k
}

// rsaKey returns one RSA-2048 key for every test: generating keys on the
// simulated card is slow under the race detector, importing is not.
func rsaKey(t testing.TB) *rsa.PrivateKey { return csptest.RSAKey(t) }

// selfSigned issues a self-signed certificate for the card key k.
func selfSigned(t testing.TB, k crypto.Signer, cn string) *x509.Certificate {
	return csptest.SelfSigned(t, k, cn)
}

// softKey is a software P-256 key.
func softKey(t testing.TB) *ecdsa.PrivateKey { return csptest.SoftKey(t) }

// tlsHandshake runs a TLS handshake in which the client authenticates
// with key and its certificate.
func tlsHandshake(t *testing.T, version uint16, key crypto.Signer, cert *x509.Certificate) {
	csptest.TLSHandshake(t, version, key, cert)
}

package basecsp_test

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
	"github.com/cardmod/cardmod/minidriver"
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
	p      *basecsp.Provider
}

// newFixture opens a provider on a virtual reader holding a fresh
// simulated YubiKey. cfg's Backend, Prompt and AdminResponse are filled in
// when empty.
func newFixture(t testing.TB, cfg basecsp.Config) *fixture {
	t.Helper()
	sim, err := simpiv.New(simpiv.Config{})
	require.NoError(t, err)
	b := virtual.NewBackend()
	r := b.AddReader(readerName)
	r.Insert(sim)
	f := &fixture{b: b, reader: r, sim: sim, prompt: newPrompt(simpiv.DefaultPIN)}
	f.p = f.open(t, cfg)
	return f
}

// open opens another provider on the fixture's backend.
func (f *fixture) open(t testing.TB, cfg basecsp.Config) *basecsp.Provider {
	t.Helper()
	cfg.Backend = f.b
	if cfg.Prompt == nil && !cfg.Silent {
		cfg.Prompt = f.prompt
	}
	if cfg.AdminResponse == nil {
		cfg.AdminResponse = piv.ManagementKey(simpiv.DefaultManagementKey)
	}
	p, err := basecsp.Open(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// create makes a container and returns its key of spec.
func (f *fixture) create(t testing.TB, name string, spec minidriver.KeySpec, key crypto.PrivateKey) *basecsp.Key {
	t.Helper()
	ct, err := f.p.CreateContainer(context.Background(), name, spec, 0, key)
	require.NoError(t, err)
	k, err := ct.Key(spec)
	require.NoError(t, err)
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

// encryptPKCS1v15 builds a PKCS #1 v1.5 type 2 ciphertext (rsa.EncryptPKCS1v15
// is deprecated).
func encryptPKCS1v15(t testing.TB, pub *rsa.PublicKey, msg []byte) []byte {
	return csptest.EncryptPKCS1v15(t, pub, msg)
}

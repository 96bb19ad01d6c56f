package ksp_test

import (
	"context"
	"crypto"
	"crypto/ecdh"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"reflect"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cardmod/cardmod/cardsim"
	simpiv "github.com/cardmod/cardmod/cardsim/piv"
	"github.com/cardmod/cardmod/ksp"
	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/minidriver/kdf"
	"github.com/cardmod/cardmod/scrm/virtual"
)

// countingCard counts the APDUs that reach the card.
type countingCard struct {
	cardsim.Card
	n atomic.Int64
}

func (c *countingCard) Transmit(apdu []byte) []byte {
	c.n.Add(1)
	return c.Card.Transmit(apdu)
}

// exportedErrorMethods lists "Type.Method" for every exported method of
// the values' types that returns an error.
func exportedErrorMethods(values ...any) []string {
	errType := reflect.TypeFor[error]()
	var out []string
	for _, v := range values {
		t := reflect.TypeOf(v)
		for i := range t.NumMethod() {
			m := t.Method(i)
			if n := m.Type.NumOut(); n > 0 && m.Type.Out(n-1) == errType {
				out = append(out, t.Elem().Name()+"."+m.Name)
			}
		}
	}
	return out
}

// After Close, every method of the provider, its keys and secrets fails
// with ErrClosed, sends nothing to the card and asks for no PIN.
func TestClosedMeansClosed(t *testing.T) {
	ctx := context.Background()
	sim, err := simpiv.New(simpiv.Config{})
	require.NoError(t, err)
	card := &countingCard{Card: sim}
	b := virtual.NewBackend()
	b.AddReader(readerName).Insert(card)
	f := &fixture{b: b, prompt: newPrompt(simpiv.DefaultPIN)}
	f.p = f.open(t, ksp.Config{})

	rk := f.create(t, "rsa", ksp.RSA, rsaKey(t))
	dk := f.create(t, "dh", ksp.ECDHP256, nil)
	pending, err := f.p.CreatePersistedKey(ctx, "later", ksp.ECDSAP256)
	require.NoError(t, err)
	peer, err := ecdh.P256().GenerateKey(rand.Reader)
	require.NoError(t, err)
	secret, err := dk.SecretAgreement(ctx, peer.PublicKey())
	require.NoError(t, err)
	digest := sha256.Sum256([]byte("closed"))
	ciphertext, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, &rsaKey(t).PublicKey, []byte("secret"), nil)
	require.NoError(t, err)

	require.NoError(t, f.p.Close())
	apdus, prompts := card.n.Load(), f.prompt.Count.Load()

	hashKDF := kdf.Hash{Hash: crypto.SHA256}
	calls := map[string]func() error{
		"Provider.Close":              func() error { return f.p.Close() },
		"Provider.OpenKey":            func() error { _, err := f.p.OpenKey(ctx, "rsa"); return err },
		"Provider.FindKey":            func() error { _, err := f.p.FindKey(ctx, ksp.KeyQuery{Container: "rsa"}); return err },
		"Provider.OpenKeySpec":        func() error { _, err := f.p.OpenKeySpec(ctx, "rsa", minidriver.KeyExchange); return err },
		"Provider.Keys":               func() error { _, err := f.p.Keys(ctx); return err },
		"Provider.ListKeys":           func() error { _, err := f.p.ListKeys(ctx); return err },
		"Provider.InitializeCard":     func() error { _, err := f.p.InitializeCard(ctx, "reader", ksp.InitParams{}); return err },
		"Provider.DeleteKey":          func() error { return f.p.DeleteKey(ctx, "rsa") },
		"Provider.CreatePersistedKey": func() error { _, err := f.p.CreatePersistedKey(ctx, "new", ksp.ECDSAP256); return err },
		"Provider.Certificates":       func() error { _, err := f.p.Certificates(ctx); return err },
		"Key.Finalize":                func() error { return pending.Finalize(ctx) },
		"Key.FinalizeImport":          func() error { return pending.FinalizeImport(ctx, rsaKey(t)) },
		"Key.Sign":                    func() error { _, err := rk.Sign(rand.Reader, digest[:], crypto.SHA256); return err },
		"Key.SignContext":             func() error { _, err := rk.SignContext(ctx, rand.Reader, digest[:], crypto.SHA256); return err },
		"Key.Decrypt": func() error {
			_, err := rk.Decrypt(rand.Reader, ciphertext, &rsa.OAEPOptions{Hash: crypto.SHA256})
			return err
		},
		"Key.DecryptContext": func() error {
			_, err := rk.DecryptContext(ctx, rand.Reader, ciphertext, &rsa.OAEPOptions{Hash: crypto.SHA256})
			return err
		},
		"Key.Delete":          func() error { return rk.Delete(ctx) },
		"Key.PublicBlob":      func() error { _, err := rk.PublicBlob(); return err },
		"Key.Property":        func() error { _, err := rk.Property(ctx, ksp.PropAlgorithmGroup); return err },
		"Key.SetProperty":     func() error { return rk.SetProperty(ctx, ksp.PropSmartCardPin, simpiv.DefaultPIN) },
		"Key.SecretAgreement": func() error { _, err := dk.SecretAgreement(ctx, peer.PublicKey()); return err },
		"Key.ECDH":            func() error { _, err := dk.ECDH(peer.PublicKey()); return err },
		"Key.ECDHContext":     func() error { _, err := dk.ECDHContext(ctx, peer.PublicKey()); return err },
		"Secret.Derive":       func() error { _, err := secret.Derive(hashKDF); return err },
		"Secret.DeriveContext": func() error {
			_, err := secret.DeriveContext(ctx, hashKDF)
			return err
		},
		"Secret.DeriveNamed": func() error {
			_, err := secret.DeriveNamed(ctx, "HASH", nil)
			return err
		},
	}
	methods := exportedErrorMethods(f.p, rk, secret)
	require.GreaterOrEqual(t, len(methods), 20)
	for _, name := range methods {
		if name == "Secret.Close" {
			continue // closing a secret its provider's Close wiped is harmless
		}
		assert.Contains(t, calls, name, "the table covers every method that returns an error")
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			assert.ErrorIs(t, call(), ksp.ErrClosed)
		})
	}
	assert.NoError(t, secret.Close())
	assert.Equal(t, apdus, card.n.Load(), "no APDU after Close")
	assert.Equal(t, prompts, f.prompt.Count.Load(), "no PIN asked after Close")
}

package ksp_test

import (
	"context"
	"crypto"
	"crypto/ecdh"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	simpiv "github.com/cardmod/cardmod/cardsim/piv"
	"github.com/cardmod/cardmod/csptest"
	"github.com/cardmod/cardmod/keystore"
	"github.com/cardmod/cardmod/ksp"
	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/minidriver/kdf"
)

// behaviour is the provider behaviour kit's view of the KSP.
var behaviour = csptest.Suite{Open: openSuite, ECDH: true, ErrClosed: keystore.ErrClosed, ErrNoCertificate: keystore.ErrNoCertificate}

// After Close, every method of the provider, its keys and secrets fails
// with keystore.ErrClosed, sends nothing to the card and asks for no PIN
// (csptest.RunClosed).
func TestClosedMeansClosed(t *testing.T) {
	csptest.RunClosed(t, behaviour, func(t *testing.T, sp csptest.Provider) csptest.Closed {
		ctx := context.Background()
		p := sp.(suiteProvider).p
		f := &fixture{p: p}
		rk := f.create(t, "rsa", ksp.RSA, rsaKey(t))
		dk := f.create(t, "dh", ksp.ECDHP256, nil)
		pending, err := p.CreatePersistedKey(ctx, "later", ksp.ECDSAP256)
		require.NoError(t, err)
		peer, err := ecdh.P256().GenerateKey(rand.Reader)
		require.NoError(t, err)
		secret, err := dk.SecretAgreement(ctx, peer.PublicKey())
		require.NoError(t, err)
		digest := sha256.Sum256([]byte("closed"))
		ciphertext, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, &rsaKey(t).PublicKey, []byte("secret"), nil)
		require.NoError(t, err)
		hashKDF := kdf.Hash{Hash: crypto.SHA256}
		return csptest.Closed{
			Close:  p.Close,
			Values: []any{p, rk, secret},
			Calls: map[string]func() error{
				"Provider.Close":   func() error { return p.Close() },
				"Provider.OpenKey": func() error { _, err := p.OpenKey(ctx, "rsa"); return err },
				"Provider.FindKey": func() error { _, err := p.FindKey(ctx, ksp.KeyQuery{Container: "rsa"}); return err },
				"Provider.Sign": func() error {
					d := sha256.Sum256(nil)
					_, _, err := p.Sign(ctx, ksp.KeyQuery{Container: "rsa"}, nil, d[:], crypto.SHA256)
					return err
				},
				"Provider.SetCertificate": func() error {
					_, err := p.SetCertificate(ctx, ksp.KeyQuery{Container: "rsa"}, nil)
					return err
				},
				"Provider.OpenKeySpec":        func() error { _, err := p.OpenKeySpec(ctx, "rsa", minidriver.KeyExchange); return err },
				"Provider.Keys":               func() error { _, err := p.Keys(ctx); return err },
				"Provider.ListKeys":           func() error { _, err := p.ListKeys(ctx); return err },
				"Provider.InitializeCard":     func() error { _, err := p.InitializeCard(ctx, "reader", ksp.InitParams{}); return err },
				"Provider.DeleteKey":          func() error { return p.DeleteKey(ctx, "rsa") },
				"Provider.CreatePersistedKey": func() error { _, err := p.CreatePersistedKey(ctx, "new", ksp.ECDSAP256); return err },
				"Provider.Certificates":       func() error { _, err := p.Certificates(ctx); return err },
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
				"Key.Certificate":     func() error { _, err := rk.Certificate(ctx); return err },
				"Key.SetCertificate":  func() error { return rk.SetCertificate(ctx, nil) },
				"Key.PIN":             func() error { _, err := rk.PIN(ctx); return err },
				"Key.PINInfo":         func() error { _, err := rk.PINInfo(ctx); return err },
				"Key.VerifyPIN":       func() error { return rk.VerifyPIN(ctx, []byte(simpiv.DefaultPIN)) },
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
			},
			Exempt: map[string]string{"Secret.Close": "closing a secret its provider's Close wiped is harmless"},
			After:  func(t *testing.T) { assert.NoError(t, secret.Close()) },
		}
	})
}

// TestKeysReportUnreadableCard: the listings of csptest.RunListing, and
// the KSP's own (the "SmartCardUserCertStore" property, opening the key
// by name), return what the PIV card holds and report the blank GIDS card
// by reader; a corrupt certificate is reported by container and key spec.
func TestKeysReportUnreadableCard(t *testing.T) {
	csptest.RunListing(t, behaviour, func(t *testing.T, sp csptest.Provider, l csptest.ListingLayout, check func(*testing.T, error)) {
		ctx := context.Background()
		p := sp.(suiteProvider).p
		keys, err := p.Keys(ctx)
		check(t, err)
		require.Len(t, keys, 1)
		assert.Equal(t, "one", keys[0].Name)
		assert.Equal(t, l.PIVReader, keys[0].Reader)

		k, err := p.OpenKey(ctx, "one")
		require.NoError(t, err)
		assert.Equal(t, `\\.\`+l.PIVReader+`\one`, k.FullName())
		v, err := k.Property(ctx, ksp.PropSmartCardUserCertStore)
		check(t, err)
		var pe *ksp.PropertyError
		assert.ErrorAs(t, err, &pe)
		assert.Len(t, v, 1)
	})
}

// TestCallerInputCheckedBeforeTheCard: csptest.RunInput's calls, and the
// KSP's own (PIN properties, an agreement without a peer), are refused
// with a typed error, no panic, no APDU and no PIN prompt.
func TestCallerInputCheckedBeforeTheCard(t *testing.T) {
	csptest.RunInput(t, behaviour, func(t *testing.T, _ csptest.Provider, k csptest.InputKeys) []csptest.InputCase {
		ctx := context.Background()
		ecK, dhK := k.EC.(suiteKey), k.DH.(suiteKey)
		return []csptest.InputCase{
			{Name: "empty PIN property", Call: func() error { return ecK.SetProperty(ctx, ksp.PropSmartCardPin, "") }, Want: minidriver.ErrInvalidParameter},
			{Name: "megabyte PIN property", Call: func() error { return ecK.SetProperty(ctx, ksp.PropSmartCardPin, make([]byte, 1<<20)) }, Want: minidriver.ErrInvalidParameter},
			{Name: "agreement without peer", Call: func() error { _, err := dhK.SecretAgreement(ctx, nil); return err }, Want: minidriver.ErrInvalidParameter},
		}
	})
}

// A signature goes from ksp's Key to the card through no layer that only
// forwards (csptest.RunSignaturePath); ksp's own frame finds the core key,
// which exists once the key is finalized.
func TestSignaturePathHasNoForwardingLayer(t *testing.T) {
	csptest.RunSignaturePath(t, behaviour, "ksp.(*Key).SignContext")
}

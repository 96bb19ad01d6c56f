package ksp_test

import (
	"context"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	simpiv "github.com/cardmod/cardmod/cardsim/piv"
	"github.com/cardmod/cardmod/internal/csptest"
	"github.com/cardmod/cardmod/ksp"
	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/scrm/virtual"
)

// TestCallerInputCheckedBeforeTheCard: the KSP's own entries refuse what
// a caller can get wrong with a typed error, no panic, no APDU and no PIN
// prompt.
func TestCallerInputCheckedBeforeTheCard(t *testing.T) {
	sim, err := simpiv.New(simpiv.Config{})
	require.NoError(t, err)
	cc := csptest.NewCountingCard(sim)
	b := virtual.NewBackend()
	r := b.AddReader(readerName)
	r.Insert(cc)
	f := &fixture{b: b, reader: r, sim: sim, prompt: newPrompt(simpiv.DefaultPIN)}
	f.p = f.open(t, ksp.Config{})
	ctx := context.Background()
	rsaK := f.create(t, "rsa", ksp.RSA, rsaKey(t))
	ecK := f.create(t, "ec", ksp.ECDSAP256, softKey(t))
	dhK := f.create(t, "dh", ksp.ECDHP256, softKey(t))
	digest := sha256.Sum256([]byte("data"))

	finalize := func(alg ksp.Algorithm, priv crypto.PrivateKey) func() error {
		return func() error {
			k, err := f.p.CreatePersistedKey(ctx, "", alg)
			require.NoError(t, err)
			return k.FinalizeImport(ctx, priv)
		}
	}
	tests := []struct {
		name string
		call func() error
		want error
	}{
		{"import nil ECDSA key as ECDH", finalize(ksp.ECDHP256, (*ecdsa.PrivateKey)(nil)), minidriver.ErrInvalidParameter},
		{"import empty ECDSA key as ECDH", finalize(ksp.ECDHP256, &ecdsa.PrivateKey{}), minidriver.ErrInvalidParameter},
		{"import nil ECDH key", finalize(ksp.ECDHP256, (*ecdh.PrivateKey)(nil)), minidriver.ErrInvalidParameter},
		{"import nil RSA key", finalize(ksp.RSA, (*rsa.PrivateKey)(nil)), minidriver.ErrInvalidParameter},
		{"import empty RSA key", finalize(ksp.RSA, &rsa.PrivateKey{}), minidriver.ErrInvalidParameter},
		{"import nil ECDSA key", finalize(ksp.ECDSAP256, (*ecdsa.PrivateKey)(nil)), minidriver.ErrInvalidParameter},
		{"empty PIN property", func() error { return ecK.SetProperty(ctx, ksp.PropSmartCardPin, "") }, minidriver.ErrInvalidParameter},
		{"megabyte PIN property", func() error { return ecK.SetProperty(ctx, ksp.PropSmartCardPin, make([]byte, 1<<20)) }, minidriver.ErrInvalidParameter},
		{"agreement without peer", func() error { _, err := dhK.SecretAgreement(ctx, nil); return err }, minidriver.ErrInvalidParameter},
		{"PSS salt 2^62", func() error {
			_, err := rsaK.SignContext(ctx, nil, digest[:], &rsa.PSSOptions{Hash: crypto.SHA256, SaltLength: 1 << 62})
			return err
		}, minidriver.ErrInvalidParameter},
		{"nil PSS options", func() error {
			_, err := rsaK.SignContext(ctx, nil, digest[:], (*rsa.PSSOptions)(nil))
			return err
		}, minidriver.ErrInvalidParameter},
		{"session key 2^50", func() error {
			//lint:ignore SA1019 the options callers pass
			_, err := rsaK.DecryptContext(ctx, nil, make([]byte, 256), &rsa.PKCS1v15DecryptOptions{SessionKeyLen: 1 << 50})
			return err
		}, minidriver.ErrDecryption},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			apdus, prompts := cc.APDUs(), f.prompt.Count.Load()
			var err error
			require.NotPanics(t, func() { err = tc.call() })
			require.Error(t, err)
			assert.ErrorIs(t, err, tc.want)
			assert.Equal(t, apdus, cc.APDUs(), "the card was asked")
			assert.Equal(t, prompts, f.prompt.Count.Load(), "the PIN was asked for")
		})
	}
	_, err = ecK.SignContext(ctx, nil, digest[:], crypto.SHA256)
	require.NoError(t, err, "the keys still work")
}

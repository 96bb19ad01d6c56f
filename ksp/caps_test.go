package ksp_test

import (
	"context"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	simpiv "github.com/cardmod/cardmod/cardsim/piv"
	"github.com/cardmod/cardmod/ksp"
	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/minidriver/piv"
	"github.com/cardmod/cardmod/scrm"
)

// TestTheCardSaysWhatItSupports: the provider asks each card's key sizes
// rather than assuming: RSA-3072 on firmware 5.7 but not 5.4, P-384 on a
// YubiKey 4 or 5 but not on a NEO (firmware 3).
func TestTheCardSaysWhatItSupports(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name    string
		version simpiv.Version
		alg     ksp.Algorithm
		bits    int
		ok      bool
	}{
		{"RSA-3072 on 5.7", simpiv.Version{Major: 5, Minor: 7, Patch: 1}, ksp.RSA, 3072, true},
		{"RSA-3072 on 5.4", simpiv.Version{Major: 5, Minor: 4, Patch: 3}, ksp.RSA, 3072, false},
		{"RSA-4096 on 5.4", simpiv.Version{Major: 5, Minor: 4, Patch: 3}, ksp.RSA, 4096, false},
		{"P-384 on 5.4", simpiv.Version{Major: 5, Minor: 4, Patch: 3}, ksp.ECDSAP384, 0, true},
		{"P-384 on a NEO", simpiv.Version{Major: 3, Minor: 5, Patch: 0}, ksp.ECDSAP384, 0, false},
		{"ECDH P-384 on a NEO", simpiv.Version{Major: 3, Minor: 5, Patch: 0}, ksp.ECDHP384, 0, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFixtureSim(t, simpiv.Config{Version: c.version}, ksp.Config{})
			k, err := f.p.CreatePersistedKey(ctx, "k", c.alg)
			require.NoError(t, err)
			if c.bits != 0 {
				require.NoError(t, k.SetProperty(ctx, ksp.PropLength, c.bits))
			}
			err = k.Finalize(ctx)
			if !c.ok {
				assert.ErrorIs(t, err, ksp.ErrUnsupportedAlgorithm)
				return
			}
			require.NoError(t, err)
			if c.bits != 0 {
				assert.Equal(t, c.bits, k.Bits())
			}
			digest := sha256.Sum256([]byte(c.name))
			sig, err := k.Sign(rand.Reader, digest[:], crypto.SHA256)
			require.NoError(t, err)
			if pub, ok := k.Public().(*rsa.PublicKey); ok {
				assert.NoError(t, rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig))
			}
		})
	}
}

// eccOnly presents PIV cards as a card without RSA, as an ECC-only card's
// plug-in would: its key sizes say RSA is unsupported.
type eccOnly struct{ piv.Plugin }

type eccOnlyCard struct{ *piv.Card }

func (p eccOnly) Open(ctx context.Context, tx *scrm.Tx, env minidriver.Env) (minidriver.Card, error) {
	c, err := p.Plugin.Open(ctx, tx, env)
	if err != nil {
		return nil, err
	}
	return eccOnlyCard{c.(*piv.Card)}, nil
}

func (c eccOnlyCard) KeySizes(ctx context.Context, tx *scrm.Tx, spec minidriver.KeySpec) (minidriver.KeySizes, error) {
	if spec.IsRSA() {
		return minidriver.KeySizes{}, fmt.Errorf("ECC-only card: %w", minidriver.ErrUnsupported)
	}
	return c.Card.KeySizes(ctx, tx, spec)
}

// TestECCOnlyCard: on a card that has no RSA the KSP refuses RSA keys with
// a typed error, from what the card says, and ECDSA and ECDH keys work.
func TestECCOnlyCard(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, ksp.Config{})
	p := f.open(t, ksp.Config{Registry: minidriver.NewRegistry(eccOnly{})})

	k, err := p.CreatePersistedKey(ctx, "rsa", ksp.RSA)
	require.NoError(t, err)
	assert.ErrorIs(t, k.Finalize(ctx), ksp.ErrUnsupportedAlgorithm)

	k, err = p.CreatePersistedKey(ctx, "ecdsa", ksp.ECDSAP256)
	require.NoError(t, err)
	require.NoError(t, k.Finalize(ctx))
	digest := sha256.Sum256([]byte("ecc only"))
	sig, err := k.Sign(rand.Reader, digest[:], crypto.SHA256)
	require.NoError(t, err)
	assert.True(t, ecdsa.VerifyASN1(k.Public().(*ecdsa.PublicKey), digest[:], sig))

	k, err = p.CreatePersistedKey(ctx, "ecdh", ksp.ECDHP256)
	require.NoError(t, err)
	require.NoError(t, k.Finalize(ctx))
	peer, err := ecdh.P256().GenerateKey(rand.Reader)
	require.NoError(t, err)
	z, err := k.ECDH(peer.PublicKey())
	require.NoError(t, err)
	want, err := peer.ECDH(k.Public().(*ecdh.PublicKey))
	require.NoError(t, err)
	assert.Equal(t, want, z)
}

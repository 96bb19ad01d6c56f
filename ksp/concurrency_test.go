package ksp_test

import (
	"context"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cardmod/cardmod/ksp"
	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/minidriver/kdf"
	"github.com/cardmod/cardmod/scrm"
)

// TestConcurrentUse: signatures, agreements, derivations and property
// reads from many goroutines on one card, through two providers.
func TestConcurrentUse(t *testing.T) {
	f := newFixture(t, ksp.Config{})
	ctx := context.Background()
	sk := f.create(t, "sig", ksp.ECDSAP256, nil)
	dk := f.create(t, "dh", ksp.ECDHP256, nil)
	other := f.open(t, ksp.Config{})
	osk, err := other.OpenKey(ctx, "sig")
	require.NoError(t, err)
	peer, err := ecdh.P256().GenerateKey(rand.Reader)
	require.NoError(t, err)
	wantZ, err := peer.ECDH(dk.Public().(*ecdh.PublicKey))
	require.NoError(t, err)
	pub := sk.Public().(*ecdsa.PublicKey)

	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			digest := sha256.Sum256([]byte{byte(i)})
			signer := sk
			if i%2 == 1 {
				signer = osk
			}
			sig, err := signer.Sign(rand.Reader, digest[:], crypto.SHA256)
			if err != nil {
				errs <- err
				return
			}
			if !ecdsa.VerifyASN1(pub, digest[:], sig) {
				errs <- errors.New("bad signature")
				return
			}
			s, err := dk.SecretAgreement(ctx, peer.PublicKey())
			if err != nil {
				errs <- err
				return
			}
			defer s.Close()
			got, err := s.Derive(kdf.Hash{Hash: crypto.SHA256})
			if err != nil {
				errs <- err
				return
			}
			if want := sha256.Sum256(wantZ); string(got) != string(want[:]) {
				errs <- errors.New("bad derivation")
				return
			}
			if _, err := sk.Property(ctx, ksp.PropSmartCardPinInfo); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		assert.NoError(t, err)
	}
}

// TestKeyFollowsTheCard: a card removed and inserted in another reader is
// found again by its identity.
func TestKeyFollowsTheCard(t *testing.T) {
	f := newFixture(t, ksp.Config{})
	k := f.create(t, "ec", ksp.ECDSAP256, nil)
	f.reader.Remove()
	digest := sha256.Sum256([]byte("moved"))
	_, err := k.Sign(rand.Reader, digest[:], crypto.SHA256)
	assert.True(t, errors.Is(err, scrm.ErrRemovedCard) || errors.Is(err, scrm.ErrNoSmartcard), "%v", err)
	f.b.AddReader("Virtual Reader 1").Insert(f.sim)
	sig, err := k.Sign(rand.Reader, digest[:], crypto.SHA256)
	require.NoError(t, err)
	assert.True(t, ecdsa.VerifyASN1(k.Public().(*ecdsa.PublicKey), digest[:], sig))
	v, err := k.Property(context.Background(), ksp.PropSmartCardReader)
	require.NoError(t, err)
	assert.Equal(t, "Virtual Reader 1", v)
}

// TestOpenKeySpec: a Base CSP exchange-key container opens by name and by
// its legacy key spec; a spec the container lacks is an error.
func TestOpenKeySpec(t *testing.T) {
	f := newFixture(t, ksp.Config{})
	ctx := context.Background()
	base := f.baseCSP(t)
	_, err := base.CreateContainer(ctx, "pair", minidriver.KeyExchange, 0, rsaKey(t))
	require.NoError(t, err)
	k, err := f.p.OpenKey(ctx, "pair")
	require.NoError(t, err)
	assert.Equal(t, minidriver.KeyExchange, k.Spec())
	k, err = f.p.OpenKeySpec(ctx, "pair", minidriver.KeyExchange)
	require.NoError(t, err)
	assert.Equal(t, ksp.RSA, k.Algorithm())
	_, err = f.p.OpenKeySpec(ctx, "pair", minidriver.Signature)
	assert.ErrorIs(t, err, minidriver.ErrNoKeyContainer)
}

package ksp_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cardmod/cardmod/cardfs"
	simpiv "github.com/cardmod/cardmod/cardsim/piv"
	"github.com/cardmod/cardmod/ksp"
	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/pincache"
)

// TestTypedAccessors: a key's card, certificate and PIN are methods of
// their Go types, and each property by CNG name gives what its method
// gives.
func TestTypedAccessors(t *testing.T) {
	f := newFixture(t, ksp.Config{})
	ctx := context.Background()
	k := f.create(t, "ec", ksp.ECDSAP256, nil)

	assert.Equal(t, readerName, k.Reader())
	v, err := k.Property(ctx, ksp.PropSmartCardReader)
	require.NoError(t, err)
	assert.Equal(t, v, k.Reader())
	assert.NotEqual(t, cardfs.CardID{}, k.CardID(), "a finalized key knows its card")
	v, err = k.Property(ctx, ksp.PropSmartCardGUID)
	require.NoError(t, err)
	assert.Equal(t, v, k.CardID())

	_, err = k.Certificate(ctx)
	assert.ErrorIs(t, err, ksp.ErrNoCertificate)
	cert := selfSigned(t, k, "typed")
	require.NoError(t, k.SetCertificate(ctx, cert))
	got, err := k.Certificate(ctx)
	require.NoError(t, err)
	assert.Equal(t, cert.Raw, got.Raw)
	v, err = k.Property(ctx, ksp.PropSmartCardKeyCertificate)
	require.NoError(t, err)
	assert.Equal(t, got, v)

	pin, err := k.PIN(ctx)
	require.NoError(t, err)
	assert.Equal(t, minidriver.RoleUser, pin)
	v, err = k.Property(ctx, ksp.PropSmartCardPinID)
	require.NoError(t, err)
	assert.Equal(t, pin, v)
	info, err := k.PINInfo(ctx)
	require.NoError(t, err)
	v, err = k.Property(ctx, ksp.PropSmartCardPinInfo)
	require.NoError(t, err)
	assert.Equal(t, info, v)

	pending, err := f.p.CreatePersistedKey(ctx, "later", ksp.ECDSAP256)
	require.NoError(t, err)
	assert.Empty(t, pending.Reader())
	assert.Equal(t, cardfs.CardID{}, pending.CardID())
	_, err = pending.Certificate(ctx)
	assert.ErrorIs(t, err, ksp.ErrNotFinalized)
	assert.ErrorIs(t, pending.SetCertificate(ctx, cert), ksp.ErrNotFinalized)
	pin, err = pending.PIN(ctx)
	require.NoError(t, err)
	assert.Equal(t, minidriver.RoleUser, pin, "the default before Finalize")
}

// TestVerifyPINInSilentMode: VerifyPIN is what setting "SmartCardPin"
// does: a wrong PIN is refused, the right one is cached and the silent
// key signs.
func TestVerifyPINInSilentMode(t *testing.T) {
	f := newFixture(t, ksp.Config{})
	f.create(t, "ec", ksp.ECDSAP256, nil)
	ctx := context.Background()
	silent := f.open(t, ksp.Config{Silent: true})
	k, err := silent.OpenKey(ctx, "ec")
	require.NoError(t, err)
	digest := sha256.Sum256([]byte("silent"))
	_, err = k.SignContext(ctx, rand.Reader, digest[:], nil)
	assert.ErrorIs(t, err, pincache.ErrSilent)

	assert.ErrorIs(t, k.VerifyPIN(ctx, nil), minidriver.ErrInvalidParameter)
	err = k.VerifyPIN(ctx, []byte("999999"))
	assert.ErrorIs(t, err, minidriver.ErrWrongPIN)
	assert.NotContains(t, err.Error(), "999999", "no PIN in error text")
	_, err = k.SignContext(ctx, rand.Reader, digest[:], nil)
	assert.ErrorIs(t, err, pincache.ErrSilent, "a wrong PIN is not cached")
	require.NoError(t, k.VerifyPIN(ctx, []byte(simpiv.DefaultPIN)))
	_, err = k.SignContext(ctx, rand.Reader, digest[:], nil)
	assert.NoError(t, err)
}

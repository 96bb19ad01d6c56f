package ksp_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cardmod/cardmod/cardfs"
	"github.com/cardmod/cardmod/keystore"
	"github.com/cardmod/cardmod/ksp"
	"github.com/cardmod/cardmod/minidriver"
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
	assert.ErrorIs(t, err, keystore.ErrNoCertificate)
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
	for _, bad := range [][]byte{nil, make([]byte, 256)} {
		assert.ErrorIs(t, k.VerifyPIN(ctx, bad), minidriver.ErrInvalidParameter, "%d bytes", len(bad))
	}
}

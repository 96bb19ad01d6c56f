package basecsp_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cardmod/cardmod/basecsp"
	"github.com/cardmod/cardmod/minidriver"
)

// TestKeyPIN: a key's PIN is a method of the key, the PIN that ListKeys
// names for it, and PINInfo is what the card says of that PIN.
func TestKeyPIN(t *testing.T) {
	f := newFixture(t, basecsp.Config{})
	ctx := context.Background()
	k := f.create(t, "ec", minidriver.ECDSAP256, nil)

	pin, err := k.PIN(ctx)
	require.NoError(t, err)
	assert.Equal(t, minidriver.RoleUser, pin)
	keys, err := f.p.ListKeys(ctx)
	require.NoError(t, err)
	require.Len(t, keys, 1)
	assert.Equal(t, keys[0].PIN, pin)

	info, err := k.PINInfo(ctx)
	require.NoError(t, err)
	assert.Equal(t, minidriver.AlphanumericPIN, info.Type)
	assert.NoError(t, info.Validate())

	require.NoError(t, k.Container().Delete(ctx))
	_, err = k.PIN(ctx)
	assert.ErrorIs(t, err, minidriver.ErrNoKeyContainer, "a deleted key's container is gone")
}

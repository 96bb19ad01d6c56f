package ksp_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cardmod/cardmod/ksp"
	"github.com/cardmod/cardmod/minidriver"
)

// Provider.SetCertificate stores a certificate with the key it is for,
// found by the certificate's public key, and returns that key finalized;
// a certificate of no key on the card stores nothing.
func TestProviderSetCertificate(t *testing.T) {
	f := newFixture(t, ksp.Config{})
	f.create(t, "first", ksp.ECDSAP256, nil)
	second := f.create(t, "second", ksp.ECDSAP256, nil)
	cert := selfSigned(t, second, "second's")
	ctx := context.Background()

	p := f.open(t, ksp.Config{})
	k, err := p.SetCertificate(ctx, ksp.KeyQuery{}, cert)
	require.NoError(t, err)
	assert.Equal(t, "second", k.Name())
	got, err := k.Certificate(ctx)
	require.NoError(t, err)
	assert.Equal(t, cert.Raw, got.Raw)

	_, err = p.SetCertificate(ctx, ksp.KeyQuery{Container: "first"}, cert)
	assert.ErrorIs(t, err, minidriver.ErrNoKeyContainer, "first's key is not the certificate's")
	first, err := p.OpenKey(ctx, "first")
	require.NoError(t, err)
	_, err = first.Certificate(ctx)
	assert.Error(t, err, "and first has no certificate")
}

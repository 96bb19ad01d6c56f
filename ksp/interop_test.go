package ksp_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cardmod/cardmod/ksp"
	"github.com/cardmod/cardmod/minidriver"
)

// TestKeyVisibleThroughBaseCSP: a key created through the KSP is a
// container of the Base CSP, which signs with it and sees its
// certificate; a container created through the Base CSP is a key of the
// KSP.
func TestKeyVisibleThroughBaseCSP(t *testing.T) {
	f := newFixture(t, ksp.Config{})
	ctx := context.Background()
	base := f.baseCSP(t)

	k := f.create(t, "from-ksp", ksp.ECDSAP256, nil)
	cert := selfSigned(t, k, "from ksp")
	require.NoError(t, k.SetProperty(ctx, ksp.PropSmartCardKeyCertificate, cert))
	ct, err := base.Container(ctx, "from-ksp")
	require.NoError(t, err)
	bk, err := ct.Key(minidriver.ECDSAP256)
	require.NoError(t, err)
	assert.Equal(t, k.Public(), bk.Public())
	digest := sha256.Sum256([]byte("base"))
	sig, err := bk.Sign(rand.Reader, digest[:], crypto.SHA256)
	require.NoError(t, err)
	assert.True(t, ecdsa.VerifyASN1(k.Public().(*ecdsa.PublicKey), digest[:], sig))
	bc, err := bk.Certificate(ctx)
	require.NoError(t, err)
	assert.Equal(t, cert.Raw, bc.Raw)

	// The other way round.
	bct, err := base.CreateContainer(ctx, "from-base", minidriver.ECDHP256, 0, nil)
	require.NoError(t, err)
	keys, err := f.p.Keys(ctx)
	require.NoError(t, err)
	names := map[string]ksp.Algorithm{}
	for _, e := range keys {
		names[e.Name] = e.Algorithm
	}
	assert.Equal(t, map[string]ksp.Algorithm{"from-ksp": ksp.ECDSAP256, "from-base": ksp.ECDHP256}, names)
	kk, err := f.p.OpenKey(ctx, `\\.\`+readerName+`\from-base`)
	require.NoError(t, err)
	bkx, err := bct.Key(minidriver.ECDHP256)
	require.NoError(t, err)
	assert.Equal(t, bkx.Public(), kk.Public())

	// Deleted through the KSP, gone from the Base CSP.
	require.NoError(t, f.p.DeleteKey(ctx, "from-base"))
	_, err = base.Container(ctx, "from-base")
	assert.ErrorIs(t, err, minidriver.ErrNoKeyContainer)
}

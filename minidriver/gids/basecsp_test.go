package gids_test

import (
	"context"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cardmod/cardmod/basecsp"
	simgids "github.com/cardmod/cardmod/cardsim/gids"
	"github.com/cardmod/cardmod/ksp"
	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/minidriver/gids"
	"github.com/cardmod/cardmod/minidriver/piv"
	"github.com/cardmod/cardmod/pincache"
	"github.com/cardmod/cardmod/scrm/virtual"
)

// TestBaseCSP drives a GIDS card through the Base CSP with nothing but a
// Registry holding the plug-in: containers are created (ECDSA generated
// on the card, RSA imported), sign, decrypt, store a certificate, and are
// seen by a second provider.
func TestBaseCSP(t *testing.T) {
	ctx := context.Background()
	b := virtual.NewBackend()
	b.AddReader("Virtual Reader 0").Insert(newSim(t, false))
	cfg := basecsp.Config{
		Backend:  b,
		Registry: minidriver.NewRegistry(piv.Plugin{}, gids.Plugin{}),
		Prompt:   pincache.NewFixed([]byte(simgids.DefaultPIN)),
	}
	p, err := basecsp.Open(cfg)
	require.NoError(t, err)
	defer func() { _ = p.Close() }()

	c, err := p.CreateContainer(ctx, `\\.\Virtual Reader 0\ecdsa`, minidriver.ECDSAP256, 0, nil)
	require.NoError(t, err)
	k, err := c.Key(minidriver.ECDSAP256)
	require.NoError(t, err)
	digest := sha256.Sum256([]byte("signed through basecsp"))
	sig, err := k.Sign(rand.Reader, digest[:], crypto.SHA256)
	require.NoError(t, err)
	assert.True(t, ecdsa.VerifyASN1(k.Public().(*ecdsa.PublicKey), digest[:], sig))
	cert, err := x509.ParseCertificate(makeCert(t, k.Public(), "gids ecdsa"))
	require.NoError(t, err)
	require.NoError(t, k.SetCertificate(ctx, cert))

	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	c2, err := p.CreateContainer(ctx, `\\.\Virtual Reader 0\rsa`, minidriver.KeyExchange, 0, rk)
	require.NoError(t, err)
	k2, err := c2.Key(minidriver.KeyExchange)
	require.NoError(t, err)
	sig, err = k2.Sign(rand.Reader, digest[:], &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: crypto.SHA256})
	require.NoError(t, err)
	require.NoError(t, rsa.VerifyPSS(&rk.PublicKey, crypto.SHA256, digest[:], sig, nil))
	ct, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, &rk.PublicKey, []byte("session key"), nil)
	require.NoError(t, err)
	pt, err := k2.Decrypt(rand.Reader, ct, &rsa.OAEPOptions{Hash: crypto.SHA256})
	require.NoError(t, err)
	assert.Equal(t, []byte("session key"), pt)

	p2, err := basecsp.Open(cfg)
	require.NoError(t, err)
	defer func() { _ = p2.Close() }()
	entries, err := p2.Containers(ctx)
	require.NoError(t, err)
	assert.Len(t, entries, 2)
	again, err := p2.Container(ctx, `\\.\Virtual Reader 0\ecdsa`)
	require.NoError(t, err)
	k3, err := again.Key(minidriver.ECDSAP256)
	require.NoError(t, err)
	got, err := k3.Certificate(ctx)
	require.NoError(t, err)
	assert.Equal(t, cert.Raw, got.Raw)
	require.NoError(t, p2.DeleteContainer(ctx, `\\.\Virtual Reader 0\rsa`))
}

// TestKSP creates an ECDH key through the KSP and agrees a secret with it,
// with nothing but a Registry holding the plug-in.
func TestKSP(t *testing.T) {
	ctx := context.Background()
	b := virtual.NewBackend()
	b.AddReader("Virtual Reader 0").Insert(newSim(t, false))
	p, err := ksp.Open(ksp.Config{
		Backend:  b,
		Registry: minidriver.NewRegistry(gids.Plugin{}),
		Prompt:   pincache.NewFixed([]byte(simgids.DefaultPIN)),
	})
	require.NoError(t, err)
	defer func() { _ = p.Close() }()
	k, err := p.CreatePersistedKey(ctx, `\\.\Virtual Reader 0\agree`, ksp.ECDHP256)
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

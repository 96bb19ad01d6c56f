package ksp_test

import (
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cardmod/cardmod/ksp"
)

func TestPublicBlobRoundTrip(t *testing.T) {
	f := newFixture(t, ksp.Config{})
	for _, c := range []struct {
		alg   ksp.Algorithm
		priv  crypto.PrivateKey
		magic uint32
		size  int
	}{
		{ksp.RSA, rsaKey(t), ksp.MagicRSAPublic, 24 + 3 + 256},
		{ksp.ECDSAP256, nil, ksp.MagicECDSAP256, 8 + 64},
		{ksp.ECDSAP384, nil, ksp.MagicECDSAP384, 8 + 96},
		{ksp.ECDHP256, nil, ksp.MagicECDHP256, 8 + 64},
		{ksp.ECDHP384, nil, ksp.MagicECDHP384, 8 + 96},
	} {
		t.Run(string(c.alg), func(t *testing.T) {
			k := f.create(t, string(c.alg), c.alg, c.priv)
			blob, err := k.PublicBlob()
			require.NoError(t, err)
			assert.Len(t, blob, c.size)
			assert.Equal(t, c.magic, binary.LittleEndian.Uint32(blob))
			pub, err := ksp.ParsePublicBlob(blob)
			require.NoError(t, err)
			assert.True(t, pub.(interface{ Equal(crypto.PublicKey) bool }).Equal(k.Public()))
		})
	}
	// P-521 blobs, made in software (the simulated card has no P-521).
	ek, err := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	require.NoError(t, err)
	blob, err := ksp.MarshalPublicBlob(&ek.PublicKey)
	require.NoError(t, err)
	assert.Len(t, blob, 8+132)
	assert.Equal(t, ksp.MagicECDSAP521, binary.LittleEndian.Uint32(blob))
	dk, err := ecdh.P521().GenerateKey(rand.Reader)
	require.NoError(t, err)
	blob, err = ksp.MarshalPublicBlob(dk.PublicKey())
	require.NoError(t, err)
	pub, err := ksp.ParsePublicBlob(blob)
	require.NoError(t, err)
	assert.True(t, dk.PublicKey().Equal(pub))
}

func TestParsePublicBlobRejects(t *testing.T) {
	ek, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	good, err := ksp.MarshalPublicBlob(&ek.PublicKey)
	require.NoError(t, err)
	rsaBlob, err := ksp.MarshalPublicBlob(rsaKey(t).Public())
	require.NoError(t, err)
	offCurve := append([]byte(nil), good...)
	offCurve[len(offCurve)-1] ^= 1
	badMagic := append([]byte(nil), good...)
	badMagic[0] = 'X'
	badSize := append([]byte(nil), good...)
	badSize[4] = 48
	for name, b := range map[string][]byte{
		"empty":           nil,
		"short":           good[:7],
		"truncated":       good[:len(good)-1],
		"off curve":       offCurve,
		"unknown magic":   badMagic,
		"coordinate size": badSize,
		"RSA truncated":   rsaBlob[:len(rsaBlob)-1],
		"RSA header only": rsaBlob[:24],
	} {
		_, err := ksp.ParsePublicBlob(b)
		assert.ErrorIs(t, err, ksp.ErrBadBlob, name)
	}
	_, err = ksp.MarshalPublicBlob("not a key")
	assert.ErrorIs(t, err, ksp.ErrUnsupportedAlgorithm)
}

func FuzzParsePublicBlob(f *testing.F) {
	ek, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(f, err)
	for _, pub := range []crypto.PublicKey{&ek.PublicKey, rsaKey(f).Public()} {
		b, err := ksp.MarshalPublicBlob(pub)
		require.NoError(f, err)
		f.Add(b)
	}
	dk, err := ek.ECDH()
	require.NoError(f, err)
	b, err := ksp.MarshalPublicBlob(dk.PublicKey())
	require.NoError(f, err)
	f.Add(b)
	f.Add([]byte{})
	f.Add([]byte("RSA1\x00\x08\x00\x00\x03\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		pub, err := ksp.ParsePublicBlob(b)
		if err != nil {
			assert.ErrorIs(t, err, ksp.ErrBadBlob)
			return
		}
		again, err := ksp.MarshalPublicBlob(pub)
		require.NoError(t, err)
		assert.Equal(t, b, again, "a parsed blob marshals back to itself")
	})
}

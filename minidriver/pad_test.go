package minidriver_test

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	_ "crypto/sha256"
	_ "crypto/sha3"
	_ "crypto/sha512"
	"math/big"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cardmod/cardmod/minidriver"
)

// rawSign is what a card that signs raw does: m^d mod n.
func rawSign(k *rsa.PrivateKey, em []byte) []byte {
	m := new(big.Int).SetBytes(em)
	s := new(big.Int).Exp(m, k.D, k.N)
	return s.FillBytes(make([]byte, k.Size()))
}

func testKey(t testing.TB, bits int) *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, bits)
	require.NoError(t, err)
	return k
}

func TestPadSignaturePKCS1MatchesStdlib(t *testing.T) {
	k := testKey(t, 2048)
	for _, h := range []crypto.Hash{crypto.MD5, crypto.SHA1, crypto.SHA224, crypto.SHA256, crypto.SHA384,
		crypto.SHA512, crypto.SHA512_224, crypto.SHA512_256, crypto.SHA3_224, crypto.SHA3_256, crypto.SHA3_384, crypto.SHA3_512, crypto.MD5SHA1} {
		t.Run(h.String(), func(t *testing.T) {
			digest := make([]byte, minidriver.DigestSize(h))
			_, _ = rand.Read(digest)
			em, err := minidriver.PadSignature(minidriver.SignRequest{Padding: minidriver.PaddingPKCS1, Hash: h, Digest: digest}, k.N.BitLen())
			require.NoError(t, err)
			want, err := rsa.SignPKCS1v15(nil, k, h, digest)
			require.NoError(t, err)
			assert.Equal(t, want, rawSign(k, em))
		})
	}
}

func TestPadSignatureNoDigestInfo(t *testing.T) {
	k := testKey(t, 1024)
	data := []byte("raw data signed without DigestInfo")
	em, err := minidriver.PadSignature(minidriver.SignRequest{Padding: minidriver.PaddingPKCS1, Digest: data}, 1024)
	require.NoError(t, err)
	assert.NoError(t, rsa.VerifyPKCS1v15(&k.PublicKey, 0, data, rawSign(k, em)))
}

func TestPadSignaturePSS(t *testing.T) {
	for _, bits := range []int{1024, 2048, 1025} {
		k := testKey(t, bits)
		for _, salt := range []int{0, 20, 32, (bits-1+7)/8 - 32 - 2} {
			digest := make([]byte, 32)
			_, _ = rand.Read(digest)
			em, err := minidriver.PadSignature(minidriver.SignRequest{Padding: minidriver.PaddingPSS, Hash: crypto.SHA256, Digest: digest, SaltLength: salt}, k.N.BitLen())
			require.NoError(t, err)
			sig := rawSign(k, em)
			assert.NoError(t, rsa.VerifyPSS(&k.PublicKey, crypto.SHA256, digest, sig, &rsa.PSSOptions{SaltLength: salt}), "bits %d salt %d", bits, salt)
		}
	}
}

func TestPadSignatureErrors(t *testing.T) {
	tests := []struct {
		name string
		req  minidriver.SignRequest
		bits int
		want error
	}{
		{"wrong digest length", minidriver.SignRequest{Padding: minidriver.PaddingPKCS1, Hash: crypto.SHA256, Digest: make([]byte, 20)}, 2048, minidriver.ErrInvalidParameter},
		{"hash without DigestInfo", minidriver.SignRequest{Padding: minidriver.PaddingPKCS1, Hash: crypto.BLAKE2b_256, Digest: make([]byte, 32)}, 2048, minidriver.ErrUnsupported},
		{"too long for key", minidriver.SignRequest{Padding: minidriver.PaddingPKCS1, Hash: crypto.SHA512, Digest: make([]byte, 64)}, 512, minidriver.ErrInvalidParameter},
		{"salt too long", minidriver.SignRequest{Padding: minidriver.PaddingPSS, Hash: crypto.SHA256, Digest: make([]byte, 32), SaltLength: 300}, 2048, minidriver.ErrInvalidParameter},
		{"negative salt", minidriver.SignRequest{Padding: minidriver.PaddingPSS, Hash: crypto.SHA256, Digest: make([]byte, 32), SaltLength: -1}, 2048, minidriver.ErrInvalidParameter},
		{"OAEP is not a signature padding", minidriver.SignRequest{Padding: minidriver.PaddingOAEP, Digest: make([]byte, 32)}, 2048, minidriver.ErrInvalidParameter},
		{"raw block too long", minidriver.SignRequest{Padding: minidriver.PaddingNone, Digest: make([]byte, 300)}, 2048, minidriver.ErrInvalidParameter},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := minidriver.PadSignature(tc.req, tc.bits)
			assert.ErrorIs(t, err, tc.want)
		})
	}
}

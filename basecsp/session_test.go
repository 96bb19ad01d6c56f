package basecsp_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cardmod/cardmod/basecsp"
	"github.com/cardmod/cardmod/minidriver"
)

func TestHashSign(t *testing.T) {
	f, rk := rsaFixture(t)
	ek := f.create(t, "ec", minidriver.ECDSAP256, nil)
	ctx := context.Background()
	for _, alg := range []crypto.Hash{crypto.MD5, crypto.SHA1, crypto.SHA256, crypto.SHA384, crypto.SHA512, crypto.MD5SHA1} {
		t.Run(alg.String(), func(t *testing.T) {
			h, err := basecsp.NewHash(alg)
			require.NoError(t, err)
			_, _ = h.Write([]byte("hello "))
			_, _ = h.Write([]byte("world"))
			sig, err := h.Sign(ctx, rk)
			require.NoError(t, err)
			assert.NoError(t, rsa.VerifyPKCS1v15(rk.Public().(*rsa.PublicKey), alg, h.Sum(), sig))
			sig, err = h.Sign(ctx, ek)
			require.NoError(t, err)
			assert.True(t, ecdsa.VerifyASN1(ek.Public().(*ecdsa.PublicKey), h.Sum(), sig))
		})
	}
	_, err := basecsp.NewHash(crypto.BLAKE2b_256)
	assert.ErrorIs(t, err, minidriver.ErrUnsupported)
	h, _ := basecsp.NewHash(crypto.SHA256)
	want := sha256.Sum256(nil)
	assert.Equal(t, want[:], h.Sum())
}

func TestSessionKeys(t *testing.T) {
	f, rk := rsaFixture(t)
	ctx := context.Background()
	for _, alg := range []basecsp.SessionAlg{basecsp.AES128, basecsp.AES192, basecsp.AES256, basecsp.TripleDES} {
		for _, w := range []basecsp.Wrapping{basecsp.WrapPKCS1, basecsp.WrapOAEP} {
			t.Run(alg.String(), func(t *testing.T) {
				sk, err := f.p.GenerateSessionKey(alg)
				require.NoError(t, err)
				blob, err := sk.Export(rk, w)
				require.NoError(t, err)
				assert.Equal(t, byte(1), blob[0], "SIMPLEBLOB")
				back, err := rk.ImportSessionKey(ctx, blob, w)
				require.NoError(t, err)
				assert.Equal(t, alg, back.Algorithm())

				iv := make([]byte, 16)
				if alg == basecsp.TripleDES {
					iv = iv[:8]
				}
				for _, n := range []int{0, 1, 15, 16, 33} {
					msg := make([]byte, n)
					c, err := sk.EncryptCBC(iv, msg)
					require.NoError(t, err)
					got, err := back.DecryptCBC(iv, c)
					require.NoError(t, err)
					assert.Equal(t, msg, got)
				}
				nonce := make([]byte, 12)
				c, err := sk.SealGCM(nonce, []byte("gcm text"), []byte("ad"))
				if alg == basecsp.TripleDES {
					assert.ErrorIs(t, err, minidriver.ErrUnsupported)
					return
				}
				require.NoError(t, err)
				got, err := back.OpenGCM(nonce, c, []byte("ad"))
				require.NoError(t, err)
				assert.Equal(t, []byte("gcm text"), got)
				c[0] ^= 1
				_, err = back.OpenGCM(nonce, c, []byte("ad"))
				assert.ErrorIs(t, err, minidriver.ErrDecryption)
			})
		}
	}
}

func TestImportSessionKeyImplicitRejection(t *testing.T) {
	f, rk := rsaFixture(t)
	sk, err := f.p.GenerateSessionKey(basecsp.AES128)
	require.NoError(t, err)
	blob, err := sk.Export(rk, basecsp.WrapPKCS1)
	require.NoError(t, err)
	blob[20] ^= 0xFF // corrupt the ciphertext
	bad, err := rk.ImportSessionKey(context.Background(), blob, basecsp.WrapPKCS1)
	require.NoError(t, err, "no padding oracle: a random key instead")
	c, err := sk.SealGCM(make([]byte, 12), []byte("x"), nil)
	require.NoError(t, err)
	_, err = bad.OpenGCM(make([]byte, 12), c, nil)
	assert.ErrorIs(t, err, minidriver.ErrDecryption, "the random key fails later")
	_, err = rk.ImportSessionKey(context.Background(), []byte{1, 2, 3}, basecsp.WrapPKCS1)
	assert.ErrorIs(t, err, minidriver.ErrInvalidParameter)
}

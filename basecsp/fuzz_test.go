package basecsp_test

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cardmod/cardmod/basecsp"
	"github.com/cardmod/cardmod/scrm/virtual"
)

// FuzzDecryptCBC checks the constant-time PKCS #7 check against a plain
// one on every ciphertext.
func FuzzDecryptCBC(f *testing.F) {
	p, err := basecsp.Open(basecsp.Config{Backend: virtual.NewBackend(), Rand: bytes.NewReader(make([]byte, 64))})
	require.NoError(f, err)
	defer p.Close()
	sk, err := p.GenerateSessionKey(basecsp.AES128)
	require.NoError(f, err)
	iv := make([]byte, 16)
	good, err := sk.EncryptCBC(iv, []byte("hello"))
	require.NoError(f, err)
	f.Add(good)
	f.Add(make([]byte, 16))
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, c []byte) {
		got, err := sk.DecryptCBC(iv, c)
		if len(c) == 0 || len(c)%16 != 0 {
			assert.Error(t, err)
			return
		}
		b, _ := aes.NewCipher(make([]byte, 16))
		plain := make([]byte, len(c))
		cipher.NewCBCDecrypter(b, iv).CryptBlocks(plain, c)
		n := int(plain[len(plain)-1])
		valid := n >= 1 && n <= 16 && bytes.Equal(plain[len(plain)-n:], bytes.Repeat([]byte{byte(n)}, n))
		if !valid {
			assert.Error(t, err)
			return
		}
		require.NoError(t, err)
		assert.Equal(t, plain[:len(plain)-n], got)
	})
}

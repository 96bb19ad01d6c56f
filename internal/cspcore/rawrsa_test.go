package cspcore

import (
	"crypto/rand"
	"crypto/rsa"
	"math/big"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cardmod/cardmod/minidriver"
)

// rawDecrypt is the raw RSA decryption (RSADP, RFC 8017 §5.1.2) of c
// under k, as a card makes it, in k's modulus length.
func rawDecrypt(k *rsa.PrivateKey, c []byte) []byte {
	m := new(big.Int).Exp(new(big.Int).SetBytes(c), k.D, k.N)
	return m.FillBytes(make([]byte, k.Size()))
}

// TestRawRSACheck: the check passes the raw decryption of a ciphertext
// under the key the public key belongs to, for every ciphertext below the
// modulus (0, 1, n-1 and random ones), and fails, with ErrUnexpected,
// another key's result, a result of another length, one not below the
// modulus and one changed in a single bit. A ciphertext not below the
// modulus is ErrDecryption before the card is asked; a public key the
// check cannot use is ErrUnexpected.
func TestRawRSACheck(t *testing.T) {
	k, err := rsa.GenerateKey(rand.Reader, 1024)
	require.NoError(t, err)
	other, err := rsa.GenerateKey(rand.Reader, 1024)
	require.NoError(t, err)
	size := k.Size()
	nMinus1 := new(big.Int).Sub(k.N, big.NewInt(1))
	blocks := [][]byte{make([]byte, size), big.NewInt(1).FillBytes(make([]byte, size)), nMinus1.FillBytes(make([]byte, size))}
	for range 8 {
		c, err := rand.Int(rand.Reader, k.N)
		require.NoError(t, err)
		blocks = append(blocks, c.FillBytes(make([]byte, size)))
	}
	for i, c := range blocks {
		chk, err := newRawRSACheck(&k.PublicKey, c)
		require.NoError(t, err, "block %d", i)
		m := rawDecrypt(k, c)
		assert.NoError(t, chk.check(m), "block %d: the key's own result", i)

		if c := new(big.Int).SetBytes(c); c.Cmp(other.N) < 0 && c.Cmp(big.NewInt(1)) > 0 {
			// 0 and 1 are their own decryption under every key.
			assert.ErrorIs(t, chk.check(rawDecrypt(other, c.FillBytes(make([]byte, size)))), minidriver.ErrUnexpected, "block %d: another key's result", i)
		}
		assert.ErrorIs(t, chk.check(m[1:]), minidriver.ErrUnexpected, "block %d: short", i)
		assert.ErrorIs(t, chk.check(append([]byte{0}, m...)), minidriver.ErrUnexpected, "block %d: long", i)
		flipped := append([]byte(nil), m...)
		flipped[len(flipped)-1] ^= 1
		assert.ErrorIs(t, chk.check(flipped), minidriver.ErrUnexpected, "block %d: one bit changed", i)
	}
	chk, err := newRawRSACheck(&k.PublicKey, blocks[3])
	require.NoError(t, err)
	assert.ErrorIs(t, chk.check(k.N.FillBytes(make([]byte, size))), minidriver.ErrUnexpected, "a result equal to the modulus")

	_, err = newRawRSACheck(&k.PublicKey, k.N.FillBytes(make([]byte, size)))
	assert.ErrorIs(t, err, minidriver.ErrDecryption, "a ciphertext equal to the modulus")
	for name, pub := range map[string]any{
		"even modulus":  &rsa.PublicKey{N: new(big.Int).Add(k.N, big.NewInt(1)), E: k.E},
		"exponent 1":    &rsa.PublicKey{N: k.N, E: 1},
		"no modulus":    &rsa.PublicKey{E: k.E},
		"not RSA":       "a string",
		"zero modulus":  &rsa.PublicKey{N: new(big.Int), E: k.E},
		"negative":      &rsa.PublicKey{N: new(big.Int).Neg(k.N), E: k.E},
		"nil interface": nil,
	} {
		_, err := newRawRSACheck(pub, blocks[3])
		assert.ErrorIs(t, err, minidriver.ErrUnexpected, name)
	}
}

// FuzzRawRSACheck: whatever a card returns, the check does not panic,
// and it passes exactly the raw decryption of the ciphertext (the only
// result below the modulus whose e-th power is the ciphertext: raising
// to e is a permutation of the residues for an RSA key).
func FuzzRawRSACheck(f *testing.F) {
	k, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		f.Fatal(err)
	}
	c := big.NewInt(0x1234567).FillBytes(make([]byte, k.Size()))
	want := rawDecrypt(k, c)
	f.Add(want)
	f.Add([]byte{})
	f.Add(make([]byte, k.Size()))
	f.Add(k.N.Bytes())
	f.Fuzz(func(t *testing.T, m []byte) {
		chk, err := newRawRSACheck(&k.PublicKey, c)
		require.NoError(t, err)
		err = chk.check(m)
		if string(m) == string(want) {
			assert.NoError(t, err)
		} else {
			assert.ErrorIs(t, err, minidriver.ErrUnexpected)
		}
	})
}

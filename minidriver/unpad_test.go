package minidriver_test

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	_ "crypto/sha1"
	"math/big"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cardmod/cardmod/minidriver"
)

// encryptPKCS1v15 is RSAES-PKCS1-v1_5 encryption (RFC 8017 §7.2.1), written
// here because crypto/rsa deprecates it: cards still receive such
// ciphertexts.
func encryptPKCS1v15(pub *rsa.PublicKey, msg []byte) ([]byte, error) {
	k := pub.Size()
	em := make([]byte, k)
	em[1] = 2
	ps := em[2 : k-len(msg)-1]
	for i := range ps {
		for ps[i] == 0 {
			if _, err := rand.Read(ps[i : i+1]); err != nil {
				return nil, err
			}
		}
	}
	copy(em[k-len(msg):], msg)
	c := new(big.Int).Exp(new(big.Int).SetBytes(em), big.NewInt(int64(pub.E)), pub.N)
	return c.FillBytes(make([]byte, k)), nil
}

// rawDecrypt is what a card that decrypts raw does: c^d mod n.
func rawDecrypt(k *rsa.PrivateKey, c []byte) []byte {
	m := new(big.Int).Exp(new(big.Int).SetBytes(c), k.D, k.N)
	return m.FillBytes(make([]byte, k.Size()))
}

func TestUnpadPKCS1v15(t *testing.T) {
	k := testKey(t, 2048)
	for _, n := range []int{0, 1, 16, 32, 245} {
		msg := make([]byte, n)
		_, _ = rand.Read(msg)
		c, err := encryptPKCS1v15(&k.PublicKey, msg)
		require.NoError(t, err)
		got, err := minidriver.UnpadPKCS1v15(rawDecrypt(k, c))
		require.NoError(t, err)
		assert.True(t, bytes.Equal(msg, got), "length %d", n)
	}
}

func TestUnpadPKCS1v15Invalid(t *testing.T) {
	good := append([]byte{0, 2}, bytes.Repeat([]byte{0xAA}, 8)...)
	good = append(good, 0, 'm', 's', 'g')
	tests := []struct {
		name string
		em   []byte
	}{
		{"short", []byte{0, 2, 1}},
		{"first byte", append([]byte{1}, good[1:]...)},
		{"block type 1", append([]byte{0, 1}, good[2:]...)},
		{"PS too short", []byte{0, 2, 1, 2, 3, 4, 5, 6, 7, 0, 'm', 's', 'g'}},
		{"no separator", append([]byte{0, 2}, bytes.Repeat([]byte{0xAA}, 20)...)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := minidriver.UnpadPKCS1v15(tc.em)
			assert.ErrorIs(t, err, minidriver.ErrDecryption)
		})
	}
	out, err := minidriver.UnpadPKCS1v15(good)
	require.NoError(t, err)
	assert.Equal(t, []byte("msg"), out)
}

func TestUnpadPKCS1v15SessionKey(t *testing.T) {
	k := testKey(t, 2048)
	secret := bytes.Repeat([]byte{0x42}, 32)
	c, err := encryptPKCS1v15(&k.PublicKey, secret)
	require.NoError(t, err)

	key := make([]byte, 32)
	require.NoError(t, minidriver.UnpadPKCS1v15SessionKey(rawDecrypt(k, c), key))
	assert.Equal(t, secret, key, "valid block: the message")

	random := bytes.Repeat([]byte{0x99}, 32)
	key = append([]byte(nil), random...)
	bad := rawDecrypt(k, c)
	bad[1] = 1
	require.NoError(t, minidriver.UnpadPKCS1v15SessionKey(bad, key))
	assert.Equal(t, random, key, "invalid block: the random key stays")

	key16 := append([]byte(nil), random[:16]...)
	require.NoError(t, minidriver.UnpadPKCS1v15SessionKey(rawDecrypt(k, c), key16))
	assert.Equal(t, random[:16], key16, "wrong length: the random key stays")

	assert.ErrorIs(t, minidriver.UnpadPKCS1v15SessionKey(make([]byte, 20), make([]byte, 16)), minidriver.ErrInvalidParameter)
}

func TestUnpadOAEP(t *testing.T) {
	k := testKey(t, 2048)
	tests := []struct {
		name  string
		hash  crypto.Hash
		mgf   crypto.Hash
		label []byte
	}{
		{"SHA-256", crypto.SHA256, 0, nil},
		{"SHA-1 with label", crypto.SHA1, 0, []byte("label")},
		{"SHA-256, MGF1 SHA-1", crypto.SHA256, crypto.SHA1, []byte("x")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			msg := []byte("a session key of some length....")
			mgf := tc.mgf
			if mgf == 0 {
				mgf = tc.hash
			}
			c, err := rsa.EncryptOAEPWithOptions(rand.Reader, &k.PublicKey, msg, &rsa.OAEPOptions{Hash: tc.hash, MGFHash: mgf, Label: tc.label})
			require.NoError(t, err)
			em := rawDecrypt(k, c)
			got, err := minidriver.UnpadOAEP(em, tc.hash, tc.mgf, tc.label)
			require.NoError(t, err)
			assert.Equal(t, msg, got)

			_, err = minidriver.UnpadOAEP(em, tc.hash, tc.mgf, []byte("other label"))
			assert.ErrorIs(t, err, minidriver.ErrDecryption)
			em[0] = 1
			_, err = minidriver.UnpadOAEP(em, tc.hash, tc.mgf, tc.label)
			assert.ErrorIs(t, err, minidriver.ErrDecryption)
		})
	}
	_, err := minidriver.UnpadOAEP(make([]byte, 10), crypto.SHA256, 0, nil)
	assert.ErrorIs(t, err, minidriver.ErrDecryption)
}

func FuzzUnpad(f *testing.F) {
	f.Add([]byte{0, 2, 1, 1, 1, 1, 1, 1, 1, 1, 0, 5})
	f.Add(make([]byte, 100))
	f.Fuzz(func(t *testing.T, em []byte) {
		if out, err := minidriver.UnpadPKCS1v15(em); err == nil && len(out) > len(em)-11 {
			t.Fatalf("message of %d bytes from a %d-byte block", len(out), len(em))
		}
		key := make([]byte, 16)
		_ = minidriver.UnpadPKCS1v15SessionKey(em, key)
		if out, err := minidriver.UnpadOAEP(em, crypto.SHA256, 0, nil); err == nil && len(out) > len(em)-66 {
			t.Fatalf("OAEP message of %d bytes from a %d-byte block", len(out), len(em))
		}
	})
}

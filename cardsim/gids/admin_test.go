package gids_test

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cardmod/cardmod/cardsim/gids"
)

func blockCipher(t testing.TB, key []byte) cipher.Block {
	t.Helper()
	var b cipher.Block
	var err error
	if len(key) == 24 {
		b, err = des.NewTripleDESCipher(key)
	} else {
		b, err = aes.NewCipher(key)
	}
	require.NoError(t, err)
	return b
}

// adminMutual runs the host side of the GIDS mutual authentication as
// OpenSC's gids_authenticate_admin does and returns the SW of the second
// GENERAL AUTHENTICATE.
func (tc *tcard) adminMutual(key []byte) uint16 {
	t := tc.t
	t.Helper()
	tc.mustOK(0x22, 0xC1, 0xA4, h("83 01 80"))
	r1 := bytes.Repeat([]byte{0x11}, 16)
	resp := tc.mustOK(0x87, 0, 0, tlv(0x7C, tlv(0x81, r1)))
	require.Len(t, resp, 20)
	require.Equal(t, h("7C 12 81 10"), resp[:4])
	r2 := resp[4:]
	b := blockCipher(t, key)
	bs := b.BlockSize()
	z1 := append(bytes.Repeat([]byte{0x22}, bs-1), 0x80)
	msg := cat(r2, r1, z1)
	cipher.NewCBCEncrypter(b, make([]byte, bs)).CryptBlocks(msg, msg)
	out, sw := tc.exchange(0x87, 0, 0, tlv(0x7C, tlv(0x82, msg)))
	if sw != 0x9000 {
		return sw
	}
	require.Len(t, out, 4+32+bs)
	plain := make([]byte, 32+bs)
	cipher.NewCBCDecrypter(b, make([]byte, bs)).CryptBlocks(plain, out[4:])
	assert.Equal(t, r1, plain[:16], "card returns R1 first")
	assert.Equal(t, r2, plain[16:32])
	assert.Equal(t, byte(0x80), plain[len(plain)-1], "Z2 padding")
	return sw
}

// adminAuth authenticates the admin key or fails the test.
func (tc *tcard) adminAuth(key []byte) {
	tc.t.Helper()
	require.Equal(tc.t, uint16(0x9000), tc.adminMutual(key))
}

func TestAdminMutualAuthentication(t *testing.T) {
	tc := initialized(t)
	assert.Equal(t, uint16(0x6982), tc.putDO(0xA012, 0xDF20, make([]byte, 16)))
	tc.adminAuth(gids.DefaultAdminKey)
	assert.Equal(t, uint16(0x9000), tc.putDO(0xA012, 0xDF20, make([]byte, 16)))

	wrong := bytes.Repeat([]byte{0x5A}, 24)
	other := initialized(t)
	assert.Equal(t, uint16(0x6982), other.adminMutual(wrong))
	assert.Equal(t, uint16(0x6982), other.putDO(0xA012, 0xDF20, make([]byte, 16)))
	// The exchange must start again after a failure.
	other.wantSW(0x6985, 0x87, 0, 0, tlv(0x7C, tlv(0x82, make([]byte, 40))))
}

func TestAdminAuthenticationErrors(t *testing.T) {
	tc := initialized(t)
	// No MSE yet.
	tc.wantSW(0x6985, 0x87, 0, 0, tlv(0x7C, tlv(0x81, make([]byte, 16))))
	tc.wantSW(0x6A88, 0x22, 0xC1, 0xA4, h("83 01 81"))
	tc.wantSW(0x6A80, 0x22, 0xC1, 0xA4, h("84 01 80"))
	tc.wantSW(0x6A86, 0x22, 0xC1, 0xB6, h("83 01 80"))
	tc.wantSW(0x6A86, 0x22, 0x42, 0xA4, h("83 01 80"))
	tc.wantSW(0x6A80, 0x22, 0xC1, 0xA4, h("83 05 80"))
	tc.mustOK(0x22, 0xC1, 0xA4, h("83 01 80"))
	tc.wantSW(0x6A86, 0x87, 0x01, 0x00, tlv(0x7C, tlv(0x81, make([]byte, 16))))
	tc.wantSW(0x6A80, 0x87, 0, 0, tlv(0x7D, tlv(0x81, make([]byte, 16))))
	tc.wantSW(0x6A80, 0x87, 0, 0, tlv(0x7C, tlv(0x81, make([]byte, 5))))
	tc.wantSW(0x6A80, 0x87, 0, 0, tlv(0x7C, tlv(0x83, nil)))
	// A response of the wrong length.
	tc.mustOK(0x87, 0, 0, tlv(0x7C, tlv(0x81, make([]byte, 16))))
	tc.wantSW(0x6982, 0x87, 0, 0, tlv(0x7C, tlv(0x82, make([]byte, 32))))
}

func TestAdminExternalAuthentication(t *testing.T) {
	tc := initialized(t)
	tc.mustOK(0x22, 0x81, 0xA4, h("83 01 80"))
	resp := tc.mustOK(0x87, 0, 0, tlv(0x7C, tlv(0x81, nil)))
	require.Len(t, resp, 12)
	chal := resp[4:]
	b := blockCipher(t, gids.DefaultAdminKey)
	cipher.NewCBCEncrypter(b, make([]byte, 8)).CryptBlocks(chal, chal)
	assert.Empty(t, tc.mustOK(0x87, 0, 0, tlv(0x7C, tlv(0x82, chal))))
	assert.Equal(t, uint16(0x9000), tc.putDO(0xA014, 0xDF01, []byte{1}))
}

func TestAdminAESKey(t *testing.T) {
	key := bytes.Repeat([]byte{0x3C}, 16)
	tc := selected(t, gids.Config{Initialized: true, AdminKey: key})
	assert.Equal(t, uint16(0x6982), tc.adminMutual(gids.DefaultAdminKey[:16]))
	tc.adminAuth(key)
}

// TestChangeAdminKey follows gids-tool --change-admin-key: authenticate
// with the old key, PUT DATA 3FFF the new one, log out.
func TestChangeAdminKey(t *testing.T) {
	tc := initialized(t)
	newKey := bytes.Repeat([]byte{0x0F, 0xF0, 0x33}, 8)
	keyDO := tlv(0x70, cat(h("84 01 80 A5 1F 87 18"), newKey, h("88 03 B0 73 DC")))
	tc.wantSW(0x6982, 0xDB, 0x3F, 0xFF, keyDO)
	tc.adminAuth(gids.DefaultAdminKey)
	tc.mustOK(0xDB, 0x3F, 0xFF, keyDO)
	tc.mustOK(0x20, 0x00, 0x82, nil)
	assert.Equal(t, uint16(0x6982), tc.adminMutual(gids.DefaultAdminKey))
	tc.adminAuth(newKey)
	// Bad key values.
	tc.wantSW(0x6A80, 0xDB, 0x3F, 0xFF, tlv(0x70, cat(h("84 01 80 A5 05 87 03 01 02 03"))))
	tc.wantSW(0x6A80, 0xDB, 0x3F, 0xFF, tlv(0x70, h("84 01 80")))
	tc.wantSW(0x6A88, 0xDB, 0x3F, 0xFF, tlv(0x70, cat(h("84 01 99 A5 1A 87 18"), newKey)))
	// The admin key's public part can never be read.
	tc.wantSW(0x6A88, 0xCB, 0x3F, 0xFF, h("70 08 84 01 80 A5 03 7F 49 80"))
}

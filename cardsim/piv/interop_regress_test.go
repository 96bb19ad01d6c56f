package piv_test

// Regression tests for behaviour the real tools showed to be wrong (see
// interop_pcscd_test.go).

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cardmod/cardmod/cardsim/piv"
)

// OpenSC's C_GenerateRandom (pkcs11-tool --generate-random, --test) asks
// for 9B challenges with algorithm 00, which SP 800-78-4 table 6-2 lists as
// 3-key Triple DES like 03. The card answered 6A86, so OpenSC reported
// CKR_FUNCTION_NOT_SUPPORTED.
func TestManagementKeyAlgorithmZeroIsTripleDES(t *testing.T) {
	tc := selected(t, piv.Config{Version: piv.Version{Major: 5, Minor: 4, Patch: 3}})
	require.Equal(t, piv.AlgTDES, tc.mgmtAlg())

	// OpenSC's request, as sent: 00 87 00 9B 04 7C 02 81 00 00.
	seen := map[string]bool{}
	for range 3 {
		resp, sw := tc.raw(h("00 87 00 9B 04 7C 02 81 00 00"))
		require.Equal(t, uint16(0x9000), sw)
		chal := tlvs(t, tlvs(t, resp)[0x7C])[0x81]
		require.Len(t, chal, 8)
		seen[string(chal)] = true
	}
	assert.Len(t, seen, 3, "challenges repeat")

	// Single authentication completes whichever of 00 and 03 each step names.
	resp := tc.mustOK(0x87, 0x00, 0x9B, h("7C 02 81 00"))
	chal := tlvs(t, tlvs(t, resp)[0x7C])[0x81]
	enc := make([]byte, 8)
	mgmtBlock(t, piv.AlgTDES, piv.DefaultManagementKey).Encrypt(enc, chal)
	tc.mustOK(0x87, piv.AlgTDES, 0x9B, tlv(0x7C, tlv(0x82, enc)))
	assert.Equal(t, uint16(0x9000), tc.putData(h("5FC109"), h("88 00")), "not authenticated")

	// Mutual authentication with 00 as well.
	tc2 := selected(t, piv.Config{Version: piv.Version{Major: 5, Minor: 4, Patch: 3}})
	resp = tc2.mustOK(0x87, 0x00, 0x9B, h("7C 02 80 00"))
	w := tlvs(t, tlvs(t, resp)[0x7C])[0x80]
	require.Len(t, w, 8)
	dec := make([]byte, 8)
	mgmtBlock(t, piv.AlgTDES, piv.DefaultManagementKey).Decrypt(dec, w)
	tc2.mustOK(0x87, 0x00, 0x9B, tlv(0x7C, cat(tlv(0x80, dec), tlv(0x81, make([]byte, 8)))))

	// 00 is not an AES key: a 5.7 card's factory AES-192 key refuses it.
	aes := selected(t, piv.Config{})
	require.Equal(t, piv.AlgAES192, aes.mgmtAlg())
	aes.wantSW(0x6A86, 0x87, 0x00, 0x9B, h("7C 02 81 00"))
}

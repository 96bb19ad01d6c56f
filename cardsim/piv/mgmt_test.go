package piv_test

import (
	"bytes"
	"testing"

	"github.com/cardmod/cardmod/cardsim/piv"
)

func TestManagementKeyDefaults(t *testing.T) {
	for _, tt := range []struct {
		fw   piv.Version
		want byte
	}{
		{piv.Version{Major: 5, Minor: 7, Patch: 1}, piv.AlgAES192},
		{piv.Version{Major: 5, Minor: 4, Patch: 3}, piv.AlgTDES},
		{piv.Version{Major: 5, Minor: 3, Patch: 0}, piv.AlgTDES},
	} {
		tc := selected(t, piv.Config{Version: tt.fw})
		if alg := tc.mgmtAlg(); alg != tt.want {
			t.Errorf("firmware %v: algorithm %02X, want %02X", tt.fw, alg, tt.want)
		}
		m := tlvs(t, tc.mustOK(0xF7, 0x00, 0x9B, nil))
		if m[0x05][0] != 1 || !bytes.Equal(m[0x02], []byte{0x00, 0x01}) {
			t.Errorf("metadata %x", m)
		}
		// piv-go authenticates this way with the default key.
		if sw := tc.authMgmt(piv.DefaultManagementKey); sw != 0x9000 {
			t.Errorf("firmware %v: mutual authentication %04X", tt.fw, sw)
		}
	}
}

func TestManagementKeySingleAuthentication(t *testing.T) {
	tc := selected(t, piv.Config{})
	block := mgmtBlock(t, piv.AlgAES192, piv.DefaultManagementKey)
	resp := tc.mustOK(0x87, piv.AlgAES192, 0x9B, h("7C 02 81 00"))
	chal := tlvs(t, tlvs(t, resp)[0x7C])[0x81]
	if len(chal) != 16 {
		t.Fatalf("challenge %x", chal)
	}
	enc := make([]byte, 16)
	block.Encrypt(enc, chal)
	tc.mustOK(0x87, piv.AlgAES192, 0x9B, tlv(0x7C, tlv(0x82, enc)))
	// Authenticated now: PUT DATA works.
	if sw := tc.putData(h("5FC102"), h("01")); sw != 0x9000 {
		t.Fatalf("PUT DATA after single auth: %04X", sw)
	}
	// A wrong response fails, and the challenge is used up either way.
	resp = tc.mustOK(0x87, piv.AlgAES192, 0x9B, h("7C 02 81 00"))
	_ = resp
	tc.wantSW(0x6982, 0x87, piv.AlgAES192, 0x9B, tlv(0x7C, tlv(0x82, make([]byte, 16))))
	tc.wantSW(0x6982, 0x87, piv.AlgAES192, 0x9B, tlv(0x7C, tlv(0x82, enc)))
	if sw := tc.putData(h("5FC102"), h("01")); sw != 0x6982 {
		t.Fatalf("PUT DATA after failed auth: %04X", sw)
	}
	// A response with no challenge outstanding.
	tc2 := selected(t, piv.Config{})
	tc2.wantSW(0x6982, 0x87, piv.AlgAES192, 0x9B, tlv(0x7C, tlv(0x82, enc)))
}

func TestManagementKeyMutualFailures(t *testing.T) {
	tc := selected(t, piv.Config{})
	if sw := tc.authMgmt(bytes.Repeat([]byte{7}, 24)); sw != 0x6982 {
		t.Fatalf("wrong key: %04X", sw)
	}
	// Wrong algorithm reference, malformed templates.
	tc.wantSW(0x6A86, 0x87, piv.AlgTDES, 0x9B, h("7C 02 80 00"))
	tc.wantSW(0x6A80, 0x87, piv.AlgAES192, 0x9B, h("7C 02 80"))
	tc.wantSW(0x6A80, 0x87, piv.AlgAES192, 0x9B, h("7D 02 80 00"))
	tc.wantSW(0x6A80, 0x87, piv.AlgAES192, 0x9B, h("7C 04 80 00 80 00"))
	tc.wantSW(0x6A80, 0x87, piv.AlgAES192, 0x9B, h("7C 02 83 00"))
	tc.wantSW(0x6A80, 0x87, piv.AlgAES192, 0x9B, tlv(0x7C, tlv(0x82, make([]byte, 8))))
	// Step two without step one.
	tc.wantSW(0x6982, 0x87, piv.AlgAES192, 0x9B, tlv(0x7C, cat(tlv(0x80, make([]byte, 16)), tlv(0x81, make([]byte, 16)))))
	// The card can be asked to prove itself alone.
	block := mgmtBlock(t, piv.AlgAES192, piv.DefaultManagementKey)
	chal := bytes.Repeat([]byte{3}, 16)
	resp := tc.mustOK(0x87, piv.AlgAES192, 0x9B, tlv(0x7C, cat(tlv(0x81, chal), tlv(0x82, nil))))
	want := make([]byte, 16)
	block.Encrypt(want, chal)
	if got := tlvs(t, tlvs(t, resp)[0x7C])[0x82]; !bytes.Equal(got, want) {
		t.Fatalf("card authentication %x", got)
	}
}

func TestSetManagementKey(t *testing.T) {
	for _, tt := range []struct {
		alg byte
		n   int
	}{{piv.AlgTDES, 24}, {piv.AlgAES128, 16}, {piv.AlgAES192, 24}, {piv.AlgAES256, 32}} {
		tc := selected(t, piv.Config{})
		key := bytes.Repeat([]byte{tt.alg + 0x10}, tt.n)
		data := cat([]byte{tt.alg, 0x9B, byte(tt.n)}, key)
		tc.wantSW(0x6982, 0xFF, 0xFF, 0xFF, data)
		tc.mustAuth()
		tc.wantSW(0x6A86, 0xFF, 0xFE, 0xFF, data)
		tc.wantSW(0x6A80, 0xFF, 0xFF, 0xFF, cat([]byte{tt.alg, 0x9B, byte(tt.n + 1)}, key, []byte{0}))
		tc.wantSW(0x6A80, 0xFF, 0xFF, 0xFF, cat([]byte{tt.alg, 0x9A, byte(tt.n)}, key))
		tc.wantSW(0x6A80, 0xFF, 0xFF, 0xFF, cat([]byte{tt.alg, 0x9B, byte(tt.n - 1)}, key[1:]))
		tc.mustOK(0xFF, 0xFF, 0xFF, data)
		m := tlvs(t, tc.mustOK(0xF7, 0x00, 0x9B, nil))
		if m[0x01][0] != tt.alg || m[0x05][0] != 0 {
			t.Fatalf("metadata after set: %x", m)
		}
		if sw := tc.authMgmt(piv.DefaultManagementKey); sw == 0x9000 {
			t.Fatal("old key still works")
		}
		if sw := tc.authMgmt(key); sw != 0x9000 {
			t.Fatalf("new key %02X: %04X", tt.alg, sw)
		}
	}
	// AES needs firmware 5.4.
	old := selected(t, piv.Config{Version: piv.Version{Major: 5, Minor: 2, Patch: 7}})
	old.mustAuth()
	old.wantSW(0x6A80, 0xFF, 0xFF, 0xFF, cat([]byte{piv.AlgAES128, 0x9B, 16}, make([]byte, 16)))
}

func TestManagementKeyTouch(t *testing.T) {
	touched := 0
	answer := true
	tc := selected(t, piv.Config{Touch: func(slot byte) bool {
		if slot != 0x9B {
			t.Errorf("touch for slot %02X", slot)
		}
		touched++
		return answer
	}})
	tc.mustAuth()
	tc.mustOK(0xFF, 0xFF, 0xFE, cat([]byte{piv.AlgAES128, 0x9B, 16}, bytes.Repeat([]byte{9}, 16)))
	m := tlvs(t, tc.mustOK(0xF7, 0x00, 0x9B, nil))
	if m[0x02][1] != piv.TouchPolicyAlways {
		t.Fatalf("touch policy %x", m[0x02])
	}
	if sw := tc.authMgmt(bytes.Repeat([]byte{9}, 16)); sw != 0x9000 || touched != 1 {
		t.Fatalf("auth with touch: %04X, %d touches", sw, touched)
	}
	answer = false
	if sw := tc.authMgmt(bytes.Repeat([]byte{9}, 16)); sw != 0x6982 {
		t.Fatalf("auth without touch: %04X", sw)
	}
}

// TestPivGoAuthenticationBytes checks the exact bytes piv-go v2 tests when
// it authenticates (piv/piv.go ykAuthenticate): the algorithm at offset 2
// of GET METADATA 9B, then the headers 7C 12 80 10 and 7C 12 82 10 for
// AES (7C 0A 80 08 and 7C 0A 82 08 for 3DES).
func TestPivGoAuthenticationBytes(t *testing.T) {
	for _, fw := range []piv.Version{{Major: 5, Minor: 7, Patch: 1}, {Major: 5, Minor: 4, Patch: 3}} {
		tc := selected(t, piv.Config{Version: fw})
		alg := tc.mustOK(0xF7, 0x00, 0x9B, nil)[2]
		n := byte(16)
		if alg == piv.AlgTDES {
			n = 8
		}
		resp := tc.mustOK(0x87, alg, 0x9B, h("7C 02 80 00"))
		if !bytes.Equal(resp[:4], []byte{0x7C, n + 2, 0x80, n}) || len(resp) != int(n)+4 {
			t.Fatalf("witness %x", resp)
		}
		block := mgmtBlock(t, alg, piv.DefaultManagementKey)
		dec := make([]byte, n)
		block.Decrypt(dec, resp[4:])
		chal := bytes.Repeat([]byte{1}, int(n))
		data := cat([]byte{0x7C, (n + 2) * 2, 0x80, n}, dec, []byte{0x81, n}, chal)
		resp = tc.mustOK(0x87, alg, 0x9B, data)
		want := make([]byte, n)
		block.Encrypt(want, chal)
		if !bytes.Equal(resp, cat([]byte{0x7C, n + 2, 0x82, n}, want)) {
			t.Fatalf("response %x", resp)
		}
	}
}

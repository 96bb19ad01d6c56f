package piv_test

import (
	"bytes"
	"testing"

	"github.com/cardmod/cardmod/cardsim"
	"github.com/cardmod/cardmod/cardsim/piv"
)

var _ cardsim.Card = (*piv.Card)(nil)

func TestATR(t *testing.T) {
	tc := newCard(t, piv.Config{})
	if !bytes.Equal(tc.c.ATR(), piv.ATRYubiKey5NFC) {
		t.Fatalf("ATR %x", tc.c.ATR())
	}
	custom := newCard(t, piv.Config{ATR: []byte{0x3B, 0x00}})
	if !bytes.Equal(custom.c.ATR(), []byte{0x3B, 0x00}) {
		t.Fatalf("custom ATR %x", custom.c.ATR())
	}
}

func TestMalformedAPDUs(t *testing.T) {
	tc := selected(t, piv.Config{})
	for _, apdu := range [][]byte{
		nil,
		{0x00},
		{0x00, 0xCB, 0x3F},
		{0x00, 0xCB, 0x3F, 0xFF, 0x05, 0x5C}, // Lc longer than data
		{0x00, 0xCB, 0x3F, 0xFF, 0x01, 0x5C, 0x00, 0x00},       // one byte too many
		{0x00, 0xCB, 0x3F, 0xFF, 0x00, 0x00},                   // extended, too short
		{0x00, 0xCB, 0x3F, 0xFF, 0x00, 0x00, 0x00, 0x01},       // extended Lc 0
		{0x00, 0xCB, 0x3F, 0xFF, 0x00, 0x00, 0x02, 0x5C},       // extended Lc past the end
		{0x00, 0xCB, 0x3F, 0xFF, 0x00, 0x00, 0x01, 0x5C, 0x00}, // extended, bad Le length
	} {
		if _, sw := tc.raw(apdu); sw != 0x6700 {
			t.Errorf("%x: SW %04X, want 6700", apdu, sw)
		}
	}
}

func TestClassAndInstruction(t *testing.T) {
	tc := selected(t, piv.Config{})
	if _, sw := tc.raw([]byte{0x80, 0xFD, 0x00, 0x00}); sw != 0x6E00 {
		t.Errorf("CLA 80: %04X", sw)
	}
	if _, sw := tc.raw([]byte{0x0C, 0xFD, 0x00, 0x00}); sw != 0x6E00 {
		t.Errorf("CLA 0C: %04X", sw)
	}
	if _, sw := tc.raw([]byte{0x00, 0x42, 0x00, 0x00}); sw != 0x6D00 {
		t.Errorf("unknown INS: %04X", sw)
	}
	data, sw := tc.raw([]byte{0x00, 0xFD, 0x00, 0x00, 0x00})
	if sw != 0x9000 || !bytes.Equal(data, []byte{5, 7, 1}) {
		t.Errorf("GET VERSION: %x %04X", data, sw)
	}
}

func TestBeforeSelect(t *testing.T) {
	tc := newCard(t, piv.Config{})
	// OpenSC first tries GET DATA of the Discovery object without a
	// SELECT; a YubiKey with no application selected answers 6D00.
	for _, apdu := range [][]byte{
		h("00 CB 3F FF 03 5C 01 7E 00"),
		h("00 20 00 80"),
		h("00 FD 00 00 00"),
		h("00 87 03 9B 04 7C 02 80 00"),
	} {
		if _, sw := tc.raw(apdu); sw != 0x6D00 {
			t.Errorf("%x before SELECT: %04X, want 6D00", apdu, sw)
		}
	}
	tc.mustOK(0xA4, 0x04, 0x00, piv.AID)
	if _, sw := tc.raw(h("00 CB 3F FF 03 5C 01 7E 00")); sw != 0x9000 {
		t.Errorf("after SELECT: %04X", sw)
	}
	// Reset deselects.
	tc.c.Reset()
	if _, sw := tc.raw(h("00 FD 00 00 00")); sw != 0x6D00 {
		t.Errorf("after Reset: %04X", sw)
	}
}

// yubiKeyTemplate is a YubiKey's answer to SELECT, as Yubico's SDK tests
// expect it (yubikit-android, UsbSessionTest.executeCommand).
var yubiKeyTemplate = h("61 11 4F 06 00 00 10 00 01 00 79 07 4F 05 A0 00 00 03 08")

func TestSelect(t *testing.T) {
	tc := newCard(t, piv.Config{})
	for _, aid := range [][]byte{piv.AID, piv.AID[:5], piv.AID[:9]} {
		// A YubiKey answers the short template, without the AC list.
		if resp := tc.mustOK(0xA4, 0x04, 0x00, aid); !bytes.Equal(resp, yubiKeyTemplate) {
			t.Errorf("SELECT %x: %x, want %x", aid, resp, yubiKeyTemplate)
		}
		// Without Le too (libykpiv and piv-go send none): over T=1 a
		// YubiKey answers with the template all the same.
		if resp, sw := tc.raw(cat([]byte{0x00, 0xA4, 0x04, 0x00, byte(len(aid))}, aid)); sw != 0x9000 || !bytes.Equal(resp, yubiKeyTemplate) {
			t.Errorf("SELECT %x without Le: %x %04X", aid, resp, sw)
		}
	}
	for _, prof := range []piv.Profile{piv.ProfileYubiKey4(), piv.ProfileYubiKeyNEO(), piv.ProfileYubiKey50()} {
		if resp := newCard(t, piv.Config{Profile: prof}).mustOK(0xA4, 0x04, 0x00, piv.AID[:5]); !bytes.Equal(resp, yubiKeyTemplate) {
			t.Errorf("%s: SELECT answered %x", prof.Name, resp)
		}
	}
	// The standard card and the applet answer SP 800-73-4's template,
	// with the algorithms in AC and no secure messaging.
	for _, prof := range []piv.Profile{piv.ProfileIssued(), piv.ProfileApplet()} {
		sc := newCard(t, piv.Config{Profile: prof})
		for _, aid := range [][]byte{piv.AID, piv.AID[:5], piv.AID[:9]} {
			resp := sc.mustOK(0xA4, 0x04, 0x00, aid)
			apt := tlvs(t, tlvs(t, resp)[0x61])
			if !bytes.Equal(apt[0x4F], piv.AID[5:]) {
				t.Errorf("%s: 4F %x", prof.Name, apt[0x4F])
			}
			if !bytes.Equal(tlvs(t, apt[0x79])[0x4F], piv.AID[:5]) {
				t.Errorf("%s: 79 %x", prof.Name, apt[0x79])
			}
			ac := apt[0xAC]
			if !bytes.Contains(ac, []byte{0x80, 0x01, 0x11}) || !bytes.Contains(ac, []byte{0x80, 0x01, 0x07}) {
				t.Errorf("%s: AC %x", prof.Name, ac)
			}
			if bytes.Contains(ac, []byte{0x80, 0x01, 0x27}) || bytes.Contains(ac, []byte{0x80, 0x01, 0x2E}) {
				t.Errorf("%s: AC announces secure messaging: %x", prof.Name, ac)
			}
		}
	}
	// A custom profile says which template it answers.
	custom := piv.YubiKey(piv.Version{5, 7, 1})
	custom.Name, custom.ShortTemplate = "custom", false
	if resp := newCard(t, piv.Config{Profile: custom}).mustOK(0xA4, 0x04, 0x00, piv.AID); !bytes.Contains(resp, []byte{0x80, 0x01, 0xE0}) {
		t.Errorf("custom profile without ShortTemplate: %x", resp)
	}
	// P2 0C: no response data.
	if resp := tc.mustOK(0xA4, 0x04, 0x0C, piv.AID); len(resp) != 0 {
		t.Errorf("P2 0C answered %x", resp)
	}
	tc.wantSW(0x6A82, 0xA4, 0x04, 0x00, h("D2 76 00 01 24 01"))  // OpenPGP
	tc.wantSW(0x6A82, 0xA4, 0x04, 0x00, h("A0 00 00 03"))        // RID cut short
	tc.wantSW(0x6A82, 0xA4, 0x04, 0x00, cat(piv.AID, []byte{0})) // longer than the AID
	tc.wantSW(0x6A86, 0xA4, 0x00, 0x00, piv.AID)
	// The failed SELECT left no application selected.
	tc.wantSW(0x6D00, 0xFD, 0x00, 0x00, nil)
}

func TestSelectKeepsSecurityStatus(t *testing.T) {
	tc := selected(t, piv.Config{})
	if sw := tc.verifyPIN(piv.DefaultPIN); sw != 0x9000 {
		t.Fatalf("VERIFY %04X", sw)
	}
	tc.mustOK(0xA4, 0x04, 0x00, piv.AID)
	tc.wantSW(0x9000, 0x20, 0x00, 0x80, nil)
	// Selecting another application loses it.
	tc.wantSW(0x6A82, 0xA4, 0x04, 0x00, h("D2 76 00 01 24 01"))
	tc.mustOK(0xA4, 0x04, 0x00, piv.AID)
	tc.wantSW(0x63C3, 0x20, 0x00, 0x80, nil)
}

func TestGetResponse(t *testing.T) {
	tc := selected(t, piv.Config{})
	tc.mustAuth()
	obj := bytes.Repeat([]byte{0xAB}, 1000)
	if sw := tc.putData(h("5F C1 05"), obj); sw != 0x9000 {
		t.Fatalf("PUT DATA %04X", sw)
	}
	want := tlv(0x53, obj)

	// No Le: 256 bytes then 61xx, as a YubiKey answers.
	data, sw := tc.raw(h("00 CB 3F FF 05 5C 03 5F C1 05"))
	if sw != 0x6100 || len(data) != 256 || !bytes.Equal(data, want[:256]) {
		t.Fatalf("first part: %d bytes, SW %04X", len(data), sw)
	}
	got := append([]byte(nil), data...)
	for sw != 0x9000 {
		if sw>>8 != 0x61 {
			t.Fatalf("SW %04X", sw)
		}
		data, sw = tc.raw([]byte{0x00, 0xC0, 0x00, 0x00, byte(sw)})
		got = append(got, data...)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("reassembled object differs")
	}

	// Short Le 08: the first 8 bytes and 61xx (OpenSC reads lengths so).
	data, sw = tc.raw(h("00 CB 3F FF 05 5C 03 5F C1 05 08"))
	if sw != 0x6100 || !bytes.Equal(data, want[:8]) {
		t.Fatalf("Le 08: %x %04X", data, sw)
	}
	data, sw = tc.raw(h("00 C0 00 00 10"))
	if sw != 0x6100 || !bytes.Equal(data, want[8:24]) {
		t.Fatalf("GET RESPONSE 10: %x %04X", data, sw)
	}
	// The remaining count is exact once below 256.
	rest := len(want) - 24
	for rest > 256 {
		_, sw = tc.raw(h("00 C0 00 00 00"))
		rest -= 256
		if rest >= 256 && sw != 0x6100 || rest < 256 && sw != 0x6100|uint16(rest) {
			t.Fatalf("SW %04X with %d left", sw, rest)
		}
	}
	data, sw = tc.raw(h("00 C0 00 00 00"))
	if sw != 0x9000 || len(data) != rest {
		t.Fatalf("last part: %d bytes, SW %04X", len(data), sw)
	}
	// Nothing pending any more.
	if _, sw := tc.raw(h("00 C0 00 00 00")); sw != 0x6985 {
		t.Fatalf("stray GET RESPONSE: %04X", sw)
	}

	// Discovery read with Le 08 first, as OpenSC does.
	data, sw = tc.raw(h("00 CB 3F FF 03 5C 01 7E 08"))
	if sw != 0x610C || !bytes.Equal(data, h("7E 12 4F 0B A0 00 00 03")) {
		t.Fatalf("discovery Le 08: %x %04X", data, sw)
	}
	// Another command drops the pending rest.
	tc.mustOK(0xFD, 0, 0, nil)
	if _, sw := tc.raw(h("00 C0 00 00 00")); sw != 0x6985 {
		t.Fatalf("GET RESPONSE after another command: %04X", sw)
	}

	// Extended Le: the whole object at once.
	data, sw = tc.raw(h("00 CB 3F FF 00 00 05 5C 03 5F C1 05 00 00"))
	if sw != 0x9000 || !bytes.Equal(data, want) {
		t.Fatalf("extended: %d bytes, SW %04X", len(data), sw)
	}
	// Extended case 3 (no Le) also answers in full.
	data, sw = tc.raw(h("00 CB 3F FF 00 00 05 5C 03 5F C1 05"))
	if sw != 0x9000 || !bytes.Equal(data, want) {
		t.Fatalf("extended case 3: %d bytes, SW %04X", len(data), sw)
	}
	// GET RESPONSE with P1/P2 set.
	if _, sw := tc.raw(h("00 C0 01 00 00")); sw != 0x6A86 {
		t.Fatalf("GET RESPONSE P1 01: %04X", sw)
	}
}

func TestCommandChaining(t *testing.T) {
	tc := selected(t, piv.Config{})
	tc.mustAuth()
	obj := bytes.Repeat([]byte{0x42}, 2000)
	cmd := cat(tlv(0x5C, h("5F C1 0A")), tlv(0x53, obj))
	// Chained by hand in 100-byte pieces.
	for len(cmd) > 100 {
		if _, sw := tc.raw(short(0x10, 0xDB, 0x3F, 0xFF, cmd[:100])); sw != 0x9000 {
			t.Fatalf("chained part: %04X", sw)
		}
		cmd = cmd[100:]
	}
	if _, sw := tc.raw(short(0x00, 0xDB, 0x3F, 0xFF, cmd)); sw != 0x9000 {
		t.Fatalf("last part: %04X", sw)
	}
	data, sw := tc.raw(h("00 CB 3F FF 00 00 05 5C 03 5F C1 0A 00 00"))
	if sw != 0x9000 || !bytes.Equal(data, tlv(0x53, obj)) {
		t.Fatalf("read back: %d bytes %04X", len(data), sw)
	}

	// An abandoned chain does not leak into the next command.
	if _, sw := tc.raw(short(0x10, 0xDB, 0x3F, 0xFF, []byte{0x5C, 0x03})); sw != 0x9000 {
		t.Fatal(sw)
	}
	if data, sw := tc.raw(h("00 FD 00 00 00")); sw != 0x9000 || len(data) != 3 {
		t.Fatalf("after abandoned chain: %x %04X", data, sw)
	}

	// Extended APDU carrying the whole PUT DATA.
	obj2 := bytes.Repeat([]byte{0x24}, 3000)
	body := cat(tlv(0x5C, h("5F C1 0B")), tlv(0x53, obj2))
	ext := cat([]byte{0x00, 0xDB, 0x3F, 0xFF, 0x00, byte(len(body) >> 8), byte(len(body))}, body)
	if _, sw := tc.raw(ext); sw != 0x9000 {
		t.Fatalf("extended PUT DATA: %04X", sw)
	}
	got, sw := tc.getData(h("5F C1 0B"))
	if sw != 0x9000 || !bytes.Equal(got, tlv(0x53, obj2)) {
		t.Fatalf("read back extended: %04X", sw)
	}
}

func TestNeverShortAnswer(t *testing.T) {
	tc := newCard(t, piv.Config{})
	for _, apdu := range [][]byte{nil, {1}, {0, 0, 0}, {0xFF, 0xFF, 0xFF, 0xFF, 0xFF}} {
		if r := tc.c.Transmit(apdu); len(r) < 2 {
			t.Errorf("%x: %x", apdu, r)
		}
	}
}

func TestConcurrentUse(t *testing.T) {
	tc := selected(t, piv.Config{})
	tc.mustAuth()
	tc.generate(0x9E, piv.AlgECCP256)
	done := make(chan bool)
	for g := 0; g < 4; g++ {
		go func() {
			defer func() { done <- true }()
			for i := 0; i < 50; i++ {
				switch i % 4 {
				case 0:
					tc.c.Transmit(h("00 87 11 9E 26 7C 24 82 00 81 20 00 01 02 03 04 05 06 07 08 09 0A 0B 0C 0D 0E 0F 10 11 12 13 14 15 16 17 18 19 1A 1B 1C 1D 1E 1F"))
				case 1:
					tc.c.Transmit(h("00 CB 3F FF 05 5C 03 5F FF 01"))
				case 2:
					var b bytes.Buffer
					if err := tc.c.Save(&b); err != nil {
						t.Error(err)
					}
				case 3:
					tc.c.Transmit(h("00 C0 00 00 00"))
				}
			}
		}()
	}
	for g := 0; g < 4; g++ {
		<-done
	}
}

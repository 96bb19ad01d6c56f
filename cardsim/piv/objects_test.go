package piv_test

import (
	"bytes"
	"crypto/x509"
	"testing"

	"github.com/cardmod/cardmod/cardsim/piv"
)

func TestFreshCardObjects(t *testing.T) {
	tc := selected(t, piv.Config{})
	// Like a fresh YubiKey: no CHUID, no CCC, no certificates (Yubico .NET
	// SDK: "Upon manufacture, the CHUID is empty").
	for _, tag := range [][]byte{h("5FC102"), h("5FC107"), h("5FC105"), h("5FC10A"), h("5FC10B"), h("5FC101"), h("5FC10D"), h("5FC120"), h("5FC10C"), h("5FC106"), h("5FFF00"), h("7F61")} {
		if _, sw := tc.getData(tag); sw != 0x6A82 {
			t.Errorf("GET DATA %x: %04X, want 6A82", tag, sw)
		}
	}
	// Discovery: fixed, read without PIN.
	resp, sw := tc.getData([]byte{0x7E})
	if sw != 0x9000 || !bytes.Equal(resp, h("7E 12 4F 0B A0 00 00 03 08 00 00 10 00 01 00 5F 2F 02 40 00")) {
		t.Fatalf("discovery: %x %04X", resp, sw)
	}
	// The attestation certificate of slot F9 (Yubico object 5FFF01).
	resp, sw = tc.getData(h("5FFF01"))
	if sw != 0x9000 {
		t.Fatalf("5FFF01: %04X", sw)
	}
	obj := tlvs(t, tlvs(t, resp)[0x53])
	cert, err := x509.ParseCertificate(obj[0x70])
	if err != nil {
		t.Fatal(err)
	}
	if cert.Subject.CommonName != "Yubico PIV Attestation" || !cert.IsCA {
		t.Fatalf("F9 certificate: %v CA=%v", cert.Subject, cert.IsCA)
	}
	if err := cert.CheckSignatureFrom(tc.c.AttestationRoot()); err != nil {
		t.Fatal(err)
	}
}

func TestGetDataErrors(t *testing.T) {
	tc := selected(t, piv.Config{})
	tc.wantSW(0x6A86, 0xCB, 0x3F, 0x00, tlv(0x5C, h("5FC102")))
	tc.wantSW(0x6A80, 0xCB, 0x3F, 0xFF, h("5D 03 5F C1 02"))      // not a tag list
	tc.wantSW(0x6A80, 0xCB, 0x3F, 0xFF, h("5C 04 00 5F C1 02"))   // four-byte tag
	tc.wantSW(0x6A80, 0xCB, 0x3F, 0xFF, h("5C 03 5F C1"))         // truncated
	tc.wantSW(0x6A80, 0xCB, 0x3F, 0xFF, h("5C 03 5F C1 02 00"))   // trailing byte
	tc.wantSW(0x6A80, 0xCB, 0x3F, 0xFF, nil)                      // no data
	tc.wantSW(0x6A82, 0xCB, 0x3F, 0xFF, tlv(0x5C, h("01")))       // not a PIV tag
	tc.wantSW(0x6A82, 0xCB, 0x3F, 0xFF, tlv(0x5C, h("5E C1 02"))) // outside 5Fxxxx
	tc.wantSW(0x6A82, 0xCB, 0x3F, 0xFF, tlv(0x5C, h("5F 00 01"))) // valid, empty
	tc.wantSW(0x6A82, 0xCB, 0x3F, 0xFF, tlv(0x5C, h("5F FF FF"))) // vendor range, empty
}

func TestPutData(t *testing.T) {
	tc := selected(t, piv.Config{})
	chuid := cat(tlv(0x30, bytes.Repeat([]byte{0xD4}, 25)), tlv(0x34, bytes.Repeat([]byte{0x11}, 16)), tlv(0x35, []byte("20300101")), tlv(0x3E, nil), tlv(0xFE, nil))
	// Management key first.
	if sw := tc.putData(h("5FC102"), chuid); sw != 0x6982 {
		t.Fatalf("PUT DATA without authentication: %04X", sw)
	}
	tc.mustAuth()
	if sw := tc.putData(h("5FC102"), chuid); sw != 0x9000 {
		t.Fatalf("PUT DATA: %04X", sw)
	}
	resp, sw := tc.getData(h("5FC102"))
	if sw != 0x9000 || !bytes.Equal(resp, tlv(0x53, chuid)) {
		t.Fatalf("CHUID: %x %04X", resp, sw)
	}
	// Every standard object and the vendor range.
	for _, tag := range [][]byte{h("5FC107"), h("5FC105"), h("5FC10A"), h("5FC10B"), h("5FC101"), h("5FC10C"), h("5FC106"), h("5FC10D"), h("5FC120"), h("5FC122"), h("5FC123"), h("5FFF00"), h("5FFF10"), h("5FFFFF")} {
		val := cat([]byte{0x99}, tag)
		if sw := tc.putData(tag, val); sw != 0x9000 {
			t.Errorf("PUT DATA %x: %04X", tag, sw)
		}
		if resp, sw := tc.getData(tag); sw != 0x9000 || !bytes.Equal(resp, tlv(0x53, val)) {
			t.Errorf("GET DATA %x: %x %04X", tag, resp, sw)
		}
	}
	// An empty object deletes.
	if sw := tc.putData(h("5FC102"), nil); sw != 0x9000 {
		t.Fatalf("delete: %04X", sw)
	}
	if _, sw := tc.getData(h("5FC102")); sw != 0x6A82 {
		t.Fatalf("deleted CHUID: %04X", sw)
	}
	// Discovery is fixed.
	tc.wantSW(0x6A81, 0xDB, 0x3F, 0xFF, cat(tlv(0x5C, h("7E")), tlv(0x53, h("01"))))
	// BIT group template, with its own wrapper.
	bit := tlv(0x02, h("01"))
	tc.mustOK(0xDB, 0x3F, 0xFF, cat(tlv(0x5C, h("7F61")), tlv(0x7F61, bit)))
	if resp, sw := tc.getData(h("7F61")); sw != 0x9000 || !bytes.Equal(resp, tlv(0x7F61, bit)) {
		t.Fatalf("BITGT: %x %04X", resp, sw)
	}
	// Malformed.
	tc.wantSW(0x6A86, 0xDB, 0x3F, 0x00, cat(tlv(0x5C, h("5FC102")), tlv(0x53, h("01"))))
	tc.wantSW(0x6A80, 0xDB, 0x3F, 0xFF, tlv(0x5C, h("5FC102")))
	tc.wantSW(0x6A80, 0xDB, 0x3F, 0xFF, cat(tlv(0x5C, h("5FC102")), tlv(0x54, h("01"))))
	tc.wantSW(0x6A80, 0xDB, 0x3F, 0xFF, cat(tlv(0x5C, h("5FC102")), tlv(0x53, h("01")), h("00")))
	tc.wantSW(0x6A80, 0xDB, 0x3F, 0xFF, cat(tlv(0x5C, h("01")), tlv(0x53, h("01"))))
	tc.wantSW(0x6A80, 0xDB, 0x3F, 0xFF, h("5C 03 5F C1 02 53 05 01"))
}

func TestObjectSizeLimits(t *testing.T) {
	tc := selected(t, piv.Config{})
	tc.mustAuth()
	if sw := tc.putData(h("5FC105"), make([]byte, piv.DefaultMaxObjectSize)); sw != 0x9000 {
		t.Fatalf("largest object: %04X", sw)
	}
	if sw := tc.putData(h("5FC105"), make([]byte, piv.DefaultMaxObjectSize+1)); sw != 0x6A84 {
		t.Fatalf("too large: %04X", sw)
	}
	// The whole storage fills up too.
	var sw uint16
	for i := 0; i < 40; i++ {
		if sw = tc.putData([]byte{0x5F, 0x00, byte(i)}, make([]byte, 3000)); sw != 0x9000 {
			break
		}
	}
	if sw != 0x6A84 {
		t.Fatalf("storage never filled: %04X", sw)
	}
	small := newCard(t, piv.Config{MaxObjectSize: 10})
	small.mustOK(0xA4, 0x04, 0x00, piv.AID)
	small.mustAuth()
	if sw := small.putData(h("5FC102"), make([]byte, 11)); sw != 0x6A84 {
		t.Fatalf("configured limit: %04X", sw)
	}
}

func TestPINProtectedObjects(t *testing.T) {
	tc := selected(t, piv.Config{})
	tc.mustAuth()
	for _, tag := range [][]byte{h("5FC103"), h("5FC108"), h("5FC109"), h("5FC121")} {
		// The PIN comes first, whether or not the object exists.
		if _, sw := tc.getData(tag); sw != 0x6982 {
			t.Errorf("%x without PIN: %04X", tag, sw)
		}
	}
	if sw := tc.putData(h("5FC109"), h("88 1A 89 18 01 02 03 04 05 06 07 08 01 02 03 04 05 06 07 08 01 02 03 04 05 06 07 08")); sw != 0x9000 {
		t.Fatalf("PUT printed: %04X", sw)
	}
	if _, sw := tc.getData(h("5FC109")); sw != 0x6982 {
		t.Fatalf("printed without PIN: %04X", sw)
	}
	if sw := tc.verifyPIN(piv.DefaultPIN); sw != 0x9000 {
		t.Fatal(sw)
	}
	if _, sw := tc.getData(h("5FC109")); sw != 0x9000 {
		t.Fatalf("printed with PIN: %04X", sw)
	}
	if _, sw := tc.getData(h("5FC108")); sw != 0x6A82 {
		t.Fatalf("absent facial image with PIN: %04X", sw)
	}
}

package piv_test

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"testing"

	"github.com/cardmod/cardmod/cardsim/piv"
)

func TestVersionAndSerial(t *testing.T) {
	tc := selected(t, piv.Config{Version: piv.Version{Major: 5, Minor: 4, Patch: 3}, Serial: 0x01020304})
	if v := tc.mustOK(0xFD, 0x00, 0x00, nil); !bytes.Equal(v, []byte{5, 4, 3}) {
		t.Fatalf("version %x", v)
	}
	if s := tc.mustOK(0xF8, 0x00, 0x00, nil); !bytes.Equal(s, []byte{1, 2, 3, 4}) {
		t.Fatalf("serial %x", s)
	}
	if tc.c.Version() != (piv.Version{Major: 5, Minor: 4, Patch: 3}) || tc.c.Serial() != 0x01020304 {
		t.Fatal("accessors")
	}
	// YubiKey 4: no GET SERIAL in the PIV application, no metadata.
	yk4 := selected(t, piv.Config{Version: piv.Version{Major: 4, Minor: 3, Patch: 7}})
	yk4.wantSW(0x6D00, 0xF8, 0x00, 0x00, nil)
	yk4.wantSW(0x6D00, 0xF7, 0x00, 0x9B, nil)
	yk4.wantSW(0x6D00, 0xF6, 0xFF, 0x9A, nil)
	def := selected(t, piv.Config{})
	if s := def.mustOK(0xF8, 0x00, 0x00, nil); !bytes.Equal(s, []byte{0x00, 0x98, 0x96, 0x81}) {
		t.Fatalf("default serial %x", s)
	}
}

func TestMetadata(t *testing.T) {
	tc := selected(t, piv.Config{})
	m := tlvs(t, tc.mustOK(0xF7, 0x00, 0x80, nil))
	if !bytes.Equal(m[0x01], []byte{0xFF}) || !bytes.Equal(m[0x05], []byte{1}) || !bytes.Equal(m[0x06], []byte{3, 3}) {
		t.Fatalf("PIN metadata %x", m)
	}
	tc.verifyPIN("000000")
	m = tlvs(t, tc.mustOK(0xF7, 0x00, 0x80, nil))
	if !bytes.Equal(m[0x06], []byte{3, 2}) {
		t.Fatalf("PIN retries %x", m[0x06])
	}
	m = tlvs(t, tc.mustOK(0xF7, 0x00, 0x81, nil))
	if !bytes.Equal(m[0x05], []byte{1}) || !bytes.Equal(m[0x06], []byte{3, 3}) {
		t.Fatalf("PUK metadata %x", m)
	}
	tc.wantSW(0x6A82, 0xF7, 0x00, 0x9A, nil)
	tc.wantSW(0x6A88, 0xF7, 0x00, 0x96, nil)
	tc.wantSW(0x6A88, 0xF7, 0x00, 0x01, nil)
	tc.wantSW(0x6A86, 0xF7, 0x01, 0x9A, nil)
	// A generated key.
	tc.mustAuth()
	point := tc.generate(0x9C, piv.AlgECCP384)[0x86]
	m = tlvs(t, tc.mustOK(0xF7, 0x00, 0x9C, nil))
	if m[0x01][0] != piv.AlgECCP384 || m[0x03][0] != piv.OriginGenerated || !bytes.Equal(m[0x02], []byte{piv.PINPolicyAlways, piv.TouchPolicyNever}) {
		t.Fatalf("9C metadata %x", m)
	}
	if !bytes.Equal(tlvs(t, m[0x04])[0x86], point) {
		t.Fatal("metadata public key differs from generated one")
	}
	// The factory attestation key.
	m = tlvs(t, tc.mustOK(0xF7, 0x00, 0xF9, nil))
	if m[0x01][0] != piv.AlgECCP256 {
		t.Fatalf("F9 metadata %x", m)
	}
}

func TestReset(t *testing.T) {
	tc := selected(t, piv.Config{PIN: "11223344"})
	tc.mustAuth()
	tc.generate(0x9A, piv.AlgECCP256)
	tc.putData(h("5FC102"), h("01 02"))
	f9Before, _ := tc.getData(h("5FFF01"))
	tc.wantSW(0x6985, 0xFB, 0x00, 0x00, nil)
	for i := 0; i < 3; i++ {
		tc.verifyPIN("000000")
	}
	tc.wantSW(0x6985, 0xFB, 0x00, 0x00, nil) // PUK not blocked yet
	for i := 0; i < 3; i++ {
		tc.exchange(0x2C, 0x00, 0x80, cat(padPIN("00000000"), padPIN("000000")))
	}
	tc.wantSW(0x6A86, 0xFB, 0x01, 0x00, nil)
	tc.mustOK(0xFB, 0x00, 0x00, nil)
	// Factory defaults again.
	if sw := tc.verifyPIN(piv.DefaultPIN); sw != 0x9000 {
		t.Fatalf("default PIN after reset: %04X", sw)
	}
	tc.wantSW(0x63C3, 0x20, 0x00, 0x81, nil)
	tc.wantSW(0x6A82, 0xF7, 0x00, 0x9A, nil)
	if _, sw := tc.getData(h("5FC102")); sw != 0x6A82 {
		t.Fatalf("CHUID after reset: %04X", sw)
	}
	// Attestation key and certificate survive.
	if f9After, _ := tc.getData(h("5FFF01")); !bytes.Equal(f9Before, f9After) {
		t.Fatal("attestation certificate changed")
	}
	tc.mustOK(0xF7, 0x00, 0xF9, nil)
	if sw := tc.putData(h("5FC102"), h("01")); sw != 0x6982 {
		t.Fatalf("still authenticated after reset: %04X", sw)
	}
	tc.mustAuth()
}

func TestSetPINRetries(t *testing.T) {
	tc := selected(t, piv.Config{PIN: "13572468"})
	tc.wantSW(0x6982, 0xFA, 5, 6, nil)
	tc.mustAuth()
	tc.wantSW(0x6982, 0xFA, 5, 6, nil) // PIN needed too
	if sw := tc.verifyPIN("13572468"); sw != 0x9000 {
		t.Fatal(sw)
	}
	tc.wantSW(0x6A86, 0xFA, 0, 6, nil)
	tc.mustOK(0xFA, 5, 6, nil)
	tc.wantSW(0x63C5, 0x20, 0x00, 0x80, nil)
	tc.wantSW(0x63C6, 0x20, 0x00, 0x81, nil)
	// PIN and PUK back to their defaults.
	if sw := tc.verifyPIN(piv.DefaultPIN); sw != 0x9000 {
		t.Fatalf("default PIN: %04X", sw)
	}
	tc.mustOK(0x24, 0x00, 0x81, cat(padPIN(piv.DefaultPUK), padPIN(piv.DefaultPUK)))
}

func TestMoveAndDeleteKey(t *testing.T) {
	tc := selected(t, piv.Config{})
	tc.wantSW(0x6982, 0xF6, 0x82, 0x9A, nil)
	tc.mustAuth()
	point := tc.generate(0x9A, piv.AlgECCP256)[0x86]
	tc.generate(0x9C, piv.AlgECCP256)
	tc.wantSW(0x6985, 0xF6, 0x9C, 0x9A, nil) // destination occupied
	tc.wantSW(0x6A86, 0xF6, 0x82, 0xF9, nil) // attestation key stays
	tc.wantSW(0x6A86, 0xF6, 0x9B, 0x9A, nil)
	tc.wantSW(0x6A82, 0xF6, 0x83, 0x84, nil)
	tc.mustOK(0xF6, 0x82, 0x9A, nil)
	tc.wantSW(0x6A82, 0xF7, 0x00, 0x9A, nil)
	m := tlvs(t, tc.mustOK(0xF7, 0x00, 0x82, nil))
	if !bytes.Equal(tlvs(t, m[0x04])[0x86], point) || m[0x03][0] != piv.OriginGenerated {
		t.Fatalf("moved key metadata %x", m)
	}
	tc.mustOK(0xF6, 0xFF, 0x82, nil)
	tc.wantSW(0x6A82, 0xF7, 0x00, 0x82, nil)
	tc.wantSW(0x6A82, 0xF6, 0xFF, 0x82, nil)
}

func TestAttestation(t *testing.T) {
	tc := selected(t, piv.Config{Serial: 12345678, FormFactor: 0x03})
	tc.wantSW(0x6A80, 0xF9, 0x9A, 0x00, nil) // empty slot
	tc.mustAuth()
	resp, _ := tc.getData(h("5FFF01"))
	f9, err := x509.ParseCertificate(tlvs(t, tlvs(t, resp)[0x53])[0x70])
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(tc.c.AttestationRoot())
	inter := x509.NewCertPool()
	inter.AddCert(f9)

	type gen struct {
		slot, alg byte
		extra     []byte
		pp, tp    byte
		check     func(any) bool
	}
	var ecPoint, edPoint, xPoint []byte
	var rsaPub *rsa.PublicKey
	cases := []gen{
		{0x9A, piv.AlgECCP256, nil, piv.PINPolicyOnce, piv.TouchPolicyNever, func(k any) bool {
			p, ok := k.(*ecdsa.PublicKey)
			if !ok {
				return false
			}
			b, err := p.Bytes()
			return err == nil && bytes.Equal(b, ecPoint)
		}},
		{0x9C, piv.AlgEd25519, cat(tlv(0xAA, []byte{piv.PINPolicyNever}), tlv(0xAB, []byte{piv.TouchPolicyCached})), piv.PINPolicyNever, piv.TouchPolicyCached, func(k any) bool {
			p, ok := k.(ed25519.PublicKey)
			return ok && bytes.Equal(p, edPoint)
		}},
		{0x9D, piv.AlgX25519, nil, piv.PINPolicyOnce, piv.TouchPolicyNever, func(k any) bool {
			p, ok := k.(*ecdh.PublicKey)
			return ok && bytes.Equal(p.Bytes(), xPoint)
		}},
		{0x95, piv.AlgRSA1024, tlv(0xAA, []byte{piv.PINPolicyAlways}), piv.PINPolicyAlways, piv.TouchPolicyNever, func(k any) bool {
			p, ok := k.(*rsa.PublicKey)
			return ok && p.Equal(rsaPub)
		}},
	}
	for _, c := range cases {
		pubTLV := tc.generate(c.slot, c.alg, c.extra...)
		switch c.alg {
		case piv.AlgECCP256:
			ecPoint = pubTLV[0x86]
		case piv.AlgEd25519:
			edPoint = pubTLV[0x86]
		case piv.AlgX25519:
			xPoint = pubTLV[0x86]
		default:
			rsaPub = rsaPublic(t, pubTLV)
		}
		der := tc.mustOK(0xF9, c.slot, 0x00, nil)
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatalf("slot %02X: %v", c.slot, err)
		}
		if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}, CurrentTime: f9.NotBefore.AddDate(1, 0, 0)}); err != nil {
			t.Fatalf("slot %02X: chain: %v", c.slot, err)
		}
		pub := cert.PublicKey
		if pub == nil { // crypto/x509 leaves X25519 keys to ParsePKIXPublicKey
			if pub, err = x509.ParsePKIXPublicKey(cert.RawSubjectPublicKeyInfo); err != nil {
				t.Fatal(err)
			}
		}
		if !c.check(pub) {
			t.Fatalf("slot %02X: attested key %T differs", c.slot, cert.PublicKey)
		}
		wantCN := "YubiKey PIV Attestation " + []string{"9a", "9c", "9d", "95"}[map[byte]int{0x9A: 0, 0x9C: 1, 0x9D: 2, 0x95: 3}[c.slot]]
		if cert.Subject.CommonName != wantCN || !bytes.Equal(cert.RawIssuer, f9.RawSubject) {
			t.Fatalf("subject %q issuer %q", cert.Subject.CommonName, cert.Issuer)
		}
		if !cert.NotBefore.Equal(f9.NotBefore) || !cert.NotAfter.Equal(f9.NotAfter) {
			t.Fatal("validity not copied from the F9 certificate")
		}
		if len(cert.SerialNumber.Bytes()) != 16 {
			t.Fatalf("serial %x", cert.SerialNumber)
		}
		exts := map[string][]byte{}
		for _, e := range cert.Extensions {
			exts[e.Id.String()] = e.Value
		}
		if !bytes.Equal(exts["1.3.6.1.4.1.41482.3.3"], []byte{5, 7, 1}) {
			t.Fatalf("firmware extension %x", exts["1.3.6.1.4.1.41482.3.3"])
		}
		var serial int64
		if _, err := asn1.Unmarshal(exts["1.3.6.1.4.1.41482.3.7"], &serial); err != nil || serial != 12345678 {
			t.Fatalf("serial extension %d %v", serial, err)
		}
		if !bytes.Equal(exts["1.3.6.1.4.1.41482.3.8"], []byte{c.pp, c.tp}) {
			t.Fatalf("policy extension %x", exts["1.3.6.1.4.1.41482.3.8"])
		}
		if !bytes.Equal(exts["1.3.6.1.4.1.41482.3.9"], []byte{0x03}) {
			t.Fatalf("form factor extension %x", exts["1.3.6.1.4.1.41482.3.9"])
		}
	}
	// Imported keys are not attested.
	tc.mustOK(0xFE, piv.AlgEd25519, 0x9E, tlv(0x07, make([]byte, 32)))
	tc.wantSW(0x6A80, 0xF9, 0x9E, 0x00, nil)
	tc.wantSW(0x6A86, 0xF9, 0xF9, 0x00, nil)
	tc.wantSW(0x6A86, 0xF9, 0x9B, 0x00, nil)
}

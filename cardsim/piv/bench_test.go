package piv_test

import (
	"crypto/sha256"
	"testing"

	"github.com/cardmod/cardmod/cardsim/piv"
)

// BenchmarkECDSAP256Sign signs through Transmit with a PIN-once key in 9A,
// as a PKCS#11 module does once logged in: one GENERAL AUTHENTICATE per
// signature.
func BenchmarkECDSAP256Sign(b *testing.B) {
	tc := selected(b, piv.Config{})
	tc.mustAuth()
	tc.generate(0x9A, piv.AlgECCP256)
	tc.verifyPIN(piv.DefaultPIN)
	digest := sha256.Sum256([]byte("bench"))
	apdu := short(0x00, 0x87, piv.AlgECCP256, 0x9A, tlv(0x7C, cat(tlv(0x82, nil), tlv(0x81, digest[:]))))
	apdus := 0
	b.ResetTimer()
	for b.Loop() {
		r := tc.c.Transmit(apdu)
		apdus++
		if r[len(r)-2] != 0x90 {
			b.Fatalf("SW %x", r[len(r)-2:])
		}
	}
	b.ReportMetric(float64(apdus)/float64(b.N), "APDUs/op")
}

// BenchmarkReadCertificate reads a 2 KB certificate object with short
// APDUs: GET DATA and its GET RESPONSE rounds.
func BenchmarkReadCertificate(b *testing.B) {
	tc := selected(b, piv.Config{})
	tc.mustAuth()
	tc.putData(h("5FC105"), make([]byte, 2000))
	apdus := 0
	b.ResetTimer()
	for b.Loop() {
		_, sw := tc.raw(h("00 CB 3F FF 05 5C 03 5F C1 05 00"))
		apdus++
		for sw>>8 == 0x61 {
			_, sw = tc.raw(h("00 C0 00 00 00"))
			apdus++
		}
		if sw != 0x9000 {
			b.Fatalf("SW %04X", sw)
		}
	}
	b.ReportMetric(float64(apdus)/float64(b.N), "APDUs/op")
}

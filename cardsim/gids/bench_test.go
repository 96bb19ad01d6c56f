package gids_test

import (
	"crypto/rsa"
	"crypto/sha256"
	"testing"

	"github.com/cardmod/cardmod/cardsim/gids"
)

// BenchmarkRSA2048Sign signs a DigestInfo through Transmit as OpenSC does
// once logged in with the environment set: one PSO per signature, the
// 256-byte answer in one 61xx round (Le 00).
func BenchmarkRSA2048Sign(b *testing.B) {
	tc := initialized(b)
	tc.verify(gids.DefaultPIN)
	tc.createKeyFile(keyFileFCP(0x81, gids.AlgRSA2048, false))
	tc.generate(0x81, gids.AlgRSA2048)
	tc.mse(0xB6, 0x50|gids.AlgRSA2048, 0x81)
	digest := sha256.Sum256([]byte("bench"))
	apdu := short(0, 0x2A, 0x9E, 0x9A, cat(digestInfoSHA256, digest[:]), true)
	apdus := 0
	for b.Loop() {
		_, sw := tc.raw(apdu)
		apdus++
		for sw>>8 == 0x61 {
			_, sw = tc.raw([]byte{0x00, 0xC0, 0x00, 0x00, byte(sw)})
			apdus++
		}
		if sw != 0x9000 {
			b.Fatalf("SW %04X", sw)
		}
	}
	b.ReportMetric(float64(apdus)/float64(b.N), "APDUs/op")
}

// BenchmarkECDSAP256Sign: MSE and PSO per signature, as a minidriver that
// sets the environment for each operation does.
func BenchmarkECDSAP256Sign(b *testing.B) {
	tc := initialized(b)
	tc.verify(gids.DefaultPIN)
	tc.createKeyFile(ecKeyFileFCP(0x81, gids.AlgECCP256))
	tc.generate(0x81, gids.AlgECCP256)
	digest := sha256.Sum256([]byte("bench"))
	mse := short(0, 0x22, 0x41, 0xB6, h("80 01 0C 84 01 81"), false)
	pso := short(0, 0x2A, 0x9E, 0x9A, digest[:], true)
	apdus := 0
	for b.Loop() {
		for _, a := range [][]byte{mse, pso} {
			_, sw := tc.raw(a)
			apdus++
			if sw != 0x9000 {
				b.Fatalf("SW %04X", sw)
			}
		}
	}
	b.ReportMetric(float64(apdus)/float64(b.N), "APDUs/op")
}

// BenchmarkReadCertificate reads a 1.5 KB compressed certificate DO with
// short APDUs: GET DATA and its GET RESPONSE rounds.
func BenchmarkReadCertificate(b *testing.B) {
	tc := initialized(b)
	tc.verify(gids.DefaultPIN)
	tc.putDO(0xA010, 0xDF24, make([]byte, 1500))
	apdu := h("00 CB A0 10 04 5C 02 DF 24 00")
	apdus := 0
	for b.Loop() {
		_, sw := tc.raw(apdu)
		apdus++
		for sw>>8 == 0x61 {
			_, sw = tc.raw([]byte{0x00, 0xC0, 0x00, 0x00, byte(sw)})
			apdus++
		}
		if sw != 0x9000 {
			b.Fatalf("SW %04X", sw)
		}
	}
	b.ReportMetric(float64(apdus)/float64(b.N), "APDUs/op")
}

// BenchmarkRSA2048Decrypt decrypts a PKCS#1 v1.5 cryptogram with short
// APDUs, as OpenSC sends it: the 256-byte cryptogram chained in two
// commands, the plaintext in the answer to the second.
func BenchmarkRSA2048Decrypt(b *testing.B) {
	tc := initialized(b)
	tc.verify(gids.DefaultPIN)
	tc.createKeyFile(keyFileFCP(0x81, gids.AlgRSA2048, true))
	pub := tc.generate(0x81, gids.AlgRSA2048).(*rsa.PublicKey)
	tc.mse(0xB8, 0x40|gids.AlgRSA2048, 0x81)
	ct := encryptPKCS1(pub, []byte("a session key"))
	first := short(0x10, 0x2A, 0x80, 0x86, ct[:255], false)
	last := short(0x00, 0x2A, 0x80, 0x86, ct[255:], true)
	apdus := 0
	for b.Loop() {
		for _, a := range [][]byte{first, last} {
			_, sw := tc.raw(a)
			apdus++
			if sw != 0x9000 {
				b.Fatalf("SW %04X", sw)
			}
		}
	}
	b.ReportMetric(float64(apdus)/float64(b.N), "APDUs/op")
}

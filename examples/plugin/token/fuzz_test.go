package token_test

import (
	"testing"

	"github.com/cardmod/cardmod/examples/plugin/token"
)

// FuzzTransmit feeds the token arbitrary APDUs after selecting its
// application: it must answer at least a status word and never panic
// (Transmit recovers, so a panic shows as 6F00, which the seeds never
// earn).
func FuzzTransmit(f *testing.F) {
	for _, seed := range [][]byte{
		{0x00, 0x20, 0x00, 0x81, 0x06, '1', '2', '3', '4', '5', '6'},
		{0x00, 0x20, 0xFF, 0x81},
		{0x00, 0x46, 0x00, 0x00, 0x00},
		{0x80, 0xCA, 0x00, 0x03, 0x00},
		{0x00, 0x2A, 0x9E, 0x00, 0x01, 0xAA, 0x00},
		{0x00, 0xCA, 0x01, 0x00, 0x00},
		{0x10, 0xDA, 0x01, 0x00, 0x02, 0x01, 0x02},
		{0x00, 0xC0, 0x00, 0x00, 0x00},
		{},
		{0xFF},
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, apdu []byte) {
		tok, err := token.New(token.Config{Serial: [8]byte{1}})
		if err != nil {
			t.Fatal(err)
		}
		sel := append([]byte{0x00, 0xA4, 0x04, 0x00, byte(len(token.AID))}, token.AID...)
		if out := tok.Transmit(append(sel, 0x00)); len(out) < 2 || out[len(out)-2] != 0x90 {
			t.Fatalf("SELECT answered % X", out)
		}
		for range 2 { // twice: a chain or a pending answer carries over
			out := tok.Transmit(apdu)
			if len(out) < 2 {
				t.Fatalf("answer % X shorter than a status word", out)
			}
			if out[len(out)-2] == 0x6F && out[len(out)-1] == 0x00 {
				t.Fatalf("6F00 (a recovered panic) for % X", apdu)
			}
		}
	})
}

package scrm

import (
	"bytes"
	"testing"
)

// FuzzEncodeRoundTrip checks that what encode writes parses back to the same
// command.
func FuzzEncodeRoundTrip(f *testing.F) {
	f.Add(byte(0), byte(0xA4), 0, 256, true)
	f.Add(byte(0x80), byte(0xCB), 300, 65536, true)
	f.Add(byte(0), byte(0x20), 8, 0, false)
	f.Fuzz(func(t *testing.T, cla, ins byte, nc, ne int, extended bool) {
		if nc < 0 || nc > MaxExtendedNc || ne < 0 || ne > MaxNe {
			return
		}
		if !extended && nc > MaxShortNc {
			return
		}
		cmd := Command{CLA: cla, INS: ins, P1: 1, P2: 2, Data: bytes.Repeat([]byte{0x5A}, nc), Ne: ne}
		apdu, err := cmd.encode(nil, extended, false)
		if err != nil {
			t.Fatal(err)
		}
		got, err := ParseCommand(apdu)
		if err != nil {
			t.Fatalf("% X: %v", apdu, err)
		}
		wantNe := ne
		if (!extended || (nc <= MaxShortNc && ne <= MaxShortNe)) && ne > MaxShortNe {
			wantNe = MaxShortNe
		}
		if got.CLA != cla || got.INS != ins || !bytes.Equal(got.Data, cmd.Data) || got.Ne != wantNe {
			t.Fatalf("round trip: sent %+v, parsed %+v", cmd, got)
		}
	})
}

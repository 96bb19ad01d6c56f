package pcsc_test

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/cardmod/cardmod/scrm/pcsc"
)

// FuzzParseFeatures: a reader driver's feature list is untrusted. Whatever
// it holds, parsing does not panic, and a list it accepts is whole 6-byte
// entries that encode back to the input when no tag repeats.
func FuzzParseFeatures(f *testing.F) {
	f.Add([]byte{0x06, 4, 0x42, 0x33, 0x00, 0x06, 0x12, 4, 0x42, 0x33, 0x00, 0x12})
	f.Add([]byte{0x12, 4, 0x42})
	f.Add([]byte{0x12, 2, 0x42, 0x33})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := pcsc.ParseFeatures(b)
		if err != nil {
			return
		}
		if len(b)%6 != 0 {
			t.Fatalf("accepted %d bytes", len(b))
		}
		if len(m) == len(b)/6 {
			var enc []byte
			for i := 0; i < len(b); i += 6 {
				enc = append(enc, b[i], 4)
				enc = binary.BigEndian.AppendUint32(enc, m[pcsc.Feature(b[i])])
			}
			if !bytes.Equal(enc, b) {
				t.Fatalf("% X parsed as %v", b, m)
			}
		}
	})
}

// FuzzParseTLVProperties: the same for FEATURE_GET_TLV_PROPERTIES.
func FuzzParseTLVProperties(f *testing.F) {
	f.Add([]byte{10, 4, 0, 0, 1, 0, 7, 1, 8, 8, 3, 'a', 'b', 'c'})
	f.Add([]byte{10, 4, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := pcsc.ParseTLVProperties(b)
		if err != nil {
			return
		}
		total := 0
		for _, v := range m {
			total += 2 + len(v)
		}
		if total > len(b) {
			t.Fatalf("%d bytes of properties from %d", total, len(b))
		}
		for p := range m {
			_, _ = pcsc.PropertyUint(m, p)
		}
	})
}

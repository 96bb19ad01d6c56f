package bertlv_test

import (
	"bytes"
	"testing"

	"github.com/cardmod/cardmod/internal/bertlv"
)

// canonical reports whether enc is the encoding Encode gives of its first
// object: tag bytes and a shortest length.
func canonical(enc []byte, tag uint32, value []byte) bool {
	return bytes.Equal(enc, bertlv.Encode(tag, value))
}

// FuzzParse checks that no input makes the parsers panic or reach past
// their input, and that what they accept in the canonical encoding comes
// back unchanged from Encode.
func FuzzParse(f *testing.F) {
	f.Add([]byte{0x53, 0x03, 0x01, 0x02, 0x03})
	f.Add([]byte{0x7F, 0x49, 0x81, 0x01, 0x00})
	f.Add([]byte{0x5F, 0xFF, 0x10, 0x83, 0x00, 0x00, 0x01, 0xAA})
	f.Add([]byte{0x5F, 0xFF, 0xFF, 0x01, 0x00})
	f.Add([]byte{0x30, 0x80})
	f.Add([]byte{0x7C, 0x04, 0x81, 0x02, 0xAA, 0xBB, 0x00, 0x00})
	f.Add([]byte{0x70, 0x82, 0x00, 0x01, 0xAA, 0x71, 0x01, 0x00, 0xFE, 0x00})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		tag, val, rest, err := bertlv.Parse(b)
		if err == nil {
			if len(val)+len(rest) > len(b) {
				t.Fatalf("element longer than input")
			}
			head := b[:len(b)-len(rest)]
			if canonical(head, tag, val) {
				t2, v2, r2, err := bertlv.Parse(bertlv.Encode(tag, val))
				if err != nil || t2 != tag || !bytes.Equal(v2, val) || len(r2) != 0 {
					t.Fatalf("round trip of %X failed", head)
				}
			} else if len(head) <= len(bertlv.Encode(tag, val)) {
				// Only a longer, non-minimal length field may differ.
				t.Fatalf("%X reads as %X, %X but is not its canonical encoding", head, tag, val)
			}
		}
		list, err := bertlv.ParseAll(b)
		if err != nil {
			return
		}
		if len(list) > bertlv.MaxElements {
			t.Fatalf("%d elements", len(list))
		}
		// Objects 00 with an empty value at the end encode as zero
		// padding, which ParseAll skips.
		for len(list) > 0 && list[len(list)-1].Tag == 0 && len(list[len(list)-1].Value) == 0 {
			list = list[:len(list)-1]
		}
		var out []byte
		for _, x := range list {
			out = bertlv.Append(out, x.Tag, x.Value)
		}
		again, err := bertlv.ParseAll(out)
		if err != nil || len(again) != len(list) {
			t.Fatalf("re-encoding of %X: %v", b, err)
		}
		for i := range list {
			if again[i].Tag != list[i].Tag || !bytes.Equal(again[i].Value, list[i].Value) {
				t.Fatalf("element %d changed", i)
			}
		}
		if len(list) > 0 {
			if v, ok := bertlv.Find(b, list[0].Tag); !ok || !bytes.Equal(v, list[0].Value) {
				t.Fatalf("Find missed the first element")
			}
		}
	})
}

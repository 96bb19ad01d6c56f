package tlv

import (
	"bytes"
	"testing"
)

// FuzzParse reads arbitrary bytes as a sequence of data objects. Parsing
// must never panic and must stay inside the input. Every parsed object
// re-encodes to bytes that parse back to the same tag and value, and when
// the input used the shortest length form (canonical encoding) the
// re-encoding is the input, byte for byte.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"",
		"53 00",
		"00 00",
		"7C 06 82 00 81 02 01 02",
		"5C 03 5F C1 05 53 04 70 00 FE 00",
		"7F 49 05 86 03 04 01 02",
		"62 0C 82 01 39 83 02 A0 20 8C 03 03 30 00",
		"DF 80 01 00",
		"04 81 80",
		"04 81 01 AA",
		"04 82 00 02 AA BB",
		"04 83 00 00 01 AA",
		"30 80 00 00",
		"04 84 00 00 00 01 AA",
		"5F 81 81 01 00",
		"5F C1",
		"FF",
	} {
		f.Add(h(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		in := append([]byte(nil), data...)
		var objs []Object
		rest := data
		for len(rest) > 0 {
			obj, next, err := Parse(rest)
			if err != nil {
				if obj.Tag != 0 || obj.Value != nil || obj.Raw != nil || next != nil {
					t.Fatalf("%x: error %v with a non-zero result", rest, err)
				}
				break
			}
			if len(obj.Raw)+len(next) != len(rest) || !bytes.Equal(obj.Raw, rest[:len(obj.Raw)]) {
				t.Fatalf("%x: Raw %x and rest %x do not split the input", rest, obj.Raw, next)
			}
			if !bytes.HasSuffix(obj.Raw, obj.Value) {
				t.Fatalf("%x: Value %x is not the end of Raw %x", rest, obj.Value, obj.Raw)
			}
			if !ValidTag(obj.Tag) {
				t.Fatalf("%x: parsed tag %X is not valid", rest, obj.Tag)
			}
			enc := Encode(obj.Tag, obj.Value)
			back, tail, err := Parse(enc)
			if err != nil || back.Tag != obj.Tag || !bytes.Equal(back.Value, obj.Value) || len(tail) != 0 {
				t.Fatalf("%x: re-encoding %x parses as %X %x (rest %x, %v)", obj.Raw, enc, back.Tag, back.Value, tail, err)
			}
			if len(enc) > len(obj.Raw) {
				t.Fatalf("%x: re-encoding %x is longer", obj.Raw, enc)
			}
			if len(enc) == len(obj.Raw) && !bytes.Equal(enc, obj.Raw) {
				t.Fatalf("%x: canonical object re-encodes as %x", obj.Raw, enc)
			}
			objs = append(objs, obj)
			rest = next
		}
		all, err := ParseAll(data)
		if (err == nil) != (len(rest) == 0) {
			t.Fatalf("%x: ParseAll error %v, but one by one left %x", data, err, rest)
		}
		if err == nil {
			if len(all) != len(objs) {
				t.Fatalf("%x: ParseAll gives %d objects, one by one %d", data, len(all), len(objs))
			}
			parts := make([][]byte, len(all))
			for i, o := range all {
				parts[i] = Encode(o.Tag, o.Value)
			}
			if joined := Join(parts...); len(joined) == len(data) && !bytes.Equal(joined, data) {
				t.Fatalf("%x: canonical sequence re-encodes as %x", data, joined)
			}
		}
		if !bytes.Equal(in, data) {
			t.Fatalf("parsing modified its input")
		}
	})
}

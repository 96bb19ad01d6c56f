package bertlv

import (
	"errors"
	"fmt"
)

// ErrMalformed is the cause of every error of the parsers: the input is
// not a BER-TLV encoding of the subset the package reads.
var ErrMalformed = errors.New("bertlv: malformed BER-TLV")

// MaxElements bounds the elements ParseAll (and Find) read from one
// sequence; padding does not count.
const MaxElements = 64

const (
	maxTagBytes    = 3 // bytes of a tag
	maxLengthBytes = 3 // bytes after 81-83 in the long form
)

// TLV is one data object: its tag and its value, which aliases the input
// it was parsed from.
type TLV struct {
	Tag   uint32
	Value []byte
}

// Parse reads one data object from the start of b and returns its tag,
// its value and the bytes after it. It never reads past b.
func Parse(b []byte) (tag uint32, value, rest []byte, err error) {
	if len(b) < 2 {
		return 0, nil, nil, fmt.Errorf("%w: %d bytes", ErrMalformed, len(b))
	}
	i := 0
	tag = uint32(b[i])
	i++
	if b[0]&0x1F == 0x1F {
		for {
			if i >= len(b) || i >= maxTagBytes {
				return 0, nil, nil, fmt.Errorf("%w: tag too long", ErrMalformed)
			}
			tag = tag<<8 | uint32(b[i])
			i++
			if b[i-1]&0x80 == 0 {
				break
			}
		}
	}
	if i >= len(b) {
		return 0, nil, nil, fmt.Errorf("%w: no length", ErrMalformed)
	}
	n := int(b[i])
	i++
	if n&0x80 != 0 {
		k := n & 0x7F
		if k == 0 {
			return 0, nil, nil, fmt.Errorf("%w: indefinite length", ErrMalformed)
		}
		if k > maxLengthBytes || k > len(b)-i {
			return 0, nil, nil, fmt.Errorf("%w: bad length field", ErrMalformed)
		}
		n = 0
		for _, x := range b[i : i+k] {
			n = n<<8 | int(x)
		}
		i += k
	}
	if n > len(b)-i {
		return 0, nil, nil, fmt.Errorf("%w: length %d past the end", ErrMalformed, n)
	}
	return tag, b[i : i+n : i+n], b[i+n:], nil
}

// ParseAll reads a sequence of data objects that fills b, in order,
// duplicates included. Bytes 00 and FF before, between and after the
// objects are padding and are skipped (ISO/IEC 7816-4 §5.2.2), so no
// object has tag 00 or FF. A sequence of more than MaxElements objects is
// refused.
func ParseAll(b []byte) ([]TLV, error) {
	var out []TLV
	for {
		for len(b) > 0 && (b[0] == 0x00 || b[0] == 0xFF) {
			b = b[1:]
		}
		if len(b) == 0 {
			return out, nil
		}
		if len(out) >= MaxElements {
			return nil, fmt.Errorf("%w: more than %d elements", ErrMalformed, MaxElements)
		}
		tag, v, rest, err := Parse(b)
		if err != nil {
			return nil, err
		}
		out = append(out, TLV{Tag: tag, Value: v})
		b = rest
	}
}

// Find returns the value of the first object with tag in the sequence b
// (see ParseAll). It reports false when no object has that tag or when b
// is not a well-formed sequence.
func Find(b []byte, tag uint32) ([]byte, bool) {
	list, err := ParseAll(b)
	if err != nil {
		return nil, false
	}
	for _, t := range list {
		if t.Tag == tag {
			return t.Value, true
		}
	}
	return nil, false
}

// Single reads b as exactly one data object of tag want and returns its
// value.
func Single(b []byte, want uint32) ([]byte, error) {
	tag, v, rest, err := Parse(b)
	if err != nil {
		return nil, err
	}
	if tag != want || len(rest) != 0 {
		return nil, fmt.Errorf("%w: want one element %X, got %X and %d more bytes", ErrMalformed, want, tag, len(rest))
	}
	return v, nil
}

// AppendTag appends the bytes of tag to dst: as many as its value needs,
// at least one (tag 0 is the byte 00).
func AppendTag(dst []byte, tag uint32) []byte {
	switch {
	case tag > 0xFFFFFF:
		return append(dst, byte(tag>>24), byte(tag>>16), byte(tag>>8), byte(tag))
	case tag > 0xFFFF:
		return append(dst, byte(tag>>16), byte(tag>>8), byte(tag))
	case tag > 0xFF:
		return append(dst, byte(tag>>8), byte(tag))
	}
	return append(dst, byte(tag))
}

// Append appends the object tag, value to dst: the tag (AppendTag), the
// definite length in its shortest form, and value. The result reads back
// with Parse when tag is a tag Parse returns and value is shorter than
// 16 MiB; Append itself takes any input.
func Append(dst []byte, tag uint32, value []byte) []byte {
	dst = AppendTag(dst, tag)
	n := uint64(len(value))
	if n < 0x80 {
		dst = append(dst, byte(n))
	} else {
		k := 0
		for x := n; x > 0; x >>= 8 {
			k++
		}
		dst = append(dst, 0x80|byte(k))
		for j := k - 1; j >= 0; j-- {
			dst = append(dst, byte(n>>(8*j)))
		}
	}
	return append(dst, value...)
}

// Encode returns the encoding of the object tag, value (see Append).
func Encode(tag uint32, value []byte) []byte { return Append(nil, tag, value) }

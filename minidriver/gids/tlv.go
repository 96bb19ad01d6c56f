package gids

import (
	"errors"
	"fmt"
)

// errTLV is a malformed BER-TLV encoding in a card answer.
var errTLV = errors.New("gids: malformed BER-TLV")

// tlv is one BER-TLV data object: tag (up to three bytes, as GIDS uses
// them) and value, which aliases the input.
type tlv struct {
	tag   uint32
	value []byte
}

// maxTLVLen bounds a length field: no GIDS object comes near it, and it
// keeps every arithmetic below far from overflow.
const maxTLVLen = 1 << 24

// parseTLV reads one object from b and returns it with the rest of b.
func parseTLV(b []byte) (tlv, []byte, error) {
	if len(b) < 2 {
		return tlv{}, nil, fmt.Errorf("%w: %d bytes", errTLV, len(b))
	}
	i := 0
	tag := uint32(b[i])
	i++
	if tag&0x1F == 0x1F {
		for n := 0; ; n++ {
			if i >= len(b) || n == 2 {
				return tlv{}, nil, fmt.Errorf("%w: tag too long", errTLV)
			}
			tag = tag<<8 | uint32(b[i])
			i++
			if b[i-1]&0x80 == 0 {
				break
			}
		}
	}
	if i >= len(b) {
		return tlv{}, nil, fmt.Errorf("%w: no length", errTLV)
	}
	l := int(b[i])
	i++
	if l&0x80 != 0 {
		n := l & 0x7F
		if n == 0 || n > 3 || i+n > len(b) {
			return tlv{}, nil, fmt.Errorf("%w: bad length field", errTLV)
		}
		l = 0
		for _, x := range b[i : i+n] {
			l = l<<8 | int(x)
		}
		i += n
	}
	if l > maxTLVLen || l > len(b)-i {
		return tlv{}, nil, fmt.Errorf("%w: length %d past the end", errTLV, l)
	}
	return tlv{tag: tag, value: b[i : i+l]}, b[i+l:], nil
}

// parseTLVs reads a sequence of objects filling b exactly. Padding bytes
// 00 and FF between objects (ISO/IEC 7816-4 5.2.2) are skipped.
func parseTLVs(b []byte) ([]tlv, error) {
	var out []tlv
	for len(b) > 0 {
		if b[0] == 0x00 || b[0] == 0xFF {
			b = b[1:]
			continue
		}
		t, rest, err := parseTLV(b)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
		b = rest
	}
	return out, nil
}

// findTLV returns the first object with tag in b's top level.
func findTLV(b []byte, tag uint32) ([]byte, bool) {
	list, err := parseTLVs(b)
	if err != nil {
		return nil, false
	}
	for _, t := range list {
		if t.tag == tag {
			return t.value, true
		}
	}
	return nil, false
}

// encTLV encodes one object with a one- to three-byte tag and a definite
// length.
func encTLV(tag uint32, value []byte) []byte {
	var out []byte
	switch {
	case tag > 0xFFFF:
		out = append(out, byte(tag>>16), byte(tag>>8), byte(tag))
	case tag > 0xFF:
		out = append(out, byte(tag>>8), byte(tag))
	default:
		out = append(out, byte(tag))
	}
	n := len(value)
	switch {
	case n < 0x80:
		out = append(out, byte(n))
	case n <= 0xFF:
		out = append(out, 0x81, byte(n))
	case n <= 0xFFFF:
		out = append(out, 0x82, byte(n>>8), byte(n))
	default:
		out = append(out, 0x83, byte(n>>16), byte(n>>8), byte(n))
	}
	return append(out, value...)
}

// cat concatenates byte strings.
func cat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

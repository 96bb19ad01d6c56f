package piv

import (
	"errors"
	"fmt"
)

// errTLV is the cause of every malformed BER-TLV the plug-in reads.
var errTLV = errors.New("malformed BER-TLV")

// maxTLVItems bounds the elements read from one constructed value.
const maxTLVItems = 64

// parseTLV reads one BER-TLV element (ISO/IEC 7816-4 5.2, as SP 800-73-4
// uses it): a tag of one to three bytes and a definite length of at most
// three length bytes. It never reads past b.
func parseTLV(b []byte) (tag uint32, val, rest []byte, err error) {
	if len(b) < 2 {
		return 0, nil, nil, errTLV
	}
	i := 0
	tag = uint32(b[i])
	i++
	if b[0]&0x1F == 0x1F {
		for {
			if i >= len(b) || i >= 3 {
				return 0, nil, nil, errTLV
			}
			tag = tag<<8 | uint32(b[i])
			i++
			if b[i-1]&0x80 == 0 {
				break
			}
		}
	}
	if i >= len(b) {
		return 0, nil, nil, errTLV
	}
	n := int(b[i])
	i++
	if n > 0x80 {
		k := n - 0x80
		if k > 3 || i+k > len(b) {
			return 0, nil, nil, errTLV
		}
		n = 0
		for j := 0; j < k; j++ {
			n = n<<8 | int(b[i+j])
		}
		i += k
	} else if n == 0x80 {
		return 0, nil, nil, errTLV // indefinite length
	}
	if n > len(b)-i {
		return 0, nil, nil, errTLV
	}
	return tag, b[i : i+n], b[i+n:], nil
}

// parseTLVs reads a run of BER-TLV elements into a map of first
// occurrences, bounded by maxTLVItems.
func parseTLVs(b []byte) (map[uint32][]byte, error) {
	m := make(map[uint32][]byte)
	for n := 0; len(b) > 0; n++ {
		if n >= maxTLVItems {
			return nil, fmt.Errorf("%w: more than %d elements", errTLV, maxTLVItems)
		}
		// Trailing zero padding (seen after CHUIDs of some cards) ends the
		// list.
		if allZero(b) {
			break
		}
		tag, val, rest, err := parseTLV(b)
		if err != nil {
			return nil, err
		}
		if _, dup := m[tag]; !dup {
			m[tag] = val
		}
		b = rest
	}
	return m, nil
}

// single reads b as exactly one element of tag want.
func single(b []byte, want uint32) ([]byte, error) {
	tag, val, rest, err := parseTLV(b)
	if err != nil {
		return nil, err
	}
	if tag != want || len(rest) != 0 {
		return nil, fmt.Errorf("%w: want one element %X, got %X and %d more bytes", errTLV, want, tag, len(rest))
	}
	return val, nil
}

func allZero(b []byte) bool {
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}

// appendTLV appends tag, the BER length of val and val.
func appendTLV(b []byte, tag uint32, val []byte) []byte {
	switch {
	case tag > 0xFFFF:
		b = append(b, byte(tag>>16), byte(tag>>8), byte(tag))
	case tag > 0xFF:
		b = append(b, byte(tag>>8), byte(tag))
	default:
		b = append(b, byte(tag))
	}
	n := len(val)
	switch {
	case n < 0x80:
		b = append(b, byte(n))
	case n <= 0xFF:
		b = append(b, 0x81, byte(n))
	case n <= 0xFFFF:
		b = append(b, 0x82, byte(n>>8), byte(n))
	default:
		b = append(b, 0x83, byte(n>>16), byte(n>>8), byte(n))
	}
	return append(b, val...)
}

// tlv returns one encoded element.
func tlv(tag uint32, val []byte) []byte { return appendTLV(nil, tag, val) }

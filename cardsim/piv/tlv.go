package piv

// BER-TLV helpers for the SP 800-73-4 encodings (tags of one to three bytes,
// definite lengths of up to three length bytes). Every parser here checks
// bounds and reports malformed input with ok == false; none panics.

// tlv is one parsed BER-TLV data object.
type tlv struct {
	tag uint32
	val []byte
}

// parseTLV reads one BER-TLV object from the front of b.
func parseTLV(b []byte) (tag uint32, val, rest []byte, ok bool) {
	if len(b) < 2 {
		return 0, nil, nil, false
	}
	i := 0
	tag = uint32(b[0])
	i++
	if b[0]&0x1F == 0x1F { // multi-byte tag number
		for {
			if i >= len(b) || i >= 3 {
				return 0, nil, nil, false
			}
			tag = tag<<8 | uint32(b[i])
			i++
			if b[i-1]&0x80 == 0 {
				break
			}
		}
	}
	if i >= len(b) {
		return 0, nil, nil, false
	}
	l := int(b[i])
	i++
	if l >= 0x80 {
		n := l & 0x7F
		if n == 0 || n > 3 || i+n > len(b) {
			return 0, nil, nil, false
		}
		l = 0
		for j := 0; j < n; j++ {
			l = l<<8 | int(b[i+j])
		}
		i += n
	}
	if l > len(b)-i {
		return 0, nil, nil, false
	}
	return tag, b[i : i+l], b[i+l:], true
}

// parseTLVs parses b as a concatenation of BER-TLV objects that fills it
// exactly.
func parseTLVs(b []byte) ([]tlv, bool) {
	var out []tlv
	for len(b) > 0 {
		tag, val, rest, ok := parseTLV(b)
		if !ok {
			return nil, false
		}
		out = append(out, tlv{tag, val})
		b = rest
	}
	return out, true
}

// parseSingle parses b as exactly one BER-TLV object with the given tag.
func parseSingle(b []byte, want uint32) ([]byte, bool) {
	tag, val, rest, ok := parseTLV(b)
	if !ok || tag != want || len(rest) != 0 {
		return nil, false
	}
	return val, true
}

// encLen encodes a definite BER length.
func encLen(n int) []byte {
	switch {
	case n < 0x80:
		return []byte{byte(n)}
	case n <= 0xFF:
		return []byte{0x81, byte(n)}
	case n <= 0xFFFF:
		return []byte{0x82, byte(n >> 8), byte(n)}
	default:
		return []byte{0x83, byte(n >> 16), byte(n >> 8), byte(n)}
	}
}

// encTag encodes a tag number as its big-endian bytes (0x5FC105 -> 5F C1 05).
func encTag(tag uint32) []byte {
	switch {
	case tag > 0xFFFF:
		return []byte{byte(tag >> 16), byte(tag >> 8), byte(tag)}
	case tag > 0xFF:
		return []byte{byte(tag >> 8), byte(tag)}
	default:
		return []byte{byte(tag)}
	}
}

// enc encodes one BER-TLV object.
func enc(tag uint32, val []byte) []byte {
	out := encTag(tag)
	out = append(out, encLen(len(val))...)
	return append(out, val...)
}

// encAll concatenates encoded objects.
func encAll(parts ...[]byte) []byte {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	out := make([]byte, 0, n)
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

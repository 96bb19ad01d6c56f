package gids

// BER-TLV as ISO/IEC 7816-4 section 5.2 defines it: tags of one to three
// bytes, definite lengths of up to three length bytes (81, 82, 83). Every
// input is untrusted: the parser bounds each step and reports failure
// instead of panicking.

// tlv is one parsed data object.
type tlv struct {
	tag   uint32
	value []byte
	raw   []byte // the whole object, tag and length included
}

// parseTLV reads one data object from the front of b. ok is false when b
// does not start with a well-formed object.
func parseTLV(b []byte) (t tlv, rest []byte, ok bool) {
	if len(b) == 0 {
		return t, nil, false
	}
	i := 0
	tag := uint32(b[0])
	i++
	if b[0]&0x1F == 0x1F {
		for {
			if i >= len(b) || i >= 3 {
				return t, nil, false
			}
			tag = tag<<8 | uint32(b[i])
			i++
			if b[i-1]&0x80 == 0 {
				break
			}
		}
	}
	if i >= len(b) {
		return t, nil, false
	}
	n := int(b[i])
	i++
	if n >= 0x80 {
		k := n & 0x7F
		if k == 0 || k > 3 || i+k > len(b) {
			return t, nil, false
		}
		n = 0
		for j := 0; j < k; j++ {
			n = n<<8 | int(b[i+j])
		}
		i += k
	}
	if n > len(b)-i {
		return t, nil, false
	}
	return tlv{tag: tag, value: b[i : i+n], raw: b[:i+n]}, b[i+n:], true
}

// parseAll splits b into a sequence of data objects; ok is false if any of
// it is malformed. Padding bytes 00 and FF between objects are not allowed.
func parseAll(b []byte) ([]tlv, bool) {
	var out []tlv
	for len(b) > 0 {
		t, rest, ok := parseTLV(b)
		if !ok || len(out) >= 256 {
			return nil, false
		}
		out = append(out, t)
		b = rest
	}
	return out, true
}

// find returns the first object with tag in a well-formed sequence.
func find(list []tlv, tag uint32) (tlv, bool) {
	for _, t := range list {
		if t.tag == tag {
			return t, true
		}
	}
	return tlv{}, false
}

// tagBytes encodes a tag number as its one to three bytes.
func tagBytes(tag uint32) []byte {
	switch {
	case tag > 0xFFFF:
		return []byte{byte(tag >> 16), byte(tag >> 8), byte(tag)}
	case tag > 0xFF:
		return []byte{byte(tag >> 8), byte(tag)}
	}
	return []byte{byte(tag)}
}

// lengthBytes encodes a definite length.
func lengthBytes(n int) []byte {
	switch {
	case n < 0x80:
		return []byte{byte(n)}
	case n <= 0xFF:
		return []byte{0x81, byte(n)}
	case n <= 0xFFFF:
		return []byte{0x82, byte(n >> 8), byte(n)}
	}
	return []byte{0x83, byte(n >> 16), byte(n >> 8), byte(n)}
}

// enc encodes one data object.
func enc(tag uint32, value []byte) []byte {
	out := append(tagBytes(tag), lengthBytes(len(value))...)
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

// validTag reports whether tag is the number of a well-formed BER tag.
func validTag(tag uint32) bool {
	b := tagBytes(tag)
	t, _, ok := parseTLV(append(b, 0))
	return ok && t.tag == tag
}

package piv

import "github.com/cardmod/cardmod/internal/bertlv"

// parseTLVs reads a run of BER-TLV elements (bertlv.ParseAll: bounded,
// trailing zero padding allowed) into a map of first occurrences.
func parseTLVs(b []byte) (map[uint32][]byte, error) {
	list, err := bertlv.ParseAll(b)
	if err != nil {
		return nil, err
	}
	m := make(map[uint32][]byte, len(list))
	for _, t := range list {
		if _, dup := m[t.Tag]; !dup {
			m[t.Tag] = t.Value
		}
	}
	return m, nil
}

// allZero reports whether b holds only zero bytes.
func allZero(b []byte) bool {
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}

package keyalg

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// sample is a made-up table with a gap and ids out of size order.
func sample(id byte) (int, bool, bool) {
	switch id {
	case 0x06:
		return 1024, false, true
	case 0x07:
		return 2048, false, true
	case 0x16:
		return 4096, false, true
	case 0x11:
		return 256, true, true
	}
	return 0, false, false
}

func TestTableReadBack(t *testing.T) {
	tab := Table(sample)
	for _, tc := range []struct {
		name string
		got  func(int) (byte, bool)
		bits int
		id   byte
		ok   bool
	}{
		{"RSA-1024", tab.RSA, 1024, 0x06, true},
		{"RSA-2048", tab.RSA, 2048, 0x07, true},
		{"RSA-4096", tab.RSA, 4096, 0x16, true},
		{"RSA-3072 absent", tab.RSA, 3072, 0, false},
		{"RSA-256 is not the curve", tab.RSA, 256, 0, false},
		{"P-256", tab.EC, 256, 0x11, true},
		{"EC 2048 is not RSA", tab.EC, 2048, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id, ok := tc.got(tc.bits)
			assert.Equal(t, tc.ok, ok)
			assert.Equal(t, tc.id, id)
		})
	}
	assert.NoError(t, tab.Is([]Alg{{0x06, 1024, false}, {0x07, 2048, false}, {0x16, 4096, false}, {0x11, 256, true}}))
}

func TestIsNamesTheFirstDifference(t *testing.T) {
	tab := Table(sample)
	for _, tc := range []struct {
		name string
		want []Alg
		msg  string
	}{
		{"a row missing", []Alg{{0x06, 1024, false}, {0x07, 2048, false}, {0x11, 256, true}}, "identifier 16 known true, listed false"},
		{"a row too many", []Alg{{0x05, 3072, false}, {0x06, 1024, false}, {0x07, 2048, false}, {0x16, 4096, false}, {0x11, 256, true}}, "identifier 05 known false, listed true"},
		{"a wrong size", []Alg{{0x06, 1024, false}, {0x07, 3072, false}, {0x16, 4096, false}, {0x11, 256, true}}, "identifier 07 is 2048 bits"},
		{"a wrong kind", []Alg{{0x06, 1024, false}, {0x07, 2048, false}, {0x16, 4096, false}, {0x11, 256, false}}, "identifier 11 is 256 bits (EC true)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tab.Is(tc.want)
			if assert.Error(t, err) {
				assert.Contains(t, err.Error(), tc.msg)
			}
		})
	}
	twice := Table(func(id byte) (int, bool, bool) {
		switch id {
		case 0x05, 0x09:
			return 3072, false, true
		}
		return 0, false, false
	})
	err := twice.Is([]Alg{{0x05, 3072, false}, {0x09, 3072, false}})
	if assert.Error(t, err, "two identifiers of one size do not read back") {
		assert.Contains(t, err.Error(), "read back as 05, want 09")
	}
}

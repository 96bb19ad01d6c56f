package cardfs

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestValidateName(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"cardid", true},
		{"cmapfile", true},
		{"CardCF", true},
		{"kxc00", true},
		{"a.b-c_d", true},
		{"12345678", true},
		{"123456789", false},
		{"", false},
		{".", false},
		{"..", false},
		{"a b", false},
		{"a\\b", false},
		{"a/b", false},
		{"a:b", false},
		{"a*", false},
		{"a?", false},
		{"a\"", false},
		{"a<", false},
		{"a>", false},
		{"a|", false},
		{"a\x00", false},
		{"a\x7f", false},
		{"é", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := ValidateName(tc.name)
			if tc.ok {
				assert.NoError(t, err)
			} else {
				assert.ErrorIs(t, err, ErrInvalidName)
			}
		})
	}
}

func TestNormalizeName(t *testing.T) {
	n, err := NormalizeName("CMapFile")
	require.NoError(t, err)
	assert.Equal(t, "cmapfile", n)
	_, err = NormalizeName("toolongname")
	assert.ErrorIs(t, err, ErrInvalidName)
}

func TestCertFileName(t *testing.T) {
	tests := []struct {
		index int
		ks    KeySpec
		want  string
		err   error
	}{
		{0, KeySpecKeyExchange, "kxc00", nil},
		{1, KeySpecSignature, "ksc01", nil},
		{10, KeySpecKeyExchange, "kxc0a", nil},
		{16, KeySpecSignature, "ksc10", nil},
		{254, KeySpecKeyExchange, "kxcfe", nil},
		{255, KeySpecKeyExchange, "", ErrInvalidParameter},
		{-1, KeySpecKeyExchange, "", ErrInvalidParameter},
		{0, KeySpec(3), "", ErrInvalidParameter},
		{0, KeySpec(0), "", ErrInvalidParameter},
	}
	for _, tc := range tests {
		got, err := CertFileName(tc.index, tc.ks)
		if tc.err != nil {
			assert.ErrorIs(t, err, tc.err, "index %d %v", tc.index, tc.ks)
			continue
		}
		require.NoError(t, err)
		assert.Equal(t, tc.want, got)
		assert.NoError(t, ValidateName(got))
	}
}

func TestCertFileNames(t *testing.T) {
	tests := []struct {
		index int
		want  []string
	}{
		{0, []string{"kxc00"}},
		{9, []string{"kxc09"}},
		{10, []string{"kxc0a", "kxc0A", "kxc10"}},
		{16, []string{"kxc10", "kxc16"}},
		{171, []string{"kxcab", "kxcAB", "kxc171"}},
	}
	for _, tc := range tests {
		got, err := CertFileNames(tc.index, KeySpecKeyExchange)
		require.NoError(t, err)
		assert.Equal(t, tc.want, got, "index %d", tc.index)
	}
	_, err := CertFileNames(300, KeySpecSignature)
	assert.ErrorIs(t, err, ErrInvalidParameter)
}

func TestParseCertFileName(t *testing.T) {
	tests := []struct {
		name  string
		index int
		ks    KeySpec
		ok    bool
	}{
		{"kxc00", 0, KeySpecKeyExchange, true},
		{"ksc01", 1, KeySpecSignature, true},
		{"kxc0a", 10, KeySpecKeyExchange, true},
		{"kxc0A", 10, KeySpecKeyExchange, true},
		{"KXC0A", 10, KeySpecKeyExchange, true},
		{"kxc10", 16, KeySpecKeyExchange, true},
		{"kxcfe", 254, KeySpecKeyExchange, true},
		{"kxcff", 0, 0, false}, // index 255 does not exist
		{"kxc100", 100, KeySpecKeyExchange, true},
		{"ksc254", 254, KeySpecSignature, true},
		{"ksc255", 0, 0, false},
		{"ksc099", 0, 0, false}, // three digits only from 100
		{"kxc1", 0, 0, false},
		{"kxc0g", 0, 0, false},
		{"kxc1a0", 0, 0, false},
		{"kxs00", 0, 0, false},
		{"cmapfile", 0, 0, false},
		{"", 0, 0, false},
		{"kxc-1", 0, 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			index, ks, ok := ParseCertFileName(tc.name)
			assert.Equal(t, tc.ok, ok)
			assert.Equal(t, tc.index, index)
			assert.Equal(t, tc.ks, ks)
		})
	}
}

func TestKeySpecString(t *testing.T) {
	assert.Equal(t, "keyexchange", KeySpecKeyExchange.String())
	assert.Equal(t, "signature", KeySpecSignature.String())
	assert.Equal(t, "KeySpec(9)", KeySpec(9).String())
}

func FuzzParseCertFileName(f *testing.F) {
	for _, s := range []string{"kxc00", "ksc0a", "KSC0A", "kxc100", "kxcff", "cardcf", "kxc1", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		index, ks, ok := ParseCertFileName(name)
		if !ok {
			return
		}
		canonical, err := CertFileName(index, ks)
		if err != nil {
			t.Fatalf("%q parsed to %d %v which has no name: %v", name, index, ks, err)
		}
		names, err := CertFileNames(index, ks)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.EqualFold(name[:3], canonical[:3]) {
			t.Fatalf("%q: prefix differs from %q", name, canonical)
		}
		switch len(name) {
		case 5: // hexadecimal, any case
			if !strings.EqualFold(name, canonical) {
				t.Fatalf("%q re-encodes as %q", name, canonical)
			}
		case 6: // decimal, among the candidates
			if names[len(names)-1][3:] != name[3:] {
				t.Fatalf("%q not among %v", name, names)
			}
		}
		if isLowerCanonical(name) && name != canonical {
			t.Fatalf("%q re-encodes as %q", name, canonical)
		}
	})
}

func isLowerCanonical(name string) bool {
	if len(name) != 5 {
		return false
	}
	for i := 0; i < 5; i++ {
		c := name[i]
		if i >= 3 {
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
				return false
			}
		} else if c < 'a' || c > 'z' {
			return false
		}
	}
	return true
}

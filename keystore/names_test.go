package keystore_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cardmod/cardmod/cardfs"
	"github.com/cardmod/cardmod/keystore"
)

func TestParseName(t *testing.T) {
	for _, tc := range []struct {
		in, reader, container string
		bad                   bool
	}{
		{in: `\\.\Reader A\box`, reader: "Reader A", container: "box"},
		{in: `\\.\Reader A\`, reader: "Reader A"},
		{in: `\\.\Reader A`, reader: "Reader A"},
		{in: `box`, container: "box"},
		{in: ``},
		{in: `\\.\`, bad: true},
		{in: `\\.\Reader A\b\x`, bad: true},
		{in: `a\b`, bad: true},
		{in: `\\.\\box`, bad: true},
		{in: "0123456789012345678901234567890123456789", bad: true},
	} {
		t.Run(tc.in, func(t *testing.T) {
			r, c, err := keystore.ParseName(tc.in)
			if tc.bad {
				assert.ErrorIs(t, err, keystore.ErrBadName)
				assert.ErrorIs(t, err, cardfs.ErrInvalidName)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.reader, r)
			assert.Equal(t, tc.container, c)
		})
	}
}

// FullName writes what ParseName reads.
func TestFullNameRoundTrip(t *testing.T) {
	for _, c := range []struct{ reader, container, want string }{
		{"Virtual Reader 0", "my key", `\\.\Virtual Reader 0\my key`},
		{"R", "", `\\.\R\`},
	} {
		name := keystore.FullName(c.reader, c.container)
		assert.Equal(t, c.want, name)
		reader, container, err := keystore.ParseName(name)
		require.NoError(t, err)
		assert.Equal(t, c.reader, reader)
		assert.Equal(t, c.container, container)
	}
}

// FuzzParseName: every error matches ErrBadName; a name that parses has
// no backslash in its parts, and a name with a reader is what FullName
// writes back (up to the optional trailing backslash).
func FuzzParseName(f *testing.F) {
	for _, s := range []string{``, `box`, `\\.\Reader\box`, `\\.\Reader\`, `\\.\Reader`, `\\.\\`, `a\b`, "\x00", `\\.\R\b\c`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		reader, container, err := keystore.ParseName(name)
		if err != nil {
			assert.ErrorIs(t, err, keystore.ErrBadName)
			return
		}
		assert.NotContains(t, container, `\`)
		assert.NotContains(t, reader, `\`)
		if reader == "" {
			assert.Equal(t, name, container)
			return
		}
		assert.True(t, strings.HasPrefix(name, `\\.\`+reader))
		assert.Equal(t, strings.TrimSuffix(name, `\`), strings.TrimSuffix(keystore.FullName(reader, container), `\`))
	})
}

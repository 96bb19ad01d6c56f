package cardfs

import (
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// unhex decodes hex written with spaces and line breaks; text after '#'
// on a line is a comment.
func unhex(tb testing.TB, s string) []byte {
	tb.Helper()
	var digits []string
	for _, line := range strings.Split(s, "\n") {
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		digits = append(digits, strings.Fields(line)...)
	}
	b, err := hex.DecodeString(strings.Join(digits, ""))
	require.NoError(tb, err)
	return b
}

// requireFormatError checks that err is a *FormatError naming file.
func requireFormatError(tb testing.TB, err error, file string) {
	tb.Helper()
	require.Error(tb, err)
	require.ErrorIs(tb, err, ErrFormat)
	var fe *FormatError
	require.True(tb, errors.As(err, &fe), "error %v is not a *FormatError", err)
	require.Equal(tb, file, fe.File)
	require.True(tb, strings.HasPrefix(err.Error(), "cardfs: "+file+": "), "message %q", err.Error())
}

// checkFormatError is requireFormatError for fuzz targets, where any
// error must name the file.
func checkFormatError(t *testing.T, err error, file string) {
	t.Helper()
	var fe *FormatError
	if !errors.As(err, &fe) || !errors.Is(err, ErrFormat) || fe.File != file {
		t.Fatalf("error %v: want a *FormatError for %s", err, file)
	}
}

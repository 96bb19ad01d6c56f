package cspcore_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cardmod/cardmod/internal/cspcore"
)

// FullName writes what ParseName reads.
func TestFullNameRoundTrip(t *testing.T) {
	for _, c := range []struct{ reader, container, want string }{
		{"Virtual Reader 0", "my key", `\\.\Virtual Reader 0\my key`},
		{"R", "", `\\.\R\`},
	} {
		name := cspcore.FullName(c.reader, c.container)
		assert.Equal(t, c.want, name)
		reader, container, err := cspcore.ParseName(name, errBad)
		require.NoError(t, err)
		assert.Equal(t, c.reader, reader)
		assert.Equal(t, c.container, container)
	}
}

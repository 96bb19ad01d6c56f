package gids

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/cardmod/cardmod/minidriver/internal/keyalg"
)

// TestAlgTableReadsBothWays checks the GIDS v2.0 cryptographic mechanism
// identifiers (RSA 1024 to 4096 as 06 to 09, P-256 to P-521 as 0C to 0E),
// each read to its size and back from it.
func TestAlgTableReadsBothWays(t *testing.T) {
	tab := keyalg.Table(algBits)
	_, ok := tab.OneToOne()
	assert.True(t, ok, "two identifiers share a size and kind")
	for _, tc := range []struct {
		id   byte
		bits int
		ec   bool
	}{
		{0x06, 1024, false}, {0x07, 2048, false}, {0x08, 3072, false}, {0x09, 4096, false},
		{0x0C, 256, true}, {0x0D, 384, true}, {0x0E, 521, true},
	} {
		t.Run(fmt.Sprintf("%02X", tc.id), func(t *testing.T) {
			bits, ec, ok := algBits(tc.id)
			assert.True(t, ok)
			assert.Equal(t, tc.bits, bits)
			assert.Equal(t, tc.ec, ec)
			back := tab.RSA
			if tc.ec {
				back = tab.EC
			}
			id, found := back(tc.bits)
			assert.True(t, found)
			assert.Equal(t, tc.id, id)
		})
	}
	for _, id := range []byte{0x00, 0x05, 0x0A, 0x0B, 0x0F} {
		_, _, ok := algBits(id)
		assert.False(t, ok, "%02X is no GIDS asymmetric algorithm", id)
	}
}

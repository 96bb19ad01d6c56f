package gids

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/cardmod/cardmod/minidriver/internal/keyalg"
)

// TestAlgTableReadsBothWays holds the plug-in's algorithms to the GIDS
// v2.0 cryptographic mechanism identifiers (RSA 1024 to 4096 as 06 to 09,
// P-256 to P-521 as 0C to 0E; OpenSC's card-gids.c has the same numbers),
// each read to its size and back. P-192 (0A) and P-224 (0B) are GIDS
// identifiers the plug-in does not use.
func TestAlgTableReadsBothWays(t *testing.T) {
	assert.NoError(t, keyalg.Table(algBits).Is([]keyalg.Alg{
		{ID: 0x06, Bits: 1024}, {ID: 0x07, Bits: 2048}, {ID: 0x08, Bits: 3072}, {ID: 0x09, Bits: 4096},
		{ID: 0x0C, Bits: 256, EC: true}, {ID: 0x0D, Bits: 384, EC: true}, {ID: 0x0E, Bits: 521, EC: true},
	}))
}

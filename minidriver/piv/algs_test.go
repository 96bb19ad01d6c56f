package piv

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/cardmod/cardmod/minidriver/internal/keyalg"
)

// TestAlgTableReadsBothWays checks the asymmetric algorithm identifiers of
// SP 800-78-4 table 6-2 (RSA 1024 and 2048, P-256, P-384) and of Yubico's
// PIV extensions (RSA 3072 0x05, RSA 4096 0x16), each read to its size and
// back from it.
func TestAlgTableReadsBothWays(t *testing.T) {
	tab := keyalg.Table(algBits)
	_, ok := tab.OneToOne()
	assert.True(t, ok, "two identifiers share a size and kind")
	for _, tc := range []struct {
		id   byte
		bits int
		ec   bool
	}{
		{0x06, 1024, false}, {0x07, 2048, false}, {0x05, 3072, false}, {0x16, 4096, false},
		{0x11, 256, true}, {0x14, 384, true},
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
	for _, id := range []byte{algTDES, algAES128, algAES192, algAES256} {
		_, _, ok := algBits(id)
		assert.False(t, ok, "symmetric %02X is not an asymmetric key", id)
	}
}

package piv

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/cardmod/cardmod/minidriver/internal/keyalg"
)

// TestAlgTableReadsBothWays holds the plug-in's asymmetric algorithms to
// SP 800-78-4 table 6-2 (RSA 1024 06, RSA 2048 07, P-256 11, P-384 14; as
// piv-go numbers them) and Yubico's PIV extensions of firmware 5.7 (RSA
// 3072 05, RSA 4096 16: libykpiv's ykpiv.h), each read to its size and
// back; the symmetric identifiers (3DES 03, AES 08, 0A, 0C) are no
// asymmetric key.
func TestAlgTableReadsBothWays(t *testing.T) {
	assert.NoError(t, keyalg.Table(algBits).Is([]keyalg.Alg{
		{ID: 0x06, Bits: 1024}, {ID: 0x07, Bits: 2048}, {ID: 0x05, Bits: 3072}, {ID: 0x16, Bits: 4096},
		{ID: 0x11, Bits: 256, EC: true}, {ID: 0x14, Bits: 384, EC: true},
	}))
}

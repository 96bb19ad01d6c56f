package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cardmod/cardmod/internal/simfile"
	"github.com/cardmod/cardmod/scrm/virtual"
)

// TestSignCommandAPDUs: `cardmod sign` is a new process on every call, and
// finds the key and signs in one card transaction (basecsp.Provider.Sign):
// on the simulated YubiKey 5 `Open` (SELECT, GET SERIAL), the look-up of
// the container by its slot (cardcf, the container map, GET METADATA) and
// the signature (VERIFY, GENERAL AUTHENTICATE, the logout): 8, where a
// look-up and a signature of their own cost 9 (docs/benchmarks.md,
// "Signature in a new process").
func TestSignCommandAPDUs(t *testing.T) {
	opened, err := simfile.Open(provisioned(t), simfile.Options{})
	require.NoError(t, err)
	c := &countingCard{Card: opened.Card}
	b := virtual.NewBackend()
	b.AddReader("Reader 1").Insert(c)
	for range 2 { // the second process pays what the first did
		c.apdus.Store(0)
		r := ok(t, runIO(t, &stdio{backend: nopRelease{b}}, "123456\n", "-pin-stdin", "sign", "-in", "/dev/null", "ec256"))
		assert.NotEmpty(t, r.out)
		assert.Equal(t, int64(8), c.apdus.Load(), "APDUs of one `cardmod sign`")
	}
}

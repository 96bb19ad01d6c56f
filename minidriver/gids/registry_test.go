package gids_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	simgids "github.com/cardmod/cardmod/cardsim/gids"
	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/minidriver/gids"
	"github.com/cardmod/cardmod/minidriver/piv"
)

// javaCardATR is a Java Card's answer to reset with nothing about its
// applets (T=1, historical bytes "JavaCard"): a GidsApplet on such a card
// is found by probing, as OpenSC and Windows find it.
var javaCardATR = []byte{0x3B, 0x88, 0x80, 0x01, 'J', 'a', 'v', 'a', 'C', 'a', 'r', 'd', 0x00}

func init() {
	var x byte
	for _, b := range javaCardATR[1 : len(javaCardATR)-1] {
		x ^= b
	}
	javaCardATR[len(javaCardATR)-1] = x
}

// TestRegistryOpenAPDUs: a GIDS card that the ATR does not name is found
// by probing the default registry (PIV first). The probe's SELECT is the
// one Open uses, and a Registry that took a card with this ATR probes the
// GIDS plug-in first the next time: no PIV SELECT per open (issue 15,
// item 11). Before, every open cost PIV SELECT, GIDS SELECT (probe), GIDS
// SELECT (open) and EF.ATR.
func TestRegistryOpenAPDUs(t *testing.T) {
	sim, err := simgids.New(simgids.Config{Initialized: true, ATR: javaCardATR, Rand: seeded(77)})
	require.NoError(t, err)
	card := connect(t, sim)
	reg := minidriver.NewRegistry(piv.Plugin{}, gids.Plugin{})
	open := func() uint64 {
		before := card.Stats()
		md, m, err := reg.Open(context.Background(), card, minidriver.Env{})
		require.NoError(t, err)
		require.NoError(t, md.Close())
		assert.Equal(t, "GIDS", m.Plugin.Name())
		assert.False(t, m.ByATR)
		return card.Stats().Sub(before).APDUs
	}
	assert.Equal(t, uint64(3), open(), "first open: PIV SELECT, GIDS SELECT, EF.ATR")
	assert.Equal(t, uint64(2), open(), "next opens: GIDS SELECT, EF.ATR")
	assert.Equal(t, uint64(2), open())
}

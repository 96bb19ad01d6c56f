package gids_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	simgids "github.com/cardmod/cardmod/cardsim/gids"
	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/minidriver/gids"
	"github.com/cardmod/cardmod/minidriver/minidrivertest"
	"github.com/cardmod/cardmod/scrm"
)

// TestConformance runs the conformance suite on simulated GIDS cards, as
// gids-tool --initialize leaves them, in in-process readers.
func TestConformance(t *testing.T) {
	h := conformanceHarness(t)
	h.NewCard = func(t *testing.T) *scrm.Card { return connect(t, newSim(t, false)) }
	minidrivertest.Run(t, h)
}

// conformanceHarness describes the plug-in and the simulated card; the
// caller sets NewCard.
func conformanceHarness(t *testing.T) minidrivertest.Harness {
	return minidrivertest.Harness{
		Plugin: gids.Plugin{},
		PINs:   map[minidriver.PinID][]byte{gids.PINUser: []byte(simgids.DefaultPIN)},
		AdminResponse: func(challenge []byte) []byte {
			r, err := gids.AdminKeyResponse(simgids.DefaultAdminKey, challenge)
			require.NoError(t, err)
			return r
		},
		Keys: []minidrivertest.Key{
			{Container: 0, Spec: minidriver.ECDSAP256},
			{Container: 1, Spec: minidriver.ECDSAP384},
			{Container: 2, Spec: minidriver.ECDHP256},
			{Container: 3, Spec: minidriver.Signature, Bits: 2048},
			{Container: 4, Spec: minidriver.KeyExchange, Bits: 2048},
			{Container: 5, Spec: minidriver.ECDSAP521},
		},
		Features: minidrivertest.Features{WriteFiles: true, Generate: true, Import: true, ChangePIN: true},
	}
}

package gids_test

import (
	"context"
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cardmod/cardmod/cardfs"
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
	h.NewCard = func(t *testing.T) *scrm.Card {
		card := connect(t, newSim(t, false))
		provision(t, card)
		return card
	}
	minidrivertest.Run(t, h)
}

// provision generates the Present key of the harness (container 6) and
// records it in the cmapfile (valid and default, ECDH P-384 in the key
// exchange slot) as another tool would, and leaves the card reset.
func provision(t *testing.T, card *scrm.Card) {
	t.Helper()
	ctx := context.Background()
	md, _, err := minidriver.NewRegistry(gids.Plugin{}).Open(ctx, card, minidriver.Env{})
	require.NoError(t, err)
	defer func() { _ = md.Close() }()
	e := &env{card: card, md: md}
	e.run(t, func(ctx context.Context, tx *scrm.Tx) {
		userPIN(t, ctx, md, tx)
		require.NoError(t, minidriver.CreateContainer(ctx, md, tx, minidriver.CreateContainerRequest{Index: 6, KeySpec: minidriver.ECDHP384}))
		cmap := make([]byte, 7*cardfs.ContainerMapRecordSize)
		rec := cmap[6*cardfs.ContainerMapRecordSize:]
		for i, r := range "provisioned" {
			binary.LittleEndian.PutUint16(rec[2*i:], uint16(r))
		}
		rec[80] = byte(cardfs.ContainerValid | cardfs.ContainerDefault)
		binary.LittleEndian.PutUint16(rec[84:], 384)
		require.NoError(t, minidriver.WriteFile(ctx, md, tx, "", "cardcf", []byte{0, 0, 1, 0, 1, 0}))
		require.NoError(t, minidriver.WriteFile(ctx, md, tx, "mscp", "cmapfile", cmap))
	})
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
			{Container: 6, Spec: minidriver.ECDHP384, Present: true},
		},
		Features: minidrivertest.Features{WriteFiles: true, Generate: true, Import: true, ChangePIN: true},
	}
}

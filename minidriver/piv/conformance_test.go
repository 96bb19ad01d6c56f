package piv_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	simpiv "github.com/cardmod/cardmod/cardsim/piv"
	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/minidriver/minidrivertest"
	"github.com/cardmod/cardmod/minidriver/piv"
	"github.com/cardmod/cardmod/scrm"
	"github.com/cardmod/cardmod/scrm/virtual"
)

// TestConformance runs the conformance suite on simulated YubiKeys in
// in-process readers.
func TestConformance(t *testing.T) {
	var serial atomic.Uint32
	serial.Store(20000000)
	h := conformanceHarness(t)
	h.NewCard = func(t *testing.T) *scrm.Card {
		sim := newSim(t, simpiv.Config{Serial: serial.Add(1)})
		b := virtual.NewBackend()
		b.AddReader("Virtual Reader 0").Insert(sim)
		card, err := scrm.NewContext(b).Connect(context.Background(), "Virtual Reader 0", nil)
		require.NoError(t, err)
		t.Cleanup(func() { _ = card.Close(scrm.LeaveCard) })
		provision(t, card)
		return card
	}
	minidrivertest.Run(t, h)
}

// provision generates the Present key of the harness (container 5, slot
// 83) as another tool would, and leaves the card reset.
func provision(t *testing.T, card *scrm.Card) {
	t.Helper()
	ctx := context.Background()
	md, _, err := minidriver.NewRegistry(piv.Plugin{}).Open(ctx, card, minidriver.Env{})
	require.NoError(t, err)
	defer func() { _ = md.Close() }()
	e := &env{card: card, md: md}
	e.runEnd(t, scrm.ResetCard, func(ctx context.Context, tx *scrm.Tx) {
		admin(t, ctx, md, tx, simpiv.DefaultManagementKey)
		require.NoError(t, minidriver.CreateContainer(ctx, md, tx, minidriver.CreateContainerRequest{Index: 5, KeySpec: minidriver.ECDHP256}))
	})
}

// conformanceHarness describes the plug-in and the simulated YubiKey 5.7;
// the caller sets NewCard.
func conformanceHarness(t *testing.T) minidrivertest.Harness {
	return minidrivertest.Harness{
		Plugin: piv.Plugin{},
		PINs: map[minidriver.PinID][]byte{
			piv.PINUser:      []byte(simpiv.DefaultPIN),
			piv.PINSignature: []byte(simpiv.DefaultPIN),
			piv.PINPUK:       []byte(simpiv.DefaultPUK),
		},
		WriteAuth: minidriver.NewPinSet(piv.PINUser, piv.PINAdmin),
		AdminResponse: func(challenge []byte) []byte {
			r, err := piv.ManagementKeyResponse(simpiv.DefaultManagementKey, challenge)
			require.NoError(t, err)
			return r
		},
		Keys: []minidrivertest.Key{
			{Container: 0, Spec: minidriver.ECDSAP256},
			{Container: 1, Spec: minidriver.ECDSAP384},
			{Container: 2, Spec: minidriver.ECDHP256},
			{Container: 3, Spec: minidriver.Signature, Bits: 2048},
			{Container: 4, Spec: minidriver.KeyExchange, Bits: 2048},
			{Container: 5, Spec: minidriver.ECDHP256, Present: true},
		},
		Features: minidrivertest.Features{WriteFiles: true, Generate: true, Import: true, ChangePIN: true},
	}
}

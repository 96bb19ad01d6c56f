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

func TestConformance(t *testing.T) {
	var serial atomic.Uint32
	serial.Store(20000000)
	minidrivertest.Run(t, minidrivertest.Harness{
		Plugin: piv.Plugin{},
		NewCard: func(t *testing.T) *scrm.Card {
			sim := newSim(t, simpiv.Config{Serial: serial.Add(1)})
			b := virtual.NewBackend()
			b.AddReader("Virtual Reader 0").Insert(sim)
			card, err := scrm.NewContext(b).Connect(context.Background(), "Virtual Reader 0", nil)
			require.NoError(t, err)
			t.Cleanup(func() { _ = card.Close(scrm.LeaveCard) })
			return card
		},
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
		},
		Features: minidrivertest.Features{WriteFiles: true, Generate: true, Import: true, ChangePIN: true},
	})
}

package gids_test

import (
	"context"
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cardmod/cardmod/cardfs"
	simgids "github.com/cardmod/cardmod/cardsim/gids"
	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/minidriver/gids"
	"github.com/cardmod/cardmod/minidriver/minidrivertest"
	"github.com/cardmod/cardmod/scrm"
)

// TestConformanceProfiles runs the conformance suite on every simulated
// GIDS profile: the RSA-only cards get RSA keys only (their present key
// is RSA-2048).
func TestConformanceProfiles(t *testing.T) {
	for _, p := range simgids.Profiles() {
		t.Run(p.Name, func(t *testing.T) {
			h := conformanceHarness(t)
			rsaOnly := p.Name != simgids.ProfileRSAEC().Name
			present := minidrivertest.Key{Container: 6, Spec: minidriver.ECDHP384, Present: true}
			if rsaOnly {
				present = minidrivertest.Key{Container: 6, Spec: minidriver.KeyExchange, Bits: 2048, Present: true}
				h.Keys = []minidrivertest.Key{
					{Container: 3, Spec: minidriver.Signature, Bits: 2048},
					{Container: 4, Spec: minidriver.KeyExchange, Bits: 1024},
					present,
				}
			}
			h.NewCard = func(t *testing.T) *scrm.Card {
				n := cardSeq.Add(1)
				id := make([]byte, 16)
				id[0], id[1], id[15] = 0xC1, byte(n>>8), byte(n)
				sim, err := simgids.New(simgids.Config{Initialized: true, CardID: id, Rand: seeded(n), Profile: p})
				require.NoError(t, err)
				card := connect(t, sim)
				provisionKey(t, card, present)
				return card
			}
			minidrivertest.Run(t, h)
		})
	}
}

// provisionKey makes the harness's present key and records it in cmapfile
// as another tool would.
func provisionKey(t *testing.T, card *scrm.Card, k minidrivertest.Key) {
	t.Helper()
	ctx := context.Background()
	md, _, err := minidriver.NewRegistry(gids.Plugin{}).Open(ctx, card, minidriver.Env{})
	require.NoError(t, err)
	defer func() { _ = md.Close() }()
	e := &env{card: card, md: md}
	e.run(t, func(ctx context.Context, tx *scrm.Tx) {
		userPIN(t, ctx, md, tx)
		require.NoError(t, minidriver.CreateContainer(ctx, md, tx, minidriver.CreateContainerRequest{Index: k.Container, KeySpec: k.Spec, Bits: k.Bits}))
		cmap := make([]byte, (k.Container+1)*cardfs.ContainerMapRecordSize)
		rec := cmap[k.Container*cardfs.ContainerMapRecordSize:]
		for i, r := range "provisioned" {
			binary.LittleEndian.PutUint16(rec[2*i:], uint16(r))
		}
		rec[80] = byte(cardfs.ContainerValid | cardfs.ContainerDefault)
		bits := k.Bits
		if bits == 0 {
			bits = k.Spec.CurveBits()
		}
		binary.LittleEndian.PutUint16(rec[84:], uint16(bits))
		require.NoError(t, minidriver.WriteFile(ctx, md, tx, "", "cardcf", []byte{0, 0, 1, 0, 1, 0}))
		require.NoError(t, minidriver.WriteFile(ctx, md, tx, "mscp", "cmapfile", cmap))
	})
}

// TestKeySizesFromTheCard: KeySizes says what the card listed in EF.ATR;
// a card that lists nothing is taken for what OpenSC takes every GIDS
// card for (RSA-1024/2048), and an algorithm it refuses is remembered
// (issue 15, item 5). An unsupported create is refused before any
// command on a card that listed its algorithms.
func TestKeySizesFromTheCard(t *testing.T) {
	for _, tc := range []struct {
		profile simgids.Profile
		rsaMax  int
		ec      bool
	}{
		{simgids.ProfileRSAEC(), 4096, true},
		{simgids.ProfileRSA(), 2048, false},
		{simgids.ProfileRSAQuiet(), 2048, true}, // EC unknown until refused
	} {
		t.Run(tc.profile.Name, func(t *testing.T) {
			sim, err := simgids.New(simgids.Config{Initialized: true, Rand: seeded(5), Profile: tc.profile})
			require.NoError(t, err)
			e := newEnv(t, sim)
			e.run(t, func(ctx context.Context, tx *scrm.Tx) {
				ks, err := e.md.KeySizes(ctx, tx, minidriver.KeyExchange)
				require.NoError(t, err)
				assert.Equal(t, tc.rsaMax, ks.Max)
				assert.Equal(t, 1024, ks.Min)
				_, err = e.md.KeySizes(ctx, tx, minidriver.ECDHP256)
				if tc.ec {
					assert.NoError(t, err)
				} else {
					assert.ErrorIs(t, err, minidriver.ErrUnsupported)
				}
				userPIN(t, ctx, e.md, tx)
				before := e.card.Stats().APDUs
				err = minidriver.CreateContainer(ctx, e.md, tx, minidriver.CreateContainerRequest{Index: 1, KeySpec: minidriver.ECDHP256})
				if tc.profile.Name == simgids.ProfileRSAEC().Name {
					require.NoError(t, err)
					return
				}
				assert.ErrorIs(t, err, minidriver.ErrUnsupported)
				if !tc.ec {
					assert.Equal(t, before, e.card.Stats().APDUs, "refused before any command")
				}
				_, err = e.md.KeySizes(ctx, tx, minidriver.ECDHP256)
				assert.ErrorIs(t, err, minidriver.ErrUnsupported, "after the card refused it")
				_, err = e.md.ContainerInfo(ctx, tx, 1)
				assert.ErrorIs(t, err, minidriver.ErrNoKeyContainer)
			})
		})
	}
}

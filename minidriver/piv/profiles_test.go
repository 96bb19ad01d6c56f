package piv_test

import (
	"context"
	"encoding/binary"
	"math/rand/v2"
	"slices"
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

// profileHarness is the conformance harness of a simulated card profile:
// the keys it can hold, what it lets its holder do, and the key that a
// fresh card already has (provisioned by the plug-in as another tool
// would, or by the issuer).
func profileHarness(t *testing.T, p simpiv.Profile) minidrivertest.Harness {
	h := conformanceHarness(t)
	if p.Issued {
		// Everything is the issuer's: six P-256 keys with certificates,
		// nothing the holder can create; the holder changes the PIN.
		h.WriteAuth = 0
		h.AdminResponse = nil
		h.Keys = []minidrivertest.Key{
			{Container: 0, Spec: minidriver.ECDSAP256, Present: true},
			{Container: 1, Spec: minidriver.ECDSAP256, Present: true},
			{Container: 2, Spec: minidriver.ECDHP256, Present: true},
			{Container: 3, Spec: minidriver.ECDSAP256, Present: true},
			{Container: 4, Spec: minidriver.ECDHP256, Present: true},
			{Container: 5, Spec: minidriver.ECDHP256, Present: true},
		}
		h.Features = minidrivertest.Features{ChangePIN: true}
		return h
	}
	if !slices.Contains(p.Algorithms, simpiv.AlgECCP384) {
		h.Keys = slices.DeleteFunc(h.Keys, func(k minidrivertest.Key) bool { return k.Spec.CurveBits() == 384 })
	}
	if p.RetiredSlots == 0 {
		// No retired slots: the present key goes to 9E (container 3).
		h.Keys = []minidrivertest.Key{
			{Container: 0, Spec: minidriver.ECDSAP256},
			{Container: 1, Spec: minidriver.Signature, Bits: 2048},
			{Container: 2, Spec: minidriver.KeyExchange, Bits: 2048},
			{Container: 3, Spec: minidriver.ECDSAP256, Present: true},
		}
	}
	if !p.VendorObjects {
		// No file store and no container map: keys and certificates
		// only, and keys stay until overwritten (no DELETE KEY).
		h.Features.WriteFiles = false
		h.Features.KeepsKeys = !p.MoveKey
	}
	h.Features.Import = p.Import
	return h
}

// presentKey is the harness key a fresh card of the profile holds.
func presentKey(h minidrivertest.Harness) (minidrivertest.Key, bool) {
	for _, k := range h.Keys {
		if k.Present {
			return k, true
		}
	}
	return minidrivertest.Key{}, false
}

// TestConformanceProfiles runs the conformance suite on every simulated
// card profile: reads everywhere, writes where the card allows them, the
// typed refusal where it does not.
func TestConformanceProfiles(t *testing.T) {
	for _, p := range simpiv.Profiles() {
		t.Run(p.Name, func(t *testing.T) {
			var serial atomic.Uint32
			serial.Store(30000000)
			h := profileHarness(t, p)
			h.NewCard = func(t *testing.T) *scrm.Card {
				n := serial.Add(1)
				sim := newSim(t, simpiv.Config{Profile: p, Serial: n, Rand: seededN(n)})
				b := virtual.NewBackend()
				b.AddReader("Virtual Reader 0").Insert(sim)
				card, err := scrm.NewContext(b).Connect(context.Background(), "Virtual Reader 0", nil)
				require.NoError(t, err)
				t.Cleanup(func() { _ = card.Close(scrm.LeaveCard) })
				if !p.Issued {
					k, _ := presentKey(h)
					provisionKey(t, card, k, !p.Serial, n)
				}
				return card
			}
			minidrivertest.Run(t, h)
		})
	}
}

// seededN is seeded for card number n: every card its own keys and
// identifiers.
func seededN(n uint32) *rand.ChaCha8 {
	var s [32]byte
	binary.BigEndian.PutUint32(s[:], n)
	return rand.NewChaCha8(s)
}

// provisionKey generates key k as another tool would, and leaves the card
// reset. A card without GET SERIAL first gets a CHUID with a GUID of its
// own, as yubico-piv-tool -a set-chuid writes it (FASC-N, GUID, expiry,
// empty signature 3E 00): without one, two such cards cannot be told
// apart.
func provisionKey(t *testing.T, card *scrm.Card, k minidrivertest.Key, chuid bool, n uint32) {
	t.Helper()
	ctx := context.Background()
	md, _, err := minidriver.NewRegistry(piv.Plugin{}).Open(ctx, card, minidriver.Env{})
	require.NoError(t, err)
	defer func() { _ = md.Close() }()
	e := &env{card: card, md: md}
	e.runEnd(t, scrm.ResetCard, func(ctx context.Context, tx *scrm.Tx) {
		admin(t, ctx, md, tx, simpiv.DefaultManagementKey)
		if chuid {
			guid := make([]byte, 16)
			binary.BigEndian.PutUint32(guid, n)
			v := append(berTLV(0x30, make([]byte, 25)), berTLV(0x34, guid)...)
			v = append(v, berTLV(0x35, []byte("20301231"))...)
			v = append(v, 0x3E, 0x00, 0xFE, 0x00)
			putData(t, ctx, tx, 0x5FC102, v)
		}
		require.NoError(t, minidriver.CreateContainer(ctx, md, tx, minidriver.CreateContainerRequest{Index: k.Container, KeySpec: k.Spec, Bits: k.Bits}))
	})
}

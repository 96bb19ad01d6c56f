package piv_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cardmod/cardmod/cardfs"
	"github.com/cardmod/cardmod/cardsim"
	simpiv "github.com/cardmod/cardmod/cardsim/piv"
	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/minidriver/piv"
	"github.com/cardmod/cardmod/scrm"
)

// metadataAnswers makes a card answer GET METADATA of chosen slots with a
// chosen status word (the answers of other cards for slots they lack), and
// counts the GET METADATA commands it receives.
type metadataAnswers struct {
	cardsim.Card
	sw map[byte][2]byte
	n  *atomic.Int64
}

func (m metadataAnswers) Transmit(apdu []byte) []byte {
	if len(apdu) >= 4 && apdu[1] == 0xF7 {
		m.n.Add(1)
		if sw, ok := m.sw[apdu[3]]; ok {
			return sw[:]
		}
	}
	return m.Card.Transmit(apdu)
}

// TestMetadataNoSlotIsNoKey: whatever family the status word of a slot the
// card lacks is in (6A86, 6A88, 6A81; 6A82 for an empty one), GET METADATA
// of it means "no key there", listing works, and the slots the card said it
// lacks are not asked for again (issue 15, item 2).
func TestMetadataNoSlotIsNoKey(t *testing.T) {
	for _, sw := range [][2]byte{{0x6A, 0x86}, {0x6A, 0x88}, {0x6A, 0x81}, {0x6A, 0x82}} {
		t.Run(fmt.Sprintf("%02X%02X", sw[0], sw[1]), func(t *testing.T) {
			answers := map[byte][2]byte{}
			for slot := byte(0x8D); slot <= 0x95; slot++ {
				answers[slot] = sw
			}
			var count atomic.Int64
			e := newEnv(t, metadataAnswers{newSim(t, simpiv.Config{}), answers, &count}, piv.Plugin{})
			countINS := func(f func()) int {
				before := count.Load()
				f()
				return int(count.Load() - before)
			}
			e.run(t, func(ctx context.Context, tx *scrm.Tx) {
				admin(t, ctx, e.md, tx, simpiv.DefaultManagementKey)
				require.NoError(t, minidriver.CreateContainer(ctx, e.md, tx, minidriver.CreateContainerRequest{Index: 4, KeySpec: minidriver.ECDHP256}))
			})
			var first int
			e.run(t, func(ctx context.Context, tx *scrm.Tx) {
				first = countINS(func() {
					m := containerMap(t, ctx, e.md, tx)
					r, ok := m.Record(4)
					require.True(t, ok)
					assert.True(t, r.Valid(), "the key in 82")
				})
			})
			assert.Equal(t, 24, first, "the first scan asks every slot")
			e.run(t, func(ctx context.Context, tx *scrm.Tx) {
				n := countINS(func() {
					_, err := e.md.ReadFile(ctx, tx, "mscp", "cmapfile")
					require.NoError(t, err)
				})
				if sw[1] == 0x82 {
					assert.Equal(t, 24, n, "an empty slot is asked again")
				} else {
					assert.Equal(t, 15, n, "slots 8D-95, which the card lacks, are not asked again")
				}
			})
		})
	}
}

// TestAppletWithoutVendorObjects is the independent applet of issue 15
// (item 3): GET VERSION and GET METADATA answered, no 5FFF10-5FFF20,
// retired slots 82-8C. Before, it was reported writable with a file store
// and 24 containers and every write failed on the cardcf bump; now keys are
// made and certificates written through the SP 800-73-4 objects, no
// cardcf is kept (CacheNone), and the free space says what the card has.
func TestAppletWithoutVendorObjects(t *testing.T) {
	sim := newSim(t, simpiv.Config{Profile: simpiv.ProfileApplet()})
	e := newEnv(t, sim, piv.Plugin{})
	digest := sha256.Sum256([]byte("applet"))
	var pub *ecdsa.PublicKey
	e.run(t, func(ctx context.Context, tx *scrm.Tx) {
		p, err := e.md.Properties(ctx, tx)
		require.NoError(t, err)
		assert.False(t, p.ReadOnly)
		assert.Equal(t, minidriver.CacheNone, p.CacheMode, "no cardcf on the card")
		admin(t, ctx, e.md, tx, simpiv.DefaultManagementKey)
		// As the engine does: bump cardcf, write the map, create the key.
		require.NoError(t, minidriver.WriteFile(ctx, e.md, tx, "", "cardcf", []byte{0, 0, 1, 0, 1, 0}))
		var m cardfs.ContainerMap
		_, err = m.Add(cardfs.ContainerMapRecord{Name: "applet-key", Flags: cardfs.ContainerValid | cardfs.ContainerDefault}, 24)
		require.NoError(t, err)
		require.NoError(t, minidriver.WriteFile(ctx, e.md, tx, "mscp", "cmapfile", m.Marshal()))
		require.NoError(t, minidriver.CreateContainer(ctx, e.md, tx, minidriver.CreateContainerRequest{Index: 0, KeySpec: minidriver.ECDSAP256}))
		info, err := e.md.ContainerInfo(ctx, tx, 0)
		require.NoError(t, err)
		pub = info.Signature.(*ecdsa.PublicKey)
		require.NoError(t, minidriver.WriteFile(ctx, e.md, tx, "mscp", "ksc00", makeCert(t, pub, "applet")))
		_, err = m.Add(cardfs.ContainerMapRecord{Name: "second", Flags: cardfs.ContainerValid}, 24)
		require.NoError(t, err)
		require.NoError(t, minidriver.WriteFile(ctx, e.md, tx, "mscp", "cmapfile", m.Marshal()))
		err = minidriver.CreateFile(ctx, e.md, tx, "mscp", "other", cardfs.EveryoneReadUserWriteAc)
		assert.ErrorIs(t, err, minidriver.ErrUnsupported, "no file store: a typed refusal")
	})
	e.run(t, func(ctx context.Context, tx *scrm.Tx) {
		m := containerMap(t, ctx, e.md, tx)
		r, ok := m.Find("applet-key")
		require.True(t, ok, "the name is kept for the Card's lifetime")
		assert.Equal(t, 0, r.Index)
		cert, err := e.md.ReadFile(ctx, tx, "mscp", "ksc00")
		require.NoError(t, err)
		assert.NotEmpty(t, cert)
		fs, err := e.md.FreeSpace(ctx, tx)
		require.NoError(t, err)
		assert.Equal(t, 0, fs.BytesAvailable)
		assert.Equal(t, 15, fs.MaxContainers, "9A, 9C, 9D, 9E and 82-8C")
		userPIN(t, ctx, e.md, tx)
		sig, err := e.md.SignData(ctx, tx, minidriver.SignRequest{Container: 0, Digest: digest[:]})
		require.NoError(t, err)
		assert.True(t, ecdsa.VerifyASN1(pub, digest[:], sig))
		_, err = e.md.ContainerInfo(ctx, tx, 13)
		assert.ErrorIs(t, err, minidriver.ErrNoKeyContainer, "slot 8D, which the card lacks")
	})
	// Another process sees the key under the slot's derived name.
	other := newEnv(t, sim, piv.Plugin{})
	other.run(t, func(ctx context.Context, tx *scrm.Tx) {
		info, err := other.md.ContainerInfo(ctx, tx, 0)
		require.NoError(t, err)
		assert.True(t, pub.Equal(info.Signature))
		cf, err := other.md.ReadFile(ctx, tx, "", "cardcf")
		require.NoError(t, err)
		assert.Equal(t, make([]byte, 6), cf, "the card keeps no cardcf")
	})
}

// TestIssuedCardIsReadOnly: a CHUID with an issuer signature marks a card
// its holder cannot write; the plug-in says so before anything is sent.
func TestIssuedCardIsReadOnly(t *testing.T) {
	e := newEnv(t, newSim(t, simpiv.Config{Profile: simpiv.ProfileIssued()}), piv.Plugin{})
	e.run(t, func(ctx context.Context, tx *scrm.Tx) {
		p, err := e.md.Properties(ctx, tx)
		require.NoError(t, err)
		assert.True(t, p.ReadOnly)
		n := e.card.Stats().APDUs
		err = minidriver.CreateContainer(ctx, e.md, tx, minidriver.CreateContainerRequest{Index: 0, KeySpec: minidriver.ECDSAP256})
		assert.ErrorIs(t, err, minidriver.ErrReadOnly)
		assert.Equal(t, n, e.card.Stats().APDUs, "refused without a command")
		m := containerMap(t, ctx, e.md, tx)
		assert.Equal(t, 6, m.Len(), "9A, 9C, 9D, 9E and the two retired slots of the Key History")
		pin, err := e.md.ContainerPIN(ctx, tx, 1)
		require.NoError(t, err)
		assert.Equal(t, piv.PINSignature, pin, "9C is PIN-always")
	})
}

// TestIssuerSignedYubiKeyLearntByCheckWritable: a YubiKey 5 whose CHUID
// its issuer signed is opened by its serial alone, writable as far as its
// Properties can say; CheckWritable reads the CHUID (one GET DATA, once)
// and refuses, and the Properties say ReadOnly from then on.
func TestIssuerSignedYubiKeyLearntByCheckWritable(t *testing.T) {
	profile := simpiv.ProfileYubiKey57()
	profile.Issued = true
	e := newEnv(t, newSim(t, simpiv.Config{Profile: profile}), piv.Plugin{})
	e.run(t, func(ctx context.Context, tx *scrm.Tx) {
		p, err := e.md.Properties(ctx, tx)
		require.NoError(t, err)
		require.False(t, p.ReadOnly, "not known at Open")
		n := e.card.Stats().APDUs
		assert.ErrorIs(t, minidriver.CheckWritable(ctx, e.md, tx), minidriver.ErrReadOnly)
		assert.Equal(t, n+1, e.card.Stats().APDUs, "the CHUID read")
		assert.ErrorIs(t, minidriver.CheckWritable(ctx, e.md, tx), minidriver.ErrReadOnly)
		assert.Equal(t, n+1, e.card.Stats().APDUs, "read once")
		p, err = e.md.Properties(ctx, tx)
		require.NoError(t, err)
		assert.True(t, p.ReadOnly)
	})
	w := newEnv(t, newSim(t, simpiv.Config{}), piv.Plugin{})
	w.run(t, func(ctx context.Context, tx *scrm.Tx) {
		assert.NoError(t, minidriver.CheckWritable(ctx, w.md, tx), "a YubiKey its holder set up")
	})
}

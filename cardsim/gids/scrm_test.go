package gids_test

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cardmod/cardmod/cardsim/gids"
	"github.com/cardmod/cardmod/scrm"
	"github.com/cardmod/cardmod/scrm/virtual"
)

// connectVirtual puts card in a virtual reader and connects through scrm.
func connectVirtual(t *testing.T, card *gids.Card) *scrm.Card {
	t.Helper()
	b := virtual.NewBackend()
	b.AddReader("cardmod Virtual Reader 0").Insert(card)
	sc := scrm.NewContext(b)
	t.Cleanup(func() { sc.Release() })
	c, err := sc.Connect(context.Background(), "cardmod Virtual Reader 0", nil)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close(scrm.LeaveCard) })
	return c
}

// TestThroughScrm initializes a blank card, generates an RSA-2048 key and
// signs through scrm's APDU layer, which chains, sends extended lengths or
// fetches 61xx answers by itself.
func TestThroughScrm(t *testing.T) {
	card, err := gids.New(gids.Config{Rand: seededRand(3)})
	require.NoError(t, err)
	c := connectVirtual(t, card)
	ctx := context.Background()
	assert.Equal(t, gids.DefaultATR, c.ATR())
	do := func(cmd scrm.Command) []byte {
		t.Helper()
		rsp, err := c.Do(ctx, cmd)
		require.NoErrorf(t, err, "INS %02X", cmd.INS)
		return rsp.Data
	}
	_, err = c.Do(ctx, scrm.Command{INS: 0xCB, P1: 0x3F, P2: 0xFF, Data: h("5C 02 7F 71"), Ne: 256})
	assert.True(t, errors.Is(err, scrm.ErrUnsupported), "before SELECT: %v", err)
	fci := do(scrm.Command{INS: 0xA4, P1: 4, Data: gids.AID[:9], Ne: 256})
	assert.Equal(t, byte(0x61), fci[0])

	// A blank card: the master file is missing.
	_, err = c.Do(ctx, scrm.Command{INS: 0xCB, P1: 0xA0, P2: 0x00, Data: h("5C 02 DF 1F"), Ne: 256})
	assert.True(t, errors.Is(err, scrm.ErrNotFound), "%v", err)

	// Initialize with scrm, then key generation and signing.
	do(scrm.Command{INS: 0x24, P1: 0x01, P2: 0x80, Data: []byte("24682468")})
	do(scrm.Command{INS: 0xE0, Data: h("62 0C 82 01 39 83 02 A0 10 8C 03 03 30 00")})
	do(scrm.Command{INS: 0x44})
	do(scrm.Command{INS: 0xE0, Data: keyFileFCP(0x81, gids.AlgRSA2048, true)})
	do(scrm.Command{INS: 0x44})
	do(scrm.Command{INS: 0xA4, P2: 0x0C, Data: h("3F FF")})
	do(scrm.Command{INS: 0x44})
	require.Equal(t, gids.LifeCycleOperational, card.LifeCycle())

	_, err = c.Do(ctx, scrm.Command{INS: 0x20, P2: 0x80, Data: []byte("00000000")})
	assert.True(t, errors.Is(err, scrm.ErrWrongPIN), "%v", err)
	do(scrm.Command{INS: 0x20, P2: 0x80, Data: []byte("24682468")})
	pubT := do(scrm.Command{INS: 0x47, Data: h("AC 06 80 01 07 83 01 81"), Ne: scrm.MaxNe})
	pub := parsePublic(t, pubT).(*rsa.PublicKey)
	do(scrm.Command{INS: 0x22, P1: 0x41, P2: 0xB6, Data: h("80 01 57 84 01 81")})
	digest := sha256.Sum256([]byte("through scrm"))
	sig := do(scrm.Command{INS: 0x2A, P1: 0x9E, P2: 0x9A, Data: cat(digestInfoSHA256, digest[:]), Ne: 256})
	require.NoError(t, rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig))

	// A 4000-byte object goes in and comes back.
	big := make([]byte, 4000)
	for i := range big {
		big[i] = byte(i)
	}
	do(scrm.Command{INS: 0xDB, P1: 0xA0, P2: 0x10, Data: tlv(0xDF24, big)})
	got := do(scrm.Command{INS: 0xCB, P1: 0xA0, P2: 0x10, Data: h("5C 02 DF 24"), Ne: scrm.MaxNe})
	assert.Equal(t, tlv(0xDF24, big), got)
}

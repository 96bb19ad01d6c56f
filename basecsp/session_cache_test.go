package basecsp_test

import (
	"bytes"
	"context"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cardmod/cardmod/basecsp"
	"github.com/cardmod/cardmod/cardsim"
	simpiv "github.com/cardmod/cardmod/cardsim/piv"
	"github.com/cardmod/cardmod/scrm/virtual"
)

// reissuedCard is an issued PIV card whose issuer, once revoked is set,
// has taken the PIV Authentication certificate off it: GET DATA of
// 5FC105 (SP 800-73-4 part 1, table 3) answers 6A82. Every APDU is
// counted.
type reissuedCard struct {
	cardsim.Card
	revoked atomic.Bool
	apdus   atomic.Int64
}

func (c *reissuedCard) Transmit(apdu []byte) []byte {
	c.apdus.Add(1)
	if c.revoked.Load() && len(apdu) > 4 && apdu[1] == 0xCB && bytes.Contains(apdu[5:], []byte{0x5C, 0x03, 0x5F, 0xC1, 0x05}) {
		return []byte{0x6A, 0x82}
	}
	return c.Card.Transmit(apdu)
}

// TestIssuedCardCachedForItsSession: an issued card (its CHUID signed by
// its issuer, who alone holds its management key) is CP_CACHE_MODE
// session only (minidriver/piv Card.Properties): a listing after the
// first is served from what the process read (one SELECT and the probe
// of cardmod's file store, where reading it again cost 15), and that
// ends when the card leaves the reader: a card the issuer changed in
// between is read afresh when it comes back.
func TestIssuedCardCachedForItsSession(t *testing.T) {
	sim, err := simpiv.New(simpiv.Config{Profile: simpiv.ProfileIssued()})
	require.NoError(t, err)
	card := &reissuedCard{Card: sim}
	b := virtual.NewBackend()
	r := b.AddReader(readerName)
	r.Insert(card)
	p, err := basecsp.Open(basecsp.Config{Backend: b, Prompt: newPrompt(simpiv.DefaultPIN)})
	require.NoError(t, err)
	t.Cleanup(func() { _ = p.Close() })
	ctx := context.Background()

	subjects := func() []string {
		t.Helper()
		certs, err := p.Certificates(ctx)
		require.NoError(t, err)
		var out []string
		for _, c := range certs {
			out = append(out, c.Certificate.Subject.CommonName)
		}
		return out
	}
	const pivAuth = "cardsim PIV holder PIV Authentication" // cardsim/piv issue
	first := subjects()
	require.Contains(t, first, pivAuth, "the issued card's 9A certificate")

	before := card.apdus.Load()
	assert.Equal(t, first, subjects(), "the same listing")
	assert.LessOrEqual(t, card.apdus.Load()-before, int64(2), "the second listing comes from the session's cache")

	r.Remove()
	card.revoked.Store(true)
	r.Insert(card)
	before = card.apdus.Load()
	again := subjects()
	assert.NotContains(t, again, pivAuth, "the card is read afresh after it came back")
	assert.Len(t, again, len(first)-1, "every other certificate still listed")
	assert.Greater(t, card.apdus.Load()-before, int64(2), "nothing of the last session served")
}

package piv_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	simpiv "github.com/cardmod/cardmod/cardsim/piv"
	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/minidriver/piv"
	"github.com/cardmod/cardmod/scrm"
)

// endless6C is a simulated YubiKey that, once armed, answers every GET
// DATA with 6Cxx asking for one byte more than the Le it got: a card that
// never takes the Le it asks for.
type endless6C struct {
	*simpiv.Card
	armed atomic.Bool
}

func (c *endless6C) Transmit(apdu []byte) []byte {
	if c.armed.Load() && len(apdu) >= 5 && apdu[1] == 0xCB {
		return []byte{0x6C, apdu[len(apdu)-1] + 1}
	}
	return c.Card.Transmit(apdu)
}

// TestEndless6CxxIsACardFault: the card's endless 6Cxx loop is the card's
// fault (scrm.ErrMalformedResponse), not the caller's
// (minidriver.ErrInvalidParameter).
func TestEndless6CxxIsACardFault(t *testing.T) {
	sim := &endless6C{Card: newSim(t, simpiv.Config{})}
	e := newEnv(t, sim, piv.Plugin{})
	sim.armed.Store(true)
	e.run(t, func(ctx context.Context, tx *scrm.Tx) {
		before := tx.Card().Stats().APDUs
		_, err := e.md.ReadFile(ctx, tx, "mscp", "msroots")
		require.Error(t, err)
		assert.NotErrorIs(t, err, minidriver.ErrInvalidParameter, "the caller is not at fault")
		assert.ErrorIs(t, err, scrm.ErrMalformedResponse)
		assert.ErrorIs(t, err, scrm.ErrTooManyRounds)
		assert.NotEqual(t, uint32(0x80100004), minidriver.SCardCode(err), "not SCARD_E_INVALID_PARAMETER")
		assert.LessOrEqual(t, tx.Card().Stats().APDUs-before, uint64(4), "one re-send per command, no loop")
	})
}

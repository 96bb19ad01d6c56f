package virtual_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cardmod/cardmod/scrm"
	"github.com/cardmod/cardmod/scrm/scrmtest"
	"github.com/cardmod/cardmod/scrm/virtual"
)

// countingCard counts the commands that reach the card.
type countingCard struct {
	*scrmtest.TestCard
	n int
}

func (c *countingCard) Transmit(apdu []byte) []byte {
	c.n++
	return c.TestCard.Transmit(apdu)
}

func TestFaultLoseAndMatch(t *testing.T) {
	ctx := context.Background()
	card := &countingCard{TestCard: scrmtest.NewTestCard()}
	b := virtual.NewBackend()
	r := b.AddReader("R")
	r.Insert(card)
	conn, err := b.Connect(ctx, "R", scrm.ShareShared, scrm.ProtocolAny)
	require.NoError(t, err)
	defer conn.Disconnect(scrm.LeaveCard)
	echo := []byte{0x00, scrmtest.InsEcho, 0, 0, 1, 7, 1}

	// Lose: the card executes the command, the answer is lost.
	r.LoseNextAnswer(scrm.ErrCommError)
	rsp, err := conn.Transmit(ctx, echo)
	assert.ErrorIs(t, err, scrm.ErrCommError)
	assert.Nil(t, rsp)
	assert.Equal(t, 1, card.n, "the card executed the command")

	// Err: the command never reaches the card.
	r.FailNext(scrm.ErrCommError)
	_, err = conn.Transmit(ctx, echo)
	assert.ErrorIs(t, err, scrm.ErrCommError)
	assert.Equal(t, 1, card.n)

	// Match: the fault waits for the command it is meant for.
	r.InjectFault(virtual.Fault{Match: func(cmd []byte) bool { return cmd[1] == 0x77 }, Lose: scrm.ErrCommError})
	_, err = conn.Transmit(ctx, echo)
	require.NoError(t, err, "not the matched command")
	assert.Equal(t, 1, r.PendingFaults())
	_, err = conn.Transmit(ctx, []byte{0x00, 0x77, 0, 0})
	assert.ErrorIs(t, err, scrm.ErrCommError)
	assert.Zero(t, r.PendingFaults())

	r.ResetOnNext()
	r.RemoveOnNext()
	assert.Equal(t, 2, r.ClearFaults())
	_, err = conn.Transmit(ctx, echo)
	assert.NoError(t, err, "cleared faults do not apply")
}

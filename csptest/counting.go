package csptest

import (
	"sync/atomic"

	"github.com/cardmod/cardmod/cardsim"
)

// CountingCard is a simulated card that counts the commands it answers,
// whichever connection sends them: tests use it to show that a request
// refused for its arguments never reached the card.
type CountingCard struct {
	cardsim.Card
	n atomic.Int64
}

// NewCountingCard wraps card.
func NewCountingCard(card cardsim.Card) *CountingCard { return &CountingCard{Card: card} }

// Transmit implements cardsim.Card, counting the command.
func (c *CountingCard) Transmit(apdu []byte) []byte {
	c.n.Add(1)
	return c.Card.Transmit(apdu)
}

// APDUs returns how many commands the card has answered.
func (c *CountingCard) APDUs() int64 { return c.n.Load() }

// Package scrmtest holds what every scrm backend is tested with: a small
// simulated card whose answers exercise the ISO/IEC 7816-4 rules (long
// answers by 61xx, command chaining, 6Cxx, status words, a PIN) and a
// behaviour suite, written once, that runs against the virtual backend and
// against real pcscd through vpcd.
//
// Concurrency: a TestCard is safe for concurrent use.
package scrmtest

import (
	"bytes"
	"crypto/subtle"
	"sync"
)

// Instructions of the TestCard.
const (
	// InsEcho answers the command data (reassembled across a chain).
	InsEcho = 0x01
	// InsGenerate answers P1P2 bytes counting up from 0.
	InsGenerate = 0x02
	// InsExactLe answers P1 bytes, but only to a command whose Le is P1;
	// any other Le gets 6C P1.
	InsExactLe = 0x03
	// InsStatus answers the status word P1 P2.
	InsStatus = 0x04
	// InsChainCount answers one byte: how many chained parts made the last
	// command.
	InsChainCount = 0x05
	// InsTrickle answers P1P2 bytes counting up from 0, one byte per
	// round: each answer is one byte and 6101 while more is left, as a
	// card that trickles its answer would.
	InsTrickle = 0x06
	// InsEndless6C answers 6Cxx whatever the Le, with xx one more than the
	// Le it got: a card that never takes the Le it asks for.
	InsEndless6C = 0x07
	// InsVerify is VERIFY of the TestCard's PIN (reference 80); no data asks
	// for the status.
	InsVerify = 0x20
	// InsGetResponse is GET RESPONSE.
	InsGetResponse = 0xC0
)

// TestPIN is the TestCard's PIN.
const TestPIN = "1234"

// TestATR is the TestCard's answer to reset: T=1 offered, with historical
// bytes announcing command chaining (no extended length).
var TestATR = []byte{0x3B, 0x85, 0x80, 0x01, 0x80, 0x73, 0xC0, 0x21, 0x80, 0x96}

// Card is what a Harness puts in its readers: the methods virtual.Card and
// vpcd.Card have, with the same contract (an answer to reset, Reset to the
// power-on state, Transmit answering an APDU with data and SW1 SW2, never
// fewer than two bytes). TestCard implements it.
type Card interface {
	// ATR returns the card's answer to reset. The caller must not modify it.
	ATR() []byte
	// Reset returns the card to its state after power-on.
	Reset()
	// Transmit answers one command APDU with response data and SW1 SW2.
	Transmit(apdu []byte) []byte
}

// TestCard is a Card for transport tests. It answers at most 256
// bytes at a time and sends the rest with 61xx, as real cards do.
type TestCard struct {
	mu        sync.Mutex
	atr       []byte
	chain     []byte // data of an unfinished chain
	parts     int    // parts of the chain so far
	lastParts int
	pending   []byte // answer not yet fetched by GET RESPONSE
	trickle   bool   // pending goes one byte per GET RESPONSE
	verified  bool
	tries     int
	resets    int
}

var _ Card = (*TestCard)(nil)

// NewTestCard returns a TestCard with TestATR, PIN TestPIN and 3 tries.
func NewTestCard() *TestCard {
	return &TestCard{atr: TestATR, tries: 3}
}

// ATR implements Card.
func (c *TestCard) ATR() []byte { return c.atr }

// Reset implements Card.
func (c *TestCard) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.chain, c.parts, c.pending, c.verified = nil, 0, nil, false
	c.resets++
}

// Resets returns how many times the card was reset or powered up.
func (c *TestCard) Resets() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.resets
}

func sw(out []byte, s uint16) []byte { return append(out, byte(s>>8), byte(s)) }

// Transmit implements Card. It takes short APDUs only.
func (c *TestCard) Transmit(apdu []byte) []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(apdu) < 4 {
		return sw(nil, 0x6700)
	}
	cla, ins, p1, p2 := apdu[0], apdu[1], apdu[2], apdu[3]
	var data []byte
	le := -1
	switch body := apdu[4:]; {
	case len(body) == 0:
	case len(body) == 1:
		le = int(body[0])
	case int(body[0]) == len(body)-1 && body[0] != 0:
		data = body[1:]
	case int(body[0]) == len(body)-2 && body[0] != 0:
		data, le = body[1:len(body)-1], int(body[len(body)-1])
	default:
		return sw(nil, 0x6700)
	}
	if le == 0 {
		le = 256
	}
	if ins != InsGetResponse {
		c.pending, c.trickle = nil, false
	}
	if cla&0x10 != 0 {
		c.chain = append(c.chain, data...)
		c.parts++
		return sw(nil, 0x9000)
	}
	if c.parts > 0 {
		data = append(c.chain, data...)
		c.lastParts = c.parts + 1
		c.chain, c.parts = nil, 0
	} else if ins != InsGetResponse && ins != InsChainCount {
		c.lastParts = 1
	}
	switch ins {
	case InsEcho:
		return c.answer(bytes.Clone(data), le)
	case InsGenerate:
		n := int(p1)<<8 | int(p2)
		out := make([]byte, n)
		for i := range out {
			out[i] = byte(i)
		}
		return c.answer(out, le)
	case InsExactLe:
		if le != int(p1) && !(p1 == 0 && le == 256) {
			return sw(nil, 0x6C00|uint16(p1))
		}
		return c.answer(bytes.Repeat([]byte{0xA5}, le), le)
	case InsTrickle:
		n := int(p1)<<8 | int(p2)
		out := make([]byte, n)
		for i := range out {
			out[i] = byte(i)
		}
		c.trickle = true
		return c.trickleAnswer(out)
	case InsEndless6C:
		return sw(nil, 0x6C00|uint16((le+1)&0xFF))
	case InsStatus:
		return sw(nil, uint16(p1)<<8|uint16(p2))
	case InsChainCount:
		return sw([]byte{byte(c.lastParts)}, 0x9000)
	case InsVerify:
		return c.verify(p2, data)
	case InsGetResponse:
		if c.pending == nil {
			return sw(nil, 0x6985)
		}
		rest := c.pending
		c.pending = nil
		if c.trickle {
			return c.trickleAnswer(rest)
		}
		return c.answer(rest, le)
	case 0xA4:
		return sw(nil, 0x9000)
	}
	return sw(nil, 0x6D00)
}

// answer sends at most min(le, 256) bytes and keeps the rest for GET
// RESPONSE.
func (c *TestCard) answer(out []byte, le int) []byte {
	if le < 0 {
		le = 0
	}
	n := min(len(out), le, 256)
	if len(out) > n {
		c.pending = out[n:]
		rest := min(len(c.pending), 256)
		return sw(bytes.Clone(out[:n]), 0x6100|uint16(rest&0xFF))
	}
	return sw(out, 0x9000)
}

// trickleAnswer sends one byte of out and keeps the rest for GET
// RESPONSE, announcing one byte more (6101) while there is a rest.
func (c *TestCard) trickleAnswer(out []byte) []byte {
	if len(out) <= 1 {
		c.trickle = false
		return sw(bytes.Clone(out), 0x9000)
	}
	c.pending = out[1:]
	return sw(bytes.Clone(out[:1]), 0x6101)
}

func (c *TestCard) verify(ref byte, pin []byte) []byte {
	if ref != 0x80 {
		return sw(nil, 0x6A88)
	}
	if len(pin) == 0 {
		if c.verified {
			return sw(nil, 0x9000)
		}
		return sw(nil, 0x63C0|uint16(c.tries))
	}
	if c.tries == 0 {
		return sw(nil, 0x6983)
	}
	c.tries--
	if subtle.ConstantTimeCompare(pin, []byte(TestPIN)) != 1 {
		c.verified = false
		if c.tries == 0 {
			return sw(nil, 0x6983)
		}
		return sw(nil, 0x63C0|uint16(c.tries))
	}
	c.tries = 3
	c.verified = true
	return sw(nil, 0x9000)
}

package csptest

import (
	"slices"
	"sync"

	"github.com/cardmod/cardmod/cardsim"
)

// FaultCard puts a fuzz script between a simulated card and its reader,
// so that a fuzzer can drive a whole provider against a card that mostly
// works and sometimes fails the way real cards and readers fail. Each
// command takes one byte of the script (when the script has run out,
// every command goes through):
//
//	00-9F  the card answers
//	A0-BF  the card executes the command, its answer is lost (0 bytes)
//	C0-CF  the answer is the status word of the next two script bytes
//	D0-DF  the card executes; its answer is cut to the low nibble's
//	       number of bytes
//	E0-EF  the card executes; one byte of its answer (at the next script
//	       byte, modulo the length) is XORed with the byte after it
//	       (forced odd, so it changes)
//	F0-F7  the card is reset (its security state lost) and then answers
//	F8-FF  the answer is the next script byte's number of script bytes,
//	       as cardsim.Replay plays them
//
// An answer from the script (C0-CF, F8-FF) that ends in a refusal, a
// status word saying nothing was done (63Cx, 64xx, 66xx to 6Fxx: ISO/IEC
// 7816-4 §5.1.3), stands for a card that refused: the command is not
// executed. Any other answer stands for one the card gave after
// executing it. So the card's state is always what its answers, or their
// loss, allow a host to know, and a check such as "no PIN is left
// verified" is meaningful; a card that lies about what it did is fuzzed
// at the plug-in level with cardsim.Replay.
//
// A FaultCard is safe for concurrent use.
type FaultCard struct {
	mu     sync.Mutex
	card   cardsim.Card
	script []byte
	faults int
}

var _ cardsim.Card = (*FaultCard)(nil)

// NewFaultCard returns card behind script.
func NewFaultCard(card cardsim.Card, script []byte) *FaultCard {
	return &FaultCard{card: card, script: script}
}

// ATR implements cardsim.Card.
func (c *FaultCard) ATR() []byte { return c.card.ATR() }

// Reset implements cardsim.Card.
func (c *FaultCard) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.card.Reset()
}

// Faults returns how many commands were not answered as the card
// answered them so far.
func (c *FaultCard) Faults() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.faults
}

// Direct sends apdu to the card itself, past the script: for checking
// the card's state between operations.
func (c *FaultCard) Direct(apdu []byte) []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.card.Transmit(apdu)
}

func (c *FaultCard) next() (byte, bool) {
	if len(c.script) == 0 {
		return 0, false
	}
	b := c.script[0]
	c.script = c.script[1:]
	return b, true
}

// Transmit implements cardsim.Card.
func (c *FaultCard) Transmit(apdu []byte) []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	op, ok := c.next()
	if !ok || op < 0xA0 {
		return c.card.Transmit(apdu)
	}
	c.faults++
	switch {
	case op < 0xC0:
		c.card.Transmit(apdu)
		return nil
	case op < 0xD0:
		sw1, _ := c.next()
		sw2, _ := c.next()
		return c.instead(apdu, []byte{sw1, sw2})
	case op < 0xE0:
		out := c.card.Transmit(apdu)
		return out[:min(len(out), int(op&0x0F))]
	case op < 0xF0:
		out := slices.Clone(c.card.Transmit(apdu))
		at, _ := c.next()
		x, _ := c.next()
		if len(out) > 0 {
			out[int(at)%len(out)] ^= x | 1
		}
		return out
	case op < 0xF8:
		c.card.Reset()
		return c.card.Transmit(apdu)
	}
	n, _ := c.next()
	n = byte(min(int(n), len(c.script)))
	out := append([]byte(nil), c.script[:n]...)
	c.script = c.script[n:]
	return c.instead(apdu, out)
}

// instead returns answer for apdu, executing apdu first unless answer
// is a refusal.
func (c *FaultCard) instead(apdu, answer []byte) []byte {
	if n := len(answer); n < 2 || !refusal(answer[n-2], answer[n-1]) {
		c.card.Transmit(apdu)
	}
	return answer
}

// refusal reports whether SW1 SW2 says the command was not executed or
// the verification failed (ISO/IEC 7816-4 §5.1.3: 63Cx, 64xx, 66xx to
// 6Fxx).
func refusal(sw1, sw2 byte) bool {
	return sw1 == 0x64 || (sw1 >= 0x66 && sw1 <= 0x6F) || (sw1 == 0x63 && sw2&0xF0 == 0xC0)
}

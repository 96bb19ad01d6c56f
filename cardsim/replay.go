package cardsim

import "sync"

// Replay is a card whose answers come from a script instead of an
// application, for fuzzing card plug-ins the way OpenSC fuzzes its drivers
// with a replaying reader: whatever the card says, the plug-in must cope.
// The script is a sequence of answers, each a length byte followed by that
// many bytes (data, then SW1 SW2; see ReplayAnswer). Every command gets
// the next answer; when the script runs out, or an answer is shorter than
// a status word, the card answers 6A82. A Replay is safe for concurrent
// use.
type Replay struct {
	mu     sync.Mutex
	atr    []byte
	script []byte
}

var _ Card = (*Replay)(nil)

// NewReplay returns a card with answer to reset atr playing script.
func NewReplay(atr, script []byte) *Replay {
	return &Replay{atr: atr, script: script}
}

// ReplayAnswer encodes one answer of a script: a length byte, then b. b
// must be at most 255 bytes.
func ReplayAnswer(b ...byte) []byte { return append([]byte{byte(len(b))}, b...) }

// ATR implements Card.
func (r *Replay) ATR() []byte { return r.atr }

// Reset implements Card; the script goes on.
func (r *Replay) Reset() {}

// Transmit implements Card: the next answer of the script.
func (r *Replay) Transmit([]byte) []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.script) == 0 {
		return []byte{0x6A, 0x82}
	}
	n := min(int(r.script[0]), len(r.script)-1)
	out := append([]byte(nil), r.script[1:1+n]...)
	r.script = r.script[1+n:]
	if len(out) < 2 {
		return []byte{0x6A, 0x82}
	}
	return out
}

package cardsim

import "github.com/cardmod/cardmod/scrm"

// Reply is an application's answer to one complete command: response data
// and a status word.
type Reply struct {
	Data []byte
	SW   uint16
}

// Status words of the transport.
const (
	swOK               = 0x9000
	swBytesRemaining   = 0x6100
	swWrongLength      = 0x6700
	swIncorrectP1P2    = 0x6A86
	swConditionsNotMet = 0x6985
)

// DefaultMaxCommandData bounds the data a command chain may assemble when
// Transport.MaxCommandData is zero.
const DefaultMaxCommandData = 0x10000

// Transport is the ISO/IEC 7816-4 transport of a simulated card, written
// once for every card: it decodes command APDUs (short and extended, cases
// 1 to 4), assembles command chains (CLA bit 10) into one command, and
// splits answers longer than Ne into a first part with 61xx and the rest
// through GET RESPONSE (00 C0 00 00 Le), as real cards do. The card's
// application sees only complete commands.
//
// The zero value is ready to use. A Transport is not safe for concurrent
// use: the card that holds it serialises its Transmit calls.
type Transport struct {
	// MaxCommandData bounds the data of one chain; zero means
	// DefaultMaxCommandData. A longer chain answers 6700.
	MaxCommandData int
	// AnswerWithoutLe makes a command that has no Le field get response
	// data anyway, up to 256 bytes (65536 after an extended APDU), as a
	// YubiKey does over T=1. Without it such a command gets no response
	// data (ISO/IEC 7816-4 cases 1 and 3).
	AnswerWithoutLe bool
	// DropDataOnError sends no response data with a status word other
	// than 9000 or 61xx; otherwise the data goes with any status word
	// (62xx and 63xx warnings carry data on some cards).
	DropDataOnError bool

	chain     *scrm.Command // unfinished chain
	pending   []byte        // answer not yet fetched with GET RESPONSE
	pendingOK bool
}

// Reset forgets an unfinished chain and an answer not fetched yet, as a
// card reset does.
func (t *Transport) Reset() {
	t.chain = nil
	t.pending, t.pendingOK = nil, false
}

// Transmit answers apdu. checkClass returns 0 to accept the class byte
// (with the chaining bit cleared) or the status word to refuse it with;
// dispatch answers a complete command, whose CLA has the chaining bit
// cleared and whose Ne is 0 when the APDU had no Le.
func (t *Transport) Transmit(apdu []byte, checkClass func(cla byte) uint16, dispatch func(cmd scrm.Command) Reply) []byte {
	cmd, err := scrm.ParseCommand(apdu)
	if err != nil {
		t.Reset()
		return encode(nil, swWrongLength)
	}
	if sw := checkClass(cmd.CLA &^ 0x10); sw != 0 {
		t.Reset()
		return encode(nil, sw)
	}
	if cmd.INS == 0xC0 && cmd.CLA&0x10 == 0 {
		return t.getResponse(cmd)
	}
	// Any other command ends an unfinished GET RESPONSE sequence.
	t.pending, t.pendingOK = nil, false

	limit := t.MaxCommandData
	if limit <= 0 {
		limit = DefaultMaxCommandData
	}
	if cmd.CLA&0x10 != 0 {
		if t.chain != nil && !sameCommand(t.chain, &cmd) {
			t.chain = nil // a new chain replaces an abandoned one
		}
		if t.chain == nil {
			t.chain = &scrm.Command{CLA: cmd.CLA &^ 0x10, INS: cmd.INS, P1: cmd.P1, P2: cmd.P2}
		}
		if len(t.chain.Data)+len(cmd.Data) > limit {
			t.chain = nil
			return encode(nil, swWrongLength)
		}
		t.chain.Data = append(t.chain.Data, cmd.Data...)
		return encode(nil, swOK)
	}
	if t.chain != nil {
		if sameCommand(t.chain, &cmd) {
			if len(t.chain.Data)+len(cmd.Data) > limit {
				t.chain = nil
				return encode(nil, swWrongLength)
			}
			cmd.Data = append(t.chain.Data, cmd.Data...)
		}
		// Otherwise the application abandoned the chain; the new command
		// stands on its own (lenient: ISO would allow 6883 here).
		t.chain = nil
	}

	ne := cmd.Ne
	if ne == 0 && t.AnswerWithoutLe {
		ne = scrm.MaxShortNe
		if len(apdu) > 5 && apdu[4] == 0 { // extended APDU
			ne = scrm.MaxNe
		}
	}
	r := dispatch(cmd)
	if r.SW != swOK && r.SW>>8 != swBytesRemaining>>8 {
		if t.DropDataOnError {
			return encode(nil, r.SW)
		}
		return encode(r.Data, r.SW)
	}
	if ne == 0 {
		return encode(nil, r.SW)
	}
	if len(r.Data) <= ne {
		return encode(r.Data, r.SW)
	}
	// Longer than Ne: the first Ne bytes now, the rest through GET RESPONSE.
	t.pending, t.pendingOK = r.Data[ne:], true
	return encode(r.Data[:ne], moreSW(len(t.pending)))
}

func sameCommand(a, b *scrm.Command) bool {
	return a.INS == b.INS && a.P1 == b.P1 && a.P2 == b.P2
}

// getResponse answers GET RESPONSE with the next part of the pending answer.
func (t *Transport) getResponse(cmd scrm.Command) []byte {
	t.chain = nil
	if cmd.P1 != 0 || cmd.P2 != 0 {
		return encode(nil, swIncorrectP1P2)
	}
	if !t.pendingOK {
		return encode(nil, swConditionsNotMet)
	}
	n := cmd.Ne
	if n == 0 {
		n = scrm.MaxShortNe
	}
	n = min(n, len(t.pending))
	chunk := t.pending[:n]
	t.pending = t.pending[n:]
	if len(t.pending) == 0 {
		t.pending, t.pendingOK = nil, false
		return encode(chunk, swOK)
	}
	return encode(chunk, moreSW(len(t.pending)))
}

// moreSW is 61xx announcing n more bytes (00 meaning 256 or more).
func moreSW(n int) uint16 {
	if n >= 256 {
		return swBytesRemaining
	}
	return uint16(swBytesRemaining | n)
}

// encode is data followed by the status word.
func encode(data []byte, sw uint16) []byte {
	out := make([]byte, 0, len(data)+2)
	out = append(out, data...)
	return append(out, byte(sw>>8), byte(sw))
}

package scrm

import "fmt"

// Limits of ISO/IEC 7816-4 length fields.
const (
	// MaxShortNc is the most data a short command carries.
	MaxShortNc = 255
	// MaxShortNe is the most data a short command asks for (Le = 00).
	MaxShortNe = 256
	// MaxExtendedNc is the most data an extended command carries.
	MaxExtendedNc = 65535
	// MaxNe is the most data any command asks for (extended Le = 0000).
	// Do fetches answers longer than what one response carries with GET
	// RESPONSE whatever Ne says, up to ConnectOptions.MaxResponse.
	MaxNe = 65536
)

// Command is one ISO/IEC 7816-4 command. Card.Do encodes it as a short or
// extended APDU, splitting long data with command chaining, so a Command
// states what is meant, not how it travels.
type Command struct {
	// CLA, INS, P1 and P2 are the header. Do sets the chaining bit (0x10)
	// of CLA itself where needed.
	CLA, INS, P1, P2 byte
	// Data is the command data (Nc = len(Data)); nil for none.
	Data []byte
	// Ne is the number of response bytes expected: 0 for none, up to MaxNe.
	// Where the exact length is not known, use MaxShortNe or MaxNe.
	Ne int
}

// Response is a card's final answer to a Command: the data, reassembled
// across 61xx GET RESPONSE rounds, and the last status word.
type Response struct {
	Data []byte
	SW   uint16
}

// encode appends the APDU for c to dst. extended selects the extended length
// form when c needs it; otherwise data must fit a short command and Ne is
// capped at 256 (the rest comes by GET RESPONSE). t0 drops Le from case 4
// commands, which T=0 cannot carry.
func (c *Command) encode(dst []byte, extended, t0 bool) ([]byte, error) {
	nc, ne := len(c.Data), c.Ne
	if ne < 0 || ne > MaxNe {
		return nil, fmt.Errorf("%w: Ne %d out of range", ErrInvalidCommand, ne)
	}
	if nc > MaxExtendedNc || (!extended && nc > MaxShortNc) {
		return nil, fmt.Errorf("%w: %d data bytes do not fit one command", ErrInvalidCommand, nc)
	}
	if t0 && nc > 0 {
		ne = 0
	}
	useExt := extended && (nc > MaxShortNc || ne > MaxShortNe)
	if !useExt && ne > MaxShortNe {
		ne = MaxShortNe
	}
	dst = append(dst, c.CLA, c.INS, c.P1, c.P2)
	switch {
	case !useExt:
		if nc > 0 {
			dst = append(dst, byte(nc))
			dst = append(dst, c.Data...)
		}
		if ne > 0 {
			dst = append(dst, byte(ne)) // 256 encodes as 00
		}
	default:
		dst = append(dst, 0)
		if nc > 0 {
			dst = append(dst, byte(nc>>8), byte(nc))
			dst = append(dst, c.Data...)
		}
		if ne > 0 {
			dst = append(dst, byte(ne>>8), byte(ne)) // 65536 encodes as 0000
		}
	}
	return dst, nil
}

// Header is the first four bytes of a command, as a tracer or a redaction
// rule sees it.
type Header struct {
	CLA, INS, P1, P2 byte
}

// ParseCommand decodes a command APDU in any of the ISO/IEC 7816-4 cases,
// short or extended. It is for simulated cards and tracers; a Card encodes
// commands itself. Trailing or missing bytes give an error wrapping
// ErrInvalidCommand.
func ParseCommand(apdu []byte) (Command, error) {
	var c Command
	if len(apdu) < 4 {
		return c, fmt.Errorf("%w: %d bytes, need at least 4", ErrInvalidCommand, len(apdu))
	}
	c.CLA, c.INS, c.P1, c.P2 = apdu[0], apdu[1], apdu[2], apdu[3]
	body := apdu[4:]
	switch {
	case len(body) == 0: // case 1
		return c, nil
	case len(body) == 1: // case 2 short
		c.Ne = int(body[0])
		if c.Ne == 0 {
			c.Ne = MaxShortNe
		}
		return c, nil
	case body[0] != 0: // case 3 or 4 short
		nc := int(body[0])
		switch len(body) {
		case 1 + nc:
		case 2 + nc:
			c.Ne = int(body[1+nc])
			if c.Ne == 0 {
				c.Ne = MaxShortNe
			}
		default:
			return c, fmt.Errorf("%w: short Lc %d does not match %d body bytes", ErrInvalidCommand, nc, len(body))
		}
		c.Data = body[1 : 1+nc]
		return c, nil
	case len(body) == 3: // case 2 extended
		c.Ne = int(body[1])<<8 | int(body[2])
		if c.Ne == 0 {
			c.Ne = MaxNe
		}
		return c, nil
	default: // case 3 or 4 extended
		if len(body) < 3 {
			return c, fmt.Errorf("%w: truncated extended length", ErrInvalidCommand)
		}
		nc := int(body[1])<<8 | int(body[2])
		if nc == 0 {
			return c, fmt.Errorf("%w: extended Lc of zero", ErrInvalidCommand)
		}
		switch len(body) {
		case 3 + nc:
		case 5 + nc:
			c.Ne = int(body[3+nc])<<8 | int(body[4+nc])
			if c.Ne == 0 {
				c.Ne = MaxNe
			}
		default:
			return c, fmt.Errorf("%w: extended Lc %d does not match %d body bytes", ErrInvalidCommand, nc, len(body))
		}
		c.Data = body[3 : 3+nc]
		return c, nil
	}
}

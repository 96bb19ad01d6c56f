package pcsclite

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/cardmod/cardmod/scrm"
)

// Protocols (SCARD_PROTOCOL_*, pcsclite.h.in).
const (
	ProtocolUndefined uint32 = 0
	ProtocolT0        uint32 = 0x0001
	ProtocolT1        uint32 = 0x0002
	ProtocolRaw       uint32 = 0x0004
	ProtocolAny              = ProtocolT0 | ProtocolT1
)

// Card is one SCARDHANDLE, on the connection of the Context that made it.
// Its calls are serialised with the Context's.
type Card struct {
	c        *Context
	handle   int32
	reader   string
	protocol uint32
}

// Connect connects to the card in reader (SCardConnect). share and proto
// are SCARD_SHARE_* and SCARD_PROTOCOL_* values. A name that does not fit
// pcsc-lite's MAX_READERNAME field (or holds a NUL) gives
// scrm.ErrInvalidValue, as in pcsc-lite.
func (c *Context) Connect(reader string, share, proto uint32) (*Card, error) {
	const op = "connect"
	if len(reader) >= MaxReaderName || strings.IndexByte(reader, 0) >= 0 {
		return nil, fmt.Errorf("pcsclite: %s: reader name of %d bytes: %w", op, len(reader), scrm.ErrInvalidValue)
	}
	if reader == "" {
		return nil, fmt.Errorf("pcsclite: %s: %w", op, scrm.ErrUnknownReader)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.usable(op); err != nil {
		return nil, err
	}
	var body [connectSize]byte
	ne.PutUint32(body[0:], c.handle)
	putReaderName(body[4:], reader)
	p := 4 + MaxReaderName
	ne.PutUint32(body[p:], share)
	ne.PutUint32(body[p+4:], proto)
	reply := c.rbuf[:connectSize]
	if err := c.roundTrip(op, cmdConnect, body[:], nil, reply); err != nil {
		return nil, err
	}
	if err := codeOf(ne.Uint32(reply[p+16:])); err != nil {
		return nil, fmt.Errorf("pcsclite: %s %q: %w", op, reader, err)
	}
	return &Card{
		c:        c,
		handle:   int32(ne.Uint32(reply[p+8:])),
		reader:   reader,
		protocol: ne.Uint32(reply[p+12:]),
	}, nil
}

// ActiveProtocol returns the protocol pcscd reported at Connect or the
// last Reconnect.
func (k *Card) ActiveProtocol() uint32 { return k.protocol }

// Reader returns the reader name given to Connect.
func (k *Card) Reader() string { return k.reader }

// pollSharing calls try until its result is not SCARD_E_SHARING_VIOLATION,
// waiting PCSCLITE_LOCK_POLL_RATE in between, as libpcsclite does for
// SCardBeginTransaction, SCardTransmit, SCardStatus and SCardReconnect
// while another connection holds a transaction. Unlike libpcsclite the
// wait ends when ctx does. c.mu is not held while waiting.
func (k *Card) pollSharing(ctx context.Context, op string, try func() (uint32, error)) error {
	for {
		k.c.mu.Lock()
		err := k.c.usable(op)
		var rv uint32
		if err == nil {
			rv, err = try()
		}
		k.c.mu.Unlock()
		if err != nil {
			return err
		}
		if rv != rvSharingViolation {
			if err := codeOf(rv); err != nil {
				return fmt.Errorf("pcsclite: %s: %w", op, err)
			}
			return nil
		}
		t := time.NewTimer(lockPollRate)
		select {
		case <-ctx.Done():
			t.Stop()
			return cancelled(op, ctx.Err())
		case <-t.C:
		}
	}
}

// Transmit sends cmd with the active protocol's PCI (T=0, T=1 or raw) and
// returns the card's answer (SCardTransmit). The answer is checked against
// the buffer announced to pcscd (MAX_BUFFER_SIZE_EXTENDED).
func (k *Card) Transmit(ctx context.Context, cmd []byte) ([]byte, error) {
	const op = "transmit"
	if len(cmd) > MaxBufferSizeExtended {
		return nil, fmt.Errorf("pcsclite: %s: command of %d bytes: %w", op, len(cmd), scrm.ErrInsufficientBuffer)
	}
	var rsp []byte
	err := k.pollSharing(ctx, op, func() (uint32, error) {
		c := k.c
		var body [transmitSize]byte
		ne.PutUint32(body[0:], uint32(k.handle))
		ne.PutUint32(body[4:], k.protocol)
		ne.PutUint32(body[8:], ioRequestSize)
		ne.PutUint32(body[12:], uint32(len(cmd)))
		ne.PutUint32(body[16:], ProtocolAny)
		ne.PutUint32(body[20:], ioRequestSize)
		ne.PutUint32(body[24:], MaxBufferSizeExtended)
		reply := c.rbuf[:transmitSize]
		if err := c.roundTrip(op, cmdTransmit, body[:], cmd, reply); err != nil {
			return 0, err
		}
		rv := ne.Uint32(reply[28:])
		if rv != rvSuccess {
			return rv, nil
		}
		n := ne.Uint32(reply[24:])
		if n > MaxBufferSizeExtended {
			return 0, c.protocolError(op, fmt.Sprintf("answer of %d bytes announced (buffer %d)", n, MaxBufferSizeExtended))
		}
		rsp = make([]byte, n)
		if err := c.recv(op, rsp); err != nil {
			return 0, err
		}
		return rv, nil
	})
	if err != nil {
		return nil, err
	}
	return rsp, nil
}

// BeginTransaction starts a transaction (SCardBeginTransaction), asking
// again every PCSCLITE_LOCK_POLL_RATE while another connection holds one,
// until ctx ends.
func (k *Card) BeginTransaction(ctx context.Context) error {
	return k.pollSharing(ctx, "begin transaction", func() (uint32, error) {
		var body [beginSize]byte
		ne.PutUint32(body[0:], uint32(k.handle))
		reply := k.c.rbuf[:beginSize]
		if err := k.c.roundTrip("begin transaction", cmdBeginTransaction, body[:], nil, reply); err != nil {
			return 0, err
		}
		return ne.Uint32(reply[4:]), nil
	})
}

// simple sends a hCard + disposition message (SCARD_END_TRANSACTION,
// SCARD_DISCONNECT) and returns its rv.
func (k *Card) simple(op string, cmd, disposition uint32) error {
	c := k.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.usable(op); err != nil {
		return err
	}
	var body [disconnectSize]byte
	ne.PutUint32(body[0:], uint32(k.handle))
	ne.PutUint32(body[4:], disposition)
	reply := c.rbuf[:disconnectSize]
	if err := c.roundTrip(op, cmd, body[:], nil, reply); err != nil {
		return err
	}
	if err := codeOf(ne.Uint32(reply[8:])); err != nil {
		return fmt.Errorf("pcsclite: %s: %w", op, err)
	}
	return nil
}

// EndTransaction ends the transaction, doing disposition (SCARD_LEAVE_CARD
// ... SCARD_EJECT_CARD) to the card.
func (k *Card) EndTransaction(disposition uint32) error {
	return k.simple("end transaction", cmdEndTransaction, disposition)
}

// Disconnect closes the connection to the card, doing disposition.
func (k *Card) Disconnect(disposition uint32) error {
	return k.simple("disconnect", cmdDisconnect, disposition)
}

// Reconnect re-establishes the connection (SCardReconnect), waiting while
// another connection holds a transaction as libpcsclite does, until ctx
// ends.
func (k *Card) Reconnect(ctx context.Context, share, proto, initialization uint32) error {
	const op = "reconnect"
	return k.pollSharing(ctx, op, func() (uint32, error) {
		var body [reconnectSize]byte
		ne.PutUint32(body[0:], uint32(k.handle))
		ne.PutUint32(body[4:], share)
		ne.PutUint32(body[8:], proto)
		ne.PutUint32(body[12:], initialization)
		ne.PutUint32(body[16:], k.protocol)
		reply := k.c.rbuf[:reconnectSize]
		if err := k.c.roundTrip(op, cmdReconnect, body[:], nil, reply); err != nil {
			return 0, err
		}
		rv := ne.Uint32(reply[20:])
		if rv == rvSuccess {
			k.protocol = ne.Uint32(reply[16:])
		}
		return rv, nil
	})
}

// Status is what SCardStatus reports.
type Status struct {
	Reader       string
	State        uint32 // SCARD_* card state bits (no event counter)
	EventCounter uint32 // card insertions and removals seen in the reader
	Protocol     uint32
	ATR          []byte
}

// Status reports the card's state (SCardStatus): pcscd answers only the
// rv of SCARD_STATUS (a reset or removal shows there); reader, state,
// protocol and ATR come from the reader-state array, as in libpcsclite.
func (k *Card) Status(ctx context.Context) (Status, error) {
	const op = "status"
	var st Status
	err := k.pollSharing(ctx, op, func() (uint32, error) {
		c := k.c
		var body [statusSize]byte
		ne.PutUint32(body[0:], uint32(k.handle))
		reply := c.rbuf[:statusSize]
		if err := c.roundTrip(op, cmdStatus, body[:], nil, reply); err != nil {
			return 0, err
		}
		rv := ne.Uint32(reply[4:])
		if rv != rvSuccess && rv != rvInsufficientBuf {
			return rv, nil
		}
		states, err := c.snapshot(op)
		if err != nil {
			return 0, err
		}
		i := findReader(states, k.reader)
		if i < 0 {
			return uint32(scrm.ErrReaderUnavailable), nil
		}
		s := &states[i]
		st = Status{Reader: k.reader, State: s.state, EventCounter: s.eventCounter, Protocol: s.protocol, ATR: s.atr}
		return rvSuccess, nil
	})
	return st, err
}

// Control sends a control code to the reader's driver (SCardControl) and
// returns its answer, at most MAX_BUFFER_SIZE_EXTENDED bytes.
func (k *Card) Control(code uint32, in []byte) ([]byte, error) {
	const op = "control"
	if len(in) > MaxBufferSizeExtended {
		return nil, fmt.Errorf("pcsclite: %s: %d bytes: %w", op, len(in), scrm.ErrInsufficientBuffer)
	}
	c := k.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.usable(op); err != nil {
		return nil, err
	}
	var body [controlSize]byte
	ne.PutUint32(body[0:], uint32(k.handle))
	ne.PutUint32(body[4:], code)
	ne.PutUint32(body[8:], uint32(len(in)))
	ne.PutUint32(body[12:], MaxBufferSizeExtended)
	reply := c.rbuf[:controlSize]
	if err := c.roundTrip(op, cmdControl, body[:], in, reply); err != nil {
		return nil, err
	}
	if err := codeOf(ne.Uint32(reply[20:])); err != nil {
		return nil, fmt.Errorf("pcsclite: %s 0x%08X: %w", op, code, err)
	}
	n := ne.Uint32(reply[16:])
	if n > MaxBufferSizeExtended {
		return nil, c.protocolError(op, fmt.Sprintf("answer of %d bytes announced (buffer %d)", n, MaxBufferSizeExtended))
	}
	out := make([]byte, n)
	if err := c.recv(op, out); err != nil {
		return nil, err
	}
	return out, nil
}

// GetAttrib reads a reader attribute (SCardGetAttrib), at most
// MAX_BUFFER_SIZE bytes.
func (k *Card) GetAttrib(id uint32) ([]byte, error) {
	const op = "get attribute"
	c := k.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.usable(op); err != nil {
		return nil, err
	}
	var body [getsetSize]byte
	ne.PutUint32(body[0:], uint32(k.handle))
	ne.PutUint32(body[4:], id)
	ne.PutUint32(body[8+MaxBufferSize:], MaxBufferSize)
	reply := c.rbuf[:getsetSize]
	if err := c.roundTrip(op, cmdGetAttrib, body[:], nil, reply); err != nil {
		return nil, err
	}
	if err := codeOf(ne.Uint32(reply[12+MaxBufferSize:])); err != nil {
		return nil, fmt.Errorf("pcsclite: %s 0x%08X: %w", op, id, err)
	}
	n := ne.Uint32(reply[8+MaxBufferSize:])
	if n > MaxBufferSize {
		return nil, c.protocolError(op, fmt.Sprintf("attribute of %d bytes (buffer %d)", n, MaxBufferSize))
	}
	out := append([]byte(nil), reply[8:8+n]...)
	clear(reply)
	return out, nil
}

// SetAttrib writes a reader attribute (SCardSetAttrib), at most
// MAX_BUFFER_SIZE bytes.
func (k *Card) SetAttrib(id uint32, v []byte) error {
	const op = "set attribute"
	if len(v) == 0 {
		return fmt.Errorf("pcsclite: %s: empty value: %w", op, scrm.ErrInvalidParameter)
	}
	if len(v) > MaxBufferSize {
		return fmt.Errorf("pcsclite: %s: %d bytes: %w", op, len(v), scrm.ErrInsufficientBuffer)
	}
	c := k.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.usable(op); err != nil {
		return err
	}
	var body [getsetSize]byte
	ne.PutUint32(body[0:], uint32(k.handle))
	ne.PutUint32(body[4:], id)
	copy(body[8:], v)
	ne.PutUint32(body[8+MaxBufferSize:], uint32(len(v)))
	reply := c.rbuf[:getsetSize]
	err := c.roundTrip(op, cmdSetAttrib, body[:], nil, reply)
	clear(body[:])
	if err != nil {
		return err
	}
	if err := codeOf(ne.Uint32(reply[12+MaxBufferSize:])); err != nil {
		return fmt.Errorf("pcsclite: %s 0x%08X: %w", op, id, err)
	}
	return nil
}

package fakepcscd

import (
	"encoding/binary"
	"errors"
	"io"
	"slices"

	"github.com/cardmod/cardmod/scrm/pcsc/internal/pcsclite"
)

// Result codes.
const (
	rvOK               uint32 = 0
	rvCancelled        uint32 = 0x80100002
	rvInvalidHandle    uint32 = 0x80100003
	rvInsufficient     uint32 = 0x80100008
	rvUnknownReader    uint32 = 0x80100009
	rvSharingViolation uint32 = 0x8010000B
	rvNoSmartcard      uint32 = 0x8010000C
	rvInvalidValue     uint32 = 0x80100011
	rvNotTransacted    uint32 = 0x80100016
	rvServiceStopped   uint32 = 0x8010001E
	rvUnsupported      uint32 = 0x8010001F // pcsc-lite's SCARD_E_UNSUPPORTED_FEATURE
	rvRemovedCard      uint32 = 0x80100069
)

// Control codes and answers of the fake reader driver.
const (
	// IoctlFeatures is CM_IOCTL_GET_FEATURE_REQUEST (SCARD_CTL_CODE(3400)).
	IoctlFeatures uint32 = 0x42000000 + 3400
	// IoctlTLV is the code the fake driver gives FEATURE_GET_TLV_PROPERTIES.
	IoctlTLV uint32 = 0x42330012
	// MaxAPDU is the fake reader's dwMaxAPDUDataSize.
	MaxAPDU uint32 = 65536
)

var errWrongLength = errors.New("wrong length")

func (s *Server) handle(c *conn, cmd uint32, body []byte) error {
	need := map[uint32]int{
		0x11: 12, 0x01: 12, 0x02: 8, 0x04: 152, 0x05: 24, 0x06: 12, 0x07: 8, 0x08: 12,
		0x09: 32, 0x0A: 24, 0x0B: 8, 0x0D: 8, 0x0F: 280, 0x10: 280,
	}
	if n, ok := need[cmd]; ok && len(body) != n {
		return errWrongLength // READ_BODY: goto wrong_length, connection closed
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	v := c.version
	switch cmd {
	case 0x11: // CMD_VERSION
		offer := pcsclite.Version{Major: int32(ne.Uint32(body[0:])), Minor: int32(ne.Uint32(body[4:]))}
		s.offers = append(s.offers, offer)
		own := s.cfg.Version
		rv := rvOK
		switch s.cfg.Policy {
		case Strict:
			if offer != own {
				rv = rvServiceStopped
			}
		case Tolerant:
			if offer.Major != own.Major || offer.Minor < 4 {
				rv = rvServiceStopped
			}
		case UpTo:
			if offer.Major != own.Major || offer.Minor < 4 || offer.Minor > own.Minor {
				rv = rvServiceStopped
			}
		}
		if rv == rvOK {
			c.version = offer
			if own.Minor < offer.Minor {
				c.version = own
			}
		}
		ne.PutUint32(body[0:], uint32(own.Major))
		ne.PutUint32(body[4:], uint32(own.Minor))
		ne.PutUint32(body[8:], rv)
	case 0x01: // SCARD_ESTABLISH_CONTEXT
		s.nextHandle++
		c.handle = s.nextHandle
		s.contexts[c.handle] = c
		ne.PutUint32(body[4:], c.handle)
		ne.PutUint32(body[8:], rvOK)
	case 0x02: // SCARD_RELEASE_CONTEXT
		rv := rvInvalidHandle
		if ne.Uint32(body[0:]) == c.handle && c.handle != 0 {
			for h, r := range c.cards {
				s.dropCardLocked(r, h)
				delete(c.cards, h)
			}
			delete(s.contexts, c.handle)
			c.handle = 0
			rv = rvOK
		}
		ne.PutUint32(body[4:], rv)
	case 0x12: // CMD_GET_READERS_STATE
		c.writeLocked(s.statesLocked(v, false))
		return nil
	case 0x16, 0x17: // CMD_GET_READERS_STATE_SIZE, _ARRAY (4.6)
		if v.Minor < 6 {
			return errors.New("unknown command")
		}
		if cmd == 0x16 {
			b := make([]byte, 4)
			ne.PutUint32(b, uint32(len(s.readers)))
			c.writeLocked(b)
			return nil
		}
		c.writeLocked(s.statesLocked(v, false)[4:])
		return nil
	case 0x13: // CMD_WAIT_READER_STATE_CHANGE
		s.waiting[c] = struct{}{}
		c.writeLocked(s.statesLocked(v, true))
		return nil
	case 0x14: // CMD_STOP_WAITING_READER_STATE_CHANGE
		if _, ok := s.waiting[c]; ok {
			delete(s.waiting, c)
			c.writeLocked(waitMsg(rvOK))
		}
		return nil
	case 0x15: // CMD_GET_READER_EVENTS (4.5)
		if v.Minor < 5 {
			return errors.New("unknown command")
		}
		b := make([]byte, 8)
		ne.PutUint32(b[0:], s.readerEvents)
		c.writeLocked(b)
		return nil
	case 0x0D: // SCARD_CANCEL (any connection)
		rv := rvInvalidHandle
		if target := s.contexts[ne.Uint32(body[0:])]; target != nil {
			rv = rvOK
			if _, ok := s.waiting[target]; ok {
				delete(s.waiting, target)
				target.write(waitMsg(rvCancelled))
			}
		}
		ne.PutUint32(body[4:], rv)
	case 0x04: // SCARD_CONNECT
		s.connectLocked(c, body)
	case 0x06, 0x08: // SCARD_DISCONNECT, SCARD_END_TRANSACTION
		h := int32(ne.Uint32(body[0:]))
		r := c.cards[h]
		rv := rvInvalidHandle
		if r != nil {
			rv = rvOK
			if cmd == 0x08 {
				if r.lock != h {
					rv = rvNotTransacted
				} else {
					r.lock = 0
				}
			} else {
				s.dropCardLocked(r, h)
				delete(c.cards, h)
			}
		}
		ne.PutUint32(body[8:], rv)
	case 0x07: // SCARD_BEGIN_TRANSACTION
		h := int32(ne.Uint32(body[0:]))
		rv := rvInvalidHandle
		if r := c.cards[h]; r != nil {
			switch {
			case r.atr == nil:
				rv = rvRemovedCard
			case r.lock != 0 && r.lock != h:
				rv = rvSharingViolation
			default:
				r.lock, rv = h, rvOK
			}
		}
		ne.PutUint32(body[4:], rv)
	case 0x05: // SCARD_RECONNECT
		h := int32(ne.Uint32(body[0:]))
		rv := rvInvalidHandle
		if r := c.cards[h]; r != nil {
			rv = s.usableLocked(r, h)
			ne.PutUint32(body[16:], 2)
		}
		ne.PutUint32(body[20:], rv)
	case 0x0B: // SCARD_STATUS
		h := int32(ne.Uint32(body[0:]))
		rv := rvInvalidHandle
		if r := c.cards[h]; r != nil {
			rv = s.usableLocked(r, h)
		}
		ne.PutUint32(body[4:], rv)
	case 0x09: // SCARD_TRANSMIT
		return s.transmitLocked(c, body)
	case 0x0A: // SCARD_CONTROL
		return s.controlLocked(c, body)
	case 0x0F, 0x10: // SCARD_GET_ATTRIB, SCARD_SET_ATTRIB
		h := int32(ne.Uint32(body[0:]))
		r := c.cards[h]
		rv := rvInvalidHandle
		if r != nil {
			rv = rvUnsupported
			if cmd == 0x0F && ne.Uint32(body[4:]) == 0x00090303 && r.atr != nil { // SCARD_ATTR_ATR_STRING
				clear(body[8 : 8+264])
				copy(body[8:], r.atr)
				ne.PutUint32(body[272:], uint32(len(r.atr)))
				rv = rvOK
			}
		}
		ne.PutUint32(body[276:], rv)
	default:
		return errors.New("unknown command") // pcscd closes the connection
	}
	c.writeLocked(body)
	return nil
}

func (c *conn) writeLocked(b []byte) { c.write(b) }

// statesLocked encodes the reader-state array for a client of version v:
// the fixed 16 entries before 4.6; from 4.6 a count and the entries (the
// count is dropped for CMD_GET_READERS_STATE_ARRAY).
func (s *Server) statesLocked(v pcsclite.Version, _ bool) []byte {
	n := 16
	if v.Minor >= 6 {
		n = len(s.readers)
	}
	b := make([]byte, 4+n*184)
	ne.PutUint32(b, uint32(n))
	for i, r := range s.readers {
		if i >= n {
			break
		}
		e := b[4+i*184:]
		copy(e[:127], r.name)
		ne.PutUint32(e[128:], r.counter)
		st := uint32(0x0002) // SCARD_ABSENT
		if r.atr != nil {
			st = 0x0004 | 0x0010 | 0x0020 // PRESENT | POWERED | NEGOTIABLE
			if r.sharing != 0 {
				st = 0x0004 | 0x0010 | 0x0040 // SPECIFIC
			}
		}
		ne.PutUint32(e[132:], st)
		ne.PutUint32(e[136:], uint32(r.sharing))
		copy(e[140:173], r.atr)
		ne.PutUint32(e[176:], uint32(len(r.atr)))
		if r.atr != nil {
			ne.PutUint32(e[180:], 2) // T=1
		}
	}
	if v.Minor >= 6 {
		return b
	}
	return b[4:]
}

func (s *Server) connectLocked(c *conn, body []byte) {
	end := slices.Index(body[4:132], 0)
	if end < 0 {
		end = 127
	}
	name := string(body[4 : 4+end])
	share := ne.Uint32(body[132:])
	r := s.find(name)
	rv := rvOK
	switch {
	case c.handle == 0 || ne.Uint32(body[0:]) != c.handle:
		rv = rvInvalidHandle
	case r == nil:
		rv = rvUnknownReader
	case share != 3 && r.atr == nil:
		rv = rvNoSmartcard
	case share < 1 || share > 3:
		rv = rvInvalidValue
	case r.sharing == -1 || share == 1 && r.sharing > 0:
		rv = rvSharingViolation
	}
	ne.PutUint32(body[148:], rv)
	if rv != rvOK {
		return
	}
	s.nextHandle++
	h := int32(s.nextHandle)
	r.cards[h] = true
	c.cards[h] = r
	if share == 1 {
		r.sharing = -1
	} else if share == 2 {
		r.sharing++
	}
	proto := uint32(2)
	if share == 3 {
		proto = 0
	}
	ne.PutUint32(body[140:], uint32(h))
	ne.PutUint32(body[144:], proto)
}

func (s *Server) dropCardLocked(r *reader, h int32) {
	if !r.cards[h] {
		return
	}
	delete(r.cards, h)
	if r.lock == h {
		r.lock = 0
	}
	if r.sharing == -1 {
		r.sharing = 0
	} else if r.sharing > 0 {
		r.sharing--
	}
}

// usableLocked is what pcscd checks before exchanging with a card: present
// and not locked by another connection's transaction.
func (s *Server) usableLocked(r *reader, h int32) uint32 {
	switch {
	case r.atr == nil:
		return rvRemovedCard
	case r.lock != 0 && r.lock != h:
		return rvSharingViolation
	}
	return rvOK
}

func (s *Server) transmitLocked(c *conn, body []byte) error {
	n := ne.Uint32(body[12:])
	if n > pcsclite.MaxBufferSizeExtended {
		return errors.New("buffer overflow")
	}
	data := make([]byte, n)
	s.mu.Unlock()
	_, err := io.ReadFull(c.c, data)
	s.mu.Lock()
	if err != nil {
		return err
	}
	h := int32(ne.Uint32(body[0:]))
	rv := rvInvalidHandle
	var rsp []byte
	if r := c.cards[h]; r != nil {
		rv = s.usableLocked(r, h)
		rsp = append(data, 0x90, 0x00)
		if uint32(len(rsp)) > ne.Uint32(body[24:]) {
			rv = rvInsufficient
		}
	}
	ne.PutUint32(body[24:], uint32(len(rsp)))
	ne.PutUint32(body[28:], rv)
	if rv == rvOK {
		c.writeLocked(append(body, rsp...))
		return nil
	}
	c.writeLocked(body)
	return nil
}

func (s *Server) controlLocked(c *conn, body []byte) error {
	n := ne.Uint32(body[8:])
	if n > pcsclite.MaxBufferSizeExtended {
		return errors.New("buffer overflow")
	}
	s.mu.Unlock()
	_, err := io.CopyN(io.Discard, c.c, int64(n))
	s.mu.Lock()
	if err != nil {
		return err
	}
	h := int32(ne.Uint32(body[0:]))
	rv := rvInvalidHandle
	var out []byte
	if c.cards[h] != nil {
		rv = rvOK
		switch ne.Uint32(body[4:]) {
		case IoctlFeatures:
			// FEATURE_VERIFY_PIN_DIRECT and FEATURE_GET_TLV_PROPERTIES.
			out = []byte{0x06, 4, 0x42, 0x33, 0x00, 0x06, 0x12, 4, 0x42, 0x33, 0x00, 0x12}
		case IoctlTLV:
			// PC/SC part 10 TLV values are little-endian whatever the host.
			out = []byte{10, 4, 0, 0, 0, 0, 7, 1, 4}
			binary.LittleEndian.PutUint32(out[2:], MaxAPDU)
		default:
			rv = rvUnsupported
		}
	}
	ne.PutUint32(body[16:], uint32(len(out)))
	ne.PutUint32(body[20:], rv)
	if rv == rvOK {
		c.writeLocked(append(body, out...))
		return nil
	}
	c.writeLocked(body)
	return nil
}

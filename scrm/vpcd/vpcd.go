// Package vpcd serves a simulated card (any [Card]) to a real PC/SC
// resource manager through the vsmartcard "vpcd" reader driver, so that
// pcscd and every PC/SC application on the machine (OpenSC,
// yubico-piv-tool, scrm/pcsc, ...) see it as a card in a reader.
//
// The vpcd driver is loaded by pcscd and listens on TCP; the card side (this
// package) connects to it. With Debian's vsmartcard-vpcd package the readers
// are "Virtual PCD 00 00" on port 35963 and "Virtual PCD 00 01" on port
// 35964 (see [ReaderName]). Connecting is inserting the card; closing the
// connection is removing it.
//
// # Wire protocol
//
// Every message in either direction is a 2-byte big-endian length followed
// by that many bytes. A 1-byte message from vpcd is a control byte: 0 powers
// the card off, 1 powers it on, 2 resets it (none of these is answered; power
// on and reset call Card.Reset), 4 asks for the ATR (answered with the ATR).
// A longer message is a command APDU, answered with the bytes Card.Transmit
// returns. Anything else is a protocol error: the connection is dropped.
//
// # Inserting and removing
//
// [Serve] (or [Start]) connects to vpcd and answers it until its context is
// done (or [Server.Remove] is called), reconnecting with exponential backoff
// when the connection drops or pcscd restarts. Removing a card and
// presenting the next one in the same reader must be separated by pcscd
// noticing the empty reader: pcscd polls vpcd about every 400 ms, and if a
// new card connects before pcscd has seen the old one go, pcscd never
// reports the removal (connections to the old card survive with a stale ATR
// and their exchanges fail). Wait for SCARD_STATE_EMPTY with
// SCardGetStatusChange (for example through scrm/pcsc) between the two.
//
// # Concurrency
//
// A Server calls its Card from one goroutine at a time (the one serving the
// connection). Serve blocks; Start runs the same loop in a goroutine that
// Remove stops and waits for. The methods of a Server are safe for
// concurrent use. Nothing in this package logs; session errors go to
// Config.OnDisconnect when it is set.
package vpcd

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"time"
)

// Default vpcd settings of Debian's vsmartcard-vpcd package
// (/etc/reader.conf.d/vpcd).
const (
	// DefaultPort is the TCP port of the first vpcd reader slot.
	DefaultPort = 35963
	// DefaultAddr is where Serve connects when Config.Addr is empty.
	DefaultAddr = "127.0.0.1:35963"
	// DefaultFriendlyName is the FRIENDLYNAME of Debian's vpcd reader.
	DefaultFriendlyName = "Virtual PCD"
)

// Control bytes sent by vpcd.
const (
	ctrlPowerOff = 0
	ctrlPowerOn  = 1
	ctrlReset    = 2
	ctrlGetATR   = 4
)

// MaxMessage is the largest message the 2-byte length prefix can carry.
const MaxMessage = 0xFFFF

// maxATR is the longest answer to reset PC/SC accepts (MAX_ATR_SIZE).
const maxATR = 33

// Errors of this package.
var (
	// ErrProtocol: vpcd sent something the protocol does not allow (an
	// empty message, an unknown control byte, a truncated message). The
	// connection is dropped.
	ErrProtocol = errors.New("vpcd: protocol error")
	// ErrCardAnswer: the card returned an answer that cannot be sent (fewer
	// than two bytes or more than MaxMessage), or an ATR that PC/SC cannot
	// carry (empty or longer than 33 bytes).
	ErrCardAnswer = errors.New("vpcd: invalid answer from the card")
)

// ReaderName returns the PC/SC reader name that pcscd gives the vpcd slot
// listening on port, for Debian's default configuration: 35963 is
// "Virtual PCD 00 00" and 35964 is "Virtual PCD 00 01". ok is false for any
// other port; with a reader.conf of your own, the name is
// SlotReaderName(FRIENDLYNAME, slot).
func ReaderName(port int) (name string, ok bool) {
	switch port {
	case DefaultPort:
		return SlotReaderName(DefaultFriendlyName, 0), true
	case DefaultPort + 1:
		return SlotReaderName(DefaultFriendlyName, 1), true
	}
	return "", false
}

// SlotReaderName returns the name pcscd gives slot (0 or 1) of a vpcd
// reader declared in reader.conf with FRIENDLYNAME friendly, when no other
// reader has the same friendly name. A vpcd reader with CHANNELID p has its
// slot 0 on TCP port p and slot 1 on port p+1.
func SlotReaderName(friendly string, slot int) string {
	return fmt.Sprintf("%s 00 %02X", friendly, slot)
}

// Config tunes a Server. The zero value (or a nil *Config) connects to
// DefaultAddr with backoff from 50 ms to 2 s. A Config is not modified.
type Config struct {
	// Addr is vpcd's host:port; empty means DefaultAddr.
	Addr string
	// MinBackoff and MaxBackoff bound the wait between connection
	// attempts, doubled after every failed attempt; zero means 50 ms and
	// 2 s.
	MinBackoff, MaxBackoff time.Duration
	// Dialer connects to vpcd; nil means a net.Dialer with a 5 s timeout.
	Dialer interface {
		DialContext(ctx context.Context, network, addr string) (net.Conn, error)
	}
	// OnDisconnect, when set, is called (from the serving goroutine) each
	// time a connection to vpcd ends, with the reason (io.EOF when vpcd
	// closed it, ErrProtocol or ErrCardAnswer for a broken exchange, nil
	// when the server was stopped), and after each failed connection
	// attempt with the dial error.
	OnDisconnect func(err error)
}

func (c *Config) addr() string {
	if c == nil || c.Addr == "" {
		return DefaultAddr
	}
	return c.Addr
}

func (c *Config) backoff() (lo, hi time.Duration) {
	lo, hi = 50*time.Millisecond, 2*time.Second
	if c != nil && c.MinBackoff > 0 {
		lo = c.MinBackoff
	}
	if c != nil && c.MaxBackoff > 0 {
		hi = c.MaxBackoff
	}
	if hi < lo {
		hi = lo
	}
	return lo, hi
}

func (c *Config) dial(ctx context.Context) (net.Conn, error) {
	if c != nil && c.Dialer != nil {
		return c.Dialer.DialContext(ctx, "tcp", c.addr())
	}
	d := net.Dialer{Timeout: 5 * time.Second}
	return d.DialContext(ctx, "tcp", c.addr())
}

func (c *Config) disconnected(err error) {
	if c != nil && c.OnDisconnect != nil {
		c.OnDisconnect(err)
	}
}

// Serve presents card in the vpcd reader at cfg.Addr until ctx is done,
// reconnecting with backoff whenever the connection drops. It returns nil
// once ctx is done (the card is then removed: the connection is closed), or
// an error straight away when card's ATR cannot be presented or cfg.Addr is
// malformed.
func Serve(ctx context.Context, card Card, cfg *Config) error {
	if err := checkATR(card.ATR()); err != nil {
		return err
	}
	if _, port, err := net.SplitHostPort(cfg.addr()); err != nil {
		return fmt.Errorf("vpcd: address %q: %w", cfg.addr(), err)
	} else if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return fmt.Errorf("vpcd: address %q: bad port", cfg.addr())
	}
	lo, hi := cfg.backoff()
	wait := lo
	for {
		if ctx.Err() != nil {
			return nil
		}
		conn, err := cfg.dial(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			cfg.disconnected(fmt.Errorf("vpcd: connect: %w", err))
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil
			case <-t.C:
			}
			wait = min(2*wait, hi)
			continue
		}
		wait = lo
		err = serveConn(ctx, conn, card)
		if ctx.Err() != nil {
			cfg.disconnected(nil)
			return nil
		}
		cfg.disconnected(err)
	}
}

// serveConn answers vpcd on conn until the connection fails or ctx is done.
// It closes conn.
func serveConn(ctx context.Context, conn net.Conn, card Card) error {
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	defer stop()
	defer conn.Close()
	s := session{card: card, rw: conn, beforeRead: func() { quickAck(conn) }}
	return s.run()
}

// session is the protocol state of one connection, independent of the
// transport so that it can be fuzzed.
type session struct {
	card       Card
	rw         io.ReadWriter
	beforeRead func()
	in         [2 + MaxMessage]byte // largest message vpcd can send
	out        []byte               // reused answer buffer
}

// run answers messages until an error; io.EOF means vpcd closed cleanly
// between two messages.
func (s *session) run() error {
	for {
		if s.beforeRead != nil {
			s.beforeRead()
		}
		msg, err := readMessage(s.rw, s.in[:])
		if err != nil {
			return err
		}
		if err := s.handle(msg); err != nil {
			return err
		}
	}
}

// handle answers one message.
func (s *session) handle(msg []byte) error {
	switch len(msg) {
	case 0:
		return fmt.Errorf("%w: empty message", ErrProtocol)
	case 1:
		switch msg[0] {
		case ctrlPowerOff:
			return nil
		case ctrlPowerOn, ctrlReset:
			s.card.Reset()
			return nil
		case ctrlGetATR:
			atr := s.card.ATR()
			if err := checkATR(atr); err != nil {
				return err
			}
			return s.write(atr)
		default:
			return fmt.Errorf("%w: unknown control byte 0x%02X", ErrProtocol, msg[0])
		}
	}
	// The card gets its own copy: the input buffer is reused.
	resp := s.card.Transmit(append([]byte(nil), msg...))
	if len(resp) < 2 || len(resp) > MaxMessage {
		return fmt.Errorf("%w: %d-byte response", ErrCardAnswer, len(resp))
	}
	return s.write(resp)
}

// write sends one message in a single write, so that the length prefix and
// the data travel in one segment.
func (s *session) write(b []byte) error {
	s.out = binary.BigEndian.AppendUint16(s.out[:0], uint16(len(b)))
	s.out = append(s.out, b...)
	if _, err := s.rw.Write(s.out); err != nil {
		return fmt.Errorf("vpcd: write: %w", err)
	}
	return nil
}

// readMessage reads one length-prefixed message into buf, which must hold at
// least 2+MaxMessage bytes, and returns the message (a sub-slice of buf). It
// returns io.EOF only when r ends cleanly before a message starts; a message
// cut short gives an error wrapping ErrProtocol and io.ErrUnexpectedEOF.
func readMessage(r io.Reader, buf []byte) ([]byte, error) {
	if len(buf) < 2+MaxMessage {
		return nil, fmt.Errorf("vpcd: read buffer of %d bytes is too small", len(buf))
	}
	if _, err := io.ReadFull(r, buf[:2]); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, io.EOF
		}
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("%w: truncated length: %w", ErrProtocol, err)
		}
		return nil, fmt.Errorf("vpcd: read: %w", err)
	}
	n := int(binary.BigEndian.Uint16(buf[:2]))
	if _, err := io.ReadFull(r, buf[2:2+n]); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("%w: message of %d bytes cut short: %w", ErrProtocol, n, io.ErrUnexpectedEOF)
		}
		return nil, fmt.Errorf("vpcd: read: %w", err)
	}
	return buf[2 : 2+n], nil
}

func checkATR(atr []byte) error {
	if len(atr) == 0 || len(atr) > maxATR {
		return fmt.Errorf("%w: ATR of %d bytes (want 1 to %d)", ErrCardAnswer, len(atr), maxATR)
	}
	return nil
}

// Server is a card presented in a vpcd reader in the background: Start
// inserts it, Remove takes it out.
type Server struct {
	cancel context.CancelFunc
	done   chan struct{}
	once   sync.Once
	err    error // set before done is closed
}

// Start presents card in the vpcd reader at cfg.Addr from a new goroutine,
// as Serve does, until Remove is called. It does not wait for pcscd to see
// the card: wait for SCARD_STATE_PRESENT with SCardGetStatusChange.
func Start(card Card, cfg *Config) *Server {
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		s.err = Serve(ctx, card, cfg)
	}()
	return s
}

// Remove closes the connection to vpcd (pcscd sees the card removed at its
// next poll), stops reconnecting and waits for the serving goroutine to end.
// It returns the error that stopped Serve early (a bad ATR or address), or
// nil. Calling it again returns the same result.
func (s *Server) Remove() error {
	s.once.Do(s.cancel)
	<-s.done
	return s.err
}

// Done is closed when the server has stopped, after Remove or because Serve
// failed at once.
func (s *Server) Done() <-chan struct{} { return s.done }

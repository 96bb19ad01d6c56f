// Package fakepcscd is an in-process stand-in for pcsc-lite's pcscd,
// serving the client/server protocol on a UNIX socket for the tests of
// package pcsclite and scrm/pcsc: every version handshake (4.4, 4.5, 4.6)
// with each of pcscd's refusal rules, reader-state snapshots, event waits
// with STOP and SCARD_CANCEL, connections, transactions, transmit, control
// and attributes, hostile answers, and a pcscd that dies and comes back.
//
// It models pcscd's behaviour as winscard_svc.c and eventhandler.c
// describe it (see docs/pcsc-protocol.md); it is not a smart card
// simulator: a card answers every command with the command followed by
// 90 00.
//
// Concurrency: a Server is safe for concurrent use.
package fakepcscd

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/cardmod/cardmod/scrm/pcsc/internal/pcsclite"
)

var ne = binary.NativeEndian

// Policy is how the server treats a CMD_VERSION with another version than
// its own.
type Policy int

const (
	// Strict is pcscd before 2.4.1: any other version is refused with
	// SCARD_E_SERVICE_STOPPED, the answer naming the server's version.
	Strict Policy = iota
	// Tolerant is pcscd 2.4.1: any 4.x from 4.4 is accepted, also newer
	// than the server's; the answer names the server's version.
	Tolerant
	// UpTo is pcscd 2.5: 4.4 up to the server's version is accepted,
	// newer is refused naming the server's version.
	UpTo
)

// Config configures a Server. The zero value speaks 4.4 strictly, as
// Debian 12's pcscd 1.9.9.
type Config struct {
	Version pcsclite.Version // zero: 4.4
	Policy  Policy
}

// Hook replaces the server's answer to one command: Raw is written instead
// (possibly nothing), and Kill makes the server die on receiving it.
type Hook struct {
	Raw  []byte
	Kill bool
}

// Server is a fake pcscd.
type Server struct {
	t    testing.TB
	cfg  Config
	path string

	mu           sync.Mutex
	ln           net.Listener
	conns        map[*conn]struct{}
	readers      []*reader
	readerEvents uint32
	nextHandle   uint32
	waiting      map[*conn]struct{}
	contexts     map[uint32]*conn
	offers       []pcsclite.Version
	hooks        map[uint32]Hook
	acceptWG     sync.WaitGroup // the accept loop
	wg           sync.WaitGroup // the connections being served
}

type reader struct {
	name    string
	atr     []byte // nil: no card
	counter uint32
	sharing int32 // -1 exclusive, 0 none, n shared
	lock    int32 // hCard holding the transaction
	cards   map[int32]bool
}

type conn struct {
	c       net.Conn
	wmu     sync.Mutex
	version pcsclite.Version
	handle  uint32
	cards   map[int32]*reader
}

// Start starts a server on a socket in t's temporary directory; it stops
// when t ends.
func Start(t testing.TB, cfg Config) *Server {
	t.Helper()
	if cfg.Version == (pcsclite.Version{}) {
		cfg.Version = pcsclite.Version44
	}
	s := &Server{
		t: t, cfg: cfg, path: filepath.Join(t.TempDir(), "pcscd.comm"),
		conns: map[*conn]struct{}{}, waiting: map[*conn]struct{}{},
		contexts: map[uint32]*conn{}, hooks: map[uint32]Hook{}, nextHandle: 0x1000,
	}
	s.Restart()
	t.Cleanup(func() {
		s.Kill()
		s.wg.Wait()
	})
	return s
}

// Path returns the socket's path.
func (s *Server) Path() string { return s.path }

// Restart listens again after Kill (pcscd restarted): readers stay, the
// contexts and cards of before are gone.
func (s *Server) Restart() {
	s.t.Helper()
	ln, err := net.Listen("unix", s.path)
	if err != nil {
		s.t.Fatalf("fakepcscd: %v", err)
	}
	s.mu.Lock()
	s.ln = ln
	s.mu.Unlock()
	s.acceptWG.Add(1)
	go s.accept(ln)
}

// Kill closes the socket and every connection, as a pcscd that exits. It
// returns once nothing accepts on the socket any more; a Restart after it
// starts afresh.
//
// The accept loop has ended before any connection is closed: a client that
// sees its connection close (and may Restart the server at once) never
// meets the old loop's WaitGroup still being waited on.
func (s *Server) Kill() {
	s.mu.Lock()
	ln := s.ln
	s.ln = nil
	if ln != nil {
		_ = ln.Close() // first: nothing connects to a dead pcscd
	}
	s.mu.Unlock()
	s.acceptWG.Wait()
	s.mu.Lock()
	for c := range s.conns {
		_ = c.c.Close()
	}
	clear(s.conns)
	for _, r := range s.readers {
		r.sharing, r.lock, r.cards = 0, 0, map[int32]bool{}
	}
	s.contexts = map[uint32]*conn{}
	s.waiting = map[*conn]struct{}{}
	s.mu.Unlock()
}

// SetHook makes the server answer cmd with h instead of normally; the
// zero Hook restores the normal answer.
func (s *Server) SetHook(cmd uint32, h Hook) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if h.Raw == nil && !h.Kill { // Raw: []byte{} answers nothing
		delete(s.hooks, cmd)
		return
	}
	s.hooks[cmd] = h
}

// Offers returns the versions clients offered, in order.
func (s *Server) Offers() []pcsclite.Version {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.offers)
}

// Waiting returns how many connections are registered for events.
func (s *Server) Waiting() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.waiting)
}

// AddReader attaches an empty reader.
func (s *Server) AddReader(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.readers = append(s.readers, &reader{name: name, cards: map[int32]bool{}})
	s.readerEvents++
	s.signalLocked(0)
}

// RemoveReader detaches a reader.
func (s *Server) RemoveReader(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.readers = slices.DeleteFunc(s.readers, func(r *reader) bool { return r.name == name })
	s.readerEvents++
	s.signalLocked(0)
}

// Insert puts a card with atr in reader.
func (s *Server) Insert(name string, atr []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.find(name); r != nil {
		r.atr = slices.Clone(atr)
		r.counter++
		s.signalLocked(0)
	}
}

// Remove takes the card out of reader.
func (s *Server) Remove(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.find(name); r != nil {
		r.atr = nil
		r.counter++
		s.signalLocked(0)
	}
}

func (s *Server) find(name string) *reader {
	for _, r := range s.readers {
		if r.name == name {
			return r
		}
	}
	return nil
}

// signalLocked sends every waiting connection a wait_reader_state_change
// with rv and forgets them (EHSignalEventToClients).
func (s *Server) signalLocked(rv uint32) {
	for c := range s.waiting {
		c.write(waitMsg(rv))
	}
	clear(s.waiting)
}

func waitMsg(rv uint32) []byte {
	b := make([]byte, 8)
	ne.PutUint32(b[4:], rv)
	return b
}

func (c *conn) write(b []byte) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_, _ = c.c.Write(b)
}

func (s *Server) accept(ln net.Listener) {
	defer s.acceptWG.Done()
	for {
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		c := &conn{c: nc, cards: map[int32]*reader{}}
		s.mu.Lock()
		if s.ln != ln { // killed meanwhile
			s.mu.Unlock()
			_ = nc.Close()
			return
		}
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		s.wg.Add(1)
		go s.serve(c)
	}
}

func (s *Server) serve(c *conn) {
	defer s.wg.Done()
	defer func() {
		_ = c.c.Close()
		s.mu.Lock()
		delete(s.conns, c)
		delete(s.waiting, c)
		for h, r := range c.cards {
			if r.cards[h] {
				s.dropCardLocked(r, h)
			}
		}
		if s.contexts[c.handle] == c {
			delete(s.contexts, c.handle)
		}
		s.mu.Unlock()
	}()
	var hdr [8]byte
	for {
		if _, err := io.ReadFull(c.c, hdr[:]); err != nil {
			return
		}
		size, cmd := ne.Uint32(hdr[0:]), ne.Uint32(hdr[4:])
		if size > 1<<12 {
			return // pcscd: "Wrong length"
		}
		body := make([]byte, size)
		if _, err := io.ReadFull(c.c, body); err != nil {
			return
		}
		s.mu.Lock()
		h, hooked := s.hooks[cmd]
		s.mu.Unlock()
		if hooked {
			if h.Kill {
				s.Kill() // before the client sees its connection close
				return
			}
			// Read the command's data as pcscd would, then answer Raw.
			if err := s.skipData(c, cmd, body); err != nil {
				return
			}
			c.write(h.Raw)
			continue
		}
		if err := s.handle(c, cmd, body); err != nil {
			return
		}
	}
}

// skipData reads the data that follows a TRANSMIT or CONTROL body.
func (s *Server) skipData(c *conn, cmd uint32, body []byte) error {
	var n uint32
	switch {
	case cmd == 0x09 && len(body) == 32:
		n = ne.Uint32(body[12:])
	case cmd == 0x0A && len(body) == 24:
		n = ne.Uint32(body[8:])
	}
	if n > pcsclite.MaxBufferSizeExtended {
		return errors.New("too long")
	}
	_, err := io.CopyN(io.Discard, c.c, int64(n))
	return err
}

// Package virtual is an in-process scrm.Backend: virtual readers holding
// simulated cards (anything that implements [Card]), for tests,
// examples and programs that need a card and have none.
//
// It behaves as pcsc-lite does where that matters to callers: shared and
// exclusive connections with sharing violations, transactions that make
// other connections wait, SCARD_W_RESET_CARD for every other connection
// after a reset until it reconnects, SCARD_W_REMOVED_CARD after removal,
// status-change waits with event counters and the PnP pseudo-reader. Faults
// can be injected on the next exchange: fail, delay, reset or remove the
// card, truncate or corrupt the answer, or let the card execute the
// command and lose its answer.
//
// Concurrency: a Backend and its Readers are safe for concurrent use. A
// reader calls its card from one goroutine at a time.
package virtual

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/cardmod/cardmod/scrm"
)

// Backend is a set of virtual readers. The zero value is not usable; call
// NewBackend.
type Backend struct {
	mu       sync.Mutex
	readers  []*Reader     // guarded by mu
	changed  chan struct{} // guarded by mu; closed and replaced on every change
	released bool          // guarded by mu
}

var _ scrm.Backend = (*Backend)(nil)

// NewBackend returns a backend with no readers.
func NewBackend() *Backend {
	return &Backend{changed: make(chan struct{})}
}

// notifyLocked wakes every waiter.
func (b *Backend) notifyLocked() {
	close(b.changed)
	b.changed = make(chan struct{})
}

// AddReader attaches an empty reader. Adding a name that exists returns the
// existing reader.
func (b *Backend) AddReader(name string) *Reader {
	b.mu.Lock()
	defer b.mu.Unlock()
	if r := b.readerLocked(name); r != nil {
		return r
	}
	r := &Reader{b: b, name: name, conns: map[*conn]struct{}{}}
	b.readers = append(b.readers, r)
	b.notifyLocked()
	return r
}

// RemoveReader detaches a reader; its connections see the card removed.
func (b *Backend) RemoveReader(name string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	r := b.readerLocked(name)
	if r == nil {
		return
	}
	r.removeLocked()
	r.detached = true
	b.readers = slices.DeleteFunc(b.readers, func(x *Reader) bool { return x == r })
	b.notifyLocked()
}

// Reader returns the reader named name, or nil.
func (b *Backend) Reader(name string) *Reader {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.readerLocked(name)
}

func (b *Backend) readerLocked(name string) *Reader {
	for _, r := range b.readers {
		if r.name == name {
			return r
		}
	}
	return nil
}

// ListReaders implements scrm.Backend.
func (b *Backend) ListReaders(ctx context.Context) ([]string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.released {
		return nil, scrm.ErrInvalidHandle
	}
	if len(b.readers) == 0 {
		return []string{}, scrm.ErrNoReadersAvailable
	}
	names := make([]string, len(b.readers))
	for i, r := range b.readers {
		names[i] = r.name
	}
	return names, nil
}

// meaningful are the state bits a status-change wait compares.
const meaningful = scrm.StateUnknown | scrm.StateUnavailable | scrm.StateEmpty |
	scrm.StatePresent | scrm.StateExclusive | scrm.StateInUse | scrm.StateMute

// GetStatusChange implements scrm.Backend.
func (b *Backend) GetStatusChange(ctx context.Context, states []scrm.ReaderState) error {
	for {
		b.mu.Lock()
		if b.released {
			b.mu.Unlock()
			return scrm.ErrCancelled
		}
		changed := false
		for i := range states {
			if b.fillLocked(&states[i]) {
				changed = true
			}
		}
		wait := b.changed
		b.mu.Unlock()
		if changed {
			return nil
		}
		select {
		case <-wait:
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("%w: %w", scrm.ErrTimeout, ctx.Err())
			}
			return fmt.Errorf("%w: %w", scrm.ErrCancelled, ctx.Err())
		}
	}
}

// fillLocked sets st's Event and ATR and reports whether they differ from
// what the caller believes.
func (b *Backend) fillLocked(st *scrm.ReaderState) bool {
	if st.Current.Has(scrm.StateIgnore) {
		st.Event = st.Current
		return false
	}
	var actual scrm.StateFlag
	st.ATR = nil
	if st.Reader == scrm.PnPNotification {
		// The pseudo-reader's state is the number of readers in the high
		// word, nothing else (as pcsc-lite's): the wait returns when the
		// count differs from the caller's. StateUnaware is a count of 0,
		// so with no readers the wait blocks until one arrives; treating
		// it as "answer at once" would return 0 again after Update, and
		// a waiting loop would spin.
		actual = scrm.StateFlag(len(b.readers)) << 16
		differs := st.Current>>16 != actual>>16
		if differs {
			actual |= scrm.StateChanged
		}
		st.Event = actual
		return differs
	}
	r := b.readerLocked(st.Reader)
	if r == nil {
		st.Event = scrm.StateUnknown | scrm.StateChanged | scrm.StateIgnore
		return !st.Current.Has(scrm.StateUnknown)
	}
	actual = r.stateLocked()
	if r.card != nil {
		st.ATR = slices.Clone(r.card.ATR())
	}
	differs := st.Current == scrm.StateUnaware ||
		actual&meaningful != st.Current&meaningful ||
		(st.Current>>16 != 0 && st.Current>>16 != actual>>16)
	if differs {
		actual |= scrm.StateChanged
	}
	st.Event = actual
	return differs
}

// Connect implements scrm.Backend.
func (b *Backend) Connect(ctx context.Context, reader string, share scrm.ShareMode, proto scrm.Protocol) (scrm.Conn, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.released {
		return nil, scrm.ErrInvalidHandle
	}
	r := b.readerLocked(reader)
	if r == nil {
		return nil, scrm.ErrUnknownReader
	}
	if proto != scrm.ProtocolAny && proto&scrm.ProtocolT1 == 0 {
		return nil, scrm.ErrProtoMismatch
	}
	if share != scrm.ShareDirect && r.card == nil {
		return nil, scrm.ErrNoSmartcard
	}
	if r.exclusive != nil || (share == scrm.ShareExclusive && len(r.conns) > 0) {
		return nil, scrm.ErrSharingViolation
	}
	c := &conn{r: r, share: share, inserted: r.inserted, resets: r.resets}
	r.conns[c] = struct{}{}
	if share == scrm.ShareExclusive {
		r.exclusive = c
	}
	b.notifyLocked()
	return c, nil
}

// Release implements scrm.Backend: waits return ErrCancelled, and the
// backend can no longer be used.
func (b *Backend) Release() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.released {
		return scrm.ErrInvalidHandle
	}
	b.released = true
	b.notifyLocked()
	return nil
}

// Reader is one virtual reader. Its methods act as a person or a fault
// would: insert and remove cards, reset the card, make the next exchange go
// wrong.
type Reader struct {
	b    *Backend
	name string

	// io serialises calls into the card.
	io sync.Mutex

	// Guarded by b.mu.
	card      Card
	events    uint16 // insertions and removals
	inserted  uint64 // incremented on every insertion: identifies a card presence
	resets    uint64 // incremented on every reset
	detached  bool
	conns     map[*conn]struct{}
	exclusive *conn
	txOwner   *conn
	txDepth   int
	faults    []Fault
}

// Name returns the reader's name.
func (r *Reader) Name() string { return r.name }

// Insert puts card in the reader (removing any card there first) and powers
// it up.
func (r *Reader) Insert(card Card) {
	r.b.mu.Lock()
	defer r.b.mu.Unlock()
	if r.card != nil {
		r.removeLocked()
	}
	r.io.Lock()
	card.Reset()
	r.io.Unlock()
	r.card = card
	r.events++
	r.inserted++
	r.b.notifyLocked()
}

// Remove takes the card out. Its connections fail with
// SCARD_W_REMOVED_CARD from then on.
func (r *Reader) Remove() {
	r.b.mu.Lock()
	defer r.b.mu.Unlock()
	r.removeLocked()
	r.b.notifyLocked()
}

func (r *Reader) removeLocked() {
	if r.card == nil {
		return
	}
	r.card = nil
	r.events++
	r.inserted++
	r.txOwner, r.txDepth = nil, 0
}

// Reset resets the card as another application would: every connection
// gets SCARD_W_RESET_CARD until it reconnects.
func (r *Reader) Reset() {
	r.b.mu.Lock()
	defer r.b.mu.Unlock()
	r.resetLocked(nil)
	r.b.notifyLocked()
}

// resetLocked resets the card; by, if not nil, is the connection that asked
// for it and does not get the warning.
func (r *Reader) resetLocked(by *conn) {
	if r.card == nil {
		return
	}
	r.io.Lock()
	r.card.Reset()
	r.io.Unlock()
	r.resets++
	r.txOwner, r.txDepth = nil, 0
	if by != nil {
		by.resets = r.resets
	}
}

// Card returns the card in the reader, or nil.
func (r *Reader) Card() Card {
	r.b.mu.Lock()
	defer r.b.mu.Unlock()
	return r.card
}

func (r *Reader) stateLocked() scrm.StateFlag {
	s := scrm.StateFlag(r.events) << 16
	if r.card == nil {
		return s | scrm.StateEmpty
	}
	s |= scrm.StatePresent
	if len(r.conns) > 0 {
		s |= scrm.StateInUse
	}
	if r.exclusive != nil {
		s |= scrm.StateExclusive
	}
	return s
}

// Fault is something that goes wrong on the next exchange with the card in
// a reader. The steps apply in field order; the zero Fault does nothing.
type Fault struct {
	// Match, if not nil, makes the fault wait for the first exchange whose
	// command (the APDU as sent) it returns true for; the exchanges
	// before it pass untouched, and the faults queued after it wait too.
	Match func(cmd []byte) bool
	// Delay holds the exchange back (honouring the caller's context).
	Delay time.Duration
	// Remove takes the card out before the exchange: it fails with
	// SCARD_W_REMOVED_CARD.
	Remove bool
	// Reset resets the card before the exchange: it fails with
	// SCARD_W_RESET_CARD.
	Reset bool
	// Err, if not nil, is returned instead of sending the command.
	Err error
	// Lose, if not nil, lets the card execute the command and then loses
	// its answer: the exchange fails with Lose (for example
	// scrm.ErrCommError), as when a reader or daemon fails after the
	// card answered. The card's state has changed; the caller does not
	// know how.
	Lose error
	// Mutate, if not nil, changes the card's answer before it is returned.
	Mutate func(rsp []byte) []byte
}

// InjectFault queues f for the next exchange in the reader (faults queue up:
// the second one applies to the exchange after).
func (r *Reader) InjectFault(f Fault) {
	r.b.mu.Lock()
	defer r.b.mu.Unlock()
	r.faults = append(r.faults, f)
}

// ClearFaults drops the faults not applied yet and returns how many there
// were.
func (r *Reader) ClearFaults() int {
	r.b.mu.Lock()
	defer r.b.mu.Unlock()
	n := len(r.faults)
	r.faults = nil
	return n
}

// PendingFaults returns how many injected faults have not been applied
// yet.
func (r *Reader) PendingFaults() int {
	r.b.mu.Lock()
	defer r.b.mu.Unlock()
	return len(r.faults)
}

// LoseNextAnswer lets the card execute the next command and then fails
// the exchange with err, losing the answer.
func (r *Reader) LoseNextAnswer(err error) { r.InjectFault(Fault{Lose: err}) }

// FailNext makes the next exchange fail with err.
func (r *Reader) FailNext(err error) { r.InjectFault(Fault{Err: err}) }

// DelayNext holds the next exchange back for d.
func (r *Reader) DelayNext(d time.Duration) { r.InjectFault(Fault{Delay: d}) }

// RemoveOnNext takes the card out as the next exchange starts.
func (r *Reader) RemoveOnNext() { r.InjectFault(Fault{Remove: true}) }

// ResetOnNext resets the card as the next exchange starts.
func (r *Reader) ResetOnNext() { r.InjectFault(Fault{Reset: true}) }

// TruncateNext cuts the next answer to its first n bytes.
func (r *Reader) TruncateNext(n int) {
	r.InjectFault(Fault{Mutate: func(rsp []byte) []byte { return rsp[:min(n, len(rsp))] }})
}

// CorruptNext replaces the next answer by f(answer).
func (r *Reader) CorruptNext(f func([]byte) []byte) { r.InjectFault(Fault{Mutate: f}) }

// conn is one connection.
type conn struct {
	r        *Reader
	share    scrm.ShareMode
	inserted uint64 // guarded by r.b.mu: the card presence connected to
	resets   uint64 // guarded by r.b.mu: resets seen
	closed   bool   // guarded by r.b.mu
}

// checkLocked reports what stops the connection from being used.
func (c *conn) checkLocked() error {
	r := c.r
	switch {
	case c.closed:
		return scrm.ErrInvalidHandle
	case r.b.released:
		return scrm.ErrInvalidHandle
	case r.detached:
		return scrm.ErrReaderUnavailable
	case c.share == scrm.ShareDirect:
		return nil
	case r.card == nil || r.inserted != c.inserted:
		return scrm.ErrRemovedCard
	case r.resets != c.resets:
		return scrm.ErrResetCard
	}
	return nil
}

// waitLocked waits, with r.b.mu held on entry and on return, until no other
// connection holds the transaction.
func (c *conn) waitLocked(ctx context.Context) error {
	b := c.r.b
	for {
		if err := c.checkLocked(); err != nil {
			return err
		}
		if c.r.txOwner == nil || c.r.txOwner == c {
			return nil
		}
		wait := b.changed
		b.mu.Unlock()
		select {
		case <-wait:
			b.mu.Lock()
		case <-ctx.Done():
			b.mu.Lock()
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("%w: %w", scrm.ErrTimeout, ctx.Err())
			}
			return fmt.Errorf("%w: %w", scrm.ErrCancelled, ctx.Err())
		}
	}
}

func (c *conn) Transmit(ctx context.Context, cmd []byte) ([]byte, error) {
	r, b := c.r, c.r.b
	b.mu.Lock()
	if err := c.waitLocked(ctx); err != nil {
		b.mu.Unlock()
		return nil, err
	}
	if c.share == scrm.ShareDirect {
		b.mu.Unlock()
		return nil, scrm.ErrNoSmartcard
	}
	var f Fault
	if len(r.faults) > 0 && (r.faults[0].Match == nil || r.faults[0].Match(cmd)) {
		f = r.faults[0]
		r.faults = r.faults[1:]
	}
	b.mu.Unlock()

	if f.Delay > 0 {
		t := time.NewTimer(f.Delay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("%w: %w", scrm.ErrCancelled, ctx.Err())
		}
	}
	b.mu.Lock()
	if f.Remove {
		r.removeLocked()
		b.notifyLocked()
	}
	if f.Reset {
		r.resetLocked(nil)
		b.notifyLocked()
	}
	if err := c.checkLocked(); err != nil {
		b.mu.Unlock()
		return nil, err
	}
	card := r.card
	b.mu.Unlock()
	if f.Err != nil {
		return nil, f.Err
	}

	r.io.Lock()
	in := slices.Clone(cmd)
	rsp := card.Transmit(in)
	clear(in) // the command may hold a PIN or key
	r.io.Unlock()
	rsp = slices.Clone(rsp)
	if f.Lose != nil {
		clear(rsp) // the answer may hold a secret
		return nil, f.Lose
	}
	if f.Mutate != nil {
		rsp = f.Mutate(rsp)
	}
	return rsp, nil
}

func (c *conn) BeginTransaction(ctx context.Context) error {
	b := c.r.b
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := c.waitLocked(ctx); err != nil {
		return err
	}
	c.r.txOwner = c
	c.r.txDepth++
	return nil
}

func (c *conn) EndTransaction(d scrm.Disposition) error {
	b := c.r.b
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := c.checkLocked(); err != nil {
		return err
	}
	if c.r.txOwner != c {
		return scrm.ErrNotTransacted
	}
	c.r.txDepth--
	if c.r.txDepth == 0 {
		c.r.txOwner = nil
	}
	c.disposeLocked(d)
	b.notifyLocked()
	return nil
}

func (c *conn) disposeLocked(d scrm.Disposition) {
	switch d {
	case scrm.ResetCard, scrm.UnpowerCard:
		c.r.resetLocked(c)
	case scrm.EjectCard:
		c.r.removeLocked()
	}
}

func (c *conn) Reconnect(share scrm.ShareMode, proto scrm.Protocol, init scrm.Disposition) error {
	r, b := c.r, c.r.b
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := c.checkLocked(); err != nil && !errors.Is(err, scrm.ErrResetCard) {
		return err
	}
	if proto != scrm.ProtocolAny && proto&scrm.ProtocolT1 == 0 {
		return scrm.ErrProtoMismatch
	}
	if share == scrm.ShareExclusive && (len(r.conns) > 1 || (r.exclusive != nil && r.exclusive != c)) {
		return scrm.ErrSharingViolation
	}
	if r.txOwner == c {
		r.txOwner, r.txDepth = nil, 0
	}
	c.resets = r.resets
	c.disposeLocked(init)
	c.share = share
	if share == scrm.ShareExclusive {
		r.exclusive = c
	} else if r.exclusive == c {
		r.exclusive = nil
	}
	b.notifyLocked()
	return nil
}

func (c *conn) Status() (scrm.ConnStatus, error) {
	r, b := c.r, c.r.b
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := c.checkLocked(); err != nil {
		return scrm.ConnStatus{}, err
	}
	st := scrm.ConnStatus{Reader: r.name, State: scrm.CardStatePresent | scrm.CardStatePowered | scrm.CardStateSpecific, Protocol: scrm.ProtocolT1}
	if r.card != nil {
		st.ATR = slices.Clone(r.card.ATR())
	} else {
		st.State = scrm.CardStateAbsent
	}
	return st, nil
}

func (c *conn) Disconnect(d scrm.Disposition) error {
	r, b := c.r, c.r.b
	b.mu.Lock()
	defer b.mu.Unlock()
	if c.closed {
		return scrm.ErrInvalidHandle
	}
	err := c.checkLocked()
	c.closed = true
	delete(r.conns, c)
	if r.exclusive == c {
		r.exclusive = nil
	}
	if r.txOwner == c {
		r.txOwner, r.txDepth = nil, 0
	}
	if err == nil {
		c.disposeLocked(d)
	}
	b.notifyLocked()
	return nil
}

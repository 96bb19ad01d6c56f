package pcsc

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/cardmod/cardmod/scrm"
)

var (
	_ scrm.Backend = (*Backend)(nil)
	_ scrm.Conn    = (*Conn)(nil)
)

// client is a PC/SC client library: pcsc-lite's protocol spoken by package
// pcsclite (Linux, the BSDs), or github.com/ebfe/scard (Windows, macOS, and
// Linux with the cardmod_scard build tag).
type client interface {
	establish(ctx context.Context) (clientContext, error)
}

// clientContext is one SCARDCONTEXT. Its calls are made by one goroutine
// at a time.
type clientContext interface {
	listReaders() ([]string, error)
	// getStatusChange blocks until a reader in rs differs from its Current
	// state (Event and ATR filled in), until timeout (< 0: none) passes
	// (ErrTimeout), or until ctx is done (ErrCancelled): it cancels the
	// wait as SCardCancel does and returns only once the wait has ended
	// in the resource manager.
	getStatusChange(ctx context.Context, rs []scrm.ReaderState, timeout time.Duration) error
	connect(reader string, share, proto uint32) (clientCard, error)
	release() error
}

// clientCard is one SCARDHANDLE.
type clientCard interface {
	activeProtocol() uint32
	transmit(ctx context.Context, cmd []byte) ([]byte, error)
	// beginTransaction waits while another connection holds a transaction;
	// it returns ErrCancelled if ctx ends first and it can stop waiting.
	beginTransaction(ctx context.Context) error
	endTransaction(d uint32) error
	reconnect(share, proto, init uint32) error
	status() (scrm.ConnStatus, error)
	control(code uint32, in []byte) ([]byte, error)
	getAttrib(id uint32) ([]byte, error)
	setAttrib(id uint32, v []byte) error
	disconnect(d uint32) error
	// release frees what the card's connection holds beside the handle
	// (the ebfe client's context); called after disconnect.
	release() error
}

// PC/SC values shared by both clients (pcsclite.h.in, winscard.h).
const (
	shareExclusive uint32 = 1
	shareShared    uint32 = 2
	shareDirect    uint32 = 3

	protoUndefined uint32 = 0
	protoT0        uint32 = 1
	protoT1        uint32 = 2
	protoRaw       uint32 = 4 // pcsc-lite's SCARD_PROTOCOL_RAW

	leaveCard   uint32 = 0
	resetCard   uint32 = 1
	unpowerCard uint32 = 2
	ejectCard   uint32 = 3
)

// maxIdleWaitContexts bounds the pool of contexts kept for later
// GetStatusChange calls.
const maxIdleWaitContexts = 4

// Backend is the PC/SC backend. Create it with New; it is safe for
// concurrent use.
type Backend struct {
	cl client

	listMu sync.Mutex    // serialises calls on main
	main   clientContext // guarded by listMu

	mu     sync.Mutex
	closed bool                 // guarded by mu
	idle   []clientContext      // guarded by mu
	waits  map[*waiter]struct{} // guarded by mu
	wg     sync.WaitGroup       // waits in progress
}

// waiter is one GetStatusChange in progress.
type waiter struct {
	abort context.CancelFunc
}

// New establishes a PC/SC context with the platform's client (see the
// package documentation). Without a running resource manager it fails
// with an error wrapping scrm.ErrNoService. ctx bounds the connection to
// the resource manager.
func New(ctx context.Context) (*Backend, error) {
	cl, err := defaultClient()
	if err != nil {
		return nil, err
	}
	return newBackend(ctx, cl)
}

func newBackend(ctx context.Context, cl client) (*Backend, error) {
	if err := ctx.Err(); err != nil {
		return nil, ctxErr("establish context", ctx, err)
	}
	b := &Backend{cl: cl, waits: make(map[*waiter]struct{})}
	c, err := cl.establish(ctx)
	if err != nil {
		return nil, wrap("establish context", err)
	}
	b.main = c
	return b, nil
}

// ListReaders returns the names of the attached readers. With none it
// returns an empty list and an error wrapping scrm.ErrNoReadersAvailable.
// If pcscd was restarted since the backend was created, the context is
// established again once.
func (b *Backend) ListReaders(ctx context.Context) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return []string{}, ctxErr("list readers", ctx, err)
	}
	b.listMu.Lock()
	defer b.listMu.Unlock()
	if b.isClosed() || b.main == nil {
		return []string{}, fmt.Errorf("pcsc: list readers: %w", scrm.ErrClosed)
	}
	names, err := b.main.listReaders()
	if err != nil && staleContext(err) {
		// pcscd restarted (or is down): a new context, once.
		c, err2 := b.cl.establish(ctx)
		if err2 != nil {
			return []string{}, wrap("list readers", err2)
		}
		_ = b.main.release()
		b.main = c
		names, err = b.main.listReaders()
	}
	if err != nil {
		return []string{}, wrap("list readers", err)
	}
	if names == nil {
		names = []string{}
	}
	return names, nil
}

// GetStatusChange waits until the state of one reader in states differs
// from its Current state (see scrm.Backend). It runs on a context of its
// own, so concurrent waits never interfere; cancelling ctx reaches the
// resource manager as SCardCancel does, and the call returns only after
// the wait has ended there.
func (b *Backend) GetStatusChange(ctx context.Context, states []scrm.ReaderState) error {
	const op = "get status change"
	if err := ctx.Err(); err != nil {
		return ctxErr(op, ctx, err)
	}
	if len(states) == 0 {
		return fmt.Errorf("pcsc: %s: no reader states: %w", op, scrm.ErrInvalidParameter)
	}
	wc, w, wctx, err := b.startWait(ctx)
	if err != nil {
		return fmt.Errorf("pcsc: %s: %w", op, err)
	}
	healthy := true
	defer func() { b.endWait(w, wc, healthy) }()

	rs := make([]scrm.ReaderState, len(states))
	for i := range states {
		// The ATR is not passed in: PC/SC ignores it.
		rs[i] = scrm.ReaderState{Reader: states[i].Reader, Current: states[i].Current}
	}
	for {
		timeout := time.Duration(-1) // INFINITE
		if dl, ok := ctx.Deadline(); ok {
			timeout = time.Until(dl)
			if timeout <= 0 {
				return ctxErr(op, ctx, context.DeadlineExceeded)
			}
			// Round up so that PC/SC does not time out before ctx does.
			timeout = (timeout + time.Millisecond - 1).Truncate(time.Millisecond)
		}
		err = wc.getStatusChange(wctx, rs, timeout)
		if err == nil {
			break
		}
		switch {
		case errors.Is(err, scrm.ErrTimeout):
			if ctx.Err() != nil {
				return ctxErr(op, ctx, ctx.Err())
			}
			if dl, ok := ctx.Deadline(); ok && !time.Now().Before(dl) {
				return ctxErr(op, ctx, context.DeadlineExceeded)
			}
			continue // PC/SC's clock ran out a little before ours
		case errors.Is(err, scrm.ErrCancelled):
			if ctx.Err() != nil {
				return ctxErr(op, ctx, ctx.Err())
			}
			return fmt.Errorf("pcsc: %s: backend released: %w", op, scrm.ErrCancelled)
		}
		healthy = !staleContext(err)
		return wrap(op, err)
	}
	for i := range states {
		states[i].Event = rs[i].Event
		// A new slice: the caller may have kept the previous ATR.
		states[i].ATR = nil
		if len(rs[i].ATR) > 0 {
			states[i].ATR = append([]byte(nil), rs[i].ATR...)
		}
	}
	return nil
}

// startWait takes a wait context from the pool (or establishes one) and
// registers the wait so that Release can cancel it. wctx is done when ctx is
// or when the backend is released.
func (b *Backend) startWait(ctx context.Context) (clientContext, *waiter, context.Context, error) {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil, nil, nil, scrm.ErrClosed
	}
	var wc clientContext
	if n := len(b.idle); n > 0 {
		wc = b.idle[n-1]
		b.idle = b.idle[:n-1]
	}
	wctx, abort := context.WithCancel(ctx)
	w := &waiter{abort: abort}
	b.waits[w] = struct{}{}
	b.wg.Add(1)
	b.mu.Unlock()
	if wc == nil {
		c, err := b.cl.establish(ctx)
		if err != nil {
			b.endWait(w, nil, false)
			if ctx.Err() != nil {
				// Cancelled while connecting: report the cancellation.
				return nil, nil, nil, ctxErr("establish context", ctx, ctx.Err())
			}
			return nil, nil, nil, err
		}
		wc = c
	}
	return wc, w, wctx, nil
}

// endWait unregisters w and returns wc to the pool, or releases it when the
// pool is full, the backend is closed or the context may be broken.
func (b *Backend) endWait(w *waiter, wc clientContext, healthy bool) {
	b.mu.Lock()
	delete(b.waits, w)
	w.abort()
	keep := wc != nil && healthy && !b.closed && len(b.idle) < maxIdleWaitContexts
	if keep {
		b.idle = append(b.idle, wc)
	}
	b.mu.Unlock()
	if wc != nil && !keep {
		_ = wc.release()
	}
	b.wg.Done()
}

// Connect connects to the card in reader on a context of its own. share's
// zero value is shared mode; proto's zero value is T=0 or T=1 (for
// ShareDirect, no protocol). ctx is checked before the call; SCardConnect
// does not wait (a card held in exclusive mode gives
// scrm.ErrSharingViolation).
func (b *Backend) Connect(ctx context.Context, reader string, share scrm.ShareMode, proto scrm.Protocol) (scrm.Conn, error) {
	const op = "connect"
	if err := ctx.Err(); err != nil {
		return nil, ctxErr(op, ctx, err)
	}
	mode, err := shareMode(share)
	if err != nil {
		return nil, fmt.Errorf("pcsc: %s: %w", op, err)
	}
	p := protocols(share, proto)
	if b.isClosed() {
		return nil, fmt.Errorf("pcsc: %s: %w", op, scrm.ErrClosed)
	}
	sc, err := b.cl.establish(ctx)
	if err != nil {
		return nil, wrap(op, err)
	}
	card, err := sc.connect(reader, mode, p)
	if err != nil {
		_ = sc.release()
		return nil, fmt.Errorf("pcsc: %s %q: %w", op, reader, asCode(err))
	}
	return &Conn{card: card}, nil
}

// Release cancels the status-change waits in progress, waits for them to
// return (with errors wrapping scrm.ErrCancelled) and releases the
// backend's contexts. Connections already made keep their own context and
// stay usable until Disconnect. Calling Release again returns nil.
func (b *Backend) Release() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	for w := range b.waits {
		w.abort()
	}
	idle := b.idle
	b.idle = nil
	b.mu.Unlock()
	b.wg.Wait()
	for _, c := range idle {
		_ = c.release()
	}
	b.listMu.Lock()
	defer b.listMu.Unlock()
	var err error
	if b.main != nil {
		err = b.main.release()
		b.main = nil
	}
	if err != nil {
		return wrap("release context", err)
	}
	return nil
}

func (b *Backend) isClosed() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.closed
}

// Conn is one connection to a card, with a PC/SC context of its own. It is
// used by one goroutine at a time (scrm.Card serialises access).
type Conn struct {
	card   clientCard
	closed bool
}

func (c *Conn) check(op string) error {
	if c.closed {
		return fmt.Errorf("pcsc: %s: %w", op, scrm.ErrClosed)
	}
	return nil
}

// Transmit sends cmd and returns the card's answer with SW1 SW2, with the
// PCI of the active protocol (T=0, T=1 or raw). ctx is checked before the
// exchange, which cannot be interrupted once started (the pure-Go client
// stops waiting while another connection holds a transaction when ctx
// ends). An empty command, or a connection with no active protocol (a
// direct connection), gives an error, never a panic.
func (c *Conn) Transmit(ctx context.Context, cmd []byte) ([]byte, error) {
	const op = "transmit"
	if err := c.check(op); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, ctxErr(op, ctx, err)
	}
	if len(cmd) == 0 {
		return nil, fmt.Errorf("pcsc: %s: empty command: %w", op, scrm.ErrInvalidParameter)
	}
	switch p := c.card.activeProtocol(); p {
	case protoT0, protoT1, protoRaw:
	default:
		return nil, fmt.Errorf("pcsc: %s: active protocol 0x%X is neither T=0, T=1 nor raw: %w", op, p, scrm.ErrProtoMismatch)
	}
	rsp, err := c.card.transmit(ctx, cmd)
	if err != nil {
		if errors.Is(err, scrm.ErrCancelled) && ctx.Err() != nil {
			return nil, ctxErr(op, ctx, ctx.Err())
		}
		return nil, wrap(op, err)
	}
	return rsp, nil
}

// BeginTransaction starts a transaction, waiting while another connection
// holds one. The pure-Go client stops waiting when ctx ends; with
// ebfe/scard, SCardCancel is sent (WinSCard stops the wait; pcsc-lite's
// library ignores it) and a transaction obtained after ctx has ended is
// ended at once and reported as cancelled.
func (c *Conn) BeginTransaction(ctx context.Context) error {
	const op = "begin transaction"
	if err := c.check(op); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return ctxErr(op, ctx, err)
	}
	err := c.card.beginTransaction(ctx)
	if err != nil {
		if errors.Is(err, scrm.ErrCancelled) && ctx.Err() != nil {
			return ctxErr(op, ctx, ctx.Err())
		}
		return wrap(op, err)
	}
	if ctx.Err() != nil {
		_ = c.card.endTransaction(leaveCard)
		return ctxErr(op, ctx, ctx.Err())
	}
	return nil
}

// EndTransaction ends the transaction, doing d to the card.
func (c *Conn) EndTransaction(d scrm.Disposition) error {
	const op = "end transaction"
	if err := c.check(op); err != nil {
		return err
	}
	sd, err := disposition(d)
	if err != nil {
		return fmt.Errorf("pcsc: %s: %w", op, err)
	}
	if err := c.card.endTransaction(sd); err != nil {
		return wrap(op, err)
	}
	return nil
}

// Reconnect re-establishes the connection (after ErrResetCard, or to change
// the share mode), doing init to the card first.
func (c *Conn) Reconnect(share scrm.ShareMode, proto scrm.Protocol, init scrm.Disposition) error {
	const op = "reconnect"
	if err := c.check(op); err != nil {
		return err
	}
	mode, err := shareMode(share)
	if err != nil {
		return fmt.Errorf("pcsc: %s: %w", op, err)
	}
	sd, err := disposition(init)
	if err != nil {
		return fmt.Errorf("pcsc: %s: %w", op, err)
	}
	if err := c.card.reconnect(mode, protocols(share, proto), sd); err != nil {
		return wrap(op, err)
	}
	return nil
}

// Status reports the reader name, the card state (pcsc-lite bit flags
// without the event counter, also on Windows), the active protocol and the
// ATR.
func (c *Conn) Status() (scrm.ConnStatus, error) {
	const op = "status"
	if err := c.check(op); err != nil {
		return scrm.ConnStatus{}, err
	}
	st, err := c.card.status()
	if err != nil {
		return scrm.ConnStatus{}, wrap(op, err)
	}
	return st, nil
}

// Disconnect closes the connection, doing d to the card, and releases the
// connection's context. A second call returns an error wrapping
// scrm.ErrClosed.
func (c *Conn) Disconnect(d scrm.Disposition) error {
	const op = "disconnect"
	if err := c.check(op); err != nil {
		return err
	}
	sd, err := disposition(d)
	if err != nil {
		return fmt.Errorf("pcsc: %s: %w", op, err)
	}
	c.closed = true
	err = c.card.disconnect(sd)
	rerr := c.card.release()
	if err != nil {
		return wrap(op, err)
	}
	if rerr != nil {
		return wrap("release context", rerr)
	}
	return nil
}

func shareMode(m scrm.ShareMode) (uint32, error) {
	switch m {
	case scrm.ShareShared:
		return shareShared, nil
	case scrm.ShareExclusive:
		return shareExclusive, nil
	case scrm.ShareDirect:
		return shareDirect, nil
	}
	return 0, fmt.Errorf("share mode %v: %w", m, scrm.ErrInvalidValue)
}

func protocols(share scrm.ShareMode, p scrm.Protocol) uint32 {
	if p == scrm.ProtocolAny {
		if share == scrm.ShareDirect {
			return protoUndefined
		}
		return protoT0 | protoT1
	}
	return uint32(p)
}

func disposition(d scrm.Disposition) (uint32, error) {
	switch d {
	case scrm.LeaveCard:
		return leaveCard, nil
	case scrm.ResetCard:
		return resetCard, nil
	case scrm.UnpowerCard:
		return unpowerCard, nil
	case scrm.EjectCard:
		return ejectCard, nil
	}
	return 0, fmt.Errorf("disposition %v: %w", d, scrm.ErrInvalidValue)
}

// Windows reports SCardStatus's state as an enumeration; pcsc-lite as bit
// flags with an event counter in the high 16 bits.
var windowsStates = [...]scrm.CardState{
	scrm.CardStateUnknown,
	scrm.CardStateAbsent,
	scrm.CardStatePresent,
	scrm.CardStateSwallowed,
	scrm.CardStatePowered,
	scrm.CardStateNegotiable,
	scrm.CardStateSpecific,
}

func cardStateFor(goos string, s uint32) scrm.CardState {
	if goos == "windows" {
		if int(s) < len(windowsStates) {
			return windowsStates[s]
		}
		return scrm.CardStateUnknown
	}
	st := scrm.CardState(s & 0x7F)
	if st == 0 {
		return scrm.CardStateUnknown
	}
	return st
}

// asCode converts a bare PC/SC code of the platform to the scrm.Code of
// the same meaning (pcsc-lite's SCARD_E_UNSUPPORTED_FEATURE translated);
// other errors pass through.
func asCode(err error) error {
	var c scrm.Code
	if errors.As(err, &c) && err == error(c) {
		return codeFor(runtime.GOOS, uint32(c))
	}
	return err
}

func codeFor(goos string, v uint32) scrm.Code {
	c := scrm.Code(v)
	if goos != "windows" && c == 0x8010001F {
		// pcsc-lite's SCARD_E_UNSUPPORTED_FEATURE; WinSCard's
		// SCARD_E_UNEXPECTED, which pcsc-lite never returns.
		return scrm.ErrUnsupportedFeature
	}
	return c
}

func wrap(op string, err error) error {
	return fmt.Errorf("pcsc: %s: %w", op, asCode(err))
}

// staleContext reports whether err says the context no longer reaches the
// resource manager (pcscd restarted or died).
func staleContext(err error) bool {
	for _, c := range []scrm.Code{scrm.ErrNoService, scrm.ErrServiceStopped, scrm.ErrInvalidHandle, scrm.ErrCommError} {
		if errors.Is(err, c) {
			return true
		}
	}
	return false
}

// ctxErr reports that ctx ended: ErrTimeout for a deadline, ErrCancelled
// otherwise, wrapping the context's error too.
func ctxErr(op string, ctx context.Context, err error) error {
	if err == nil {
		err = ctx.Err()
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("pcsc: %s: %w (%w)", op, scrm.ErrTimeout, err)
	}
	return fmt.Errorf("pcsc: %s: %w (%w)", op, scrm.ErrCancelled, err)
}

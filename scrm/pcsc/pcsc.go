//go:build cgo || windows

package pcsc

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/ebfe/scard"

	"github.com/cardmod/cardmod/scrm"
)

var (
	_ scrm.Backend = (*Backend)(nil)
	_ scrm.Conn    = (*Conn)(nil)
)

// maxIdleWaitContexts bounds the pool of SCARDCONTEXTs kept for later
// GetStatusChange calls.
const maxIdleWaitContexts = 4

// cancelRetry is how often SCardCancel is repeated until a cancelled wait
// returns (pcsc-lite drops an SCardCancel that arrives before the wait
// blocks).
const cancelRetry = 10 * time.Millisecond

// Backend is the PC/SC backend. Create it with New; it is safe for
// concurrent use.
type Backend struct {
	listMu sync.Mutex     // serialises calls on main
	main   *scard.Context // guarded by listMu

	mu     sync.Mutex
	closed bool                           // guarded by mu
	idle   []*scard.Context               // guarded by mu
	waits  map[*waiter]struct{}           // guarded by mu
	wg     sync.WaitGroup                 // waits in progress
	estab  func() (*scard.Context, error) // EstablishContext, replaceable in tests
}

// waiter is one GetStatusChange in progress.
type waiter struct {
	abort context.CancelFunc
}

// New establishes a PC/SC context. Without a running resource manager it
// fails with an error wrapping scrm.ErrNoService. ctx is checked before the
// call; establishing a context does not block.
func New(ctx context.Context) (*Backend, error) {
	if err := ctx.Err(); err != nil {
		return nil, ctxErr("establish context", ctx, err)
	}
	b := &Backend{waits: make(map[*waiter]struct{}), estab: scard.EstablishContext}
	c, err := b.estab()
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
	names, err := b.main.ListReaders()
	if err != nil && staleContext(err) {
		if c, err2 := b.estab(); err2 == nil {
			_ = b.main.Release()
			b.main = c
			names, err = b.main.ListReaders()
		}
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
// from its Current state (see scrm.Backend). It runs on an SCARDCONTEXT of
// its own, so concurrent waits never interfere; cancelling ctx reaches
// pcscd through SCardCancel, and the call returns only after
// SCardGetStatusChange has.
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

	rs := make([]scard.ReaderState, len(states))
	for i := range states {
		// The ATR is not passed in: pcsc-lite ignores it, and ebfe/scard
		// would panic on one longer than 33 bytes.
		rs[i] = scard.ReaderState{Reader: states[i].Reader, CurrentState: scard.StateFlag(states[i].Current)}
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
		err = waitCancellable(wctx, wc, func() error { return wc.GetStatusChange(rs, timeout) })
		if err == nil {
			break
		}
		var se scard.Error
		isCode := errors.As(err, &se)
		switch {
		case isCode && se == scard.ErrTimeout:
			if ctx.Err() != nil {
				return ctxErr(op, ctx, ctx.Err())
			}
			if dl, ok := ctx.Deadline(); ok && !time.Now().Before(dl) {
				return ctxErr(op, ctx, context.DeadlineExceeded)
			}
			continue // PC/SC's clock ran out a little before ours
		case isCode && se == scard.ErrCancelled:
			if ctx.Err() != nil {
				return ctxErr(op, ctx, ctx.Err())
			}
			return fmt.Errorf("pcsc: %s: backend released: %w", op, scrm.ErrCancelled)
		}
		healthy = false
		return wrap(op, err)
	}
	for i := range states {
		states[i].Event = scrm.StateFlag(rs[i].EventState)
		// A new slice: the caller may have kept the previous ATR.
		states[i].ATR = nil
		if len(rs[i].Atr) > 0 {
			states[i].ATR = append([]byte(nil), rs[i].Atr...)
		}
	}
	return nil
}

// startWait takes a wait context from the pool (or establishes one) and
// registers the wait so that Release can cancel it. wctx is done when ctx is
// or when the backend is released.
func (b *Backend) startWait(ctx context.Context) (*scard.Context, *waiter, context.Context, error) {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil, nil, nil, scrm.ErrClosed
	}
	var wc *scard.Context
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
		c, err := b.estab()
		if err != nil {
			b.endWait(w, nil, false)
			return nil, nil, nil, asCode(err)
		}
		wc = c
	}
	return wc, w, wctx, nil
}

// endWait unregisters w and returns wc to the pool, or releases it when the
// pool is full, the backend is closed or the context may be broken.
func (b *Backend) endWait(w *waiter, wc *scard.Context, healthy bool) {
	b.mu.Lock()
	delete(b.waits, w)
	w.abort()
	keep := wc != nil && healthy && !b.closed && len(b.idle) < maxIdleWaitContexts
	if keep {
		b.idle = append(b.idle, wc)
	}
	b.mu.Unlock()
	if wc != nil && !keep {
		_ = wc.Release()
	}
	b.wg.Done()
}

// waitCancellable runs call (a blocking call on sc) on the calling goroutine
// and, once ctx is done, calls SCardCancel on sc until call returns. It
// returns call's result after the canceller has stopped, so sc is idle when
// it returns.
func waitCancellable(ctx context.Context, sc *scard.Context, call func() error) error {
	returned := make(chan struct{})
	cancellerDone := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		defer close(cancellerDone)
		t := time.NewTicker(cancelRetry)
		defer t.Stop()
		for {
			_ = sc.Cancel()
			select {
			case <-returned:
				return
			case <-t.C:
			}
		}
	})
	err := call()
	close(returned)
	if !stop() {
		// The canceller started: wait until it has let go of sc.
		<-cancellerDone
	}
	return err
}

// Connect connects to the card in reader on an SCARDCONTEXT of its own.
// share's zero value is shared mode; proto's zero value is T=0 or T=1 (for
// ShareDirect, no protocol). ctx is checked before the call; pcsc-lite's
// SCardConnect cannot be interrupted (it waits while another application
// holds the card in exclusive mode).
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
	sc, err := b.estab()
	if err != nil {
		return nil, wrap(op, err)
	}
	card, err := sc.Connect(reader, mode, p)
	if err != nil {
		_ = sc.Release()
		return nil, fmt.Errorf("pcsc: %s %q: %w", op, reader, asCode(err))
	}
	return &Conn{sc: sc, card: card}, nil
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
		_ = c.Release()
	}
	b.listMu.Lock()
	defer b.listMu.Unlock()
	var err error
	if b.main != nil {
		err = b.main.Release()
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

// Conn is one connection to a card, with an SCARDCONTEXT of its own. It is
// used by one goroutine at a time (scrm.Card serialises access).
type Conn struct {
	sc     *scard.Context
	card   *scard.Card
	closed bool
}

func (c *Conn) check(op string) error {
	if c.closed {
		return fmt.Errorf("pcsc: %s: %w", op, scrm.ErrClosed)
	}
	return nil
}

// Transmit sends cmd and returns the card's answer with SW1 SW2. ctx is
// checked before the exchange, which cannot be interrupted once started. An
// empty command, or a connection whose active protocol is neither T=0 nor
// T=1 (a direct connection), gives an error, never a panic.
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
	switch p := c.card.ActiveProtocol(); p {
	case scard.ProtocolT0, scard.ProtocolT1:
	default:
		return nil, fmt.Errorf("pcsc: %s: active protocol 0x%X is neither T=0 nor T=1: %w", op, uint32(p), scrm.ErrProtoMismatch)
	}
	rsp, err := c.card.Transmit(cmd)
	if err != nil {
		return nil, wrap(op, err)
	}
	return rsp, nil
}

// BeginTransaction starts a transaction, waiting while another connection
// holds one. pcsc-lite cannot interrupt that wait: ctx is checked before it
// starts, SCardCancel is sent when ctx ends during it (WinSCard stops the
// wait; pcsc-lite ignores it), and a transaction obtained after ctx has
// ended is ended at once and reported as cancelled.
func (c *Conn) BeginTransaction(ctx context.Context) error {
	const op = "begin transaction"
	if err := c.check(op); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return ctxErr(op, ctx, err)
	}
	stop := context.AfterFunc(ctx, func() { _ = c.sc.Cancel() })
	err := c.card.BeginTransaction()
	stop()
	if err != nil {
		var se scard.Error
		if errors.As(err, &se) && se == scard.ErrCancelled && ctx.Err() != nil {
			return ctxErr(op, ctx, ctx.Err())
		}
		return wrap(op, err)
	}
	if ctx.Err() != nil {
		_ = c.card.EndTransaction(scard.LeaveCard)
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
	if err := c.card.EndTransaction(sd); err != nil {
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
	if err := c.card.Reconnect(mode, protocols(share, proto), sd); err != nil {
		return wrap(op, err)
	}
	return nil
}

// Status reports the reader name, the card state (pcsc-lite bit flags
// without the event counter, also on Windows), the active protocol and the
// ATR.
func (c *Conn) Status() (st scrm.ConnStatus, err error) {
	const op = "status"
	if err := c.check(op); err != nil {
		return st, err
	}
	defer func() {
		// ebfe/scard indexes the reader list it decodes; an empty one from
		// a misbehaving resource manager must not crash the program.
		if r := recover(); r != nil {
			st, err = scrm.ConnStatus{}, fmt.Errorf("pcsc: %s: malformed answer from the resource manager: %w", op, scrm.ErrInternal)
		}
	}()
	s, err := c.card.Status()
	if err != nil {
		return st, wrap(op, err)
	}
	return scrm.ConnStatus{
		Reader:   s.Reader,
		State:    cardState(uint32(s.State)),
		Protocol: scrm.Protocol(s.ActiveProtocol),
		ATR:      append([]byte(nil), s.Atr...),
	}, nil
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
	err = c.card.Disconnect(sd)
	rerr := c.sc.Release()
	if err != nil {
		return wrap(op, err)
	}
	if rerr != nil {
		return wrap("release context", rerr)
	}
	return nil
}

func shareMode(m scrm.ShareMode) (scard.ShareMode, error) {
	switch m {
	case scrm.ShareShared:
		return scard.ShareShared, nil
	case scrm.ShareExclusive:
		return scard.ShareExclusive, nil
	case scrm.ShareDirect:
		return scard.ShareDirect, nil
	}
	return 0, fmt.Errorf("share mode %v: %w", m, scrm.ErrInvalidValue)
}

func protocols(share scrm.ShareMode, p scrm.Protocol) scard.Protocol {
	if p == scrm.ProtocolAny {
		if share == scrm.ShareDirect {
			return scard.ProtocolUndefined
		}
		return scard.ProtocolT0 | scard.ProtocolT1
	}
	return scard.Protocol(p)
}

func disposition(d scrm.Disposition) (scard.Disposition, error) {
	switch d {
	case scrm.LeaveCard:
		return scard.LeaveCard, nil
	case scrm.ResetCard:
		return scard.ResetCard, nil
	case scrm.UnpowerCard:
		return scard.UnpowerCard, nil
	case scrm.EjectCard:
		return scard.EjectCard, nil
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

// cardState normalises an SCardStatus state to pcsc-lite's bit flags.
func cardState(s uint32) scrm.CardState {
	return cardStateFor(runtime.GOOS, s)
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

// asCode converts a scard.Error to the scrm.Code of the same value (with
// pcsc-lite's SCARD_E_UNSUPPORTED_FEATURE translated); other errors pass
// through.
func asCode(err error) error {
	var se scard.Error
	if !errors.As(err, &se) {
		return err
	}
	return codeFor(runtime.GOOS, uint32(se))
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
// resource manager (pcscd restarted).
func staleContext(err error) bool {
	c, ok := asCode(err).(scrm.Code)
	if !ok {
		return false
	}
	switch c {
	case scrm.ErrNoService, scrm.ErrServiceStopped, scrm.ErrInvalidHandle, scrm.ErrCommError:
		return true
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

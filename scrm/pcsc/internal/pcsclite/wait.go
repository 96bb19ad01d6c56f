package pcsclite

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/cardmod/cardmod/scrm"
)

// GetStatusChange is SCardGetStatusChange: it blocks until the state of a
// reader in rs differs from its Current state, then fills in Event and ATR
// of every entry. timeout < 0 waits without limit; at its end the call
// returns an error wrapping scrm.ErrTimeout. When ctx is done the wait is
// cancelled as SCardCancel does (SCARD_CANCEL on a connection of its own,
// repeated until pcscd has signalled the wait) and the call returns an
// error wrapping scrm.ErrCancelled, after pcscd has let go of the wait: the
// context is idle and in step when it returns.
//
// It follows pcsc-lite's client (winscard_clnt.c): it registers for events
// with CMD_WAIT_READER_STATE_CHANGE, which also returns the reader-state
// array, derives each entry's event state from that array, and sleeps on
// the socket until pcscd signals an event, a cancellation, or the timeout
// passes (then CMD_STOP_WAITING_READER_STATE_CHANGE). The event states are
// recomputed from each new array; the PnP notification entry
// (scrm.PnPNotification) changes when the number of readers does, and
// carries pcscd's reader-event count in its high 16 bits from protocol 4.5
// on. A reader name not in the array gives scrm.ErrUnknownReader.
func (c *Context) GetStatusChange(ctx context.Context, rs []scrm.ReaderState, timeout time.Duration) error {
	const op = "get status change"
	if len(rs) > MaxReaders46+1 {
		return fmt.Errorf("pcsclite: %s: %d reader states: %w", op, len(rs), scrm.ErrInvalidParameter)
	}
	ignored := 0
	for i := range rs {
		if rs[i].Current.Has(scrm.StateIgnore) {
			ignored++
		}
	}
	if ignored == len(rs) {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return cancelled(op, err)
	}
	var deadline time.Time
	if timeout >= 0 {
		deadline = time.Now().Add(timeout)
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.usable(op); err != nil {
		return err
	}

	events, haveEvents, err := c.readerEvents(op)
	if err != nil {
		return err
	}
	states, err := c.readerStates(op, cmdWaitReaderState)
	if err != nil {
		return err
	}
	// Registered: exactly one wait_reader_state_change message is owed to
	// us from now on (an event, a cancellation, or the answer to STOP).
	pnp := -1
	for i := range rs {
		if findReader(states, rs[i].Reader) >= 0 {
			continue
		}
		if !isPnP(rs[i].Reader) {
			if err := c.unregister(op); err != nil {
				return err
			}
			return fmt.Errorf("pcsclite: %s %q: %w", op, rs[i].Reader, scrm.ErrUnknownReader)
		}
		pnp = i
	}
	for i := range rs {
		rs[i].Event = 0
		rs[i].ATR = nil
	}
	changed := false
	if pnp >= 0 && haveEvents {
		prev := uint32(rs[pnp].Current) >> 16
		rs[pnp].Event = scrm.StateFlag(events << 16)
		// Only against a non-zero count, as pcsc-lite: a caller that never
		// saw one is not told about every reader change since boot.
		if prev != events&0xFFFF && prev != 0 {
			rs[pnp].Event |= scrm.StateChanged
			changed = true
		}
	}
	readers := countReaders(states)

	for {
		for i := range rs {
			if rs[i].Current.Has(scrm.StateIgnore) {
				continue
			}
			if i == pnp {
				if n := countReaders(states); n != readers {
					readers = n
					if haveEvents {
						// The count comes after the wait is done.
						rs[i].Event = rs[i].Event&0xFFFF | scrm.StateChanged
					} else {
						rs[i].Event |= scrm.StateChanged
					}
					changed = true
				}
				continue
			}
			if evalReader(&rs[i], states) {
				changed = true
			}
		}
		if changed {
			if err := c.unregister(op); err != nil {
				return err
			}
			if pnp >= 0 && haveEvents && rs[pnp].Event.Has(scrm.StateChanged) {
				if n, ok, err := c.readerEvents(op); err != nil {
					return err
				} else if ok {
					rs[pnp].Event = rs[pnp].Event&0xFFFF | scrm.StateFlag(n<<16)
				}
			}
			return nil
		}

		rv, timedOut, err := c.awaitSignal(ctx, op, deadline)
		if err != nil {
			return err
		}
		switch {
		case timedOut:
			// Unregistered now (STOP answered, or the event or cancel
			// that crossed it arrived instead).
			if rv == rvCancelled {
				return cancelled(op, ctx.Err())
			}
			if ctx.Err() != nil {
				return cancelled(op, ctx.Err())
			}
			// An event may have crossed the STOP: look once more.
			if states, err = c.snapshot(op); err != nil {
				return err
			}
			for i := range rs {
				if i != pnp && !rs[i].Current.Has(scrm.StateIgnore) && evalReader(&rs[i], states) {
					changed = true
				}
			}
			if changed {
				return nil
			}
			return fmt.Errorf("pcsclite: %s: %w", op, scrm.ErrTimeout)
		case rv == rvCancelled:
			return cancelled(op, ctx.Err())
		case rv != rvSuccess:
			return fmt.Errorf("pcsclite: %s: %w", op, codeOf(rv))
		}
		// An event: pcscd has dropped us from its list. Look again.
		if err := ctx.Err(); err != nil {
			return cancelled(op, err)
		}
		if states, err = c.readerStates(op, cmdWaitReaderState); err != nil {
			return err
		}
	}
}

func cancelled(op string, cause error) error {
	if cause == nil {
		return fmt.Errorf("pcsclite: %s: %w", op, scrm.ErrCancelled)
	}
	return fmt.Errorf("pcsclite: %s: %w (%w)", op, scrm.ErrCancelled, cause)
}

// unregister sends CMD_STOP_WAITING_READER_STATE_CHANGE and reads the one
// message owed: its answer, or the event or cancellation that crossed it.
func (c *Context) unregister(op string) error {
	if err := c.send(op, cmdStopWaitReaderState, nil, nil); err != nil {
		return err
	}
	var msg [waitSize]byte
	return c.recv(op, msg[:])
}

// awaitSignal waits, registered, for pcscd's wait_reader_state_change
// message. It returns its rv; or timedOut once deadline has passed or ctx
// is done and SCARD_CANCEL could not reach pcscd, after unregistering (rv
// is then that of the message that answered the STOP). While ctx is done a
// canceller sends SCARD_CANCEL every cancelRetry until the message
// arrives; it has stopped when awaitSignal returns.
func (c *Context) awaitSignal(ctx context.Context, op string, deadline time.Time) (rv uint32, timedOut bool, err error) {
	var (
		done       = make(chan struct{})
		cancellerD = make(chan struct{})
		fellBack   bool // the canceller could not cancel and set the deadline
	)
	conn := c.conn
	stop := context.AfterFunc(ctx, func() {
		defer close(cancellerD)
		t := time.NewTicker(cancelRetry)
		defer t.Stop()
		for {
			cctx, cancel := context.WithTimeout(context.Background(), time.Second)
			err := cancelContext(cctx, c.path, c.handle)
			cancel()
			if err != nil {
				// No second connection (pcscd full or gone): interrupt the
				// read and unregister with STOP instead.
				fellBack = true
				_ = conn.SetReadDeadline(time.Unix(1, 0))
				return
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	})
	if !deadline.IsZero() {
		_ = conn.SetReadDeadline(deadline)
	}
	var msg [waitSize]byte
	n, rerr := io.ReadFull(conn, msg[:])
	close(done)
	if !stop() {
		<-cancellerD // the canceller started: let it finish (fellBack is then safe to read)
	}
	var ne2 net.Error
	if rerr != nil && n == 0 && errors.As(rerr, &ne2) && ne2.Timeout() {
		// Deadline or fallback: nothing of the message read yet.
		_ = conn.SetReadDeadline(time.Time{})
		if err := c.send(op, cmdStopWaitReaderState, nil, nil); err != nil {
			return 0, false, err
		}
		if err := c.recv(op, msg[:]); err != nil {
			return 0, false, err
		}
		rv = ne.Uint32(msg[4:])
		if fellBack && rv == rvSuccess {
			rv = rvCancelled
		}
		return rv, true, nil
	}
	// The read ended: no deadline may linger (the canceller's fallback may
	// have set one just after the message arrived).
	_ = conn.SetReadDeadline(time.Time{})
	if rerr != nil && n > 0 {
		var te net.Error
		if errors.As(rerr, &te) && te.Timeout() {
			// The message was arriving as the deadline passed: finish it.
			if _, rerr = io.ReadFull(conn, msg[n:]); rerr == nil {
				return ne.Uint32(msg[4:]), false, nil
			}
		}
	}
	if rerr != nil {
		if errors.Is(rerr, io.EOF) || errors.Is(rerr, io.ErrUnexpectedEOF) {
			rerr = fmt.Errorf("pcscd closed the connection: %w", rerr)
		}
		return 0, false, c.fail(&ConnError{Op: op, Err: rerr})
	}
	return ne.Uint32(msg[4:]), false, nil
}

func isPnP(name string) bool { return strings.EqualFold(name, scrm.PnPNotification) }

func findReader(states []readerState, name string) int {
	if name == "" {
		return -1
	}
	for i := range states {
		if states[i].name == name {
			return i
		}
	}
	return -1
}

func countReaders(states []readerState) int {
	n := 0
	for i := range states {
		if states[i].name != "" {
			n++
		}
	}
	return n
}

// evalReader derives r's event state from pcscd's reader state, the way
// SCardGetStatusChange does, and reports whether it differs from what the
// caller believes (r.Current). It sets r.Event (with StateChanged when it
// differs) and r.ATR.
func evalReader(r *scrm.ReaderState, states []readerState) bool {
	cur := r.Current
	i := findReader(states, r.Reader)
	if i < 0 {
		// The reader went away.
		r.Event = scrm.StateUnknown | scrm.StateUnavailable
		r.ATR = nil
		if !cur.Has(scrm.StateUnknown) {
			r.Event |= scrm.StateChanged
			return true
		}
		return false
	}
	st := &states[i]
	changed := false
	if cur.Has(scrm.StateUnknown) {
		changed = true // back after being away
	}
	if cur&0xFFFF0000 != 0 && uint32(cur>>16) != st.eventCounter&0xFFFF {
		changed = true // a card came or went unseen
	}
	ev := scrm.StateFlag(st.eventCounter << 16)
	r.ATR = nil
	if st.state&cardUnknown != 0 {
		ev = scrm.StateUnavailable
		if !cur.Has(scrm.StateUnavailable) {
			changed = true
		}
	} else if cur.Has(scrm.StateUnavailable) {
		changed = true
	}
	if st.state&cardPresent != 0 && len(st.atr) > 0 {
		r.ATR = append([]byte(nil), st.atr...)
	}
	switch {
	case st.state&cardAbsent != 0:
		ev |= scrm.StateEmpty
		if cur.Has(scrm.StatePresent) {
			changed = true
		}
	case st.state&cardPresent != 0:
		ev |= scrm.StatePresent
		if cur.Has(scrm.StateEmpty) {
			changed = true
		}
		if st.state&cardSwallowed != 0 {
			ev |= scrm.StateMute
			if !cur.Has(scrm.StateMute) {
				changed = true
			}
		} else if cur.Has(scrm.StateMute) {
			changed = true
		}
	}
	switch {
	case st.sharing == sharingExclusive:
		ev |= scrm.StateExclusive
		if cur.Has(scrm.StateInUse) {
			changed = true
		}
	case st.sharing >= sharingLast:
		if st.state&cardPresent != 0 {
			ev |= scrm.StateInUse
			if cur.Has(scrm.StateExclusive) {
				changed = true
			}
		}
	case st.sharing == sharingNone:
		if cur.Has(scrm.StateInUse) || cur.Has(scrm.StateExclusive) {
			changed = true
		}
	}
	if cur == scrm.StateUnaware {
		changed = true
	}
	if changed {
		ev |= scrm.StateChanged
	}
	r.Event = ev
	return changed
}

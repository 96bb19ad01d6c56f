package scrm

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
)

// DefaultMaxResponse is the default bound on the bytes assembled from one
// command's answer across GET RESPONSE rounds.
const DefaultMaxResponse = 256 << 10

// ConnectOptions configure a connection. The zero value (or a nil pointer)
// connects shared, with T=0 or T=1, no tracer and DefaultMaxResponse.
type ConnectOptions struct {
	// Share is the share mode; the zero value is ShareShared.
	Share ShareMode
	// Protocols are the acceptable protocols; zero means T=0 or T=1.
	Protocols Protocol
	// Tracer, if not nil, sees every exchange, redacted (see Redacts).
	Tracer Tracer
	// Sensitive, if not nil, marks further commands whose data (command)
	// or answer (response) must be kept from the tracer, in addition to the
	// rules of Redacts. Card plug-ins, which come after the connection, add
	// theirs with Card.AddRedaction.
	Sensitive RedactionRule
	// MaxResponse bounds the bytes Do assembles from one answer; zero means
	// DefaultMaxResponse. An answer that grows past it fails with
	// ErrMalformedResponse. It bounds the GET RESPONSE rounds too: one per
	// 256 bytes of MaxResponse and a few more (DefaultMaxResponse: 1032);
	// a card that needs more fails with ErrTooManyRounds.
	MaxResponse int
}

// Limits are what a card takes in one command. A Card learns them from the
// ATR's card capabilities where present; a plug-in that knows better sets
// them with SetLimits.
type Limits struct {
	// Extended says the card accepts extended length fields. It is used
	// only over T=1.
	Extended bool
	// MaxCommandData is the most data one command may carry before Do
	// splits it with command chaining. Zero means 255 for short commands,
	// 65535 for extended ones.
	MaxCommandData int
}

// Card is one connection to a card: the place where the ISO/IEC 7816-4
// rules are handled for everything above (length encoding, command
// chaining, 61xx GET RESPONSE, 6Cxx re-send, status words as errors), where
// transactions are taken, and where APDUs are counted and traced.
//
// A Card is safe for concurrent use. Exchanges are serialised by a per-Card
// lock; a Tx holds that lock from Begin to End, so no other goroutine's
// APDU can come between the APDUs of a transaction, and the PC/SC
// transaction keeps other processes out.
type Card struct {
	// Immutable after Connect.
	conn   Conn
	reader string
	opts   ConnectOptions

	// lock is a context-aware mutex: a token in the channel means held.
	lock chan struct{}

	// mu guards the connection facts, which are read without waiting for
	// a transaction to end.
	mu     sync.Mutex
	atr    []byte          // guarded by mu
	proto  Protocol        // guarded by mu
	limits Limits          // guarded by mu
	resets uint64          // guarded by mu
	rules  []RedactionRule // guarded by mu; added by AddRedaction

	// Guarded by lock.
	removed      bool
	closed       bool
	resetPending bool // a reset was recovered from and no Begin reported it yet
	secretAnswer bool // the last command's answer was redacted (for raw GET RESPONSE)
	// The card's state is unknown since the transaction began: a command
	// was sent and its answer lost (lostAnswer), or an exchange is still
	// under way (inflight: set while the backend and the tracer run, so
	// that a panic there leaves it set).
	lostAnswer bool
	inflight   bool

	stats statCounters
}

// Tx is a transaction on a Card: a run of exchanges that no other goroutine
// and no other process can interleave with. It ends with End; until then it
// holds the Card's lock, so always End it (defer tx.End(scrm.LeaveCard)).
// A Tx is used by one goroutine.
//
// A Tx whose card state became unknown ends with a reset whatever
// disposition End is given (see RequireReset): so does one in which a
// command was sent and its answer lost (a transport error, a malformed or
// 0-byte answer, a context done while the backend exchanged), since the
// card may have executed it, and one in which the backend or the tracer
// panicked during an exchange.
type Tx struct {
	card      *Card
	reset     bool
	err       error // set when the transaction was lost (card reset or removed)
	done      bool
	needReset bool // RequireReset was called
}

func (c *Card) acquire(ctx context.Context) error {
	select {
	case c.lock <- struct{}{}:
		return nil
	default:
	}
	select {
	case c.lock <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctxError(ctx)
	}
}

func (c *Card) release() { <-c.lock }

// ctxError converts a finished context into the PC/SC code a blocked call
// would have returned, keeping the context's own error in the chain.
func ctxError(ctx context.Context) error {
	err := ctx.Err()
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w: %w", ErrTimeout, err)
	}
	return fmt.Errorf("%w: %w", ErrCancelled, err)
}

// usableLocked reports why the connection cannot be used, if it cannot.
func (c *Card) usableLocked() error {
	switch {
	case c.closed:
		return ErrClosed
	case c.removed:
		return fmt.Errorf("scrm: %s: %w", c.reader, ErrRemovedCard)
	}
	return nil
}

// Reader returns the name of the reader the card is in.
func (c *Card) Reader() string { return c.reader }

// ATR returns a copy of the card's answer to reset, as of the last
// (re)connection.
func (c *Card) ATR() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.atr)
}

// Protocol returns the active protocol.
func (c *Card) Protocol() Protocol {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.proto
}

// Limits returns what the card is taken to accept in one command.
func (c *Card) Limits() Limits {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.limits
}

// SetLimits sets what the card accepts in one command, overriding what the
// ATR said. Plug-ins call it when they know their card.
func (c *Card) SetLimits(l Limits) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.limits = l
}

// Stats returns the counts of APDUs and bytes exchanged so far.
func (c *Card) Stats() Stats { return c.stats.load() }

// ResetCount returns how many times a reset of the card (by this or another
// connection) has been seen and recovered from. Upper layers compare it to
// learn that the card's security state was lost.
func (c *Card) ResetCount() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.resets
}

// MaxResetRecoveries bounds the resets one Begin recovers from before it
// gets the card: each one is a reset by another connection between this
// one's reconnection and its next attempt to take the transaction. The
// bound only stops a card or reader that resets on every attempt; waiting
// is bounded by the context.
const MaxResetRecoveries = 64

// Begin starts a transaction, waiting for the Card's lock and for other
// processes' transactions, until ctx is done. If the card was reset since
// the last transaction, Begin reconnects and the Tx's WasReset reports it:
// every security state (verified PINs, authenticated keys) is then gone.
// A reset is not a failure: Begin reconnects as often as other connections
// reset the card before it gets it, up to MaxResetRecoveries times.
func (c *Card) Begin(ctx context.Context) (*Tx, error) {
	if err := c.acquire(ctx); err != nil {
		return nil, err
	}
	tx, err := c.beginLocked(ctx)
	if err != nil {
		c.release()
		return nil, err
	}
	return tx, nil
}

func (c *Card) beginLocked(ctx context.Context) (*Tx, error) {
	if err := c.usableLocked(); err != nil {
		return nil, err
	}
	err := c.conn.BeginTransaction(ctx)
	for n := 0; errors.Is(err, ErrResetCard) && n < MaxResetRecoveries; n++ {
		if err = c.recoverResetLocked(); err != nil {
			break
		}
		err = c.conn.BeginTransaction(ctx)
	}
	if err != nil {
		c.noteErrorLocked(err)
		return nil, fmt.Errorf("scrm: %s: begin transaction: %w", c.reader, err)
	}
	tx := &Tx{card: c, reset: c.resetPending}
	c.resetPending = false
	c.lostAnswer, c.inflight = false, false
	return tx, nil
}

// recoverResetLocked reconnects after ErrResetCard.
func (c *Card) recoverResetLocked() error {
	if err := c.conn.Reconnect(c.opts.Share, c.opts.Protocols, LeaveCard); err != nil {
		c.noteErrorLocked(err)
		return fmt.Errorf("scrm: %s: reconnect after reset: %w", c.reader, err)
	}
	c.resetPending = true
	c.lostAnswer = false // the reset dropped whatever the lost command did
	c.refreshStatusLocked(true)
	return nil
}

// noteErrorLocked marks the connection unusable after a removal.
func (c *Card) noteErrorLocked(err error) {
	if errors.Is(err, ErrRemovedCard) || errors.Is(err, ErrNoSmartcard) {
		c.removed = true
	}
}

// refreshStatusLocked re-reads the ATR and protocol after a (re)connection
// and counts a reset if there was one.
func (c *Card) refreshStatusLocked(reset bool) {
	st, err := c.conn.Status()
	c.mu.Lock()
	defer c.mu.Unlock()
	if reset {
		c.resets++
	}
	if err != nil {
		return
	}
	c.atr = slices.Clone(st.ATR)
	c.proto = st.Protocol
}

// WasReset reports whether the card was reset (and reconnected) since the
// previous transaction began: any login made before is gone.
func (tx *Tx) WasReset() bool { return tx.reset }

// Card returns the Card the transaction is on.
func (tx *Tx) Card() *Card { return tx.card }

// RequireReset marks the card's security state as unknown: End resets the
// card whatever disposition it is given, so that no login can outlive the
// transaction. Card plug-ins call it when the outcome of an
// authentication (a PIN verification, a key's mutual authentication, a
// PIN change or unblock) is not a definite status word, and engines when
// a logout fails. The Tx calls it itself when an answer is lost.
func (tx *Tx) RequireReset() { tx.needReset = true }

// CardRemoved reports whether the card was found removed during the
// transaction: every later exchange of the connection fails.
func (tx *Tx) CardRemoved() bool { return tx.card.removed }

// ResetRequired reports whether End will reset the card: RequireReset was
// called, or an exchange of the transaction lost its answer or did not
// finish.
func (tx *Tx) ResetRequired() bool {
	return tx.needReset || tx.card.lostAnswer || tx.card.inflight
}

func (tx *Tx) check() error {
	switch {
	case tx.done:
		return ErrTxDone
	case tx.err != nil:
		return tx.err
	}
	return tx.card.usableLocked()
}

// Do sends cmd within the transaction; see Card.Do.
func (tx *Tx) Do(ctx context.Context, cmd Command) (Response, error) {
	if err := tx.check(); err != nil {
		return Response{}, err
	}
	rsp, err := tx.card.doLocked(ctx, &cmd)
	tx.noteError(err)
	return rsp, err
}

// Transmit sends one raw APDU within the transaction; see Card.Transmit.
func (tx *Tx) Transmit(ctx context.Context, apdu []byte) ([]byte, error) {
	if err := tx.check(); err != nil {
		return nil, err
	}
	rsp, err := tx.card.transmitLocked(ctx, apdu)
	tx.noteError(err)
	return rsp, err
}

// noteError ends the usefulness of a transaction whose card was reset or
// removed under it: later calls fail with the same error.
func (tx *Tx) noteError(err error) {
	if errors.Is(err, ErrResetCard) || errors.Is(err, ErrRemovedCard) || errors.Is(err, ErrNoSmartcard) {
		tx.err = err
	}
}

// End ends the transaction, doing d to the card (LeaveCard keeps it as it
// is; ResetCard drops every security state, for every connection). When
// ResetRequired, LeaveCard becomes ResetCard; if the card cannot be reset
// through the end of the transaction, End resets it by reconnecting. It
// releases the Card's lock even when ending fails. Calling End again
// returns ErrTxDone.
func (tx *Tx) End(d Disposition) error {
	if tx.done {
		return ErrTxDone
	}
	tx.done = true
	c := tx.card
	defer c.release()
	if tx.ResetRequired() && d == LeaveCard {
		d = ResetCard
	}
	c.lostAnswer, c.inflight = false, false
	if c.closed || c.removed {
		return nil
	}
	err := c.conn.EndTransaction(d)
	switch {
	case err == nil:
	case errors.Is(err, ErrResetCard):
		// Reset by another connection at the end: recover now so that the
		// next Begin reports it. The reset dropped every login too.
		return c.recoverResetLocked()
	default:
		c.noteErrorLocked(err)
		if d == ResetCard && !c.removed {
			// The reset must happen: do it by reconnecting.
			if rerr := c.conn.Reconnect(c.opts.Share, c.opts.Protocols, ResetCard); rerr == nil {
				c.resetPending = true
				c.refreshStatusLocked(true)
				return nil
			}
		}
		if tx.err != nil {
			return nil // already reported
		}
		return fmt.Errorf("scrm: %s: end transaction: %w", c.reader, err)
	}
	if d == ResetCard || d == UnpowerCard {
		// Our own reset: the next transaction starts without any login.
		c.resetPending = true
	}
	return nil
}

// Do sends cmd with the ISO/IEC 7816-4 rules applied, in a transaction of
// its own: data longer than the card takes in one command goes by command
// chaining, Ne over 256 uses extended length where the card has it,
// 61xx answers are continued with GET RESPONSE and 6Cxx answers re-sent
// once with the right Le. The Response holds all the data and the final
// status word; for any status word but 9000 the error is a *StatusError
// (and Response still holds what came). A card that keeps the exchange
// going past its bounds (bytes, GET RESPONSE rounds, 6Cxx after the
// re-send) fails it with ErrMalformedResponse or ErrTooManyRounds.
// Command chaining sends at most ceil(len(Data)/MaxCommandData) parts and
// stops at the first part the card does not answer 9000.
func (c *Card) Do(ctx context.Context, cmd Command) (rsp Response, err error) {
	tx, err := c.Begin(ctx)
	if err != nil {
		return Response{}, err
	}
	defer func() {
		// Deferred, so that a panicking tracer releases the card too.
		if endErr := tx.End(LeaveCard); err == nil && endErr != nil {
			err = endErr
		}
	}()
	return tx.Do(ctx, cmd)
}

// Transmit sends one APDU exactly as given and returns the answer with its
// status word, doing nothing about the status (no GET RESPONSE, no error for
// a status word). A transport failure is an error; an answer shorter than a
// status word is ErrMalformedResponse.
func (c *Card) Transmit(ctx context.Context, apdu []byte) ([]byte, error) {
	if err := c.acquire(ctx); err != nil {
		return nil, err
	}
	defer c.release()
	if err := c.usableLocked(); err != nil {
		return nil, err
	}
	return c.transmitLocked(ctx, apdu)
}

func (c *Card) transmitLocked(ctx context.Context, apdu []byte) ([]byte, error) {
	if len(apdu) < 4 {
		return nil, fmt.Errorf("%w: %d bytes, need at least 4", ErrInvalidCommand, len(apdu))
	}
	cmd, err := ParseCommand(apdu)
	if err != nil {
		cmd = Command{CLA: apdu[0], INS: apdu[1], P1: apdu[2], P2: apdu[3]}
	}
	red := c.redactionLocked(&cmd)
	if apdu[1] == insGetResponse && c.secretAnswer {
		red |= redactResponse
	}
	return c.exchangeLocked(ctx, apdu, red)
}

// RedactionRule marks a command whose data (command) or answer (response)
// must be kept from a Card's tracer, beyond the rules of Redacts: a card's
// own key import, or a data object that holds a secret. It sees the whole
// command; chained parts carry the whole command's header and their own
// part of the data.
type RedactionRule func(cmd Command) (command, response bool)

// AddRedaction adds rule to the card's redaction rules. Plug-ins call it
// when they open a card, for their card's secret-bearing commands.
func (c *Card) AddRedaction(rule RedactionRule) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rules = append(c.rules, rule)
}

func (c *Card) redactionLocked(cmd *Command) redaction {
	r := defaultRedaction(Header{cmd.CLA, cmd.INS, cmd.P1, cmd.P2})
	c.mu.Lock()
	rules := c.rules
	c.mu.Unlock()
	if c.opts.Sensitive != nil {
		rules = append([]RedactionRule{c.opts.Sensitive}, rules...)
	}
	for _, rule := range rules {
		cmdSecret, rspSecret := rule(*cmd)
		if cmdSecret {
			r |= redactCommand
		}
		if rspSecret {
			r |= redactResponse
		}
	}
	return r
}

// exchangeLocked is the one place that talks to the backend.
func (c *Card) exchangeLocked(ctx context.Context, apdu []byte, red redaction) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, ctxError(ctx) // not sent: the card's state is known
	}
	c.inflight = true // cleared when the answer (or its loss) is known
	rsp, err := c.conn.Transmit(ctx, apdu)
	c.stats.add(len(apdu), len(rsp))
	c.secretAnswer = red&redactResponse != 0
	if err == nil && len(rsp) < 2 {
		err = fmt.Errorf("%w: %d-byte answer", ErrMalformedResponse, len(rsp))
	}
	if t := c.opts.Tracer; t != nil {
		ev := TraceEvent{Reader: c.reader, Command: apdu, Response: rsp, Err: err}
		if red&redactCommand != 0 {
			ev.Command, ev.RedactedCommand = redactedCommand(apdu), true
		}
		if red&redactResponse != 0 && rsp != nil {
			ev.Response, ev.RedactedResponse = redactedResponse(rsp), true
		}
		if err != nil {
			ev.Response = nil
		}
		t.TraceAPDU(&ev)
	}
	c.inflight = false
	if err == nil {
		return rsp, nil
	}
	if errors.Is(err, ErrResetCard) {
		// The card was reset before the command reached it: every login
		// is gone, so its state is known.
		if rerr := c.recoverResetLocked(); rerr != nil {
			return nil, rerr
		}
		return nil, fmt.Errorf("scrm: %s: %w (security state lost)", c.reader, ErrResetCard)
	}
	c.noteErrorLocked(err)
	if !c.removed {
		// Sent, and the answer lost: the card may have executed it.
		c.lostAnswer = true
	}
	return nil, fmt.Errorf("scrm: %s: transmit: %w", c.reader, err)
}

func sw(rsp []byte) uint16 { return uint16(rsp[len(rsp)-2])<<8 | uint16(rsp[len(rsp)-1]) }

// doLocked applies the ISO rules to one command.
func (c *Card) doLocked(ctx context.Context, cmd *Command) (Response, error) {
	c.mu.Lock()
	limits, proto := c.limits, c.proto
	c.mu.Unlock()
	ext := limits.Extended && proto != ProtocolT0
	t0 := proto == ProtocolT0
	maxNc := limits.MaxCommandData
	if maxNc <= 0 || maxNc > MaxExtendedNc {
		maxNc = MaxShortNc
		if ext {
			maxNc = MaxExtendedNc
		}
	}
	if !ext && maxNc > MaxShortNc {
		maxNc = MaxShortNc
	}
	if cmd.Ne < 0 || cmd.Ne > MaxNe {
		return Response{}, fmt.Errorf("%w: Ne %d out of range", ErrInvalidCommand, cmd.Ne)
	}
	red := c.redactionLocked(cmd)
	maxRsp := c.opts.MaxResponse
	if maxRsp <= 0 {
		maxRsp = DefaultMaxResponse
	}

	// Command chaining: every part but the last has CLA bit 0x10 and must
	// be answered 9000.
	data := cmd.Data
	buf := make([]byte, 0, 4+3+min(len(data), maxNc)+2)
	if red&redactCommand != 0 {
		// The encoded APDUs hold a PIN or key: wipe them when done.
		defer func() { clear(buf[:cap(buf)]) }()
	}
	for len(data) > maxNc {
		part := Command{CLA: cmd.CLA | 0x10, INS: cmd.INS, P1: cmd.P1, P2: cmd.P2, Data: data[:maxNc]}
		apdu, err := part.encode(buf[:0], ext, t0)
		if err != nil {
			return Response{}, err
		}
		rsp, err := c.exchangeLocked(ctx, apdu, red&redactCommand)
		if err != nil {
			return Response{}, err
		}
		if s := sw(rsp); s>>8 == 0x6C {
			// A chained part carries no Le to be wrong.
			return Response{SW: s}, fmt.Errorf("%w: INS %02X: card answered %04X to a chained part", ErrMalformedResponse, cmd.INS, s)
		} else if s != 0x9000 {
			return Response{SW: s}, statusError(cmd.INS, s)
		}
		data = data[maxNc:]
	}
	last := Command{CLA: cmd.CLA, INS: cmd.INS, P1: cmd.P1, P2: cmd.P2, Data: data, Ne: cmd.Ne}
	apdu, err := last.encode(buf[:0], ext, t0)
	if err != nil {
		return Response{}, err
	}
	rsp, err := c.exchangeLocked(ctx, apdu, red)
	if err != nil {
		return Response{}, err
	}
	if rsp[len(rsp)-2] == 0x6C {
		// Wrong Le: send the same command again, once, with Le = SW2.
		last.Ne = int(rsp[len(rsp)-1])
		if last.Ne == 0 {
			last.Ne = MaxShortNe
		}
		if apdu, err = last.encode(buf[:0], false, false); err != nil {
			return Response{}, err
		}
		if rsp, err = c.exchangeLocked(ctx, apdu, red); err != nil {
			return Response{}, err
		}
		if s := sw(rsp); s>>8 == 0x6C {
			// ISO/IEC 7816-4 §5.1.3: 6Cxx gives the exact Le; a card that
			// refuses the Le it asked for is at fault, not the caller.
			return Response{SW: s}, fmt.Errorf("%w: INS %02X: card answered %04X to the Le it asked for", ErrTooManyRounds, cmd.INS, s)
		}
	}
	return c.collectLocked(ctx, cmd, rsp, red&redactResponse, maxRsp)
}

// responseRoundSlack is how many GET RESPONSE rounds an answer may take
// beyond one per 256 bytes of the bound (see maxResponseRounds).
const responseRoundSlack = 8

// maxResponseRounds bounds the GET RESPONSE rounds of one answer: an
// answer of maxRsp bytes, the most Do accepts, needs one round per 256
// bytes (61xx announces up to 256, ISO/IEC 7816-4 §5.1.3 and §7.6.1) and
// a few more for a card that splits its answer unevenly. The bound in
// rounds keeps a card that trickles its answer a byte at a time from
// holding the transaction for 256 Ki rounds.
func maxResponseRounds(maxRsp int) int { return (maxRsp+255)/256 + responseRoundSlack }

// collectLocked follows 61xx answers with GET RESPONSE, bounded by maxRsp
// bytes and maxResponseRounds(maxRsp) rounds and requiring progress on
// every round.
func (c *Card) collectLocked(ctx context.Context, cmd *Command, rsp []byte, red redaction, maxRsp int) (Response, error) {
	out := rsp[: len(rsp)-2 : len(rsp)-2]
	s := sw(rsp)
	if len(out) > maxRsp {
		return Response{SW: s}, fmt.Errorf("%w: answer of %d bytes exceeds the bound of %d", ErrMalformedResponse, len(out), maxRsp)
	}
	cla := byte(0x00)
	if cmd.CLA&0x80 == 0 {
		cla = cmd.CLA &^ 0x10 // interindustry: keep the logical channel
	}
	maxRounds := maxResponseRounds(maxRsp)
	rounds := 0
	fixedLe := false
	for s>>8 == 0x61 {
		if rounds >= maxRounds {
			return Response{SW: s}, fmt.Errorf("%w: INS %02X: answer still incomplete after %d GET RESPONSE rounds (%d bytes)", ErrTooManyRounds, cmd.INS, rounds, len(out))
		}
		rounds++
		ne := byte(s)
		gr := []byte{cla, insGetResponse, 0, 0, ne}
		more, err := c.exchangeLocked(ctx, gr, red)
		if err != nil {
			return Response{}, err
		}
		ms := sw(more)
		if ms>>8 == 0x6C {
			// The card wants a different Le for GET RESPONSE: once per
			// answer; a second time is the card's fault.
			if fixedLe {
				return Response{SW: ms}, fmt.Errorf("%w: INS %02X: GET RESPONSE answered %04X again", ErrTooManyRounds, cmd.INS, ms)
			}
			fixedLe = true
			rounds++
			gr[4] = byte(ms)
			if more, err = c.exchangeLocked(ctx, gr, red); err != nil {
				return Response{}, err
			}
			ms = sw(more)
			if ms>>8 == 0x6C {
				return Response{SW: ms}, fmt.Errorf("%w: INS %02X: GET RESPONSE answered %04X to the Le it asked for", ErrTooManyRounds, cmd.INS, ms)
			}
		}
		if len(more) == 2 && ms>>8 == 0x61 {
			return Response{SW: ms}, fmt.Errorf("%w: GET RESPONSE returned no data", ErrMalformedResponse)
		}
		if len(out)+len(more)-2 > maxRsp {
			return Response{SW: ms}, fmt.Errorf("%w: answer exceeds the bound of %d bytes", ErrMalformedResponse, maxRsp)
		}
		out = append(out, more[:len(more)-2]...)
		s = ms
	}
	return Response{Data: out, SW: s}, statusError(cmd.INS, s)
}

// Reconnect re-establishes the connection, doing init to the card first
// (ResetCard for a warm reset, UnpowerCard for a cold one). The next
// transaction reports WasReset when init reset the card.
func (c *Card) Reconnect(ctx context.Context, init Disposition) error {
	if err := c.acquire(ctx); err != nil {
		return err
	}
	defer c.release()
	if c.closed {
		return ErrClosed
	}
	if err := c.conn.Reconnect(c.opts.Share, c.opts.Protocols, init); err != nil {
		c.noteErrorLocked(err)
		return fmt.Errorf("scrm: %s: reconnect: %w", c.reader, err)
	}
	c.removed = false
	if init != LeaveCard {
		c.resetPending = true
	}
	c.refreshStatusLocked(init != LeaveCard)
	return nil
}

// Status reports the reader, state, protocol and ATR of the connection.
func (c *Card) Status(ctx context.Context) (ConnStatus, error) {
	if err := c.acquire(ctx); err != nil {
		return ConnStatus{}, err
	}
	defer c.release()
	if c.closed {
		return ConnStatus{}, ErrClosed
	}
	st, err := c.conn.Status()
	if err != nil {
		c.noteErrorLocked(err)
		return ConnStatus{}, fmt.Errorf("scrm: %s: status: %w", c.reader, err)
	}
	return st, nil
}

// Close disconnects, doing d to the card. It waits for a running
// transaction to end. Closing twice returns ErrClosed.
func (c *Card) Close(d Disposition) error {
	c.lock <- struct{}{}
	defer c.release()
	if c.closed {
		return ErrClosed
	}
	c.closed = true
	if err := c.conn.Disconnect(d); err != nil && !c.removed {
		return fmt.Errorf("scrm: %s: disconnect: %w", c.reader, err)
	}
	return nil
}

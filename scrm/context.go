package scrm

import (
	"context"
	"errors"
	"fmt"
	"slices"
)

// Context is a resource-manager context over one Backend: it lists readers,
// waits for reader and card events and connects to cards. It is safe for
// concurrent use.
type Context struct {
	b Backend
}

// NewContext returns a Context over b. Release releases b.
func NewContext(b Backend) *Context { return &Context{b: b} }

// Backend returns the backend the context runs on.
func (c *Context) Backend() Backend { return c.b }

// ListReaders returns the names of the attached readers. With none attached
// it returns an error wrapping ErrNoReadersAvailable.
func (c *Context) ListReaders(ctx context.Context) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, ctxError(ctx)
	}
	r, err := c.b.ListReaders(ctx)
	if err != nil {
		return nil, fmt.Errorf("scrm: list readers: %w", err)
	}
	return r, nil
}

// GetStatusChange waits until the actual state of one of the readers in
// states differs from its Current state, or ctx is done (ErrCancelled, or
// ErrTimeout at the deadline); cancellation reaches the blocking PC/SC call.
// On return each entry's Event and ATR hold the actual state; call Update
// on an entry to make that the believed state of the next wait.
func (c *Context) GetStatusChange(ctx context.Context, states []ReaderState) error {
	if err := ctx.Err(); err != nil {
		return ctxError(ctx)
	}
	if err := c.b.GetStatusChange(ctx, states); err != nil {
		return fmt.Errorf("scrm: wait for status change: %w", err)
	}
	return nil
}

// WaitForCard waits until a card is present in reader (returning at once if
// one is) and returns its ATR.
func (c *Context) WaitForCard(ctx context.Context, reader string) ([]byte, error) {
	st := []ReaderState{{Reader: reader, Current: StateUnaware}}
	for {
		if err := c.GetStatusChange(ctx, st); err != nil {
			return nil, err
		}
		ev := st[0].Event
		switch {
		case ev.Has(StateUnknown):
			return nil, fmt.Errorf("scrm: %s: %w", reader, ErrUnknownReader)
		case ev.Has(StatePresent) && !ev.Has(StateMute):
			return slices.Clone(st[0].ATR), nil
		}
		st[0].Update()
	}
}

// WaitForRemoval waits until reader holds no card (returning at once if it
// holds none).
func (c *Context) WaitForRemoval(ctx context.Context, reader string) error {
	st := []ReaderState{{Reader: reader, Current: StateUnaware}}
	for {
		if err := c.GetStatusChange(ctx, st); err != nil {
			return err
		}
		ev := st[0].Event
		switch {
		case ev.Has(StateUnknown):
			return fmt.Errorf("scrm: %s: %w", reader, ErrUnknownReader)
		case ev.Has(StateEmpty) || ev.Has(StateUnavailable):
			return nil
		}
		st[0].Update()
	}
}

// Connect connects to the card in reader. A nil opts means the defaults
// (shared, T=0 or T=1). The card's limits come from its ATR: extended
// length only where the historical bytes announce it and only over T=1.
func (c *Context) Connect(ctx context.Context, reader string, opts *ConnectOptions) (*Card, error) {
	var o ConnectOptions
	if opts != nil {
		o = *opts
	}
	if err := ctx.Err(); err != nil {
		return nil, ctxError(ctx)
	}
	conn, err := c.b.Connect(ctx, reader, o.Share, o.Protocols)
	if err != nil {
		return nil, fmt.Errorf("scrm: connect to %q: %w", reader, err)
	}
	st, err := conn.Status()
	if err != nil {
		_ = conn.Disconnect(LeaveCard)
		if errors.Is(err, ErrResetCard) {
			err = fmt.Errorf("%w (reset during connect)", err)
		}
		return nil, fmt.Errorf("scrm: connect to %q: status: %w", reader, err)
	}
	card := &Card{
		conn:   conn,
		reader: reader,
		opts:   o,
		lock:   make(chan struct{}, 1),
		atr:    slices.Clone(st.ATR),
		proto:  st.Protocol,
		limits: limitsFromATR(st.ATR),
	}
	return card, nil
}

// Release releases the backend. Blocked waits return ErrCancelled.
func (c *Context) Release() error {
	if err := c.b.Release(); err != nil {
		return fmt.Errorf("scrm: release: %w", err)
	}
	return nil
}

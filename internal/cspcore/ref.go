package cspcore

import (
	"context"
	"errors"
	"sync"

	"github.com/cardmod/cardmod/cardfs"
	"github.com/cardmod/cardmod/internal/engine"
	"github.com/cardmod/cardmod/scrm"
)

// Ref follows one card by its identity across removal and re-insertion,
// in any reader. It is safe for concurrent use.
type Ref struct {
	core *Core
	id   cardfs.CardID

	mu     sync.Mutex
	card   *engine.Card // guarded by mu; nil after the card went away
	reader string       // guarded by mu
}

// NewRef returns a Ref following card ec.
func (c *Core) NewRef(ec *engine.Card) *Ref {
	return &Ref{core: c, id: ec.ID(), card: ec, reader: ec.Reader()}
}

// CoreOf returns the Core of r. It is a function, not a method, so that
// the providers' card types, which embed Ref, do not offer it.
func CoreOf(r *Ref) *Core { return r.core }

// ID returns the card's identity.
func (r *Ref) ID() cardfs.CardID { return r.id }

// Reader returns the reader the card was last seen in.
func (r *Ref) Reader() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.reader
}

// Stats returns the statistics of the card's connection, zero when it is
// not connected.
func (r *Ref) Stats() scrm.Stats {
	r.mu.Lock()
	ec := r.card
	r.mu.Unlock()
	if ec == nil {
		return scrm.Stats{}
	}
	return ec.Conn().Stats()
}

// current returns the card, finding it again by its identity when its
// connection died.
func (r *Ref) current(ctx context.Context) (*engine.Card, error) {
	r.mu.Lock()
	c := r.card
	r.mu.Unlock()
	if c != nil && c.Alive() {
		return c, nil
	}
	cards, failed, err := r.core.cardsPresent(ctx)
	if err != nil {
		return nil, err
	}
	for _, c := range cards {
		if c.ID() == r.id {
			r.mu.Lock()
			r.card, r.reader = c, c.Reader()
			r.mu.Unlock()
			return c, nil
		}
	}
	if len(failed) > 0 {
		return nil, r.core.Errorf("card %s is not present: %w; %w", r.id, scrm.ErrNoSmartcard, failed)
	}
	return nil, r.core.Errorf("card %s is not present: %w", r.id, scrm.ErrNoSmartcard)
}

func (r *Ref) lost(c *engine.Card) {
	r.mu.Lock()
	if r.card == c {
		r.card = nil
	}
	r.mu.Unlock()
}

// Do runs fn as one engine operation on the card of r. When the card was
// removed before fn started, it finds the card again (by its identity) and
// runs fn there once more; a removal while fn runs is reported. It is a
// function, not a method, so that the providers' card types, which embed
// Ref, do not offer it.
func Do(ctx context.Context, r *Ref, fn func(ec *engine.Card, op *engine.Op) error) error {
	return r.do(ctx, fn, doPlain)
}

// DoCached is Do with engine.Card.DoCached: for an operation whose
// outcome cannot be checked on the host (an ECDH agreement), which reads no cardcf first on a card without one while
// nothing reset the card. A function, as Do.
func DoCached(ctx context.Context, r *Ref, fn func(ec *engine.Card, op *engine.Op) error) error {
	return r.do(ctx, fn, doCached)
}

// doHow says which of the engine's Do methods Ref.do calls.
type doHow int

const (
	doPlain   doHow = iota // engine.Card.Do
	doChecked              // engine.Card.DoChecked: fn checks the outcome on the host
	doCached               // engine.Card.DoCached
)

// do is Do with the engine's Do method how says.
func (r *Ref) do(ctx context.Context, fn func(ec *engine.Card, op *engine.Op) error, how doHow) error {
	for attempt := 0; ; attempt++ {
		c, err := r.current(ctx)
		if err != nil {
			return err
		}
		started := false
		run := func(op *engine.Op) error {
			started = true
			return fn(c, op)
		}
		switch how {
		case doChecked:
			err = c.DoChecked(ctx, run)
		case doCached:
			err = c.DoCached(ctx, run)
		default:
			err = c.Do(ctx, run)
		}
		if err != nil && (errors.Is(err, scrm.ErrRemovedCard) || errors.Is(err, scrm.ErrNoSmartcard) ||
			errors.Is(err, scrm.ErrClosed)) {
			// Removed, or opened afresh by another goroutine (the
			// connection c was on is closed): find the card again.
			r.lost(c)
			if !started && attempt == 0 {
				continue
			}
		}
		return err
	}
}

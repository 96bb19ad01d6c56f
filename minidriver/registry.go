package minidriver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/cardmod/cardmod/scrm"
)

// Plugin is a card plug-in: it recognises its cards and opens them as a
// Card. Plug-ins are listed explicitly in a Registry; nothing registers
// itself.
type Plugin interface {
	// Name names the plug-in, for example "PIV".
	Name() string
	// ATRs lists the ATR/mask pairs of the cards the plug-in takes without
	// probing; it may be empty.
	ATRs() []scrm.ATRMask
	// Probe reports whether the card is the plug-in's, for example by
	// selecting its application. It runs inside the caller's transaction
	// and only when no plug-in's ATR matched. A card that is not the
	// plug-in's is (false, nil); an error is a transport failure.
	Probe(ctx context.Context, tx *scrm.Tx) (bool, error)
	// Open returns the Card for the card in tx (CardAcquireContext).
	Open(ctx context.Context, tx *scrm.Tx, env Env) (Card, error)
}

// Env is what the caller gives a plug-in when it opens a card (the caller's
// part of CARD_DATA).
type Env struct {
	// Rand is the source of randomness (card IDs, challenges); nil means
	// crypto/rand.
	Rand io.Reader
}

// Match says which plug-in took a card and why.
type Match struct {
	Plugin Plugin
	// ByATR is true when an ATR/mask matched, false when a probe did.
	ByATR bool
	// Reason explains the match, for diagnostics.
	Reason string
}

// Registry is an ordered list of plug-ins. Matching tries every plug-in's
// ATR/mask pairs first, in order, then probes them in order. A Registry is
// immutable and safe for concurrent use.
type Registry struct {
	plugins []Plugin
}

// NewRegistry returns a registry of plugins, matched in the order given.
func NewRegistry(plugins ...Plugin) *Registry {
	return &Registry{plugins: append([]Plugin(nil), plugins...)}
}

// Plugins returns the plug-ins in matching order.
func (r *Registry) Plugins() []Plugin { return append([]Plugin(nil), r.plugins...) }

// Match finds the plug-in for the card in tx, by ATR then by probing.
// When none takes the card the error wraps ErrUnknownCard and names what
// was tried.
func (r *Registry) Match(ctx context.Context, tx *scrm.Tx) (Match, error) {
	atr := tx.Card().ATR()
	for _, p := range r.plugins {
		for _, m := range p.ATRs() {
			if m.Match(atr) {
				return Match{Plugin: p, ByATR: true, Reason: fmt.Sprintf("ATR % X matches %s", atr, m)}, nil
			}
		}
	}
	var tried []string
	for _, p := range r.plugins {
		ok, err := p.Probe(ctx, tx)
		if err != nil {
			if errors.Is(err, scrm.ErrResetCard) || errors.Is(err, scrm.ErrRemovedCard) || ctx.Err() != nil {
				return Match{}, fmt.Errorf("minidriver: probing for %s: %w", p.Name(), err)
			}
			tried = append(tried, p.Name()+" ("+err.Error()+")")
			continue
		}
		if ok {
			return Match{Plugin: p, Reason: fmt.Sprintf("%s probe answered", p.Name())}, nil
		}
		tried = append(tried, p.Name())
	}
	return Match{}, fmt.Errorf("%w: ATR % X; probed %s", ErrUnknownCard, atr, strings.Join(tried, ", "))
}

// Open matches the card and opens it with its plug-in, in one transaction
// of its own.
func (r *Registry) Open(ctx context.Context, card *scrm.Card, env Env) (Card, Match, error) {
	tx, err := card.Begin(ctx)
	if err != nil {
		return nil, Match{}, fmt.Errorf("minidriver: %w", err)
	}
	defer tx.End(scrm.LeaveCard)
	m, err := r.Match(ctx, tx)
	if err != nil {
		return nil, Match{}, err
	}
	c, err := m.Plugin.Open(ctx, tx, env)
	if err != nil {
		return nil, m, fmt.Errorf("minidriver: %s: open: %w", m.Plugin.Name(), err)
	}
	return c, m, nil
}

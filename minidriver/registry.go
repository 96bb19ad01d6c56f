package minidriver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/cardmod/cardmod/cardfs"
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

// ProbeOpener is implemented by plug-ins that can open a card with the
// answer of their own successful probe, so that a card found by probing is
// not selected twice: ProbeOpen probes as Probe does and, when the card is
// the plug-in's, opens it as Open does, in the same transaction, without
// sending again what the probe sent. A card that is not the plug-in's is
// (nil, false, nil).
type ProbeOpener interface {
	ProbeOpen(ctx context.Context, tx *scrm.Tx, env Env) (Card, bool, error)
}

// Env is what the caller gives a plug-in when it opens a card (the caller's
// part of CARD_DATA).
type Env struct {
	// Rand is the source of randomness (card IDs, challenges); nil means
	// crypto/rand.
	Rand io.Reader
	// Cache, if not nil, is the caller's data cache offered to the
	// plug-in for its own internal card data (the spec's
	// pfnCspCacheAddFile and pfnCspCacheLookupFile): what it reads from the card to answer the
	// contract's calls (a PIV card's container map object and key
	// metadata, say) can then be kept across transactions and, with a
	// global cache, across processes.
	Cache Cache
}

// Cache is the caller's data cache as a plug-in sees it (the spec's
// pfnCspCacheAddFile and pfnCspCacheLookupFile; an item is replaced by
// adding it again, and goes with its cardcf class). Items live and die with the caller's data
// cache: they are kept per card identity, trusted only while the card's
// cardcf counter of their class is the one they were cached under, and
// only in a transaction in which the caller has read cardcf; anywhere else
// (while opening the card, on a card that is not cached) LookupFile
// misses and AddFile keeps nothing. Only public card data belongs there,
// never PINs or keys. Its methods run inside the caller's transaction tx,
// as every call of the contract does.
type Cache interface {
	// LookupFile returns a copy of item name, if cached and fresh.
	LookupFile(tx *scrm.Tx, name string) ([]byte, bool)
	// AddFile caches data (copied) as item name in class (one of
	// cardfs.StalePins, StaleContainers, StaleFiles): the item is dropped
	// when that counter of cardcf moves.
	AddFile(tx *scrm.Tx, class cardfs.Stale, name string, data []byte)
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
// ATR/mask pairs first, in order, then probes them: first the plug-in that
// last took a card with the same ATR through this Registry (the ATR told
// which one it was), then the others in order. Its plug-in list is
// immutable; it is safe for concurrent use.
type Registry struct {
	plugins []Plugin
	// byATR remembers, by ATR, the index of the plug-in whose probe last
	// took a card with that ATR (at most maxRemembered ATRs).
	mu    sync.Mutex
	byATR map[string]int
}

// maxRemembered bounds the ATRs a Registry remembers.
const maxRemembered = 64

// NewRegistry returns a registry of plugins, matched in the order given.
func NewRegistry(plugins ...Plugin) *Registry {
	return &Registry{plugins: append([]Plugin(nil), plugins...)}
}

// probeOrder returns the indexes of the plug-ins in the order to probe a
// card with atr.
func (r *Registry) probeOrder(atr []byte) []int {
	out := make([]int, 0, len(r.plugins))
	r.mu.Lock()
	first, ok := r.byATR[string(atr)]
	r.mu.Unlock()
	if ok && first < len(r.plugins) {
		out = append(out, first)
	}
	for i := range r.plugins {
		if !ok || i != first {
			out = append(out, i)
		}
	}
	return out
}

// remember notes that plug-in i's probe took a card with atr.
func (r *Registry) remember(atr []byte, i int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.byATR == nil || len(r.byATR) >= maxRemembered {
		r.byATR = make(map[string]int)
	}
	r.byATR[string(atr)] = i
}

// Plugins returns the plug-ins in matching order.
func (r *Registry) Plugins() []Plugin { return append([]Plugin(nil), r.plugins...) }

// Match finds the plug-in for the card in tx, by ATR then by probing.
// When none takes the card the error wraps ErrUnknownCard and names what
// was tried.
func (r *Registry) Match(ctx context.Context, tx *scrm.Tx) (Match, error) {
	if m, ok := r.matchATR(tx.Card().ATR()); ok {
		return m, nil
	}
	m, _, err := r.probe(ctx, tx, nil)
	return m, err
}

// probe probes the plug-ins in probeOrder. With open set, a plug-in that
// is a ProbeOpener opens the card from its probe, and the Card is
// returned.
func (r *Registry) probe(ctx context.Context, tx *scrm.Tx, open *Env) (Match, Card, error) {
	atr := tx.Card().ATR()
	var tried []string
	for _, i := range r.probeOrder(atr) {
		p := r.plugins[i]
		var ok bool
		var err error
		var card Card
		if po, isPO := p.(ProbeOpener); isPO && open != nil {
			card, ok, err = po.ProbeOpen(ctx, tx, *open)
			if err != nil && ok {
				return Match{Plugin: p}, nil, fmt.Errorf("minidriver: %s: open: %w", p.Name(), err)
			}
		} else {
			ok, err = p.Probe(ctx, tx)
		}
		if err != nil {
			if errors.Is(err, scrm.ErrResetCard) || errors.Is(err, scrm.ErrRemovedCard) || ctx.Err() != nil {
				return Match{}, nil, fmt.Errorf("minidriver: probing for %s: %w", p.Name(), err)
			}
			tried = append(tried, p.Name()+" ("+err.Error()+")")
			continue
		}
		if ok {
			r.remember(atr, i)
			return Match{Plugin: p, Reason: fmt.Sprintf("%s probe answered", p.Name())}, card, nil
		}
		tried = append(tried, p.Name())
	}
	return Match{}, nil, fmt.Errorf("%w: ATR % X; probed %s", ErrUnknownCard, atr, strings.Join(tried, ", "))
}

// matchATR finds the plug-in whose ATR/mask pairs match atr.
func (r *Registry) matchATR(atr []byte) (Match, bool) {
	for _, p := range r.plugins {
		for _, m := range p.ATRs() {
			if m.Match(atr) {
				return Match{Plugin: p, ByATR: true, Reason: fmt.Sprintf("ATR % X matches %s", atr, m)}, true
			}
		}
	}
	return Match{}, false
}

// Open matches the card and opens it with its plug-in, in one transaction
// of its own.
func (r *Registry) Open(ctx context.Context, card *scrm.Card, env Env) (Card, Match, error) {
	tx, err := card.Begin(ctx)
	if err != nil {
		return nil, Match{}, fmt.Errorf("minidriver: %w", err)
	}
	defer tx.End(scrm.LeaveCard)
	return r.OpenTx(ctx, tx, env)
}

// OpenTx is Open inside the caller's transaction tx, so that the caller
// can go on with the card in the same transaction (reading its
// properties, say) instead of beginning another one and re-selecting the
// application.
func (r *Registry) OpenTx(ctx context.Context, tx *scrm.Tx, env Env) (Card, Match, error) {
	if m, ok := r.matchATR(tx.Card().ATR()); ok {
		c, err := m.Plugin.Open(ctx, tx, env)
		if err != nil {
			return nil, m, fmt.Errorf("minidriver: %s: open: %w", m.Plugin.Name(), err)
		}
		return c, m, nil
	}
	m, c, err := r.probe(ctx, tx, &env)
	if err != nil {
		return nil, m, err
	}
	if c != nil {
		return c, m, nil
	}
	c, err = m.Plugin.Open(ctx, tx, env)
	if err != nil {
		return nil, m, fmt.Errorf("minidriver: %s: open: %w", m.Plugin.Name(), err)
	}
	return c, m, nil
}

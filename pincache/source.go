package pincache

import (
	"context"
	"errors"
	"fmt"

	"github.com/cardmod/cardmod/minidriver"
)

// Source supplies the PIN for one authentication at a time, as the Base CSP
// does (spec "Card PIN Operations", CardAuthenticateEx): the cached PIN when
// the PIN's policy allows it, otherwise the Prompt's answer. In a silent
// context, or without a Prompt, it fails with an error wrapping ErrSilent
// where it would have to prompt.
//
// Use:
//
//	att, err := src.Begin(ctx, req)
//	if err != nil {
//		return err
//	}
//	_, err = card.Authenticate(ctx, tx, req.PIN, att.Secret().Bytes(), 0)
//	att.Done(err)
//
// Done caches a PIN the card accepted (per policy) and purges the cache
// when the card says the PIN is wrong or blocked. A Source never retries
// by itself: after a cached PIN fails, the next Begin prompts. To try
// again after a failure, call Begin with req.Retrying(err), which also
// skips the cache.
//
// The fields are read, never modified; a Source is safe for concurrent
// use when its Prompt is.
type Source struct {
	// Cache holds verified PINs; nil caches nothing.
	Cache *Cache
	// Prompt asks the user; nil means never prompt (as Silent).
	Prompt Prompt
	// Silent forbids prompting (CRYPT_SILENT, CARD_PIN_SILENT_CONTEXT).
	Silent bool
}

// Begin returns the PIN for req as an Attempt. It takes the PIN from the
// cache unless the policy forbids it (None, AlwaysPrompt, an expired
// Timed entry) or req.Retry is set, and otherwise prompts.
//
// Only AlphanumericPIN PINs have PIN bytes to supply; for the other types
// (empty, external, challenge-response) Begin returns an error wrapping
// minidriver.ErrInvalidParameter. A cancelled prompt gives an error
// wrapping ErrCancelled; a prompt that would be needed in a silent
// context, one wrapping ErrSilent.
func (s *Source) Begin(ctx context.Context, req Request) (*Attempt, error) {
	if !req.PIN.Valid() {
		return nil, fmt.Errorf("pincache: %w: PIN ID %d", minidriver.ErrInvalidParameter, req.PIN)
	}
	if err := req.Info.Validate(); err != nil {
		return nil, fmt.Errorf("pincache: PIN %d: %w", req.PIN, err)
	}
	if req.Info.Type != minidriver.AlphanumericPIN {
		return nil, fmt.Errorf("pincache: %w: PIN %d has type %d, not a PIN to enter", minidriver.ErrInvalidParameter, req.PIN, req.Info.Type)
	}
	policy := req.Info.CachePolicy
	if s.Cache != nil && !req.Retry {
		if pin, ok := s.Cache.Get(req.Card, req.PIN, policy); ok {
			return &Attempt{src: s, req: req, pin: pin, cached: true}, nil
		}
	}
	if s.Silent || s.Prompt == nil {
		return nil, fmt.Errorf("%w: PIN %d of card %v", ErrSilent, req.PIN, req.Card)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("pincache: PIN %d: %w", req.PIN, err)
	}
	pin, err := s.Prompt.PIN(ctx, req)
	if err != nil {
		pin.Wipe()
		return nil, fmt.Errorf("pincache: PIN %d: %w", req.PIN, err)
	}
	if pin.Len() == 0 {
		pin.Wipe()
		return nil, fmt.Errorf("pincache: PIN %d: %w: prompt gave no PIN", req.PIN, ErrCancelled)
	}
	return &Attempt{src: s, req: req, pin: pin}, nil
}

// Attempt is one PIN handed out by a Source, until its outcome is known.
// It belongs to one goroutine.
type Attempt struct {
	src    *Source
	req    Request
	pin    *Secret
	cached bool
	done   bool
}

// Secret returns the PIN to verify. It is valid until Done, which either
// gives it to the cache or wipes it; do not keep it.
func (a *Attempt) Secret() *Secret { return a.pin }

// Cached reports whether the PIN came from the cache.
func (a *Attempt) Cached() bool { return a.cached }

// Done reports the card's answer to the PIN; err is the error of the
// verification (nil for success).
//
//   - nil: a prompted PIN is cached per the policy (a cached PIN is left
//     as it was: use does not extend a Timed entry).
//   - an error matching minidriver.ErrWrongPIN or minidriver.ErrPINBlocked
//     (a *minidriver.PINError): the cached PIN for the card and PIN ID is
//     dropped (Cache.Fail), whether or not this PIN came from the cache.
//   - any other error (card removed, transport failure): the PIN was not
//     judged; the cache is left alone.
//
// In every case the Attempt's Secret is given away or wiped. Calls after
// the first do nothing.
func (a *Attempt) Done(err error) {
	if a == nil || a.done {
		return
	}
	a.done = true
	c := a.src.Cache
	switch {
	case err == nil && c != nil && !a.cached:
		// Put takes ownership and wipes when the policy forbids storing;
		// the request was validated in Begin, so Put cannot fail.
		_ = c.Put(a.req.Card, a.req.PIN, a.req.Info.CachePolicy, a.pin)
		a.pin = nil
		return
	case IsPINFailure(err) && c != nil:
		c.Fail(a.req.Card, a.req.PIN)
	}
	a.pin.Wipe()
	a.pin = nil
}

// IsPINFailure reports whether err says the card refused a PIN: wrong or
// blocked.
func IsPINFailure(err error) bool {
	return errors.Is(err, minidriver.ErrWrongPIN) || errors.Is(err, minidriver.ErrPINBlocked)
}

// Package cspcore is the provider logic shared by cardmod's Base CSP
// (package basecsp) and Smart Card KSP (package ksp), over the engine
// (package internal/engine): container names and card selection, the
// create and delete flows (Microsoft's "Smart Card Architecture": "Smart
// card selection"), containers and cards followed by their card identity,
// signing and decryption with the padding done on the host, certificates
// and the user and root certificate stores ("Smart Card Architecture":
// "Base CSP and smart card KSP properties in Windows").
// Both providers are opened with the one settings type, keystore.Config
// (Open), which the engine reads; each provider keeps its own API and
// passes its name, error sentinels and default plug-in list in Config;
// errors carry the provider's prefix.
//
// Listings over every card (Cards, List, Certificates) never let one card
// hide the others: they return what they read and, beside it, a
// CardErrors (engine.CardErrors) naming each card or object they could
// not read. Admin authentication asks the configured
// minidriver.AdminResponder, which learns the card that asks; the core
// imports no plug-in.
//
// Concurrency: a Core, its Refs and Containers are safe for concurrent
// use; operations on one card are serialised by the engine.
package cspcore

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/cardmod/cardmod/internal/engine"
	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/scrm"
)

// Config is what makes a provider itself beside the settings both
// providers share (keystore.Config, which Open takes): its name in errors,
// its error sentinels and its default plug-in list.
type Config struct {
	// Prefix names the provider in error messages ("basecsp").
	Prefix string
	// Plugins returns the registry used when keystore.Config.Registry is
	// nil; required. The providers pass minidriver/plugins.NewRegistry:
	// no package under internal names a plug-in.
	Plugins func() *minidriver.Registry
	// ErrUnsupportedAlgorithm, if set, is wrapped by a create refused
	// because the card has no keys of that algorithm or size (and only
	// then: a create that fails writing to the card does not wrap it);
	// nil means minidriver.ErrUnsupported alone.
	ErrUnsupportedAlgorithm error
}

// Core is the shared provider logic over one engine.
type Core struct {
	e   *engine.Engine
	cfg Config
}

// CheckOpen returns nil before the provider's Close and its ErrClosed
// sentinel after: every provider method calls it first, so that a closed
// provider touches no card and asks for no PIN.
func (c *Core) CheckOpen() error { return c.e.CheckOpen() }

// Engine returns the engine.
func (c *Core) Engine() *engine.Engine { return c.e }

// Rand returns the source of randomness: keystore.Config.Rand, or
// crypto/rand.
func (c *Core) Rand() io.Reader { return c.e.Rand() }

// adminResponse returns keystore.Config.AdminResponse (nil: none).
func (c *Core) adminResponse() minidriver.AdminResponder { return c.e.Config().AdminResponse }

// AdminRespond computes the response to the challenge the card of op
// issued for PIN id with the provider's AdminResponse; without one it fails with an error matching
// minidriver.ErrInvalidParameter.
func (c *Core) AdminRespond(op *engine.Op, id minidriver.PinID, challenge []byte) ([]byte, error) {
	respond := c.adminResponse()
	if respond == nil {
		return nil, c.Errorf("no admin responder (Config.AdminResponse): %w", minidriver.ErrInvalidParameter)
	}
	resp, err := respond(op.Context(), op.AdminChallenge(id, challenge))
	if err != nil {
		return nil, c.Errorf("challenge response: %w", err)
	}
	return resp, nil
}

// HasAdmin reports whether writes authenticate the admin key.
func (c *Core) HasAdmin() bool { return c.adminResponse() != nil }

// Errorf formats an error with the provider's prefix.
func (c *Core) Errorf(format string, args ...any) error {
	return fmt.Errorf("%s: %w", c.cfg.Prefix, fmt.Errorf(format, args...))
}

// errUnsupportedKey is what a create the card's keys do not allow wraps.
func (c *Core) errUnsupportedKey() error {
	if c.cfg.ErrUnsupportedAlgorithm != nil {
		return c.cfg.ErrUnsupportedAlgorithm
	}
	return minidriver.ErrUnsupported
}

// AuthFlags returns the flags of PIN changes: Silent in silent mode.
func (c *Core) AuthFlags() minidriver.AuthFlags {
	if c.e.Config().Silent {
		return minidriver.Silent
	}
	return 0
}

// WriteAuth authenticates what writing to the card needs: the admin key
// when the provider's responder has one for the card, else the user PIN
// (also when the responder declines the card with
// minidriver.ErrNoAdminKey). A read-only card is refused first, with an
// error matching minidriver.ErrReadOnly, before anything authenticates
// (an issued PIV card: its management key is the issuer's).
func (c *Core) WriteAuth(op *engine.Op, purpose string) error {
	if err := op.CheckWritable(); err != nil {
		return c.Errorf("%s: %w", purpose, err)
	}
	if respond := c.adminResponse(); respond != nil {
		err := op.AuthenticateAdmin(minidriver.RoleAdmin, respond)
		if err == nil {
			return nil
		}
		if !errors.Is(err, minidriver.ErrNoAdminKey) {
			return c.Errorf("admin authentication: %w", err)
		}
	}
	if err := op.Authenticate(minidriver.RoleUser, purpose); err != nil {
		return c.Errorf("%w", err)
	}
	return nil
}

// CardsFor returns the cards a name's reader part selects: the card in
// reader, or every present card that could be opened, with those that
// could not (failed). With no card to use it fails, wrapping
// scrm.ErrNoSmartcard and failed.
func (c *Core) CardsFor(ctx context.Context, reader string) (cards []*engine.Card, failed CardErrors, err error) {
	e := c.e
	if reader != "" {
		ec, err := e.CardIn(ctx, reader)
		if err != nil {
			return nil, nil, c.Errorf("reader %q: %w", reader, err)
		}
		return []*engine.Card{ec}, nil, nil
	}
	cards, skipped, err := e.CardsAndSkipped(ctx)
	return c.cardsFound(cards, skipped, err)
}

// CardsDo is CardsFor with fn run as one operation on each card, in
// reader order, until stop (if set) returns true
// (engine.Engine.CardsDo: a card not open yet is opened in fn's
// transaction). opErrs[i] is the error of the operation on cards[i], not
// prefixed. With a reader named it is OnReader's card alone.
func (c *Core) CardsDo(ctx context.Context, reader string, fn func(ec *engine.Card, op *engine.Op) error, stop func(err error) bool) (cards []*engine.Card, opErrs []error, failed CardErrors, err error) {
	return c.cardsDo(ctx, reader, fn, stop, false)
}

// CardsDoChecked is CardsDo with fn run as engine.Engine.CardsDoChecked
// runs it: for an operation whose outcome fn checks on the host.
func (c *Core) CardsDoChecked(ctx context.Context, reader string, fn func(ec *engine.Card, op *engine.Op) error, stop func(err error) bool) (cards []*engine.Card, opErrs []error, failed CardErrors, err error) {
	return c.cardsDo(ctx, reader, fn, stop, true)
}

func (c *Core) cardsDo(ctx context.Context, reader string, fn func(ec *engine.Card, op *engine.Op) error, stop func(err error) bool, checked bool) (cards []*engine.Card, opErrs []error, failed CardErrors, err error) {
	e := c.e
	cardDo, cardsDo := e.CardDo, e.CardsDo
	if checked {
		cardDo, cardsDo = e.CardDoChecked, e.CardsDoChecked
	}
	if reader != "" {
		ec, err := cardDo(ctx, reader, fn)
		if ec == nil {
			return nil, nil, nil, c.Errorf("reader %q: %w", reader, err)
		}
		return []*engine.Card{ec}, []error{err}, nil, nil
	}
	cards, opErrs, skipped, err := cardsDo(ctx, fn, stop)
	cards, failed, err = c.cardsFound(cards, skipped, err)
	if err != nil {
		return nil, nil, nil, err
	}
	return cards, opErrs, failed, nil
}

// cardsFound is CardsFor's answer from what the engine found.
func (c *Core) cardsFound(cards []*engine.Card, skipped, err error) ([]*engine.Card, CardErrors, error) {
	var failed CardErrors
	if err != nil && !errors.As(err, &failed) {
		return nil, nil, c.Errorf("%w", err)
	}
	switch {
	case len(cards) == 0 && len(failed) > 0:
		return nil, nil, c.Errorf("no card present can be read: %w; %w", scrm.ErrNoSmartcard, failed)
	case len(cards) == 0 && errors.Is(skipped, scrm.ErrSharingViolation):
		// A card is there but another application holds it (or, in
		// exclusive mode, shares it): not "no card".
		return nil, nil, c.Errorf("no card available: %w", skipped)
	case len(cards) == 0:
		return nil, nil, c.Errorf("no card present: %w", scrm.ErrNoSmartcard)
	}
	return cards, failed, nil
}

// Cards returns a Ref to every card present, and a CardErrors beside
// them naming each card that could not be opened.
func (c *Core) Cards(ctx context.Context) ([]*Ref, error) {
	cards, failed, err := c.cardsPresent(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]*Ref, len(cards))
	for i, ec := range cards {
		out[i] = c.NewRef(ec)
	}
	return out, c.listErr(failed)
}

// Initialize initializes the blank card in reader (see
// engine.Engine.Initialize) and returns a Ref to it. reader is required.
func (c *Core) Initialize(ctx context.Context, reader string, p minidriver.InitParams) (*Ref, error) {
	if err := c.CheckOpen(); err != nil {
		return nil, err
	}
	if reader == "" {
		return nil, c.Errorf("initialize: no reader named: %w", minidriver.ErrInvalidParameter)
	}
	ec, err := c.e.Initialize(ctx, reader, p)
	if err != nil {
		return nil, c.Errorf("reader %q: %w", reader, err)
	}
	return c.NewRef(ec), nil
}

package cspcore

import (
	"context"
	"crypto"
	"fmt"
	"io"

	"github.com/cardmod/cardmod/internal/engine"
	"github.com/cardmod/cardmod/minidriver"
)

// FindSign is Find(q) followed by the found key's SignContext, in one
// transaction: the look-up and the signature share the card's opening,
// its application's selection and its cardcf read, which is what a new
// process (a command, an agent's first request) pays for a signature
// (docs/benchmarks.md lists the APDUs). What SignContext checks (the
// arguments, before the PIN is asked; the signature, against the public
// key the look-up read in the same transaction) it checks here too. The
// key is returned beside the signature, for its public key and later
// use. A query that names a card identity (CardID) is Find, then
// SignContext: its cards are opened first. On a card opened by this call
// whose data an earlier process left in the disk cache, the look-up uses
// that data without reading cardcf (engine.Engine.CardsDoChecked): the
// signature, verified against the cached public key, is the check, and a
// signature that does not verify, an error stale data can cause, or a
// look-up that found nothing is made again with cardcf read; a PIN from
// the PIN cache is never sent before cardcf's PIN counter is read. Not
// found is Find's error;
// a key found whose signature fails is that failure, and the cards after
// it are not looked at.
func (c *Core) FindSign(ctx context.Context, q Query, rand io.Reader, digest []byte, opts crypto.SignerOpts) (*Key, []byte, error) {
	var sig []byte
	k, err := c.findDo(ctx, q, true, func(k *Key, op *engine.Op) error {
		sig = nil
		req, err := k.signRequest(rand, digest, opts)
		if err != nil {
			return err
		}
		sig, err = k.signOn(op, k.c.Index, req)
		return err
	}, func(k *Key) error {
		var err error
		sig, err = k.SignContext(ctx, rand, digest, opts)
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	return k, sig, nil
}

// findDo finds the first key that matches q, as Find does, and runs on
// with it in the look-up's transaction (the engine's CardsDoChecked where
// checked: on checks its outcome on the host; else CardsDo, which reads
// cardcf first). A query naming a card identity (CardID) is Find, then
// byID, on its own transactions. A look-up in data no cardcf read
// confirmed that finds nothing is asked of the card again. Not found is
// Find's error; a key found whose operation fails is that failure
// (returned as on returns it), and the cards after it are not looked at.
func (c *Core) findDo(ctx context.Context, q Query, checked bool, on func(k *Key, op *engine.Op) error, byID func(k *Key) error) (*Key, error) {
	if err := c.checkQuery(&q); err != nil {
		return nil, err
	}
	if q.CardID != ([16]byte{}) {
		k, err := c.findByID(ctx, &q)
		if err != nil {
			return nil, err
		}
		if err := byID(k); err != nil {
			return nil, err
		}
		return k, nil
	}
	do := c.CardsDo
	if checked {
		do = c.CardsDoChecked
	}
	var key *Key
	cards, opErrs, failed, err := do(ctx, q.Reader, func(ec *engine.Card, op *engine.Op) error {
		key = nil
		k, err := c.findOn(ec, op, &q)
		if err == nil && k == nil && op.Unchecked() {
			// Not found in data a cardcf read has not confirmed: asked
			// again of the card, not taken as the answer.
			return fmt.Errorf("no key matches: %w", engine.ErrStale)
		}
		if err != nil || k == nil {
			return err
		}
		key = k
		return on(k, op)
	}, func(error) bool { return key != nil })
	if err != nil {
		return nil, err
	}
	for i, ec := range cards {
		err := opErrs[i]
		switch {
		case key != nil && i == len(cards)-1:
			if err != nil {
				// As the operation returns it (the core's own errors are
				// prefixed already).
				return nil, err
			}
			return key, nil
		case err != nil && (q.Reader != "" || ctx.Err() != nil):
			return nil, c.Errorf("%w", err)
		case err != nil:
			failed = append(failed, &CardError{Reader: ec.Reader(), CardID: ec.ID(), Err: err})
		}
	}
	if len(failed) > 0 {
		return nil, c.Errorf("no key matches: %w; %w", minidriver.ErrNoKeyContainer, failed)
	}
	return nil, c.Errorf("no key matches: %w", minidriver.ErrNoKeyContainer)
}

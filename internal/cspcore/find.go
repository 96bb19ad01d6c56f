package cspcore

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"reflect"

	"github.com/cardmod/cardmod/cardfs"
	"github.com/cardmod/cardmod/internal/engine"
	"github.com/cardmod/cardmod/keystore"
	"github.com/cardmod/cardmod/minidriver"
)

// Query says which key Find looks for: keystore.KeyQuery, which the
// providers export as KeyQuery.
type Query = keystore.KeyQuery

// needsCert reports whether q is matched against the key's certificate.
func needsCert(q *Query) bool { return q.Subject != "" || q.Fingerprint != nil }

// matchCert reports whether cert satisfies q's certificate fields.
func matchCert(q *Query, cert *x509.Certificate) bool {
	if q.Subject != "" && cert.Subject.String() != q.Subject && cert.Subject.CommonName != q.Subject {
		return false
	}
	if q.Fingerprint != nil {
		sum := sha256.Sum256(cert.Raw)
		if !bytes.Equal(sum[:], q.Fingerprint) {
			return false
		}
	}
	return true
}

// samePublicEither reports whether a and b are the same public key, an
// ECDH key matching the ECDSA key of the same point either way round.
func samePublicEither(a, b crypto.PublicKey) bool {
	if eq, ok := a.(interface{ Equal(crypto.PublicKey) bool }); ok && eq.Equal(b) {
		return true
	}
	return SamePublic(a, b) || SamePublic(b, a)
}

// sameAddress reports whether a and b are the same key address: the same
// comparable type and value.
func sameAddress(a, b minidriver.KeyAddress) bool {
	ta, tb := reflect.TypeOf(a), reflect.TypeOf(b)
	return ta != nil && ta == tb && ta.Comparable() && a == b
}

// Find returns the first key that matches q, on the cards in reader order
// and in each card in container map order (the signature slot's key
// before the key exchange slot's). Certificates are read only when q asks
// about one, through the data cache. A key found nowhere is an error
// matching minidriver.ErrNoKeyContainer; when some cards could not be
// read it also wraps their CardErrors. A card that cannot be read does not
// keep the key from being found on another; a container or certificate
// that cannot be read (a corrupt object) matches nothing. After Close it
// fails with keystore.ErrClosed.
func (c *Core) Find(ctx context.Context, q Query) (*Key, error) {
	if err := c.checkQuery(&q); err != nil {
		return nil, err
	}
	if q.CardID != (cardfs.CardID{}) {
		return c.findByID(ctx, &q)
	}
	return firstOnCards(ctx, c, q.Reader, "no key matches", func(ec *engine.Card, op *engine.Op) (*Key, error) {
		return c.findOn(ec, op, &q)
	})
}

// checkQuery fails after Close, and on a malformed query.
func (c *Core) checkQuery(q *Query) error {
	if err := c.CheckOpen(); err != nil {
		return err
	}
	if q.Fingerprint != nil && len(q.Fingerprint) != sha256.Size {
		return c.Errorf("key query: a fingerprint is a SHA-256 digest (%d bytes, not %d): %w",
			sha256.Size, len(q.Fingerprint), minidriver.ErrInvalidParameter)
	}
	if q.KeySpec != 0 && !q.KeySpec.Valid() {
		return c.Errorf("key query: key spec %d: %w", q.KeySpec, minidriver.ErrInvalidParameter)
	}
	return nil
}

// findByID is Find for a query that names a card identity: the cards are
// opened first and only the one of that identity is asked (no operation
// on the others, which CardsDo would run before their identity is known).
func (c *Core) findByID(ctx context.Context, q *Query) (*Key, error) {
	cards, failed, err := c.CardsFor(ctx, q.Reader)
	if err != nil {
		return nil, err
	}
	for _, ec := range cards {
		if ec.ID() != q.CardID {
			continue
		}
		var found *Key
		err := ec.Do(ctx, func(op *engine.Op) error {
			var err error
			found, err = c.findOn(ec, op, q)
			return err
		})
		if err != nil {
			if q.Reader != "" || ctx.Err() != nil {
				return nil, c.Errorf("%w", err)
			}
			failed = append(failed, &CardError{Reader: ec.Reader(), CardID: ec.ID(), Err: err})
			continue
		}
		if found != nil {
			return found, nil
		}
	}
	if len(failed) > 0 {
		return nil, c.Errorf("no key matches: %w; %w", minidriver.ErrNoKeyContainer, failed)
	}
	return nil, c.Errorf("no key matches: %w", minidriver.ErrNoKeyContainer)
}

// findOn returns the first key of card ec that matches q, or nil. Errors
// are not prefixed yet.
// A query that names a container asks only about it (Op.FindContainer:
// on a PIV card without a stored map, one slot instead of 24).
func (c *Core) findOn(ec *engine.Card, op *engine.Op, q *Query) (*Key, error) {
	var recs []cardfs.ContainerMapRecord
	if q.Container != "" {
		r, ok, err := op.FindContainer(q.Container)
		if err != nil {
			return nil, fmt.Errorf("container map: %w", err)
		}
		if !ok {
			return nil, nil
		}
		recs = []cardfs.ContainerMapRecord{r}
	} else {
		m, err := op.ContainerMap()
		if err != nil {
			return nil, fmt.Errorf("container map: %w", err)
		}
		recs = m.ValidRecords()
	}
	for _, r := range recs {
		if q.Address != nil {
			a, err := minidriver.ContainerAddress(op.Context(), op.Card(), op.Tx(), r.Index)
			switch {
			case errors.Is(err, minidriver.ErrUnsupported):
				return nil, nil // no key of this card has an address
			case errors.Is(err, minidriver.ErrNoKeyContainer):
				continue
			case err != nil && cardLevel(err):
				return nil, fmt.Errorf("container %q: address: %w", r.Name, err)
			case err != nil:
				continue
			}
			if !sameAddress(a, q.Address) {
				continue
			}
		}
		info, err := op.ContainerInfo(r.Index)
		switch {
		case err != nil && cardLevel(err):
			return nil, fmt.Errorf("container %q: %w", r.Name, err)
		case err != nil:
			continue
		}
		ct := &Container{Ref: c.NewRef(ec), Name: r.Name, Index: r.Index, Default: r.Default(), Info: info}
		for _, spec := range ct.KeySpecs() {
			if q.KeySpec != 0 && spec != q.KeySpec {
				continue
			}
			k, err := ct.Key(spec)
			if err != nil {
				return nil, err
			}
			if q.Public != nil && !samePublicEither(q.Public, k.pub) {
				continue
			}
			if needsCert(q) {
				cert, err := c.readCert(op, r.Index, spec.Slot())
				if err != nil && cardLevel(err) {
					return nil, fmt.Errorf("container %q: certificate: %w", r.Name, err)
				}
				if err != nil || !matchCert(q, cert) {
					continue
				}
			}
			return k, nil
		}
	}
	return nil, nil
}

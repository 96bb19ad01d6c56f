package cspcore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/cardmod/cardmod/cardfs"
	"github.com/cardmod/cardmod/internal/engine"
	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/scrm"
)

// CardError is a card, or one object on it, that a listing could not
// read; the providers export it under the same name.
type CardError = engine.CardError

// CardErrors is what a listing could not read, returned beside what it
// did read; the providers export it under the same name.
type CardErrors = engine.CardErrors

// cardsPresent returns the cards present and what could not be opened
// (engine.Cards' CardErrors); err is any other failure, with no cards.
func (c *Core) cardsPresent(ctx context.Context) ([]*engine.Card, CardErrors, error) {
	cards, err := c.e.Cards(ctx)
	var failed CardErrors
	if err != nil && !errors.As(err, &failed) {
		return nil, nil, c.Errorf("%w", err)
	}
	return cards, failed, nil
}

// listErr is the error of a listing that could not read failed: nil when
// it read everything, else failed (ordered by reader) with the provider's
// prefix.
func (c *Core) listErr(failed CardErrors) error {
	if len(failed) == 0 {
		return nil
	}
	slices.SortStableFunc(failed, func(a, b *CardError) int { return strings.Compare(a.Reader, b.Reader) })
	return c.Errorf("%w", failed)
}

// listCards runs fn on every card present, each in one operation, and
// returns what fn listed on every card it could read. A card that cannot
// be opened, or whose operation fails, is a CardError (and what fn
// listed on it is dropped); fn reports an object it cannot read with bad
// and goes on. The error is nil, a CardErrors with the provider's prefix
// beside the results, or (with no results) why nothing could be listed.
func listCards[T any](ctx context.Context, c *Core, fn func(ec *engine.Card, op *engine.Op, bad func(*CardError)) ([]T, error)) ([]T, error) {
	type listed struct {
		items    []T
		itemErrs CardErrors
	}
	got := map[*engine.Card]*listed{}
	// Each card's operation runs as the engine finds it: a card not open
	// yet is opened in its transaction (engine.Engine.CardsDo).
	cards, opErrs, _, err := c.e.CardsDo(ctx, func(ec *engine.Card, op *engine.Op) error {
		l := &listed{}
		got[ec] = l
		var err error
		l.items, err = fn(ec, op, func(e *CardError) {
			e.Reader, e.CardID = ec.Reader(), ec.ID()
			l.itemErrs = append(l.itemErrs, e)
		})
		return err
	}, nil)
	var failed CardErrors
	if err != nil && !errors.As(err, &failed) {
		return nil, c.Errorf("%w", err)
	}
	var out []T
	for i, ec := range cards {
		if opErrs[i] != nil {
			failed = append(failed, &CardError{Reader: ec.Reader(), CardID: ec.ID(), Err: opErrs[i]})
			continue
		}
		if l := got[ec]; l != nil {
			out = append(out, l.items...)
			failed = append(failed, l.itemErrs...)
		}
	}
	return out, c.listErr(failed)
}

// containerList says which containers listContainers visits and what it
// reads of each.
type containerList struct {
	// info: fn gets the container's public keys (from the cache while
	// cardcf is unchanged; none for a container without keys), and a
	// container whose keys cannot be read is reported with bad and
	// passed over; without it, info is empty.
	info bool
	// certified: the containers holding a certificate, where the
	// plug-in finds them for less than the container map costs (a PIV
	// card without a stored map: engine.Op.CertificateMap); elsewhere,
	// and without it, every valid container of the map.
	certified bool
}

// listContainers runs fn, through listCards, on the valid containers of
// every card present that l selects: the one loop of the listings over
// containers.
func listContainers[T any](ctx context.Context, c *Core, l containerList, fn func(ec *engine.Card, op *engine.Op, r cardfs.ContainerMapRecord, info minidriver.ContainerInfo, bad func(*CardError)) ([]T, error)) ([]T, error) {
	return listCards(ctx, c, func(ec *engine.Card, op *engine.Op, bad func(*CardError)) ([]T, error) {
		var m *cardfs.ContainerMap
		ok := false
		if l.certified {
			var err error
			if m, ok, err = op.CertificateMap(); err != nil {
				return nil, fmt.Errorf("certificate scan: %w", err)
			}
		}
		if !ok {
			var err error
			if m, err = op.ContainerMap(); err != nil {
				return nil, fmt.Errorf("container map: %w", err)
			}
		}
		var out []T
		for _, r := range m.ValidRecords() {
			var info minidriver.ContainerInfo
			if l.info {
				var err error
				info, err = op.ContainerInfo(r.Index)
				switch {
				case err == nil, errors.Is(err, minidriver.ErrNoKeyContainer):
				case cardLevel(err):
					return nil, fmt.Errorf("container %q: %w", r.Name, err)
				default:
					bad(&CardError{Container: r.Name, Err: err})
					continue
				}
			}
			items, err := fn(ec, op, r, info, bad)
			if err != nil {
				return nil, err
			}
			out = append(out, items...)
		}
		return out, nil
	})
}

// cardLevel reports whether err, met reading one object of a card, is a
// failure of the card or its connection (the operation cannot go on)
// rather than of that object.
func cardLevel(err error) bool {
	return errors.Is(err, scrm.ErrRemovedCard) || errors.Is(err, scrm.ErrResetCard) ||
		errors.Is(err, scrm.ErrNoSmartcard) || errors.Is(err, scrm.ErrUnresponsiveCard) ||
		errors.Is(err, scrm.ErrUnpoweredCard) || errors.Is(err, scrm.ErrNotTransacted) ||
		errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

package ksp

import (
	"context"

	"github.com/cardmod/cardmod/internal/cspcore"
)

// KeyQuery says which key FindKey looks for: basecsp.KeyQuery, the same
// type, whose doc lists its fields. Container is the key's name; Address a
// plug-in's own key address (piv.SlotAuthentication, slot 9A; a GIDS
// gids.KeyRef); Public,
// Subject and Fingerprint name the key by its public key or its
// certificate. The fields set must all match.
type KeyQuery = cspcore.Query

// FindKey returns the first key that matches q, as the Base CSP's
// Provider.FindKey finds it (cards in reader order, keys in container map
// order, the signature key of a two-key container first: set KeySpec for
// the other). Not found is an error matching minidriver.ErrNoKeyContainer.
func (p *Provider) FindKey(ctx context.Context, q KeyQuery) (*Key, error) {
	k, err := p.core.Find(ctx, q)
	if err != nil {
		return nil, err
	}
	return finalizedKey(p, k), nil
}

package ksp

import (
	"context"

	"github.com/cardmod/cardmod/keystore"
)

// KeyQuery says which key FindKey looks for, by what its user knows of it
// (certificate subject or fingerprint, public key, key name, a
// plug-in's own address such as a PIV slot or a GIDS key reference):
// keystore.KeyQuery (whose doc lists its fields), shared with package basecsp.
type KeyQuery = keystore.KeyQuery

// FindKey returns the first key that matches q, as the Base CSP's
// Provider.FindKey finds it (cards in reader order, keys in container map
// order, the signature key of a two-key container first: set KeySpec for
// the other). Not found is an error matching minidriver.ErrNoKeyContainer.
func (p *Provider) FindKey(ctx context.Context, q KeyQuery) (*Key, error) {
	return p.finalized(p.core.Find(ctx, q))
}

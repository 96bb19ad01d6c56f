package basecsp

import (
	"context"

	"github.com/cardmod/cardmod/keystore"
)

// KeyQuery says which key FindKey looks for, by what its user knows of it
// (certificate subject or fingerprint, public key, container name, a
// plug-in's own address such as a PIV slot or a GIDS key reference):
// keystore.KeyQuery (whose doc lists its fields), shared with package ksp.
type KeyQuery = keystore.KeyQuery

// FindKey returns the first key that matches q, looking at the cards in
// reader order and at each card's containers in container map order (a
// container's signature key before its key exchange key). Container
// information comes from the data cache while cardcf says it is fresh;
// certificates are read only when q names one (Subject, Fingerprint). A
// key found nowhere is an error matching minidriver.ErrNoKeyContainer
// (wrapping too the keystore.CardErrors of cards that could not be read); a card
// that cannot be read does not hide a key on another. A malformed query
// (a Fingerprint that is not 32 bytes) matches minidriver.ErrInvalidParameter.
func (p *Provider) FindKey(ctx context.Context, q KeyQuery) (*Key, error) {
	k, err := p.core.Find(ctx, q)
	if err != nil {
		return nil, err
	}
	return &Key{coreKey: k, c: &Container{k.Container()}}, nil
}

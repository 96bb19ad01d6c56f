package basecsp

import (
	"context"

	"github.com/cardmod/cardmod/internal/cspcore"
)

// KeyQuery says which key FindKey looks for, by what its user knows of it.
// Every field that is set must match; the zero KeyQuery matches the first
// key of the first card. Its fields:
//
//	Reader      string                // only the card in this reader
//	CardID      cardfs.CardID         // only the card of this identity
//	Container   string                // the container's name
//	Address     minidriver.KeyAddress // the plug-in's own address: piv.SlotAuthentication (slot 9A), gids.KeyRef(0x81)
//	KeySpec     minidriver.KeySpec    // the key's spec
//	Public      crypto.PublicKey      // the key's public key
//	Subject     string                // its certificate's subject: "CN=alice,O=Example" or "alice"
//	Fingerprint []byte                // the SHA-256 digest of its certificate (DER)
//
// An Address only matches keys of the plug-in whose type it is (a
// piv.Slot only PIV keys). It is the type ksp.KeyQuery is too (where
// Container is the key's name).
type KeyQuery = cspcore.Query

// FindKey returns the first key that matches q, looking at the cards in
// reader order and at each card's containers in container map order (a
// container's signature key before its key exchange key). Container
// information comes from the data cache while cardcf says it is fresh;
// certificates are read only when q names one (Subject, Fingerprint). A
// key found nowhere is an error matching minidriver.ErrNoKeyContainer
// (wrapping too the CardErrors of cards that could not be read); a card
// that cannot be read does not hide a key on another. A malformed query
// (a Fingerprint that is not 32 bytes) matches minidriver.ErrInvalidParameter.
func (p *Provider) FindKey(ctx context.Context, q KeyQuery) (*Key, error) {
	k, err := p.core.Find(ctx, q)
	if err != nil {
		return nil, err
	}
	return &Key{coreKey: k, c: &Container{k.Container()}}, nil
}

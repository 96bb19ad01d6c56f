package basecsp

import (
	"context"

	"github.com/cardmod/cardmod/internal/cspcore"
	"github.com/cardmod/cardmod/keystore"
)

// CardError is a card, or one object on a card, that a listing
// (Provider.Cards, Containers, Certificates) could not read: keystore.CardError, shared
// with package ksp.
type CardError = keystore.CardError

// CardErrors lists what a listing could not read, returned (wrapped)
// beside everything it did read: keystore.CardErrors, shared with package
// ksp, whose doc shows how errors.As finds it.
type CardErrors = keystore.CardErrors

// KeyInfo describes one key of a card by what its user knows of it, as
// ListKeys lists it. Its fields:
//
//	Reader      string                // the reader the card is in
//	CardID      cardfs.CardID         // the card's identity
//	Plugin      string                // the card's plug-in: "PIV", "GIDS"
//	Container   string                // the key's container
//	Default     bool                  // the card's default container
//	Address     minidriver.KeyAddress // the plug-in's own address: piv.Slot, gids.KeyRef; nil if none
//	KeySpec     minidriver.KeySpec    // the key's algorithm and container slot
//	Bits        int                   // the RSA modulus or curve size
//	Public      crypto.PublicKey      // the public key
//	Certificate *x509.Certificate     // the key's certificate; nil if none
//	PIN         minidriver.PinID      // the PIN the key needs
//
// The key itself is FindKey(ctx, KeyQuery{Reader: k.Reader, Container:
// k.Container, KeySpec: k.KeySpec}); FullName is the name Container
// opens. It is the type ksp.KeyInfo is too.
type KeyInfo = cspcore.KeyInfo

// ListKeys lists every key of every card present (a container may hold
// two), cards in reader order and keys in container map order, each with
// its card, container, plug-in address, algorithm and size, public key,
// certificate and the PIN it needs. Container information, PINs and
// certificates come from the data cache while cardcf says they are fresh.
// A card that cannot be read, or an object on it (a container's keys, a
// certificate), does not hide the others: ListKeys returns every key it
// read (a key whose certificate cannot be read without it) and, as its
// error, a CardErrors naming what it could not read.
func (p *Provider) ListKeys(ctx context.Context) ([]KeyInfo, error) {
	return p.core.ListKeys(ctx)
}

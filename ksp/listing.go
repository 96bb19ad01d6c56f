package ksp

import (
	"context"

	"github.com/cardmod/cardmod/internal/cspcore"
	"github.com/cardmod/cardmod/keystore"
)

// CardError is a card, or one object on a card, that a listing
// (Provider.Keys, Certificates, the "SmartCardUserCertStore" property) could not read: keystore.CardError, shared
// with package basecsp.
type CardError = keystore.CardError

// CardErrors lists what a listing could not read, returned (wrapped)
// beside everything it did read: keystore.CardErrors, shared with package
// basecsp, whose doc shows how errors.As finds it.
type CardErrors = keystore.CardErrors

// KeyInfo describes one key of a card by what its user knows of it, as
// ListKeys lists it: basecsp.KeyInfo, the same type, whose doc lists its
// fields (reader, card identity and plug-in; container, which is the
// key's name; the plug-in's own address, a piv.Slot or gids.KeyRef; key
// spec, size and public key; certificate; the PIN it needs).
// OpenKeySpec(ctx, k.FullName(), k.KeySpec) opens the key.
type KeyInfo = cspcore.KeyInfo

// ListKeys lists every key of every card present with all that KeyInfo
// holds, as the Base CSP's Provider.ListKeys does; Keys is the cheaper
// listing of NCryptEnumKeys (name, algorithm, size), which reads no
// certificate. A card or object that cannot be read does not hide the
// others: ListKeys returns every key it read and, as its error, a
// CardErrors naming what it could not read.
func (p *Provider) ListKeys(ctx context.Context) ([]KeyInfo, error) {
	return p.core.ListKeys(ctx)
}

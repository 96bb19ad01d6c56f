package ksp

import (
	"context"

	"github.com/cardmod/cardmod/internal/cspcore"
)

// CardError is a card, or one object on a card, that a listing
// (Provider.Keys, the "SmartCardUserCertStore" property) could not read.
// Its fields:
//
//	Reader    string             // the reader the card is in
//	CardID    cardfs.CardID      // the card's identity; zero if it could not be read
//	Container string             // the key (container) concerned; "" for the whole card
//	KeySpec   minidriver.KeySpec // the key whose certificate failed; 0 otherwise
//	Err       error              // the cause (Unwrap returns it)
//
// It is the type basecsp.CardError is too.
type CardError = cspcore.CardError

// CardErrors lists what a listing could not read, in reader order, as
// []*CardError. A listing that meets a card it cannot read (a blank card,
// a card that fails, a corrupt container map) or an object it cannot read
// does not fail: it returns everything it read on every other card and,
// as its error, a CardErrors value (wrapped with the "ksp: " prefix) that
// errors.As finds:
//
//	keys, err := p.Keys(ctx)
//	var unread ksp.CardErrors
//	if errors.As(err, &unread) {
//		// keys holds every key of every readable card.
//	} else if err != nil {
//		// nothing could be listed.
//	}
//
// It is the type basecsp.CardErrors is too.
type CardErrors = cspcore.CardErrors

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

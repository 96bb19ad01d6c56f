package ksp

import "github.com/cardmod/cardmod/internal/cspcore"

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

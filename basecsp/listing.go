package basecsp

import "github.com/cardmod/cardmod/internal/cspcore"

// CardError is a card, or one object on a card, that a listing
// (Provider.Cards, Containers, Certificates) could not read. Its fields:
//
//	Reader    string             // the reader the card is in
//	CardID    cardfs.CardID      // the card's identity; zero if it could not be read
//	Container string             // the container concerned; "" for the whole card
//	KeySpec   minidriver.KeySpec // the key whose certificate failed; 0 otherwise
//	Err       error              // the cause (Unwrap returns it)
//
// It is the type ksp.CardError is too.
type CardError = cspcore.CardError

// CardErrors lists what a listing could not read, in reader order, as
// []*CardError. A listing that meets a card it cannot read (a blank card,
// a card that fails, a corrupt container map) or an object it cannot read
// (a corrupt certificate) does not fail: it returns everything it read on
// every other card and, as its error, a CardErrors value (wrapped with
// the provider's prefix):
//
//	list, err := p.Containers(ctx)
//	var unread basecsp.CardErrors
//	if errors.As(err, &unread) {
//		// list holds every container of every readable card;
//		// unread says which reader failed and why.
//	} else if err != nil {
//		// nothing could be listed (no readers, ...).
//	}
//
// errors.Is and errors.As look into every entry's cause. It is the type
// ksp.CardErrors is too.
type CardErrors = cspcore.CardErrors

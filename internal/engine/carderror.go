package engine

import "github.com/cardmod/cardmod/keystore"

// CardError is a card, or one object on a card, that a listing could not
// read: keystore.CardError.
type CardError = keystore.CardError

// CardErrors is what a listing could not read, returned beside what it
// did read: keystore.CardErrors.
type CardErrors = keystore.CardErrors

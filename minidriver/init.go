package minidriver

import (
	"context"

	"github.com/cardmod/cardmod/scrm"
)

// InitParams are the secrets and identity a blank card is initialized
// with: the card creation steps of the minidriver specification (user
// PIN, admin key, cardid). Each plug-in documents the sizes its card
// takes. The caller owns the slices and wipes them.
type InitParams struct {
	// PIN is the user PIN.
	PIN []byte
	// AdminKey is the admin key (ROLE_ADMIN).
	AdminKey []byte
	// CardID is the 16-byte cardid; nil draws one from the Env's Rand.
	CardID []byte
}

// Initializer is implemented by cards that a plug-in can take blank, as
// they leave the factory, and turn into minidriver cards (GIDS). Initialize
// runs in the caller's transaction and refuses a card that is initialized
// already with an error matching ErrFileExists; afterwards the caller
// opens the card again (its identity changed), and no authentication
// survives.
type Initializer interface {
	Initialize(ctx context.Context, tx *scrm.Tx, p InitParams) error
}

// Initialize initializes a blank card, if card can.
func Initialize(ctx context.Context, card Card, tx *scrm.Tx, p InitParams) error {
	i, ok := card.(Initializer)
	if !ok {
		return unsupported("card initialization")
	}
	return i.Initialize(ctx, tx, p)
}

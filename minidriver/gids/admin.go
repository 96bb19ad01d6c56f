package gids

import (
	"context"
	"fmt"

	"github.com/cardmod/cardmod/minidriver"
)

// AdminKey returns an AdminResponder holding a GIDS admin key (24 bytes
// for 3DES, 16 or 32 for AES; the key is copied): it answers the
// challenges of cards this package's plug-in took with AdminKeyResponse,
// and declines every other card's with an error matching
// minidriver.ErrNoAdminKey, so that minidriver.AdminResponders can ask
// another responder.
func AdminKey(key []byte) minidriver.AdminResponder {
	k := append([]byte(nil), key...)
	name := Plugin{}.Name()
	return func(_ context.Context, ch minidriver.AdminChallenge) ([]byte, error) {
		if ch.Plugin != name {
			return nil, fmt.Errorf("gids: the %s card in %q: %w", ch.Plugin, ch.Reader, minidriver.ErrNoAdminKey)
		}
		return AdminKeyResponse(k, ch.Challenge)
	}
}

var _ minidriver.Initializer = (*Card)(nil)

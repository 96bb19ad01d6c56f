package minidriver

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/cardmod/cardmod/cardfs"
)

// AdminChallenge is a card's challenge for its admin key (ROLE_ADMIN,
// CardGetChallengeEx in the specification) together with the card that asks: what
// an AdminResponder learns. One responder can so hold the keys of many
// cards, of any plug-in, and answer each with the right one.
type AdminChallenge struct {
	// Plugin is the name of the plug-in that took the card (its
	// Plugin.Name: "PIV", "GIDS", ...).
	Plugin string
	// Reader is the reader the card is in.
	Reader string
	// CardID is the card's identity (cardid, CP_CARD_GUID).
	CardID cardfs.CardID
	// Serial is the card's serial number, nil when it has none.
	Serial []byte
	// Algorithm is the admin key's algorithm as far as the card told it
	// (ChallengeAlgorithmer): "3DES", "AES-128", "AES-192", "AES-256",
	// "AES" (key size not told); "" when the card did not say.
	Algorithm string
	// Challenge is the card's challenge, as Challenge returned it.
	Challenge []byte
}

// AdminResponder computes the response to an admin challenge. A
// responder that holds no key for the card that asks returns an error
// matching ErrNoAdminKey. The plug-in packages provide responders for
// their cards' admin keys (minidriver/piv.ManagementKey,
// minidriver/gids.AdminKey); AdminResponders combines them.
type AdminResponder func(ctx context.Context, ch AdminChallenge) ([]byte, error)

// ErrNoAdminKey is the error of an AdminResponder that holds no admin key
// for the card that asks (another plug-in's card, an unknown serial).
var ErrNoAdminKey = errors.New("minidriver: no admin key for this card")

// AdminResponders returns a responder that hands each challenge to rs in
// order and returns the first answer of one that does not fail with
// ErrNoAdminKey: one responder for cards of several kinds, e.g.
//
//	minidriver.AdminResponders(piv.ManagementKey(pivKey), gids.AdminKey(gidsKey))
//
// When every responder declines, the error matches ErrNoAdminKey and
// names the card's plug-in and reader.
func AdminResponders(rs ...AdminResponder) AdminResponder {
	rs = slices.Clone(rs)
	return func(ctx context.Context, ch AdminChallenge) ([]byte, error) {
		for _, r := range rs {
			if r == nil {
				continue
			}
			resp, err := r(ctx, ch)
			if errors.Is(err, ErrNoAdminKey) {
				continue
			}
			return resp, err
		}
		return nil, fmt.Errorf("%w: the %s card in %q", ErrNoAdminKey, ch.Plugin, ch.Reader)
	}
}

// ChallengeAlgorithmer is implemented by ChallengeResponder cards that
// know the algorithm of the key their last challenge is for, because the
// card told it (metadata, or an answer to a challenge asked for one
// algorithm).
type ChallengeAlgorithmer interface {
	// ChallengeAlgorithm names the algorithm of PIN id's key for the
	// challenge Challenge returned last in this transaction ("3DES",
	// "AES-128", "AES-192", "AES-256", or "AES" when the card told only
	// the cipher), or "" when the card did not say.
	ChallengeAlgorithm(id PinID) string
}

// ChallengeAlgorithm returns card's ChallengeAlgorithm of PIN id, "" when
// card does not know it.
func ChallengeAlgorithm(card Card, id PinID) string {
	if a, ok := card.(ChallengeAlgorithmer); ok {
		return a.ChallengeAlgorithm(id)
	}
	return ""
}

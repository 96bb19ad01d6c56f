package piv

import (
	"context"
	"fmt"

	"github.com/cardmod/cardmod/minidriver"
)

// ChallengeAlgorithm names the algorithm of the management key
// (PINAdmin) the pending challenge is for, as far as the card told it:
// "3DES", "AES-128", "AES-192" or "AES-256" on a card with GET METADATA
// (YubiKey 5.3 and later, Yubico's PIV metadata notes), where the card
// gave the challenge for that algorithm (it refuses a request of another:
// see challengeAlgorithm) or GET METADATA of 9B reported it; otherwise
// the challenge's size tells only the cipher
// (SP 800-73-4 Part 2 §3.2.4, the witness is one block): "3DES" for 8
// bytes, "AES" for 16. "" without a pending challenge.
func (c *Card) ChallengeAlgorithm(id minidriver.PinID) string {
	if id != PINAdmin || c.challenge == nil {
		return ""
	}
	if c.q.metadata {
		return mgmtAlgName(c.mgmtAlg)
	}
	switch len(c.challenge) {
	case 8:
		return "3DES"
	case 16:
		return "AES"
	}
	return ""
}

func mgmtAlgName(alg byte) string {
	switch alg {
	case algTDES:
		return "3DES"
	case algAES128:
		return "AES-128"
	case algAES192:
		return "AES-192"
	case algAES256:
		return "AES-256"
	}
	return ""
}

// ManagementKey returns an AdminResponder holding a PIV management key
// (3DES, or AES of 16, 24 or 32 bytes; the key is copied): it answers the
// challenges of cards this package's plug-in took with
// ManagementKeyResponse, and declines every other card's with an error
// matching minidriver.ErrNoAdminKey, so that minidriver.AdminResponders
// can ask another responder.
func ManagementKey(key []byte) minidriver.AdminResponder {
	k := append([]byte(nil), key...)
	name := Plugin{}.Name()
	return func(_ context.Context, ch minidriver.AdminChallenge) ([]byte, error) {
		if ch.Plugin != name {
			return nil, fmt.Errorf("piv: the %s card in %q: %w", ch.Plugin, ch.Reader, minidriver.ErrNoAdminKey)
		}
		return ManagementKeyResponse(k, ch.Challenge)
	}
}

package keystore

import (
	"errors"
	"fmt"

	"github.com/cardmod/cardmod/cardfs"
)

// Errors both providers return, tested with errors.Is: one sentinel per
// meaning, whichever provider (basecsp or ksp) met it. What only one
// provider can meet (ksp's properties, say) is that provider's own.
var (
	// ErrExists: a container (in ksp: a key) of that name is already on
	// the card (NTE_EXISTS). It also matches cardfs.ErrContainerExists.
	ErrExists = fmt.Errorf("keystore: container exists (NTE_EXISTS): %w", cardfs.ErrContainerExists)
	// ErrNoCertificate: the key has no certificate on the card.
	ErrNoCertificate = errors.New("keystore: no certificate")
	// ErrBadName: a container (key) name that breaks the naming rules of
	// ParseName: a backslash outside the \\.\Reader\ prefix, more than 39
	// characters, no reader after the prefix. It also matches
	// cardfs.ErrInvalidName.
	ErrBadName = fmt.Errorf("keystore: bad container name (NTE_INVALID_PARAMETER): %w", cardfs.ErrInvalidName)
	// ErrClosed: the provider was closed. Every method of a closed
	// provider, and of its cards, containers and keys, that returns an
	// error returns one matching it, without touching a card or asking
	// for a PIN; so does a second Close.
	ErrClosed = errors.New("keystore: provider closed")
)

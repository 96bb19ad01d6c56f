package minidriver

import (
	"context"
	"fmt"

	"github.com/cardmod/cardmod/scrm"
)

// KeyAddress is where a card keeps a container's key, in the card's own
// terms rather than the contract's container index: a PIV key slot
// (minidriver/piv.Slot) or a GIDS key reference (minidriver/gids.KeyRef).
// A plug-in defines its own comparable type for it, so addresses of
// different plug-ins never match; two addresses are the same key location
// when they are == (same type, same value). String is how the card's documentation writes it ("9A").
type KeyAddress interface {
	String() string
}

// ContainerAddresser is a Card whose containers sit at addresses of the
// card's own (PIV slots, GIDS key references). The providers find a key by
// such an address (basecsp.KeyQuery.Address, ksp.KeyQuery.Address) and list
// it (ListKeys' KeyInfo.Address).
type ContainerAddresser interface {
	// ContainerAddress returns where the key of container idx is; a
	// container that does not exist is ErrNoKeyContainer.
	ContainerAddress(ctx context.Context, tx *scrm.Tx, idx int) (KeyAddress, error)
}

// ContainerAddress returns the card's own address of container idx, if
// card has addresses of its own (ErrUnsupported otherwise).
func ContainerAddress(ctx context.Context, card Card, tx *scrm.Tx, idx int) (KeyAddress, error) {
	a, ok := card.(ContainerAddresser)
	if !ok {
		return nil, fmt.Errorf("%w: container addresses", ErrUnsupported)
	}
	return a.ContainerAddress(ctx, tx, idx)
}

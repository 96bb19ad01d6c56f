package gids

import (
	"context"
	"fmt"

	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/scrm"
)

// KeyRef is a GIDS key reference, the card's own address of a key (a
// minidriver.KeyAddress): the reference that MANAGE SECURITY ENVIRONMENT
// (tag 84) and GENERATE ASYMMETRIC KEY PAIR (tag 83) name the key by, the
// low byte of its key file B0xx (GIDS v2.0's key files; OpenSC's
// card-gids.c numbers them from GIDS_FIRST_KEY_IDENTIFIER, 81, as the
// Windows minidriver does). Container i of the key map holds key
// reference 81 + i (KeyRefOf). Its String is the reference in hex, "81".
type KeyRef byte

// KeyRefOf returns the key reference of key map index (container) i, 0
// to MaxContainers-1: 81 to FF. Any other i gives 0, which is no key.
func KeyRefOf(i int) KeyRef {
	if i < 0 || i >= MaxContainers {
		return 0
	}
	return KeyRef(keyRef(i))
}

// String returns the key reference in hex ("81").
func (r KeyRef) String() string { return fmt.Sprintf("%02X", byte(r)) }

var (
	_ minidriver.KeyAddress         = KeyRef(0)
	_ minidriver.ContainerAddresser = (*Card)(nil)
)

// ContainerAddress returns the key reference of container idx
// (minidriver.ContainerAddresser), from the key map (read at most once a
// transaction, kept while cardcf is unchanged: no APDU of its own on a
// warm card). A free index, or one no container can have, is
// minidriver.ErrNoKeyContainer; a corrupt key map record
// minidriver.ErrCommDataLost.
func (c *Card) ContainerAddress(ctx context.Context, tx *scrm.Tx, idx int) (minidriver.KeyAddress, error) {
	if _, _, err := c.container(ctx, tx, idx); err != nil {
		return nil, err
	}
	return KeyRefOf(idx), nil
}

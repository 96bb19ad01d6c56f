package piv

import (
	"context"
	"fmt"

	"github.com/cardmod/cardmod/cardfs"
	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/scrm"
)

// Slot is a PIV key slot, the key reference of SP 800-73-4 Part 1, Table
// 4b: a card's own address of a key (a minidriver.KeyAddress). Its String
// is the key reference in hex, "9A".
type Slot byte

// The key slots of SP 800-73-4 Part 1, Table 4b; the twenty retired key
// management slots are RetiredSlot(1) (82) to RetiredSlot(20) (95).
const (
	SlotAuthentication     Slot = 0x9A // PIV Authentication key
	SlotSignature          Slot = 0x9C // Digital Signature key
	SlotKeyManagement      Slot = 0x9D // Key Management key
	SlotCardAuthentication Slot = 0x9E // Card Authentication key
)

// RetiredSlot returns retired key management slot n (1 to 20: 82 to 95);
// any other n gives 0, which is no slot.
func RetiredSlot(n int) Slot {
	if n < 1 || n > 20 {
		return 0
	}
	return Slot(0x82 + n - 1)
}

// String returns the key reference in hex ("9A").
func (s Slot) String() string { return fmt.Sprintf("%02X", byte(s)) }

var (
	_ minidriver.KeyAddress         = Slot(0)
	_ minidriver.ContainerAddresser = (*Card)(nil)
)

// ContainerAddress returns the slot of container idx
// (minidriver.ContainerAddresser): the stored container map's record, or
// on a card without one the slot table's (docs/piv-mapping.md), without
// asking whether the slot holds a key (the container map says which
// containers exist). An index no container can have, or an invalid
// stored record, is minidriver.ErrNoKeyContainer.
func (c *Card) ContainerAddress(ctx context.Context, tx *scrm.Tx, idx int) (minidriver.KeyAddress, error) {
	if idx < 0 || idx >= cardfs.MaxContainers {
		return nil, fmt.Errorf("piv: container %d: %w", idx, minidriver.ErrNoKeyContainer)
	}
	recs, stored, err := c.storedMap(ctx, tx)
	if err != nil {
		return nil, err
	}
	if !stored {
		if idx >= maxContainers {
			return nil, fmt.Errorf("piv: container %d: %w", idx, minidriver.ErrNoKeyContainer)
		}
		return Slot(slotTable[idx]), nil
	}
	if idx >= len(recs) {
		return nil, fmt.Errorf("piv: container %d: %w", idx, minidriver.ErrNoKeyContainer)
	}
	ct := fromRecord(idx, recs[idx])
	if !ct.valid() {
		return nil, fmt.Errorf("piv: container %d: %w", idx, minidriver.ErrNoKeyContainer)
	}
	return Slot(ct.Slot), nil
}

package piv

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/cardmod/cardmod/cardfs"
	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/scrm"
)

var _ minidriver.ContainerFinder = (*Card)(nil)

// FindContainer finds the container called name, or the default one when
// name is "" (minidriver.ContainerFinder). With a stored container map
// (5FFF10) it is the map's record. Without one, container i is slot
// slotTable[i] and its name is derived from the card identity and the
// slot (containerName), so the name alone says which slot to ask about:
// one GET METADATA (or certificate read) for that slot, plus one for each
// slot before it that the card has, to tell whether it is the default (the
// first slot holding a key). Building the whole map instead asks about all
// 24 slots.
func (c *Card) FindContainer(ctx context.Context, tx *scrm.Tx, name string) (cardfs.ContainerMapRecord, error) {
	c.begin(tx)
	recs, stored, err := c.storedMap(ctx, tx)
	if err != nil {
		return cardfs.ContainerMapRecord{}, err
	}
	if stored {
		for i, r := range recs {
			ct := fromRecord(i, r)
			if !ct.valid() || (name == "" && ct.Flags&cardfs.ContainerDefault == 0) || (name != "" && !strings.EqualFold(ct.Name, name)) {
				continue
			}
			return mapRecord(ct), nil
		}
		return cardfs.ContainerMapRecord{}, notFound(name)
	}
	def := true // no slot before this one holds a key
	for i, slot := range slotTable {
		if c.lacking[slot] {
			continue
		}
		cname := containerName(c.guid, slot)
		if n, ok := c.memNames[slot]; ok {
			cname = n
		}
		want := name == "" || strings.EqualFold(cname, name)
		if !want && !def {
			continue
		}
		ki, err := c.slotInfo(ctx, tx, slot)
		if errors.Is(err, minidriver.ErrNoKeyContainer) || errors.Is(err, minidriver.ErrUnsupported) || errors.Is(err, minidriver.ErrCommDataLost) {
			// As in the whole map (containers): no container here.
			if want && name != "" {
				break
			}
			continue
		}
		if err != nil {
			return cardfs.ContainerMapRecord{}, err
		}
		if want {
			bits, _, _ := algBits(ki.Alg)
			ct := container{Index: i, Name: cname, Flags: cardfs.ContainerValid, Slot: slot, Spec: c.specFor(slot, ki.Alg), Bits: bits}
			if def {
				ct.Flags |= cardfs.ContainerDefault
			}
			return mapRecord(ct), nil
		}
		def = false
	}
	return cardfs.ContainerMapRecord{}, notFound(name)
}

func notFound(name string) error {
	if name == "" {
		return fmt.Errorf("piv: no default container: %w", minidriver.ErrNoKeyContainer)
	}
	return fmt.Errorf("piv: container %q: %w", name, minidriver.ErrNoKeyContainer)
}

// mapRecord is a container's cmapfile record, as marshalCmapfile writes
// it.
func mapRecord(ct container) cardfs.ContainerMapRecord {
	r := cardfs.ContainerMapRecord{Index: ct.Index, Name: ct.Name, Flags: ct.Flags & (cardfs.ContainerValid | cardfs.ContainerDefault)}
	if ct.Spec.InSignatureSlot() {
		r.SigKeySizeBits = uint16(ct.Bits)
	} else {
		r.KeyExchangeKeySizeBits = uint16(ct.Bits)
	}
	return r
}

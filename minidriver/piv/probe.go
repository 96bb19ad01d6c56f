package piv

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/cardmod/cardmod/cardfs"
	"github.com/cardmod/cardmod/scrm"
)

// What the plug-in learns by asking the card rather than by reading its
// version number (docs/piv-mapping.md, "What the plug-in probes").

// storeState is what is known of the card's room for cardmod's file store
// (Yubico object 5FFF20, which holds cardcf) and container map (5FFF10).
type storeState uint8

const (
	// storeUnknown: the object is absent; whether the card could hold
	// it is learnt at the first write.
	storeUnknown storeState = iota
	// storeYes: the card holds the object (read, or written by this
	// Card).
	storeYes
	// storeNo: the card refused the object: it has no such data object.
	// Known for the Card's lifetime.
	storeNo
)

// swOf returns the status word of a card's refusal.
func swOf(err error) (uint16, bool) {
	var se *scrm.StatusError
	if errors.As(err, &se) {
		return se.SW(), true
	}
	return 0, false
}

// lacksObject reports whether a refusal of GET DATA or PUT DATA says the
// card has no such data object at all (as opposed to an absent object,
// 6A82 on GET DATA): function not supported (6A81), incorrect P1-P2 or
// reference (6A86, 6A88), wrong data (6A80: a tag outside the card's
// list), instruction or class not supported (6D00, 6E00). ISO/IEC 7816-4,
// 5.6; SP 800-73-4 part 2, 3.1.2 (GET DATA) and 3.3.1 (PUT DATA).
func lacksObject(err error, put bool) bool {
	sw, ok := swOf(err)
	if !ok {
		return false
	}
	switch sw {
	case 0x6A81, 0x6A86, 0x6A88, 0x6A80, 0x6D00, 0x6E00:
		return true
	case 0x6A82:
		return put // PUT DATA: "file or application not found"
	}
	return false
}

// lacksSlot reports whether a refusal of GET METADATA says the card has no
// such key slot: incorrect P1-P2 (6A86, the key reference P2 is not one of
// the card's), referenced data not found (6A88) or function not supported
// (6A81). 6A82 is an empty slot the card has.
func lacksSlot(err error) bool {
	sw, ok := swOf(err)
	return ok && (sw == 0x6A86 || sw == 0x6A88 || sw == 0x6A81)
}

// noKeyStatus reports whether a refusal of GET METADATA means "no key
// there": an empty slot (6A82) or one the card lacks (lacksSlot).
func noKeyStatus(err error) bool {
	sw, ok := swOf(err)
	return ok && (sw == 0x6A82 || lacksSlot(err))
}

// lacksInstruction reports whether the card does not know the command at
// all (6D00, 6E00): what a card without a Yubico extension answers.
func lacksInstruction(err error) bool {
	sw, ok := swOf(err)
	return ok && (sw == 0x6D00 || sw == 0x6E00)
}

// noteSlotLacking remembers, for the Card's lifetime, that the card has no
// slot (it said so); the scan of containers no longer asks for it.
func (c *Card) noteSlotLacking(slot byte) {
	if c.lacking == nil {
		c.lacking = make(map[byte]bool)
	}
	c.lacking[slot] = true
}

// initialStore is the file store a card gets when cardmod first writes to
// it: the mscp directory and cardcf, whose counters start at a random
// value so that no cache entry made for an earlier life of the card (a
// store deleted by a reset, say) can match it.
func initialStore() (*cardfs.MemFS, error) {
	fs, err := parseFileStore(nil)
	if err != nil {
		return nil, err
	}
	if err := fs.CreateDirectory(cardfs.RolesAll, cardfs.MSCPDir, cardfs.UserCreateDeleteDirAc); err != nil {
		return nil, err
	}
	var r [4]byte
	if _, err := rand.Read(r[:]); err != nil {
		return nil, err
	}
	cf := cardfs.CardCF{Containers: binary.LittleEndian.Uint16(r[:2]), Files: binary.LittleEndian.Uint16(r[2:])}
	if err := fs.CreateFile(cardfs.RolesAll, "", cardfs.CardCFFile, cardfs.CardCFSize, cardfs.EveryoneReadUserWriteAc); err != nil {
		return nil, err
	}
	if err := fs.WriteFile(cardfs.RolesAll, "", cardfs.CardCFFile, cf.Marshal()); err != nil {
		return nil, err
	}
	return fs, nil
}

// ensureStore runs before the plug-in's first write to the card in a
// transaction: a card without the file store object gets one, with
// cardcf, so that from the next transaction on every process can trust
// cardcf (the caller found none in this one and cached nothing). A card
// that refuses the object (lacksObject) has no store for the Card's
// lifetime: it keeps no cardcf, so nobody caches its content, and its
// writes go to the SP 800-73-4 objects only. A refusal for want of the
// management key (6982) is returned: the write would have been refused
// too.
func (c *Card) ensureStore(ctx context.Context, tx *scrm.Tx) error {
	if c.store != storeUnknown {
		return nil
	}
	if _, err := c.getData(ctx, tx, objFileStore); err == nil {
		c.store = storeYes
		return nil
	} else if lacksObject(err, false) {
		c.store = storeNo
		return nil
	} else if !errors.Is(err, scrm.ErrNotFound) {
		return cardErr("read file store", err)
	}
	fs, err := initialStore()
	if err != nil {
		return fmt.Errorf("piv: file store: %w", err)
	}
	err = c.putObject(ctx, tx, objFileStore, marshalFileStore(fs))
	switch {
	case err == nil:
		c.store = storeYes
		return nil
	case lacksObject(err, true):
		c.store = storeNo
		c.remember(objFileStore, nil)
		return nil
	}
	return cardErr(fmt.Sprintf("put data %06X", objFileStore), err)
}

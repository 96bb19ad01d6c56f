package piv

import (
	"bytes"
	"fmt"

	"github.com/cardmod/cardmod/cardfs"
	"github.com/cardmod/cardmod/scrm"
)

// The plug-in keeps some of what it reads in the caller's data cache
// (minidriver.Env.Cache, the spec's pfnCspCacheAddFile and
// pfnCspCacheLookupFile), so that a later transaction, or a new process
// with a disk cache, does not read it again while cardcf says it is
// fresh: the container map object (5FFF10) and the certificate objects,
// which change only through writes that bump cardcf's files counter, and
// each slot's GET METADATA answer, which changes only with the slot's key
// (a creation or deletion bumps the containers counter first). cardcf
// itself (the file store, 5FFF20) is never taken from there: it is what
// everything else is checked against. An item is one byte, 1 for an object
// the card holds followed by its value or 0 for one it answered 6A82 to.

// hostClass returns the cardcf class of an object the plug-in keeps in
// the caller's cache, and whether it keeps it.
func hostClass(tag uint32) (cardfs.Stale, bool) {
	switch {
	case tag == objMSCMAP:
		return cardfs.StaleFiles, true
	case tag&0xFF000000 == metaTag(0):
		return cardfs.StaleContainers, true
	}
	for _, s := range slotTable {
		if tag == certObject(s) {
			return cardfs.StaleFiles, true
		}
	}
	return 0, false
}

func hostName(tag uint32) string { return fmt.Sprintf("piv/%08x", tag) }

// hostLookup fills the transaction's object table with tag from the
// caller's cache; it reports whether it did.
func (c *Card) hostLookup(tx *scrm.Tx, tag uint32) bool {
	if c.env.Cache == nil {
		return false
	}
	if _, ok := hostClass(tag); !ok {
		return false
	}
	b, ok := c.env.Cache.LookupFile(tx, hostName(tag))
	switch {
	case !ok || len(b) == 0:
		return false
	case b[0] == 0 && len(b) == 1:
		c.remember(tag, nil)
	case b[0] == 1:
		c.remember(tag, b[1:])
	default:
		return false
	}
	return true
}

// hostAdd keeps tag's value (nil: absent) in the caller's cache.
func (c *Card) hostAdd(tx *scrm.Tx, tag uint32, v []byte) {
	if c.env.Cache == nil {
		return
	}
	class, ok := hostClass(tag)
	if !ok {
		return
	}
	item := []byte{0}
	if v != nil {
		item = append([]byte{1}, v...)
	}
	c.env.Cache.AddFile(tx, class, hostName(tag), item)
}

// readUnder returns the kept container map when it was read under the
// file store (cardcf) value read in this transaction: the map is known to
// be the card's now, whatever this Card writes next.
func (f *freshMap) readUnder(objs map[uint32][]byte) ([]byte, bool) {
	store, read := objs[objFileStore]
	if !f.valid || !read || (store == nil) != (f.cardcf == nil) || !bytes.Equal(store, f.cardcf) {
		return nil, false
	}
	return f.value, true
}

// mgmtAlgItem is the management key's algorithm (one byte) in the
// caller's cache.
const mgmtAlgItem = "piv/mgmtalg"

// noMetadataItem, one zero byte in the caller's cache, says that the card
// answered GET METADATA with 6D00 (instruction not supported: a YubiKey
// before firmware 5.3, Yubico's PIV extensions), so that a new process,
// which opens a YubiKey 5 by its serial alone and assumes GET METADATA,
// does not ask again. It is kept under the files counter: whatever bumps
// that counter costs one more probe at most.
const noMetadataItem = "piv/nometadata"

// metadataRefused reports whether the caller's cache says the card has no
// GET METADATA (noMetadataItem), and turns the instruction off if so.
func (c *Card) metadataRefused(tx *scrm.Tx) bool {
	if !c.q.metadata || c.env.Cache == nil {
		return false
	}
	b, ok := c.env.Cache.LookupFile(tx, noMetadataItem)
	if !ok || len(b) != 1 || b[0] != 0 {
		return false
	}
	c.q.metadata = false
	return true
}

// noMetadata turns GET METADATA off after the card answered it 6D00, and
// keeps that in the caller's cache for the next processes.
func (c *Card) noMetadata(tx *scrm.Tx) {
	c.q.metadata = false
	if c.env.Cache != nil {
		c.env.Cache.AddFile(tx, cardfs.StaleFiles, noMetadataItem, []byte{0})
	}
}

// mgmtAlgKnown reports whether alg is a management key algorithm the
// plug-in speaks.
func mgmtAlgKnown(alg byte) bool {
	switch alg {
	case algTDES, algAES128, algAES192, algAES256:
		return true
	}
	return false
}

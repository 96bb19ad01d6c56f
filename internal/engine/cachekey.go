package engine

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"

	"github.com/cardmod/cardmod/cardfs"
	"github.com/cardmod/cardmod/pincache"
)

// cacheKey is the key of a card's entries in the data caches: a hash of
// its identity (cardid and serial number) and of the reader it is in.
// Two cards that report the same identity (two cards personalised alike,
// two simulated cards with the defaults) are told apart by their
// readers, so neither is ever given the other's data; a card that moves
// to another reader is read again once.
func cacheKey(id cardfs.CardID, serial []byte, reader string) cardfs.CardID {
	h := sha256.New()
	h.Write([]byte("cardmod data cache key v1\x00"))
	h.Write(id[:])
	for _, b := range [][]byte{serial, []byte(reader)} {
		h.Write(binary.BigEndian.AppendUint32(nil, uint32(len(b))))
		h.Write(b)
	}
	var k cardfs.CardID
	copy(k[:], h.Sum(nil))
	return k
}

// sameIdentity reports whether two cards report the same identity.
func sameIdentity(a, b *Card) bool {
	return a.id == b.id && bytes.Equal(a.props.Serial, b.props.Serial)
}

// noteDuplicatesLocked marks c and every other open card that reports
// c's identity as duplicated: such cards are kept out of the disk cache,
// where the reader that tells them apart in this process might hold the
// other card in the next one; their PINs are cached by identity and
// reader (pinKey), the PINs cached under the shared identity are
// dropped (whose they were is unknown, and trying one on the other card
// would cost it a try), and their memory entries and PINs are dropped
// when they are removed. e.mu is held.
func (e *Engine) noteDuplicatesLocked(c *Card) {
	for _, o := range e.cards {
		if o != c && sameIdentity(o, c) {
			if !o.duplicate.Swap(true) {
				e.pins.PurgeCard(o.pinID)
			}
			if !c.duplicate.Swap(true) {
				e.pins.PurgeCard(c.pinID)
			}
		}
	}
}

// pinKey is the card's key in the PIN cache: its identity (cardid and
// serial number), and its reader too once another card reports the same
// identity, so that a PIN is never tried on a card it is not for.
func (c *Card) pinKey() pincache.CardID {
	if c.duplicate.Load() {
		return c.dupPinID
	}
	return c.pinID
}

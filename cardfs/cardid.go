package cardfs

import (
	"encoding/hex"
	"fmt"
	"io"
	"strconv"
)

// CardIDSize is the size of the cardid file.
const CardIDSize = 16

// CardID is the content of the cardid file: 16 random bytes that identify the
// card (not its chip serial). It changes only when the card is recycled, and
// with cardcf it keys every cached item (spec "File System Requirements: Card
// Identifier, Cache File").
type CardID [CardIDSize]byte

// NewCardID draws a card identifier from rand (normally crypto/rand.Reader).
func NewCardID(rand io.Reader) (CardID, error) {
	var id CardID
	if rand == nil {
		return id, fmt.Errorf("%w: nil random source", ErrInvalidParameter)
	}
	if _, err := io.ReadFull(rand, id[:]); err != nil {
		return CardID{}, fmt.Errorf("cardfs: reading random card id: %w", err)
	}
	return id, nil
}

// ParseCardID parses the cardid file, which must be exactly 16 bytes.
func ParseCardID(b []byte) (CardID, error) {
	var id CardID
	if len(b) != CardIDSize {
		return id, formatErr(CardIDFile, "size "+strconv.Itoa(len(b))+", want 16")
	}
	copy(id[:], b)
	return id, nil
}

// Marshal returns the 16 bytes of the cardid file.
func (id CardID) Marshal() []byte {
	b := make([]byte, CardIDSize)
	copy(b, id[:])
	return b
}

// String formats the identifier like a GUID, 8-4-4-4-12 lower-case hex
// digits, with the bytes in file order (no byte swapping of the first three
// groups as Windows' GUID text form would do).
func (id CardID) String() string {
	var buf [36]byte
	hex.Encode(buf[0:8], id[0:4])
	buf[8] = '-'
	hex.Encode(buf[9:13], id[4:6])
	buf[13] = '-'
	hex.Encode(buf[14:18], id[6:8])
	buf[18] = '-'
	hex.Encode(buf[19:23], id[8:10])
	buf[23] = '-'
	hex.Encode(buf[24:36], id[10:16])
	return string(buf[:])
}

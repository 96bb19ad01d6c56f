package cardfs

import (
	"encoding/binary"
	"strconv"
	"strings"
)

// Sizes of the cardcf file.
const (
	// CardCFSize is the size of the CSP's part of cardcf.
	CardCFSize = 6
	// MaxCardCFSize bounds the whole file. The specification reserves
	// 4 bytes per application after the CSP's part; 256 of them is more
	// than any card holds.
	MaxCardCFSize = CardCFSize + 4*256
	// CardCFCurrentVersion is CARD_CACHE_FILE_CURRENT_VERSION. Newly
	// created cards start with version 0.
	CardCFCurrentVersion = 1
)

// CardCF is the cache freshness file (CARD_CACHE_FILE_FORMAT, spec
// "File System Requirements: Cache File"):
//
//	offset 0  bVersion
//	offset 1  bPinsFreshness
//	offset 2  wContainersFreshness (little-endian)
//	offset 4  wFilesFreshness (little-endian)
//	offset 6  per-application data, kept verbatim
//
// Whoever changes the card bumps the matching counter and writes cardcf
// before changing the data it guards, in the same transaction (spec "File
// System Requirements: Cache File"). Counters wrap around.
type CardCF struct {
	Version    uint8
	Pins       uint8
	Containers uint16
	Files      uint16
	// Extra holds the bytes after offset 6 unchanged. Parse and Marshal
	// reproduce them.
	Extra []byte
}

// ParseCardCF parses the cardcf file: at least 6 bytes, at most
// MaxCardCFSize. The result does not share memory with b.
func ParseCardCF(b []byte) (CardCF, error) {
	if len(b) < CardCFSize {
		return CardCF{}, formatErr(CardCFFile, "size "+strconv.Itoa(len(b))+", want at least 6")
	}
	if len(b) > MaxCardCFSize {
		return CardCF{}, formatErr(CardCFFile, "size "+strconv.Itoa(len(b))+" over the limit of "+strconv.Itoa(MaxCardCFSize))
	}
	c := CardCF{
		Version:    b[0],
		Pins:       b[1],
		Containers: binary.LittleEndian.Uint16(b[2:]),
		Files:      binary.LittleEndian.Uint16(b[4:]),
	}
	if len(b) > CardCFSize {
		c.Extra = append([]byte(nil), b[CardCFSize:]...)
	}
	return c, nil
}

// Marshal encodes the file: 6 bytes followed by Extra.
func (c CardCF) Marshal() []byte {
	b := make([]byte, CardCFSize, CardCFSize+len(c.Extra))
	b[0] = c.Version
	b[1] = c.Pins
	binary.LittleEndian.PutUint16(b[2:], c.Containers)
	binary.LittleEndian.PutUint16(b[4:], c.Files)
	return append(b, c.Extra...)
}

// BumpPins increments the PIN freshness counter (after a PIN change or
// unblock), wrapping from 255 to 0.
func (c *CardCF) BumpPins() { c.Pins++ }

// BumpContainers increments the container freshness counter (container
// created, imported, generated or deleted), wrapping from 65535 to 0.
func (c *CardCF) BumpContainers() { c.Containers++ }

// BumpFiles increments the file freshness counter (any file created,
// written or deleted), wrapping from 65535 to 0.
func (c *CardCF) BumpFiles() { c.Files++ }

// Equal reports whether c and o encode to the same bytes.
func (c CardCF) Equal(o CardCF) bool {
	return c.Version == o.Version && c.Pins == o.Pins && c.Containers == o.Containers &&
		c.Files == o.Files && string(c.Extra) == string(o.Extra)
}

// Stale is a set of cache classes invalidated by a cardcf change.
type Stale uint8

// Cache classes (spec "File System Requirements: Cache File").
const (
	// StalePins: cached PINs and PIN information.
	StalePins Stale = 1 << iota
	// StaleContainers: container information and public keys.
	StaleContainers
	// StaleFiles: cached file contents (cmapfile, certificates, msroots).
	StaleFiles
	// StaleApplications: the per-application bytes after offset 6
	// changed; other applications' caches are stale.
	StaleApplications

	// StaleAll is every class; reported when the version byte changed,
	// since the counters can then no longer be compared.
	StaleAll = StalePins | StaleContainers | StaleFiles | StaleApplications
)

// String lists the classes: "pins|containers|files|applications", or
// "none".
func (s Stale) String() string {
	var parts []string
	for i, n := range []string{"pins", "containers", "files", "applications"} {
		if s&(1<<i) != 0 {
			parts = append(parts, n)
		}
	}
	if s&^StaleAll != 0 {
		parts = append(parts, "Stale(0x"+strconv.FormatUint(uint64(s&^StaleAll), 16)+")")
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, "|")
}

// StaleSince reports which cache classes went stale between the cardcf
// the cache was filled under (prev) and the card's current one (c). Any
// difference counts, not only an increase: counters wrap, and another
// writer may have bumped a counter any number of times.
func (c CardCF) StaleSince(prev CardCF) Stale {
	if c.Version != prev.Version {
		return StaleAll
	}
	var s Stale
	if c.Pins != prev.Pins {
		s |= StalePins
	}
	if c.Containers != prev.Containers {
		s |= StaleContainers
	}
	if c.Files != prev.Files {
		s |= StaleFiles
	}
	if string(c.Extra) != string(prev.Extra) {
		s |= StaleApplications
	}
	return s
}

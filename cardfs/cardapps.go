package cardfs

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

// CardAppsRecordSize is the size of one cardapps record.
const CardAppsRecordSize = 8

// maxCardApps bounds the number of cardapps records parsed.
const maxCardApps = 256

// CardApps is the content of the cardapps file: application names, one 8-byte
// NUL-padded record each; a name's position is its application index (spec
// "File System Requirements: Application Directory"). A record of eight NUL
// bytes is an empty slot, held as "". A new card holds DefaultCardApps.
type CardApps []string

// DefaultCardApps returns the cardapps of a newly created card: "mscp".
func DefaultCardApps() CardApps { return CardApps{MSCPDir} }

// ParseCardApps parses the cardapps file. Its size must be a multiple of 8
// (at most 256 records); in each record the name runs to the first NUL (an
// 8-character name has none) and the rest must be NUL, so that Marshal
// reproduces the file. Names must follow ValidateName; their case is kept.
func ParseCardApps(b []byte) (CardApps, error) {
	if len(b)%CardAppsRecordSize != 0 {
		return nil, formatErr(CardAppsFile, "size "+strconv.Itoa(len(b))+" not a multiple of 8")
	}
	n := len(b) / CardAppsRecordSize
	if n > maxCardApps {
		return nil, formatErr(CardAppsFile, strconv.Itoa(n)+" records, over the limit of "+strconv.Itoa(maxCardApps))
	}
	apps := make(CardApps, 0, n)
	for i := 0; i < n; i++ {
		rec := b[i*CardAppsRecordSize : (i+1)*CardAppsRecordSize]
		name := rec
		if j := bytes.IndexByte(rec, 0); j >= 0 {
			name = rec[:j]
			for _, c := range rec[j:] {
				if c != 0 {
					return nil, formatErr(CardAppsFile, "record "+strconv.Itoa(i)+": bytes after the terminating NUL")
				}
			}
		}
		if len(name) > 0 {
			if err := ValidateName(string(name)); err != nil {
				return nil, &FormatError{File: CardAppsFile, Reason: "record " + strconv.Itoa(i), Err: err}
			}
		}
		apps = append(apps, string(name))
	}
	return apps, nil
}

// Marshal encodes the file. Each name must be "" (an empty slot) or follow
// ValidateName.
func (a CardApps) Marshal() ([]byte, error) {
	if len(a) > maxCardApps {
		return nil, fmt.Errorf("%w: %d applications, over the limit of %d", ErrInvalidParameter, len(a), maxCardApps)
	}
	b := make([]byte, len(a)*CardAppsRecordSize)
	for i, name := range a {
		if name != "" {
			if err := ValidateName(name); err != nil {
				return nil, fmt.Errorf("cardfs: cardapps record %d: %w", i, err)
			}
		}
		copy(b[i*CardAppsRecordSize:], name)
	}
	return b, nil
}

// Index returns the application index of name, compared
// case-insensitively, or -1.
func (a CardApps) Index(name string) int {
	if name == "" {
		return -1
	}
	for i, n := range a {
		if strings.EqualFold(n, name) {
			return i
		}
	}
	return -1
}

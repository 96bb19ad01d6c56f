package keystore

import (
	"fmt"
	"strings"

	"github.com/cardmod/cardmod/cardfs"
)

// namePrefix begins a name that says its reader.
const namePrefix = `\\.\`

// ParseName splits a container name of one of the four forms of
// Microsoft's "Smart Card Architecture" ("Container specification
// levels"), which CAPI's CryptAcquireContext and CNG's NCryptOpenKey both
// take, and so do both providers: `\\.\Reader\Container` (that container
// on the card in that reader), `\\.\Reader\` or `\\.\Reader` (the default
// container of the card in that reader), `Container` (that container on
// any card) and "" (the default container of any card). The reader name
// ends at the first backslash after the prefix; container names cannot
// hold a backslash. Errors match ErrBadName.
func ParseName(name string) (reader, container string, err error) {
	if rest, ok := strings.CutPrefix(name, namePrefix); ok {
		reader, container, _ = strings.Cut(rest, `\`)
		if reader == "" {
			return "", "", fmt.Errorf("%w: no reader in %q", ErrBadName, name)
		}
	} else {
		container = name
	}
	if container != "" {
		if err := cardfs.ValidateContainerName(container); err != nil {
			return "", "", fmt.Errorf("%w: %q: %w", ErrBadName, container, err)
		}
	}
	return reader, container, nil
}

// FullName returns the fully qualified name of container on the card in
// reader, `\\.\Reader\Container`: what ParseName splits.
func FullName(reader, container string) string { return namePrefix + reader + `\` + container }

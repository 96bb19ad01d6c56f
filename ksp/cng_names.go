package ksp

import (
	"fmt"

	"github.com/cardmod/cardmod/internal/cspcore"
	"github.com/cardmod/cardmod/minidriver"
)

// ParseName splits a key name of one of the four Windows forms (Microsoft's
// "Smart Card Architecture": "Container specification levels", which
// NCryptOpenKey takes too): `\\.\Reader\Key`, `\\.\Reader\` (the default
// key of the card in that reader), `Key` (on any card) and "" (the default
// key of any card). A backslash in the key part is an error matching
// ErrBadName.
func ParseName(name string) (reader, key string, err error) {
	return cspcore.ParseName(name, ErrBadName)
}

// keyOf picks the key a KSP name opens in a container: the key exchange
// slot's (RSA exchange, ECDH) when there is one, else the signature
// slot's.
func keyOf(c *cspcore.Container) (*cspcore.Key, error) {
	specs := c.KeySpecs()
	if len(specs) == 0 {
		return nil, fmt.Errorf("ksp: container %q holds no key: %w", c.Name, minidriver.ErrNoKeyContainer)
	}
	return c.Key(specs[len(specs)-1])
}

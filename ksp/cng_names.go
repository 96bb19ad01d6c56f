package ksp

import (
	"fmt"

	"github.com/cardmod/cardmod/internal/cspcore"
	"github.com/cardmod/cardmod/minidriver"
)

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

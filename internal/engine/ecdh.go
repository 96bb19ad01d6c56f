package engine

import (
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"fmt"
)

// ecdhPublic converts a parsed PKIX EC key to the *ecdh.PublicKey that
// ECDH containers hold.
func ecdhPublic(pub crypto.PublicKey) (*ecdh.PublicKey, error) {
	switch k := pub.(type) {
	case *ecdh.PublicKey:
		return k, nil
	case *ecdsa.PublicKey:
		return k.ECDH()
	}
	return nil, fmt.Errorf("engine: %T is not an EC key", pub)
}

package keystore

import (
	"crypto"
	"crypto/x509"

	"github.com/cardmod/cardmod/cardfs"
	"github.com/cardmod/cardmod/minidriver"
)

// KeyInfo describes one key of a card by what its user knows of it, as
// both providers' ListKeys list it. The key itself is FindKey(ctx,
// KeyQuery{Reader: k.Reader, Container: k.Container, KeySpec: k.KeySpec})
// on either provider.
type KeyInfo struct {
	// Reader is the reader the card is in.
	Reader string
	// CardID is the card's identity (its cardid file).
	CardID cardfs.CardID
	// Plugin is the name of the card's plug-in ("PIV", "GIDS").
	Plugin string
	// Container is the key's container (CNG: the key's name).
	Container string
	// Default reports whether the container is the card's default.
	Default bool
	// Address is where the card's plug-in keeps the key, in its own terms
	// (a minidriver/piv.Slot, a minidriver/gids.KeyRef); nil when the
	// plug-in has no addresses (minidriver.ContainerAddresser).
	Address minidriver.KeyAddress
	// KeySpec is the key's spec: its algorithm and container slot.
	KeySpec minidriver.KeySpec
	// Bits is the key's size: the RSA modulus or the curve size.
	Bits int
	// Public is the key's public key: *rsa.PublicKey, *ecdsa.PublicKey or
	// (ECDH keys) *ecdh.PublicKey.
	Public crypto.PublicKey
	// Certificate is the key's certificate, nil when it has none (or when
	// it could not be read: the listing's CardErrors says so).
	Certificate *x509.Certificate
	// PIN is the PIN the key needs (minidriver.RoleUser, or a plug-in's
	// own PIN such as a PIV card's).
	PIN minidriver.PinID
}

// FullName returns `\\.\Reader\Container`, the name that opens the key's
// container.
func (k KeyInfo) FullName() string { return FullName(k.Reader, k.Container) }

package keystore

import (
	"crypto"
	"crypto/x509"

	"github.com/cardmod/cardmod/cardfs"
	"github.com/cardmod/cardmod/minidriver"
)

// KeyQuery says which key a provider's FindKey looks for, by what its user
// knows of it (basecsp.Provider.FindKey, ksp.Provider.FindKey). Every
// field that is set must match; the zero KeyQuery matches the first key of
// the first card.
type KeyQuery struct {
	// Reader, if set, looks at the card in that reader only.
	Reader string
	// CardID, if not zero, looks at the card of that identity only.
	CardID cardfs.CardID
	// Container is the container's (in ksp: the key's) name, compared as
	// the container map compares names.
	Container string
	// Address is where the card's plug-in keeps the key, in the card's own
	// terms: minidriver/piv.SlotAuthentication is PIV slot 9A,
	// minidriver/gids.KeyRef(0x81) a GIDS key reference. An Address
	// only matches keys of the plug-in whose type it is (a piv.Slot only
	// PIV keys): cards whose plug-in has such addresses implement
	// minidriver.ContainerAddresser.
	Address minidriver.KeyAddress
	// KeySpec, if not zero, is the key's spec.
	KeySpec minidriver.KeySpec
	// Public is the key's public key (an *ecdh.PublicKey matches the EC
	// key of the same point, as a certificate's key does).
	Public crypto.PublicKey
	// Subject is the subject of the key's certificate: its distinguished
	// name as pkix.Name.String writes it ("CN=alice,O=Example") or its
	// common name alone ("alice").
	Subject string
	// Fingerprint is the SHA-256 digest of the key's certificate (DER);
	// one of another length is an error matching
	// minidriver.ErrInvalidParameter.
	Fingerprint []byte
}

// CertEntry is one certificate of a provider's user certificate store
// (basecsp's PP_USER_CERTSTORE, ksp's "SmartCardUserCertStore") with the
// key it belongs to: the key of KeySpec in the container (ksp: the key)
// named Container, `\\.\`+Reader+`\`+Container.
type CertEntry struct {
	// Certificate is the certificate, parsed.
	Certificate *x509.Certificate
	// Container is the name of the key's container (ksp: the key's name).
	Container string
	// KeySpec is the key's spec (ksp: its legacy key spec).
	KeySpec minidriver.KeySpec
	// Reader is the reader its card was in.
	Reader string
	// CardID is its card's identity.
	CardID cardfs.CardID
}

package minidriver

import (
	"context"
	"crypto/ecdh"
	"fmt"

	"github.com/cardmod/cardmod/cardfs"
	"github.com/cardmod/cardmod/scrm"
)

func unsupported(what string) error { return fmt.Errorf("%w: %s", ErrUnsupported, what) }

// CreateDirectory creates an application directory, if card can.
func CreateDirectory(ctx context.Context, card Card, tx *scrm.Tx, name string, ac cardfs.DirectoryAccessCondition) error {
	w, ok := card.(FileWriter)
	if !ok {
		return unsupported("create directory")
	}
	return w.CreateDirectory(ctx, tx, name, ac)
}

// DeleteDirectory deletes an empty application directory, if card can.
func DeleteDirectory(ctx context.Context, card Card, tx *scrm.Tx, name string) error {
	w, ok := card.(FileWriter)
	if !ok {
		return unsupported("delete directory")
	}
	return w.DeleteDirectory(ctx, tx, name)
}

// CreateFile creates an empty file, if card can.
func CreateFile(ctx context.Context, card Card, tx *scrm.Tx, dir, name string, ac cardfs.FileAccessCondition) error {
	w, ok := card.(FileWriter)
	if !ok {
		return unsupported("create file")
	}
	return w.CreateFile(ctx, tx, dir, name, ac)
}

// WriteFile replaces the content of an existing file, if card can.
func WriteFile(ctx context.Context, card Card, tx *scrm.Tx, dir, name string, data []byte) error {
	w, ok := card.(FileWriter)
	if !ok {
		return unsupported("write file")
	}
	return w.WriteFile(ctx, tx, dir, name, data)
}

// DeleteFile deletes a file, if card can.
func DeleteFile(ctx context.Context, card Card, tx *scrm.Tx, dir, name string) error {
	w, ok := card.(FileWriter)
	if !ok {
		return unsupported("delete file")
	}
	return w.DeleteFile(ctx, tx, dir, name)
}

// CreateContainer generates or imports a key, if card can.
func CreateContainer(ctx context.Context, card Card, tx *scrm.Tx, req CreateContainerRequest) error {
	m, ok := card.(ContainerManager)
	if !ok {
		return unsupported("create container")
	}
	return m.CreateContainer(ctx, tx, req)
}

// DeleteContainer deletes the keys of a container, if card can.
func DeleteContainer(ctx context.Context, card Card, tx *scrm.Tx, idx int) error {
	m, ok := card.(ContainerManager)
	if !ok {
		return unsupported("delete container")
	}
	return m.DeleteContainer(ctx, tx, idx)
}

// RSADecrypt decrypts one block with a container's RSA key, if card can.
func RSADecrypt(ctx context.Context, card Card, tx *scrm.Tx, req DecryptRequest) ([]byte, error) {
	d, ok := card.(Decrypter)
	if !ok {
		return nil, unsupported("RSA decryption")
	}
	return d.RSADecrypt(ctx, tx, req)
}

// Agree computes an ECDH agreement with a container's key, if card can.
func Agree(ctx context.Context, card Card, tx *scrm.Tx, idx int, peer *ecdh.PublicKey) (int, error) {
	a, ok := card.(KeyAgreer)
	if !ok {
		return 0, unsupported("ECDH")
	}
	return a.Agree(ctx, tx, idx, peer)
}

// Challenge asks the card for a challenge for PIN id, if card can.
func Challenge(ctx context.Context, card Card, tx *scrm.Tx, id PinID) ([]byte, error) {
	c, ok := card.(ChallengeResponder)
	if !ok {
		return nil, unsupported("challenge")
	}
	return c.Challenge(ctx, tx, id)
}

// ChangeAuthenticator changes or unblocks a PIN, if card can.
func ChangeAuthenticator(ctx context.Context, card Card, tx *scrm.Tx, req ChangeRequest) error {
	c, ok := card.(AuthenticatorChanger)
	if !ok {
		return unsupported("PIN change")
	}
	if req.Mode != Unblock && req.Mode != ChangePIN {
		return fmt.Errorf("%w: change mode %#x", ErrInvalidParameter, req.Mode)
	}
	return c.ChangeAuthenticator(ctx, tx, req)
}

// SetContainerPIN sets the PIN protecting a container, if card can.
func SetContainerPIN(ctx context.Context, card Card, tx *scrm.Tx, idx int, id PinID) error {
	s, ok := card.(PropertySetter)
	if !ok {
		return unsupported("set container PIN")
	}
	return s.SetContainerPIN(ctx, tx, idx, id)
}

// ContainerFinder is implemented by cards that can find one container
// without reading the whole container map: a card that has no stored map
// and presents one built from its key slots (PIV) would otherwise ask the
// card about every slot to answer one name. The caller uses it where it has
// no fresh cmapfile of its own; the record is the one cmapfile would hold.
type ContainerFinder interface {
	// FindContainer returns the valid record of the container called name
	// (compared case-insensitively), or the default container's when name
	// is "". A name the card does not have is ErrNoKeyContainer.
	FindContainer(ctx context.Context, tx *scrm.Tx, name string) (cardfs.ContainerMapRecord, error)
}

// FindContainer finds one container by name ("" = the default), if card
// can; otherwise ErrUnsupported, and the caller reads cmapfile.
func FindContainer(ctx context.Context, card Card, tx *scrm.Tx, name string) (cardfs.ContainerMapRecord, error) {
	f, ok := card.(ContainerFinder)
	if !ok {
		return cardfs.ContainerMapRecord{}, unsupported("find container")
	}
	return f.FindContainer(ctx, tx, name)
}

// CertificateScanner is implemented by cards that can list the containers
// holding a certificate by reading the certificates themselves, where that
// costs fewer commands than the container map and then the certificates:
// a PIV card without a stored map presents one built from its key slots,
// which asks the card about every slot's key before any certificate is
// read; its scan reads each certificate object once instead. The caller
// uses it to list certificates where it has no fresh cmapfile of its own.
type CertificateScanner interface {
	// ScanCertificates returns a container map, as mscp/cmapfile is
	// encoded, whose valid records are the containers that hold a
	// certificate file: each with the index and name cmapfile gives it,
	// ContainerValid (the default flag is not looked for) and the size
	// of the certificate's key in the field of the certificate's key
	// spec. ErrUnsupported says that the card's cmapfile is the way (a
	// PIV card with a stored map).
	ScanCertificates(ctx context.Context, tx *scrm.Tx) (*cardfs.ContainerMap, error)
}

// ScanCertificates lists the containers holding a certificate, if card
// can; otherwise ErrUnsupported, and the caller reads cmapfile.
func ScanCertificates(ctx context.Context, card Card, tx *scrm.Tx) (*cardfs.ContainerMap, error) {
	s, ok := card.(CertificateScanner)
	if !ok {
		return nil, unsupported("scan certificates")
	}
	return s.ScanCertificates(ctx, tx)
}

// WriteChecker is implemented by cards that learn whether they can be
// written only when a write is about to happen, not when they are opened:
// a YubiKey is opened by its serial alone, and whether an issuer signed its
// CHUID (which makes it read-only for its holder, CardProperties.ReadOnly)
// costs a read that only a write needs. The caller asks before any login
// of a write (the user PIN of a create flow, the admin key).
type WriteChecker interface {
	// CheckWritable returns an error matching ErrReadOnly when the card
	// cannot be written, asking the card what it must; nil when it can.
	// Afterwards Properties reports ReadOnly accordingly.
	CheckWritable(ctx context.Context, tx *scrm.Tx) error
}

// CheckWritable asks whether the card can be written, if card can tell
// more than its Properties; otherwise ErrUnsupported, and Properties'
// ReadOnly is the answer.
func CheckWritable(ctx context.Context, card Card, tx *scrm.Tx) error {
	w, ok := card.(WriteChecker)
	if !ok {
		return unsupported("check writable")
	}
	return w.CheckWritable(ctx, tx)
}

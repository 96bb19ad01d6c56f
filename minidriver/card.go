package minidriver

import (
	"context"
	"crypto"
	"crypto/ecdh"
	"io"

	"github.com/cardmod/cardmod/cardfs"
	"github.com/cardmod/cardmod/scrm"
)

// Card is one card seen through its plug-in: the mandatory part of the
// minidriver v7 function table (CARD_DATA), in Go types. Every method but
// Close runs inside a transaction the caller holds and passes as tx; a
// plug-in never begins or ends one, and never keeps one across calls. The
// caller also owns the login state: an Authenticate lasts until
// Deauthenticate or the end of the caller's transaction.
//
// What a card may lack is in the optional interfaces (FileWriter,
// ContainerManager, Decrypter, KeyAgreer, ChallengeResponder,
// ChallengeAlgorithmer, AuthenticatorChanger, PropertySetter, Initializer,
// ContainerAddresser); the package functions of the same names find them by
// type assertion and answer ErrUnsupported (ChallengeAlgorithm: "") when
// they are missing.
//
// A Card is used by one goroutine at a time: the caller's per-card lock and
// transaction serialise it.
type Card interface {
	// Close releases the plug-in's state (CardDeleteContext). It runs
	// without a transaction and possibly without the card.
	Close() error

	// Resume re-establishes the plug-in's application on the card at the
	// start of a transaction (for example a SELECT), cheaply: the card may
	// have been used by other applications or reset since the last one.
	// When it returns nil the application is known to be selected, as the
	// caller may send a PIN next: a command other than SELECT may stand in
	// for it only when its answer proves the selection (minidriver/piv and
	// minidriver/gids read cardcf's object and compare it with the one
	// last seen), else the SELECT follows.
	Resume(ctx context.Context, tx *scrm.Tx) error

	// Capabilities reports CardQueryCapabilities.
	Capabilities() Capabilities

	// Properties reports the card properties (CP_*).
	Properties(ctx context.Context, tx *scrm.Tx) (CardProperties, error)

	// PINInfo describes PIN id (CP_CARD_PIN_INFO). A PIN that does not
	// exist is ErrInvalidParameter.
	PINInfo(ctx context.Context, tx *scrm.Tx, id PinID) (PINInfo, error)

	// ReadFile returns the whole content of dir/name; dir "" is the root.
	ReadFile(ctx context.Context, tx *scrm.Tx, dir, name string) ([]byte, error)
	// ListFiles lists the files of dir ("" = root).
	ListFiles(ctx context.Context, tx *scrm.Tx, dir string) ([]string, error)
	// FileInfo reports a file's size and access condition.
	FileInfo(ctx context.Context, tx *scrm.Tx, dir, name string) (FileInfo, error)
	// FreeSpace reports CardQueryFreeSpace.
	FreeSpace(ctx context.Context, tx *scrm.Tx) (FreeSpace, error)
	// KeySizes reports the sizes the card supports for spec; a known spec
	// the card lacks is ErrUnsupported, an unknown one
	// ErrInvalidParameter.
	KeySizes(ctx context.Context, tx *scrm.Tx, spec KeySpec) (KeySizes, error)

	// ContainerInfo returns the public keys of container idx; a container
	// with no key is ErrNoKeyContainer. No authentication is needed.
	ContainerInfo(ctx context.Context, tx *scrm.Tx, idx int) (ContainerInfo, error)
	// ContainerPIN returns the PIN protecting container idx
	// (CCP_PIN_IDENTIFIER).
	ContainerPIN(ctx context.Context, tx *scrm.Tx, idx int) (PinID, error)

	// Authenticate verifies PIN id with secret (CardAuthenticateEx): the
	// PIN bytes, a challenge response, or nothing for an external PIN. With
	// GenerateSessionPIN it returns a session PIN and leaves the card
	// locked. A wrong secret is a *PINError. The plug-in does not keep
	// secret.
	Authenticate(ctx context.Context, tx *scrm.Tx, id PinID, secret []byte, flags AuthFlags) (sessionPIN []byte, err error)
	// Deauthenticate logs out every PIN in set (CardDeauthenticateEx). An
	// error makes the caller end its transaction with a card reset.
	Deauthenticate(ctx context.Context, tx *scrm.Tx, set PinSet) error

	// SignData signs a digest with the container's key (CardSignData).
	// RSA signatures are modulus-sized big-endian blocks; ECDSA signatures
	// are ASN.1 DER (the form crypto.Signer returns), not the r‖s of the
	// C interface.
	SignData(ctx context.Context, tx *scrm.Tx, req SignRequest) ([]byte, error)
}

// FileInfo is what CardGetFileInfo reports.
type FileInfo struct {
	Size            int
	AccessCondition cardfs.FileAccessCondition
}

// SignRequest is CARD_SIGNING_INFO in Go terms. Digests, signatures and
// every other byte string are big-endian (no CAPI byte reversal).
type SignRequest struct {
	// Container is the container index.
	Container int
	// KeySpec selects the key of the container.
	KeySpec KeySpec
	// Digest is the hash to sign (callers hash in software).
	Digest []byte
	// Padding is PaddingPKCS1, PaddingPSS or PaddingNone for RSA keys;
	// ignored for ECDSA.
	Padding Padding
	// Hash names the digest algorithm: for PKCS #1 v1.5 it selects the
	// DigestInfo (0 signs Digest with no DigestInfo, crypto.MD5SHA1 is
	// the 36-byte TLS 1.0 form); for PSS it is the hash and MGF1 hash.
	Hash crypto.Hash
	// SaltLength is the PSS salt length in bytes.
	SaltLength int
	// Rand is the randomness for PSS salts; nil means crypto/rand.
	Rand io.Reader
}

// DecryptRequest is CARD_RSA_DECRYPT_INFO (version 2) in Go terms.
type DecryptRequest struct {
	Container int
	KeySpec   KeySpec
	// Ciphertext is one modulus-sized block.
	Ciphertext []byte
	// Padding is what to remove: PaddingNone returns the raw block, which
	// the caller unpads in constant time.
	Padding Padding
	// OAEPHash and Label are the OAEP parameters.
	OAEPHash crypto.Hash
	Label    []byte
}

// CreateContainerRequest is CardCreateContainerEx in Go terms: generate a
// key on the card (Key nil) or import Key.
type CreateContainerRequest struct {
	// Index is the container index.
	Index int
	// KeySpec is the key's spec.
	KeySpec KeySpec
	// Bits is the RSA modulus size for generation; ignored for ECC (the
	// spec says the curve) and for import (the key says it).
	Bits int
	// Key, if not nil, is imported: *rsa.PrivateKey, *ecdsa.PrivateKey or
	// *ecdh.PrivateKey.
	Key crypto.PrivateKey
	// PIN protects the key; zero means RoleUser.
	PIN PinID
}

// ChangeMode says whether ChangeAuthenticator changes or unblocks a PIN.
type ChangeMode uint32

// Change modes (PIN_CHANGE_FLAG_*).
const (
	Unblock   ChangeMode = 0x01
	ChangePIN ChangeMode = 0x02
)

// ChangeRequest is CardChangeAuthenticatorEx in Go terms.
type ChangeRequest struct {
	Mode ChangeMode
	// AuthPIN authenticates the change with AuthData (the current PIN, a
	// PUK, or a challenge response). For ChangePIN it is normally Target.
	AuthPIN  PinID
	AuthData []byte
	// Target is the PIN changed or unblocked, NewData its new value.
	Target  PinID
	NewData []byte
	Flags   AuthFlags
}

// FileWriter is implemented by cards whose file system can be changed.
type FileWriter interface {
	CreateDirectory(ctx context.Context, tx *scrm.Tx, name string, ac cardfs.DirectoryAccessCondition) error
	DeleteDirectory(ctx context.Context, tx *scrm.Tx, name string) error
	CreateFile(ctx context.Context, tx *scrm.Tx, dir, name string, ac cardfs.FileAccessCondition) error
	WriteFile(ctx context.Context, tx *scrm.Tx, dir, name string, data []byte) error
	DeleteFile(ctx context.Context, tx *scrm.Tx, dir, name string) error
}

// ContainerManager is implemented by cards that create and delete keys.
type ContainerManager interface {
	// CreateContainer generates or imports a key at req.Index, replacing
	// the key of the same slot there.
	CreateContainer(ctx context.Context, tx *scrm.Tx, req CreateContainerRequest) error
	// DeleteContainer deletes the keys of container idx. The caller
	// clears the container map record and the certificate files.
	DeleteContainer(ctx context.Context, tx *scrm.Tx, idx int) error
}

// Decrypter is implemented by cards with RSA keys (CardRSADecrypt).
type Decrypter interface {
	RSADecrypt(ctx context.Context, tx *scrm.Tx, req DecryptRequest) ([]byte, error)
}

// KeyAgreer is implemented by cards with ECDH keys. The shared secret
// stays in the plug-in's memory (an Agreements table) under an index
// until DestroyAgreement; DeriveKey applies a KDF to it.
type KeyAgreer interface {
	// Agree computes the ECDH shared secret of container idx's key with
	// peer and returns its index (CardConstructDHAgreement).
	Agree(ctx context.Context, tx *scrm.Tx, idx int, peer *ecdh.PublicKey) (int, error)
	// DeriveKey applies kdf to agreement idx (CardDeriveKey).
	DeriveKey(idx int, kdf KDF) ([]byte, error)
	// DestroyAgreement wipes agreement idx (CardDestroyDHAgreement).
	DestroyAgreement(idx int) error
}

// ChallengeResponder is implemented by cards with a challenge-response
// PIN, normally the admin key (CardGetChallengeEx).
type ChallengeResponder interface {
	Challenge(ctx context.Context, tx *scrm.Tx, id PinID) ([]byte, error)
}

// AuthenticatorChanger is implemented by cards whose PINs can be changed
// or unblocked (CardChangeAuthenticatorEx).
type AuthenticatorChanger interface {
	ChangeAuthenticator(ctx context.Context, tx *scrm.Tx, req ChangeRequest) (err error)
}

// PropertySetter is implemented by cards with settable properties.
type PropertySetter interface {
	// SetContainerPIN sets the PIN protecting container idx.
	SetContainerPIN(ctx context.Context, tx *scrm.Tx, idx int, id PinID) error
	// SetPINInfo changes the description of PIN id.
	SetPINInfo(ctx context.Context, tx *scrm.Tx, id PinID, info PINInfo) error
}

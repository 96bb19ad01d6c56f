package ksp

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"fmt"
	"io"
	"sync"

	"github.com/cardmod/cardmod/internal/cspcore"
	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/scrm"
)

// Algorithm is a CNG algorithm identifier (BCRYPT_*_ALGORITHM).
type Algorithm string

// The algorithms of the provider's keys.
const (
	RSA       Algorithm = "RSA"
	ECDSAP256 Algorithm = "ECDSA_P256"
	ECDSAP384 Algorithm = "ECDSA_P384"
	ECDSAP521 Algorithm = "ECDSA_P521"
	ECDHP256  Algorithm = "ECDH_P256"
	ECDHP384  Algorithm = "ECDH_P384"
	ECDHP521  Algorithm = "ECDH_P521"
)

// spec returns the key spec of a with usage: RSA keys go to the key
// exchange slot unless their usage is signing only (a CNG key has no key
// spec, and Microsoft documents no rule for the Smart Card KSP's choice).
func (a Algorithm) spec(usage KeyUsage) (minidriver.KeySpec, bool) {
	switch a {
	case RSA:
		if usage&^AllowSigning == 0 && usage != 0 {
			return minidriver.Signature, true
		}
		return minidriver.KeyExchange, true
	case ECDSAP256:
		return minidriver.ECDSAP256, true
	case ECDSAP384:
		return minidriver.ECDSAP384, true
	case ECDSAP521:
		return minidriver.ECDSAP521, true
	case ECDHP256:
		return minidriver.ECDHP256, true
	case ECDHP384:
		return minidriver.ECDHP384, true
	case ECDHP521:
		return minidriver.ECDHP521, true
	}
	return 0, false
}

// Group returns the algorithm group (NCRYPT_ALGORITHM_GROUP_PROPERTY):
// "RSA", "ECDSA" or "ECDH".
func (a Algorithm) Group() string {
	switch a {
	case ECDSAP256, ECDSAP384, ECDSAP521:
		return "ECDSA"
	case ECDHP256, ECDHP384, ECDHP521:
		return "ECDH"
	}
	return string(a)
}

func algorithmOf(spec minidriver.KeySpec) Algorithm {
	switch spec {
	case minidriver.ECDSAP256:
		return ECDSAP256
	case minidriver.ECDSAP384:
		return ECDSAP384
	case minidriver.ECDSAP521:
		return ECDSAP521
	case minidriver.ECDHP256:
		return ECDHP256
	case minidriver.ECDHP384:
		return ECDHP384
	case minidriver.ECDHP521:
		return ECDHP521
	}
	return RSA
}

// KeyUsage is the "Key Usage" property (NCRYPT_KEY_USAGE_PROPERTY).
type KeyUsage uint32

// Key usage flags.
const (
	AllowDecrypt      KeyUsage = 0x1        // NCRYPT_ALLOW_DECRYPT_FLAG
	AllowSigning      KeyUsage = 0x2        // NCRYPT_ALLOW_SIGNING_FLAG
	AllowKeyAgreement KeyUsage = 0x4        // NCRYPT_ALLOW_KEY_AGREEMENT_FLAG
	AllowAllUsages    KeyUsage = 0x00ffffff // NCRYPT_ALLOW_ALL_USAGES
)

// ExportPolicy is the "Export Policy" property
// (NCRYPT_EXPORT_POLICY_PROPERTY). Keys on a card always have 0.
type ExportPolicy uint32

// Export policy flags; none can be set on a card key.
const (
	AllowExport             ExportPolicy = 0x1 // NCRYPT_ALLOW_EXPORT_FLAG
	AllowPlaintextExport    ExportPolicy = 0x2 // NCRYPT_ALLOW_PLAINTEXT_EXPORT_FLAG
	AllowArchiving          ExportPolicy = 0x4 // NCRYPT_ALLOW_ARCHIVING_FLAG
	AllowPlaintextArchiving ExportPolicy = 0x8 // NCRYPT_ALLOW_PLAINTEXT_ARCHIVING_FLAG
)

// Key is one key of the provider. A Key from OpenKey, or after Finalize,
// is on the card: it implements crypto.Signer (RSA and ECDSA keys) and
// crypto.Decrypter (RSA keys), and ECDH keys agree secrets. A Key from
// CreatePersistedKey is not on the card yet: set its properties, then
// Finalize or FinalizeImport. A Key is safe for concurrent use.
type Key struct {
	p   *Provider
	alg Algorithm

	mu sync.Mutex
	// Until finalized (k == nil), guarded by mu:
	name  string // as given to CreatePersistedKey
	bits  int    // "Length"; 0 = the card's default
	usage KeyUsage
	pin   minidriver.PinID
	k     *cspcore.Key // guarded by mu; set once by Finalize
}

var (
	_ crypto.Signer    = (*Key)(nil)
	_ crypto.Decrypter = (*Key)(nil)
)

func finalizedKey(p *Provider, k *cspcore.Key) *Key {
	return &Key{p: p, alg: algorithmOf(k.Spec()), k: k, bits: k.Bits(), usage: usageOf(k.Spec())}
}

func usageOf(spec minidriver.KeySpec) KeyUsage {
	switch {
	case spec.IsECDH():
		return AllowKeyAgreement
	case spec.IsECDSA(), spec == minidriver.Signature:
		return AllowSigning
	}
	return AllowDecrypt | AllowSigning
}

// CreatePersistedKey starts creating a key of alg named name (one of the
// four forms of ParseName; an empty key part gets a GUID name), as
// NCryptCreatePersistedKey: nothing touches the card until Finalize.
// Before that, "Length" (RSA; 0 = the card's default), "Key Usage" and
// "SmartCardPinId" may be set. An unknown algorithm is an error matching
// ErrUnsupportedAlgorithm; whether the card has such keys is asked at
// Finalize.
func (p *Provider) CreatePersistedKey(ctx context.Context, name string, alg Algorithm) (*Key, error) {
	if err := p.core.CheckOpen(); err != nil {
		return nil, err
	}
	if _, ok := alg.spec(0); !ok {
		return nil, fmt.Errorf("ksp: algorithm %q: %w", alg, ErrUnsupportedAlgorithm)
	}
	if _, _, err := ParseName(name); err != nil {
		return nil, err
	}
	k := &Key{p: p, alg: alg, name: name, usage: usageOfAlg(alg)}
	return k, nil
}

func usageOfAlg(alg Algorithm) KeyUsage {
	spec, _ := alg.spec(0)
	return usageOf(spec)
}

// Finalize generates the key on the card (NCryptFinalizeKey), in one
// transaction: the KSP's create flow ("Smart Card Architecture": "Create
// a new container (no reader specified)"), after asking the card whether
// it has keys of this algorithm and size (an error matching
// ErrUnsupportedAlgorithm if not). A name already on the card is refused
// with an error matching ErrExists.
func (k *Key) Finalize(ctx context.Context) error { return k.finalize(ctx, nil) }

// FinalizeImport imports priv as the key (NCryptImportKey of a private
// blob, then finalize): an *rsa.PrivateKey for RSA, an *ecdsa.PrivateKey
// or *ecdh.PrivateKey on the algorithm's curve for ECDSA and ECDH.
func (k *Key) FinalizeImport(ctx context.Context, priv crypto.PrivateKey) error {
	if err := k.p.core.CheckOpen(); err != nil {
		return err
	}
	if priv == nil {
		return fmt.Errorf("ksp: no key to import: %w", minidriver.ErrInvalidParameter)
	}
	return k.finalize(ctx, priv)
}

func (k *Key) finalize(ctx context.Context, priv crypto.PrivateKey) error {
	if err := k.p.core.CheckOpen(); err != nil {
		return err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.k != nil {
		return ErrFinalized
	}
	spec, _ := k.alg.spec(k.usage)
	if priv != nil {
		// A key ECDH would dereference to a panic goes on to the core's
		// checks, which refuse it.
		//lint:ignore SA1019 only checked for nil: ECDH dereferences it.
		if ek, ok := priv.(*ecdsa.PrivateKey); ok && ek != nil && ek.Curve != nil && ek.D != nil && spec.IsECDH() {
			// The card imports ECDH keys as *ecdh.PrivateKey.
			dk, err := ek.ECDH()
			if err != nil {
				return fmt.Errorf("ksp: import: %w: %w", minidriver.ErrInvalidParameter, err)
			}
			priv = dk
		}
	}
	c, err := k.p.core.Create(ctx, cspcore.CreateRequest{Name: k.name, Spec: spec, Bits: k.bits, Key: priv, PIN: k.pin, CheckSizes: true})
	if err != nil {
		// The core wraps ErrUnsupportedAlgorithm where the card refused
		// the algorithm or size, and only there.
		return err
	}
	ck, err := c.Key(spec)
	if err != nil {
		return err
	}
	k.k, k.bits = ck, ck.Bits()
	return nil
}

// key returns the finalized key; after the provider's Close, ErrClosed.
func (k *Key) key() (*cspcore.Key, error) {
	if err := k.p.core.CheckOpen(); err != nil {
		return nil, err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.k == nil {
		return nil, ErrNotFinalized
	}
	return k.k, nil
}

// Algorithm returns the key's algorithm.
func (k *Key) Algorithm() Algorithm { return k.alg }

// Spec returns the key's legacy key spec; 0 before Finalize.
func (k *Key) Spec() minidriver.KeySpec {
	ck, err := k.key()
	if err != nil {
		return 0
	}
	return ck.Spec()
}

// Name returns the key's (container's) name; before Finalize, the name
// given to CreatePersistedKey.
func (k *Key) Name() string {
	ck, err := k.key()
	if err != nil {
		k.mu.Lock()
		defer k.mu.Unlock()
		return k.name
	}
	return ck.Container().Name
}

// FullName returns `\\.\Reader\Name` of a finalized key.
func (k *Key) FullName() string {
	ck, err := k.key()
	if err != nil {
		return ""
	}
	return ck.Container().FullName()
}

// Public returns the public key (*rsa.PublicKey, *ecdsa.PublicKey or, for
// ECDH keys, *ecdh.PublicKey), nil before Finalize. It never touches the
// card.
func (k *Key) Public() crypto.PublicKey {
	ck, err := k.key()
	if err != nil {
		return nil
	}
	return ck.Public()
}

// Sign signs digest with context.Background(); see SignContext.
func (k *Key) Sign(rand io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	return k.SignContext(context.Background(), rand, digest, opts)
}

// SignContext signs digest, a hash made with opts.HashFunc()
// (NCryptSignHash): RSA keys PKCS #1 v1.5 with the DigestInfo of the hash,
// or without one when opts.HashFunc() is 0, or PSS with *rsa.PSSOptions;
// ECDSA keys an ASN.1 DER signature. One transaction: the key's PIN
// (cached, set through "SmartCardPin", or prompted), the card's
// signature, log out.
func (k *Key) SignContext(ctx context.Context, rand io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	ck, err := k.key()
	if err != nil {
		return nil, err
	}
	return ck.SignContext(ctx, rand, digest, opts)
}

// RawDecryptOptions, as the crypto.DecrypterOpts of Decrypt, asks for
// the raw RSA result (BCRYPT_PAD_NONE): the whole block, no padding
// removed.
type RawDecryptOptions struct{}

// Decrypt decrypts msg with context.Background(); see DecryptContext.
func (k *Key) Decrypt(rand io.Reader, msg []byte, opts crypto.DecrypterOpts) ([]byte, error) {
	return k.DecryptContext(context.Background(), rand, msg, opts)
}

// DecryptContext decrypts msg with the RSA key (NCryptDecrypt); the card
// does the raw RSA operation and the padding is removed here in constant
// time. opts nil or *rsa.PKCS1v15DecryptOptions: PKCS #1 v1.5 (with
// SessionKeyLen, implicit rejection as rsa.DecryptPKCS1v15SessionKey);
// *rsa.OAEPOptions: OAEP with its label; RawDecryptOptions (or a pointer
// to one): no padding removed.
func (k *Key) DecryptContext(ctx context.Context, rand io.Reader, msg []byte, opts crypto.DecrypterOpts) ([]byte, error) {
	ck, err := k.key()
	if err != nil {
		return nil, err
	}
	switch opts.(type) {
	case RawDecryptOptions, *RawDecryptOptions:
		opts = cspcore.RawDecrypt{}
	}
	return ck.DecryptContext(ctx, rand, msg, opts)
}

// Bits returns the key size in bits ("Length"); before Finalize, the
// size set (0 = the card's default for RSA).
func (k *Key) Bits() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.k == nil {
		if cb := specBits(k.alg); cb != 0 {
			return cb
		}
	}
	return k.bits
}

func specBits(alg Algorithm) int {
	spec, _ := alg.spec(0)
	return spec.CurveBits()
}

// Stats returns the APDUs and bytes exchanged so far on the provider's
// connection to the key's card (zero before Finalize or when the card is
// not connected), for diagnostics and benchmarks.
func (k *Key) Stats() scrm.Stats {
	ck, err := k.key()
	if err != nil {
		return scrm.Stats{}
	}
	return ck.Container().Ref.Stats()
}

// Delete deletes the key from its card (NCryptDeleteKey): its container,
// certificate files and container map record. The Key is unusable
// afterwards.
func (k *Key) Delete(ctx context.Context) error {
	ck, err := k.key()
	if err != nil {
		return err
	}
	return ck.Container().Delete(ctx)
}

package ksp

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/cardmod/cardmod/cardfs"
	"github.com/cardmod/cardmod/internal/cspcore"
	"github.com/cardmod/cardmod/internal/engine"
	"github.com/cardmod/cardmod/keystore"
	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/scrm"
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

// finalized returns the Key of the core's key k, or err: it takes what
// the core's look-ups return, as in p.finalized(p.core.Find(ctx, q)).
func (p *Provider) finalized(k *cspcore.Key, err error) (*Key, error) {
	if err != nil {
		return nil, err
	}
	return &Key{p: p, alg: algorithmOf(k.Spec()), k: k, bits: k.Bits(), usage: usageOf(k.Spec())}, nil
}

// key returns the finalized key; after the provider's Close, keystore.ErrClosed.
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

// Reader returns the reader the card of a finalized key was last seen in
// (the "SmartCardReader" property), "" before Finalize.
func (k *Key) Reader() string {
	ck, err := k.key()
	if err != nil {
		return ""
	}
	return ck.Container().Reader()
}

// CardID returns the identity of a finalized key's card (the
// "SmartCardGuid" property), zero before Finalize.
func (k *Key) CardID() cardfs.CardID {
	ck, err := k.key()
	if err != nil {
		return cardfs.CardID{}
	}
	return ck.Container().CardID()
}

// Certificate returns the key's certificate (the "SmartCardKeyCertificate"
// property) from the card's kscNN or kxcNN file, through the data cache.
// A key without one gives an error matching keystore.ErrNoCertificate, a key not
// finalized one matching ErrNotFinalized.
func (k *Key) Certificate(ctx context.Context) (*x509.Certificate, error) {
	ck, err := k.key()
	if err != nil {
		return nil, err
	}
	return ck.Certificate(ctx)
}

// SetCertificate stores cert as the key's certificate (setting
// "SmartCardKeyCertificate"): the key's kscNN or kxcNN file, created when
// missing; nil deletes it. cert's public key must be the key's. Writing
// needs what Config.AdminResponse describes.
func (k *Key) SetCertificate(ctx context.Context, cert *x509.Certificate) error {
	ck, err := k.key()
	if err != nil {
		return err
	}
	return ck.SetCertificate(ctx, cert)
}

// PIN returns the PIN that protects the key (the "SmartCardPinId"
// property): its container's, read from the card; before Finalize, the
// one set for it (the user PIN by default), without asking the card.
func (k *Key) PIN(ctx context.Context) (minidriver.PinID, error) {
	ck, err := k.key()
	switch {
	case err == nil:
		return ck.PIN(ctx)
	case errors.Is(err, ErrNotFinalized):
		return k.pendingPIN(), nil
	}
	return 0, err
}

// PINInfo returns what the card says of the PIN that protects the key
// (the "SmartCardPinInfo" property): its type, purpose, cache policy and
// who may unblock it.
func (k *Key) PINInfo(ctx context.Context) (minidriver.PINInfo, error) {
	ck, err := k.key()
	switch {
	case err == nil:
		return ck.PINInfo(ctx)
	case !errors.Is(err, ErrNotFinalized):
		return minidriver.PINInfo{}, err
	}
	var info minidriver.PINInfo
	err = k.withPIN(ctx, func(op *engine.Op, id minidriver.PinID) error {
		i, err := op.PINInfo(id)
		if err != nil {
			return fmt.Errorf("ksp: PIN %d: %w", id, err)
		}
		info = i
		return nil
	})
	return info, err
}

// VerifyPIN verifies pin as the PIN that protects the key on the card now
// (setting "SmartCardPin"), and caches it under the PIN's cache policy, so
// that the key's next operations need no prompt. A wrong PIN is refused by
// the card and not cached. pin must be 1 to 255 bytes; it is not kept
// beyond the cache.
func (k *Key) VerifyPIN(ctx context.Context, pin []byte) error {
	if err := k.p.core.CheckOpen(); err != nil {
		return err
	}
	if len(pin) == 0 || len(pin) > maxSecretLen {
		return fmt.Errorf("%w: a PIN of %d bytes", minidriver.ErrInvalidParameter, len(pin))
	}
	return k.withPIN(ctx, func(op *engine.Op, id minidriver.PinID) error {
		if err := op.VerifyPIN(id, pin); err != nil {
			return fmt.Errorf("ksp: verify PIN %d: %w", id, err)
		}
		return nil
	})
}

// maxSecretLen bounds a PIN handed to VerifyPIN (or "SmartCardPin"): what
// one short command carries (no card's PIN comes near it).
const maxSecretLen = 255

// withPIN runs fn in one transaction on the key's card with the PIN that
// protects the key: the finalized key's (cspcore.WithPIN), else the
// one set for it, on the card its name selects (cardRef).
func (k *Key) withPIN(ctx context.Context, fn func(op *engine.Op, id minidriver.PinID) error) error {
	ck, err := k.key()
	switch {
	case err == nil:
		return cspcore.WithPIN(ctx, ck, fn)
	case !errors.Is(err, ErrNotFinalized):
		return err
	}
	ref, _, err := k.cardRef(ctx)
	if err != nil {
		return err
	}
	return cspcore.Do(ctx, ref, func(_ *engine.Card, op *engine.Op) error {
		return fn(op, k.pendingPIN())
	})
}

// cardRef returns the card of the key: the finalized key's, else the card
// the name given to CreatePersistedKey selects (the first card present
// without a reader).
func (k *Key) cardRef(ctx context.Context) (*cspcore.Ref, *cspcore.Key, error) {
	if ck, err := k.key(); err == nil {
		return ck.Container().Ref, ck, nil
	}
	reader, _, err := keystore.ParseName(k.Name())
	if err != nil {
		return nil, nil, err
	}
	cards, _, err := k.p.core.CardsFor(ctx, reader)
	if err != nil {
		return nil, nil, err
	}
	return k.p.core.NewRef(cards[0]), nil, nil
}

// pendingPIN is the PIN set for the key before Finalize: the user PIN
// unless "SmartCardPinId" named another.
func (k *Key) pendingPIN() minidriver.PinID {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.pin == 0 {
		return minidriver.RoleUser
	}
	return k.pin
}

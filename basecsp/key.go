package basecsp

import (
	"context"
	"crypto"
	"io"

	"github.com/cardmod/cardmod/internal/cspcore"
	"github.com/cardmod/cardmod/minidriver"
)

// Key is one private key on a card: the key of one spec in a container.
// It implements crypto.Signer (RSA and ECDSA keys) and crypto.Decrypter
// (RSA keys). Public never touches the card. Every Sign and Decrypt is one
// transaction: authenticate the container's PIN (cached or prompted), use
// the key, log out. A Key is safe for concurrent use.
type Key struct {
	c *Container
	k *cspcore.Key
}

var (
	_ crypto.Signer    = (*Key)(nil)
	_ crypto.Decrypter = (*Key)(nil)
)

// Public returns the public key (*rsa.PublicKey, *ecdsa.PublicKey or
// *ecdh.PublicKey), read when the container was opened.
func (k *Key) Public() crypto.PublicKey { return k.k.Pub }

// Spec returns the key spec.
func (k *Key) Spec() minidriver.KeySpec { return k.k.Spec }

// Bits returns the key size: the RSA modulus or curve size in bits.
func (k *Key) Bits() int { return k.k.Bits }

func (k *Key) core() *cspcore.Core { return k.k.C.Ref.Core() }

// Container returns the key's container.
func (k *Key) Container() *Container { return k.c }

// Sign signs digest with context.Background(); see SignContext.
func (k *Key) Sign(rand io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	return k.SignContext(context.Background(), rand, digest, opts)
}

// SignContext signs digest, a hash made with opts.HashFunc().
//
// RSA keys: with *rsa.PSSOptions an RSASSA-PSS signature with MGF1 over
// the same hash and the salt length the options ask for
// (rsa.PSSSaltLengthAuto: the longest the key allows;
// rsa.PSSSaltLengthEqualsHash: the hash size); otherwise PKCS #1 v1.5 with
// the DigestInfo of opts.HashFunc(), or none when it is 0 (the digest is
// signed as it is) or crypto.MD5SHA1 (the 36-byte TLS 1.0 form). ECDSA
// keys return an ASN.1 DER signature. rand gives the PSS salt; nil means
// the provider's Config.Rand.
func (k *Key) SignContext(ctx context.Context, rand io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if err := k.core().CheckOpen(); err != nil {
		return nil, err
	}
	return k.k.Sign(ctx, rand, digest, opts)
}

// Decrypt decrypts msg with context.Background(); see DecryptContext.
func (k *Key) Decrypt(rand io.Reader, msg []byte, opts crypto.DecrypterOpts) ([]byte, error) {
	return k.DecryptContext(context.Background(), rand, msg, opts)
}

// DecryptContext decrypts msg with the RSA key; the card does the raw RSA
// operation and the padding is removed here in constant time.
//
// opts nil or *rsa.PKCS1v15DecryptOptions: PKCS #1 v1.5. With
// SessionKeyLen > 0 it is implicit rejection, as
// rsa.DecryptPKCS1v15SessionKey: a key of that length is drawn from rand
// (nil: the provider's Config.Rand) and returned unless the padding was
// valid around a message of exactly that length, which is then returned
// instead; no error tells the two apart. *rsa.OAEPOptions: OAEP with its
// Hash, MGFHash (0 = Hash) and Label. Errors from unpadding say nothing of
// what failed.
func (k *Key) DecryptContext(ctx context.Context, rand io.Reader, msg []byte, opts crypto.DecrypterOpts) ([]byte, error) {
	if err := k.core().CheckOpen(); err != nil {
		return nil, err
	}
	return k.k.Decrypt(ctx, rand, msg, opts)
}

package basecsp

import (
	"crypto"

	"github.com/cardmod/cardmod/internal/cspcore"
)

// coreKey is the shared core's key, which Key embeds: its methods Public,
// Spec, Bits, Sign, SignContext, Decrypt, DecryptContext, Certificate,
// SetCertificate, PIN and PINInfo are Key's.
type coreKey = cspcore.Key

// Key is one private key on a card: the key of one spec in a container.
// It implements crypto.Signer (RSA and ECDSA keys) and crypto.Decrypter
// (RSA keys). Public never touches the card. Every Sign and Decrypt is one
// transaction: authenticate the container's PIN (cached or prompted), use
// the key, log out. A Key is safe for concurrent use.
//
// Beside the methods below, a Key has those of the shared core:
//
//	Public() crypto.PublicKey // *rsa.PublicKey, *ecdsa.PublicKey or *ecdh.PublicKey, read when the container was opened
//	Spec() minidriver.KeySpec
//	Bits() int                // the RSA modulus or curve size
//	Sign(rand io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error)
//	SignContext(ctx context.Context, rand io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error)
//	Decrypt(rand io.Reader, msg []byte, opts crypto.DecrypterOpts) ([]byte, error)
//	DecryptContext(ctx context.Context, rand io.Reader, msg []byte, opts crypto.DecrypterOpts) ([]byte, error)
//	Certificate(ctx context.Context) (*x509.Certificate, error)
//	SetCertificate(ctx context.Context, cert *x509.Certificate) error
//	PIN(ctx context.Context) (minidriver.PinID, error)        // the PIN that protects it (its container's)
//	PINInfo(ctx context.Context) (minidriver.PINInfo, error)  // what the card says of that PIN: type, purpose, cache policy, unblock
//
// Signatures: with *rsa.PSSOptions RSASSA-PSS with MGF1 over the same
// hash and the salt length the options ask for (rsa.PSSSaltLengthAuto:
// the longest the key allows; rsa.PSSSaltLengthEqualsHash: the hash size);
// other RSA options PKCS #1 v1.5 with the DigestInfo of opts.HashFunc(),
// or none when it is 0 (the digest is signed as it is) or crypto.MD5SHA1
// (the 36-byte TLS 1.0 form); ECDSA keys an ASN.1 DER signature, checked
// against the public key before it is returned. rand gives the PSS salt;
// nil means Config.Rand.
//
// Decryption (RSA; the card does the raw RSA operation and the padding is
// removed here in constant time): opts nil or *rsa.PKCS1v15DecryptOptions
// PKCS #1 v1.5, with SessionKeyLen > 0 implicit rejection as
// rsa.DecryptPKCS1v15SessionKey (a key of that length drawn from rand, or
// Config.Rand, is returned unless the padding was valid around a message
// of exactly that length; no error tells the two apart); *rsa.OAEPOptions
// OAEP with its Hash, MGFHash (0 = Hash) and Label. Errors from unpadding
// say nothing of what failed.
//
// Certificate reads the key's certificate (KP_CERTIFICATE) from the card's
// kscNN or kxcNN file through the data cache (none: an error matching
// keystore.ErrNoCertificate). SetCertificate stores one, creating the file when
// missing and compressing it unless the card's plug-in does
// (CARD_CAPABILITIES.fCertificateCompression); cardcf's files counter is
// bumped first; nil deletes it; its public key must be the key's; writing
// needs what Config.AdminResponse describes.
type Key struct {
	*coreKey
	c *Container
}

var (
	_ crypto.Signer    = (*Key)(nil)
	_ crypto.Decrypter = (*Key)(nil)
)

func (k *Key) core() *cspcore.Core { return cspcore.CoreOf(k.coreKey.Container().Ref) }

// Container returns the key's container.
func (k *Key) Container() *Container { return k.c }

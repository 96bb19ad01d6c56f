package basecsp

import (
	"context"
	"crypto"
	"crypto/rsa"
	"errors"
	"fmt"
	"io"

	"github.com/cardmod/cardmod/internal/engine"
	"github.com/cardmod/cardmod/minidriver"
)

// Key is one private key on a card: the key of one spec in a container.
// It implements crypto.Signer (RSA and ECDSA keys) and crypto.Decrypter
// (RSA keys). Public never touches the card. Every Sign and Decrypt is one
// transaction: authenticate the container's PIN (cached or prompted), use
// the key, log out. A Key is safe for concurrent use.
type Key struct {
	c    *Container
	spec minidriver.KeySpec
	pub  crypto.PublicKey
	bits int
}

var (
	_ crypto.Signer    = (*Key)(nil)
	_ crypto.Decrypter = (*Key)(nil)
)

// Public returns the public key (*rsa.PublicKey, *ecdsa.PublicKey or
// *ecdh.PublicKey), read when the container was opened.
func (k *Key) Public() crypto.PublicKey { return k.pub }

// Spec returns the key spec.
func (k *Key) Spec() minidriver.KeySpec { return k.spec }

// Bits returns the key size: the RSA modulus or curve size in bits.
func (k *Key) Bits() int { return k.bits }

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
	if rand == nil {
		rand = k.c.ref.p.rand
	}
	req := minidriver.SignRequest{KeySpec: k.spec, Digest: digest, Rand: rand}
	var h crypto.Hash
	if opts != nil {
		h = opts.HashFunc()
	}
	if h != 0 {
		if n := minidriver.DigestSize(h); n == 0 || n != len(digest) {
			return nil, fmt.Errorf("basecsp: a %d-byte digest is not a %v hash: %w", len(digest), h, minidriver.ErrInvalidParameter)
		}
	}
	switch {
	case k.spec.IsECDSA():
		if len(digest) == 0 {
			return nil, fmt.Errorf("basecsp: empty digest: %w", minidriver.ErrInvalidParameter)
		}
	case k.spec.IsRSA():
		if opts == nil {
			return nil, fmt.Errorf("basecsp: RSA signature without options: %w", minidriver.ErrInvalidParameter)
		}
		req.Hash = h
		req.Padding = minidriver.PaddingPKCS1
		if pss, ok := opts.(*rsa.PSSOptions); ok {
			if h == 0 || h == crypto.MD5SHA1 {
				return nil, fmt.Errorf("basecsp: PSS needs a hash: %w", minidriver.ErrInvalidParameter)
			}
			req.Padding = minidriver.PaddingPSS
			emLen := (k.bits - 1 + 7) / 8
			switch s := pss.SaltLength; {
			case s == rsa.PSSSaltLengthAuto:
				req.SaltLength = emLen - h.Size() - 2
			case s == rsa.PSSSaltLengthEqualsHash:
				req.SaltLength = h.Size()
			case s > 0:
				req.SaltLength = s
			default:
				return nil, fmt.Errorf("basecsp: PSS salt length %d: %w", s, minidriver.ErrInvalidParameter)
			}
			if req.SaltLength < 0 || emLen < h.Size()+req.SaltLength+2 {
				return nil, fmt.Errorf("basecsp: PSS salt of %d bytes too long for a %d-bit key: %w", req.SaltLength, k.bits, minidriver.ErrInvalidParameter)
			}
		}
	default:
		return nil, fmt.Errorf("basecsp: a %v key cannot sign: %w", k.spec, minidriver.ErrInvalidParameter)
	}
	var sig []byte
	err := k.c.do(ctx, func(op *engine.Op, idx int) error {
		if err := k.authenticate(op, idx, "sign"); err != nil {
			return err
		}
		req.Container = idx
		var err error
		sig, err = op.Card().SignData(op.Context(), op.Tx(), req)
		if err != nil {
			return fmt.Errorf("basecsp: sign: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return sig, nil
}

// authenticate verifies the PIN protecting container idx.
func (k *Key) authenticate(op *engine.Op, idx int, purpose string) error {
	pin, err := op.ContainerPIN(idx)
	if err != nil {
		return fmt.Errorf("basecsp: PIN of container %q: %w", k.c.name, err)
	}
	if err := op.Authenticate(pin, purpose); err != nil {
		return fmt.Errorf("basecsp: %w", err)
	}
	return nil
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
	if !k.spec.IsRSA() {
		return nil, fmt.Errorf("basecsp: a %v key cannot decrypt: %w", k.spec, minidriver.ErrInvalidParameter)
	}
	if rand == nil {
		rand = k.c.ref.p.rand
	}
	size := (k.bits + 7) / 8
	if len(msg) > size {
		return nil, fmt.Errorf("basecsp: %d-byte ciphertext for a %d-bit key: %w", len(msg), k.bits, minidriver.ErrDecryption)
	}
	block := make([]byte, size)
	copy(block[size-len(msg):], msg)

	var unpad func(em []byte) ([]byte, error)
	switch o := opts.(type) {
	case nil:
		unpad = minidriver.UnpadPKCS1v15
	//lint:ignore SA1019 callers (crypto/tls among them) pass these options; honouring them is the point.
	case *rsa.PKCS1v15DecryptOptions:
		if o.SessionKeyLen <= 0 {
			unpad = minidriver.UnpadPKCS1v15
			break
		}
		key := make([]byte, o.SessionKeyLen)
		if _, err := io.ReadFull(rand, key); err != nil {
			return nil, fmt.Errorf("basecsp: random session key: %w", err)
		}
		unpad = func(em []byte) ([]byte, error) {
			if err := minidriver.UnpadPKCS1v15SessionKey(em, key); err != nil {
				return nil, err
			}
			return key, nil
		}
	case *rsa.OAEPOptions:
		if !o.Hash.Available() || (o.MGFHash != 0 && !o.MGFHash.Available()) {
			return nil, fmt.Errorf("basecsp: OAEP hash %v/%v: %w", o.Hash, o.MGFHash, minidriver.ErrUnsupported)
		}
		unpad = func(em []byte) ([]byte, error) {
			return minidriver.UnpadOAEP(em, o.Hash, o.MGFHash, o.Label)
		}
	default:
		return nil, fmt.Errorf("basecsp: decrypter options %T: %w", opts, minidriver.ErrInvalidParameter)
	}

	var em []byte
	err := k.c.do(ctx, func(op *engine.Op, idx int) error {
		if err := k.authenticate(op, idx, "decrypt"); err != nil {
			return err
		}
		var err error
		em, err = minidriver.RSADecrypt(op.Context(), op.Card(), op.Tx(), minidriver.DecryptRequest{
			Container: idx, KeySpec: k.spec, Ciphertext: block, Padding: minidriver.PaddingNone})
		if err != nil {
			return fmt.Errorf("basecsp: decrypt: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	defer clear(em)
	if len(em) != size {
		return nil, fmt.Errorf("basecsp: decrypt: %d-byte block for a %d-bit key: %w", len(em), k.bits, minidriver.ErrUnexpected)
	}
	out, err := unpad(em)
	if err != nil {
		if errors.Is(err, minidriver.ErrDecryption) {
			return nil, fmt.Errorf("basecsp: %w", minidriver.ErrDecryption)
		}
		return nil, fmt.Errorf("basecsp: %w", err)
	}
	return out, nil
}

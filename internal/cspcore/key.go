package cspcore

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"errors"
	"fmt"
	"io"
	"math/big"

	"github.com/cardmod/cardmod/internal/engine"
	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/scrm"
)

// Key is one private key on a card: the key of one spec in a container.
// It is a crypto.Signer (RSA and ECDSA keys) and crypto.Decrypter (RSA
// keys), and the providers' key types embed it: its methods are theirs.
// Every method that returns an error returns keystore.ErrClosed
// after the provider's Close, before anything else. It is safe for
// concurrent use.
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

// Key returns the container's key of spec, without touching the card.
func (c *Container) Key(spec minidriver.KeySpec) (*Key, error) {
	if err := c.Ref.core.CheckOpen(); err != nil {
		return nil, err
	}
	pub, bits, err := c.keyPublic(spec)
	if err != nil {
		return nil, err
	}
	return &Key{c: c, spec: spec, pub: pub, bits: bits}, nil
}

// Public returns the public key (*rsa.PublicKey, *ecdsa.PublicKey or
// *ecdh.PublicKey), read when the container was opened: it never touches
// the card.
func (k *Key) Public() crypto.PublicKey { return k.pub }

// Spec returns the key spec.
func (k *Key) Spec() minidriver.KeySpec { return k.spec }

// Bits returns the key size: the RSA modulus or curve size in bits.
func (k *Key) Bits() int { return k.bits }

// Container returns the key's container.
func (k *Key) Container() *Container { return k.c }

// PIN returns the PIN that protects the key: its container's PIN, read in
// one transaction (from the data cache while cardcf says it is fresh).
func (k *Key) PIN(ctx context.Context) (minidriver.PinID, error) {
	var id minidriver.PinID
	err := WithPIN(ctx, k, func(_ *engine.Op, pin minidriver.PinID) error {
		id = pin
		return nil
	})
	return id, err
}

// PINInfo returns what the card says of the PIN that protects the key: its
// type, purpose, cache policy and the PINs that may unblock it.
func (k *Key) PINInfo(ctx context.Context) (minidriver.PINInfo, error) {
	var info minidriver.PINInfo
	err := WithPIN(ctx, k, func(op *engine.Op, id minidriver.PinID) error {
		i, err := op.PINInfo(id)
		if err != nil {
			return k.c.Ref.core.Errorf("PIN %d: %w", id, err)
		}
		info = i
		return nil
	})
	return info, err
}

// WithPIN runs fn in one transaction on k's card with the PIN that
// protects k (its container's). It is a function, not a method, so that
// the providers' key types, which embed Key, do not offer it.
func WithPIN(ctx context.Context, k *Key, fn func(op *engine.Op, id minidriver.PinID) error) error {
	core := k.c.Ref.core
	if err := core.CheckOpen(); err != nil {
		return err
	}
	return k.c.do(ctx, func(op *engine.Op, idx int) error {
		id, err := op.ContainerPIN(idx)
		if err != nil {
			return core.Errorf("PIN of container %q: %w", k.c.Name, err)
		}
		return fn(op, id)
	}, doPlain)
}

// Sign signs digest with context.Background(); see SignContext.
func (k *Key) Sign(rand io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	return k.SignContext(context.Background(), rand, digest, opts)
}

// Decrypt decrypts msg with context.Background(); see DecryptContext.
func (k *Key) Decrypt(rand io.Reader, msg []byte, opts crypto.DecrypterOpts) ([]byte, error) {
	return k.DecryptContext(context.Background(), rand, msg, opts)
}

// Authenticate verifies the PIN protecting k's container, at index idx in
// op: ksp's key agreement uses it. It is a function, not a method, so that
// the providers' key types, which embed Key, do not offer it.
func Authenticate(op *engine.Op, k *Key, idx int, purpose string) error {
	return k.authenticate(op, idx, purpose)
}

// authenticate verifies the PIN protecting container idx.
func (k *Key) authenticate(op *engine.Op, idx int, purpose string) error {
	core := k.c.Ref.core
	pin, err := op.ContainerPIN(idx)
	if err != nil {
		return core.Errorf("PIN of container %q: %w", k.c.Name, err)
	}
	if err := op.Authenticate(pin, purpose); err != nil {
		return core.Errorf("%w", err)
	}
	return nil
}

// SignContext signs digest, a hash made with opts.HashFunc(), in one
// transaction: authenticate the container's PIN (cached or prompted), use
// the key, check the signature against the public key, log out. The
// options and their paddings are documented once, on basecsp.Key (whose
// method this is); rand nil means the provider's Config.Rand.
func (k *Key) SignContext(ctx context.Context, rand io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if err := k.c.Ref.core.CheckOpen(); err != nil {
		return nil, err
	}
	req, err := k.signRequest(rand, digest, opts)
	if err != nil {
		return nil, err
	}
	// The signature is checked against the key's public key before it
	// is returned (verify). That check is also what makes the cached
	// container map and PIN information safe to use without reading
	// cardcf first (engine.Card.DoChecked): a key that another application replaced
	// gives a signature that does not verify, and the operation runs
	// again on data read afresh; if the key is still not the one opened,
	// the error says so and no signature is returned.
	var sig []byte
	err = k.c.do(ctx, func(op *engine.Op, idx int) error {
		var err error
		sig, err = k.signOn(op, idx, req)
		return err
	}, doChecked)
	if err != nil {
		return nil, err
	}
	return sig, nil
}

// signRequest checks what the caller of SignContext gave and makes the
// plug-in's request of it (Container is set by signOn): everything is
// checked before the card (or the PIN prompt) is asked, so that a request
// the card cannot take costs nothing.
func (k *Key) signRequest(rand io.Reader, digest []byte, opts crypto.SignerOpts) (minidriver.SignRequest, error) {
	core := k.c.Ref.core
	if rand == nil {
		rand = core.Rand()
	}
	req := minidriver.SignRequest{KeySpec: k.spec, Digest: digest, Rand: rand}
	var h crypto.Hash
	if pss, ok := opts.(*rsa.PSSOptions); ok && pss == nil {
		// crypto/rsa would dereference it.
		return req, core.Errorf("nil *rsa.PSSOptions: %w", minidriver.ErrInvalidParameter)
	}
	if opts != nil {
		h = opts.HashFunc()
	}
	if h != 0 {
		if n := minidriver.DigestSize(h); n == 0 || n != len(digest) {
			return req, core.Errorf("a %d-byte digest is not a %v hash: %w", len(digest), h, minidriver.ErrInvalidParameter)
		}
	}
	switch {
	case k.spec.IsECDSA():
		if len(digest) == 0 {
			return req, core.Errorf("empty digest: %w", minidriver.ErrInvalidParameter)
		}
		// ECDSA uses the leftmost bits of the digest, as many as the
		// order has (FIPS 186-5 §6.4.1, SEC 1 §4.1.3 step 5): a longer
		// digest cut to the curve's size signs the same, and no caller
		// makes the card take a megabyte.
		if n := (k.bits + 7) / 8; n > 0 && len(digest) > n {
			req.Digest = digest[:n]
		}
	case k.spec.IsRSA():
		if opts == nil {
			return req, core.Errorf("RSA signature without options: %w", minidriver.ErrInvalidParameter)
		}
		req.Hash = h
		req.Padding = minidriver.PaddingPKCS1
		emLen := (k.bits - 1 + 7) / 8
		if pss, ok := opts.(*rsa.PSSOptions); ok {
			if h == 0 || h == crypto.MD5SHA1 {
				return req, core.Errorf("PSS needs a hash: %w", minidriver.ErrInvalidParameter)
			}
			req.Padding = minidriver.PaddingPSS
			switch s := pss.SaltLength; {
			case s == rsa.PSSSaltLengthAuto:
				req.SaltLength = emLen - h.Size() - 2
			case s == rsa.PSSSaltLengthEqualsHash:
				req.SaltLength = h.Size()
			case s > 0:
				req.SaltLength = s
			default:
				return req, core.Errorf("PSS salt length %d: %w", s, minidriver.ErrInvalidParameter)
			}
			// Written so that no salt length overflows the sum.
			if req.SaltLength < 0 || req.SaltLength > emLen-h.Size()-2 {
				return req, core.Errorf("PSS salt of %d bytes too long for a %d-bit key: %w", req.SaltLength, k.bits, minidriver.ErrInvalidParameter)
			}
		} else {
			// RFC 8017 §9.2 step 3: the DigestInfo (or the bare digest)
			// and 11 bytes of padding must fit the modulus.
			t, err := minidriver.DigestInfo(h, digest)
			if err != nil {
				return req, core.Errorf("%w", err)
			}
			if len(t) > (k.bits+7)/8-11 {
				return req, core.Errorf("a %d-byte digest is too long for a %d-bit key: %w", len(digest), k.bits, minidriver.ErrInvalidParameter)
			}
		}
	default:
		return req, core.Errorf("a %v key cannot sign: %w", k.spec, minidriver.ErrInvalidParameter)
	}
	return req, nil
}

// signOn makes the signature of req with container idx in op:
// authenticate the container's PIN, sign, check the signature against
// the key's public key. A signature made on cached data (op.Unchecked)
// that does not verify is ErrStale, for the engine to run it again on
// data read afresh; on fresh data, a container that no longer holds the
// key is ErrNoKeyContainer.
func (k *Key) signOn(op *engine.Op, idx int, req minidriver.SignRequest) ([]byte, error) {
	core := k.c.Ref.core
	if err := k.authenticate(op, idx, "sign"); err != nil {
		return nil, err
	}
	req.Container = idx
	s, err := op.Card().SignData(op.Context(), op.Tx(), req)
	if err != nil {
		return nil, core.Errorf("sign: %w", err)
	}
	if err := k.verify(req, s); err != nil {
		return nil, k.notTheKey(op, idx, "sign", err)
	}
	return s, nil
}

// notTheKey is the error of an outcome of container idx's key that does
// not check out under the key's public key (err says how), in op: on
// cached data (op.Unchecked) engine.ErrStale, for the engine to run the
// operation again on data read afresh; on fresh data
// minidriver.ErrNoKeyContainer if the container now holds another key,
// else err (the card is at fault).
func (k *Key) notTheKey(op *engine.Op, idx int, what string, err error) error {
	core := k.c.Ref.core
	if op.Unchecked() {
		return core.Errorf("%s: %w: %w", what, engine.ErrStale, err)
	}
	if info, ierr := op.ContainerInfo(idx); ierr == nil && !k.holds(info) {
		return core.Errorf("container %q no longer holds the key opened: %w: %w", k.c.Name, minidriver.ErrNoKeyContainer, err)
	}
	return core.Errorf("%s: %w", what, err)
}

// holds reports whether info has k's public key under k's spec.
func (k *Key) holds(info minidriver.ContainerInfo) bool {
	pub := info.KeyExchange
	if k.spec.InSignatureSlot() {
		pub = info.Signature
	}
	eq, ok := pub.(interface{ Equal(crypto.PublicKey) bool })
	return ok && eq.Equal(k.pub)
}

// verify checks a signature the card returned against the key's public
// key before it is handed out, as crypto/rsa checks its own CRT
// signatures: a fault on the card or a corrupted answer must not give the
// caller a signature that does not verify (with RSA-CRT it may even give
// away the key, the Bellcore attack). The public operation costs far less
// than the card's private one.
func (k *Key) verify(req minidriver.SignRequest, sig []byte) error {
	var err error
	switch pub := k.pub.(type) {
	case *rsa.PublicKey:
		if req.Padding == minidriver.PaddingPSS {
			err = rsa.VerifyPSS(pub, req.Hash, req.Digest, sig, &rsa.PSSOptions{SaltLength: req.SaltLength, Hash: req.Hash})
			break
		}
		// PKCS #1 v1.5 is deterministic: the signature raised to e must
		// be the encoded message (which covers the hashes crypto/rsa has
		// no DigestInfo for, MD4 among them). Everything here is public.
		var em []byte
		if em, err = minidriver.PadSignature(req, k.bits); err == nil {
			size := (k.bits + 7) / 8
			s := new(big.Int).SetBytes(sig)
			if len(sig) != size || s.Cmp(pub.N) >= 0 ||
				!bytes.Equal(new(big.Int).Exp(s, big.NewInt(int64(pub.E)), pub.N).FillBytes(make([]byte, size)), em) {
				err = errors.New("RSA verification failed")
			}
		}
	case *ecdsa.PublicKey:
		if !ecdsa.VerifyASN1(pub, req.Digest, sig) {
			err = errors.New("ECDSA verification failed")
		}
	default:
		return fmt.Errorf("a %T key cannot sign: %w", k.pub, minidriver.ErrUnexpected)
	}
	if err != nil {
		return fmt.Errorf("%w: the card's signature does not verify under the key's public key", minidriver.ErrUnexpected)
	}
	return nil
}

// RawDecrypt, as crypto.DecrypterOpts, asks Decrypt for the raw RSA
// result: no padding is removed.
type RawDecrypt struct{}

// DecryptContext decrypts msg with the RSA key in one transaction, as
// SignContext signs; the card does the raw RSA operation, whose result is
// checked against the key's public key as a signature is (rawRSACheck,
// which lets the operation use cached container data without a cardcf
// read, engine.Card.DoChecked), and the padding is removed here, both in
// constant time. The options are documented once, on
// basecsp.Key (whose method this is); RawDecrypt, which ksp's
// RawDecryptOptions becomes, asks for the whole block.
func (k *Key) DecryptContext(ctx context.Context, rand io.Reader, msg []byte, opts crypto.DecrypterOpts) ([]byte, error) {
	core := k.c.Ref.core
	if err := core.CheckOpen(); err != nil {
		return nil, err
	}
	if !k.spec.IsRSA() {
		return nil, core.Errorf("a %v key cannot decrypt: %w", k.spec, minidriver.ErrInvalidParameter)
	}
	if rand == nil {
		rand = core.Rand()
	}
	size := (k.bits + 7) / 8
	if len(msg) > size {
		return nil, core.Errorf("%d-byte ciphertext for a %d-bit key: %w", len(msg), k.bits, minidriver.ErrDecryption)
	}

	// The options are checked before anything is allocated for them or
	// the card is asked, with the errors crypto/rsa gives.
	var unpad func(em []byte) ([]byte, error)
	switch o := opts.(type) {
	case nil:
		unpad = minidriver.UnpadPKCS1v15
	case RawDecrypt, *RawDecrypt:
		unpad = func(em []byte) ([]byte, error) { return append([]byte(nil), em...), nil }
	//lint:ignore SA1019 callers (crypto/tls among them) pass these options; honouring them is the point.
	case *rsa.PKCS1v15DecryptOptions:
		if o == nil || o.SessionKeyLen <= 0 {
			unpad = minidriver.UnpadPKCS1v15
			break
		}
		if o.SessionKeyLen > size-11 {
			// rsa.DecryptPKCS1v15SessionKey: a key that cannot fit the
			// padding is ErrDecryption; the length is the caller's, no
			// secret.
			return nil, core.Errorf("a %d-byte session key cannot fit a %d-bit key: %w", o.SessionKeyLen, k.bits, minidriver.ErrDecryption)
		}
		key := make([]byte, o.SessionKeyLen)
		if _, err := io.ReadFull(rand, key); err != nil {
			return nil, core.Errorf("random session key: %w", err)
		}
		unpad = func(em []byte) ([]byte, error) {
			if err := minidriver.UnpadPKCS1v15SessionKey(em, key); err != nil {
				return nil, err
			}
			return key, nil
		}
	case *rsa.OAEPOptions:
		if o == nil {
			return nil, core.Errorf("nil *rsa.OAEPOptions: %w", minidriver.ErrInvalidParameter)
		}
		if !o.Hash.Available() || (o.MGFHash != 0 && !o.MGFHash.Available()) {
			return nil, core.Errorf("OAEP hash %v/%v: %w", o.Hash, o.MGFHash, minidriver.ErrUnsupported)
		}
		if size < 2*o.Hash.Size()+2 {
			// RFC 8017 §7.1.2 step 1c, rsa.DecryptOAEP's ErrDecryption.
			return nil, core.Errorf("OAEP with %v needs a larger key than %d bits: %w", o.Hash, k.bits, minidriver.ErrDecryption)
		}
		unpad = func(em []byte) ([]byte, error) {
			return minidriver.UnpadOAEP(em, o.Hash, o.MGFHash, o.Label)
		}
	default:
		return nil, core.Errorf("decrypter options %T: %w", opts, minidriver.ErrInvalidParameter)
	}

	block := make([]byte, size)
	copy(block[size-len(msg):], msg)
	chk, err := newRawRSACheck(k.pub, block)
	if err != nil {
		return nil, core.Errorf("%w", err)
	}
	// The card's raw result is checked against the key's public key
	// (chk, in constant time) before any padding is looked at, as a
	// signature is: a fault on the card gives no plaintext, and the
	// cached container map and PIN information are used without a
	// cardcf read (engine.Card.DoChecked), a key that another
	// application replaced giving a result that does not check out.
	var em []byte
	err = k.c.do(ctx, func(op *engine.Op, idx int) error {
		if err := k.authenticate(op, idx, "decrypt"); err != nil {
			return err
		}
		out, err := minidriver.RSADecrypt(op.Context(), op.Card(), op.Tx(), minidriver.DecryptRequest{
			Container: idx, KeySpec: k.spec, Ciphertext: block, Padding: minidriver.PaddingNone})
		if err != nil {
			if errors.Is(err, scrm.ErrWrongData) {
				// The card refuses a ciphertext below the modulus
				// opened (newRawRSACheck): its key is not that one
				// (RSADP's "ciphertext representative out of range",
				// RFC 8017 §5.1.2, is 6A80 on a PIV card), or the
				// card is at fault.
				return k.notTheKey(op, idx, "decrypt", err)
			}
			return core.Errorf("decrypt: %w", err)
		}
		if err := chk.check(out); err != nil {
			clear(out)
			return k.notTheKey(op, idx, "decrypt", err)
		}
		em = out
		return nil
	}, doChecked)
	if err != nil {
		return nil, err
	}
	defer clear(em)
	out, err := unpad(em)
	if err != nil {
		if errors.Is(err, minidriver.ErrDecryption) {
			return nil, core.Errorf("%w", minidriver.ErrDecryption)
		}
		return nil, core.Errorf("%w", err)
	}
	return out, nil
}

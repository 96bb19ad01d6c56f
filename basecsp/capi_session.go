package basecsp

import (
	"bytes"
	"context"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
	"math/big"
	"slices"

	"github.com/cardmod/cardmod/minidriver"
)

// Hash is a hashing object (CryptCreateHash): hashing is done in software,
// as the Base CSP does, and the result is signed on the card with
// Key.Sign. A Hash is used by one goroutine at a time.
type Hash struct {
	alg crypto.Hash
	h   hash.Hash
}

// NewHash returns a hashing object for alg: MD5, SHA-1, SHA-224, SHA-256,
// SHA-384, SHA-512, SHA-512/224, SHA-512/256 or MD5+SHA1 (CALG_SSL3_SHAMD5,
// the concatenation of both).
func NewHash(alg crypto.Hash) (*Hash, error) {
	switch alg {
	case crypto.MD5SHA1:
		return &Hash{alg: alg, h: &md5sha1{crypto.MD5.New(), sha1.New()}}, nil
	case crypto.MD5, crypto.SHA1, crypto.SHA224, crypto.SHA256, crypto.SHA384, crypto.SHA512, crypto.SHA512_224, crypto.SHA512_256:
		if alg.Available() {
			return &Hash{alg: alg, h: alg.New()}, nil
		}
	}
	return nil, fmt.Errorf("basecsp: hash %v: %w", alg, minidriver.ErrUnsupported)
}

// Algorithm returns the hash algorithm.
func (h *Hash) Algorithm() crypto.Hash { return h.alg }

// Write adds data to the hash; it never fails.
func (h *Hash) Write(p []byte) (int, error) { return h.h.Write(p) }

// Sum returns the hash of what was written so far.
func (h *Hash) Sum() []byte { return h.h.Sum(nil) }

// Sign signs the hash with k (CryptSignHash): PKCS #1 v1.5 with the
// hash's DigestInfo for RSA keys (none for MD5+SHA1), ASN.1 ECDSA for
// ECDSA keys.
func (h *Hash) Sign(ctx context.Context, k *Key) ([]byte, error) {
	if k == nil {
		return nil, fmt.Errorf("basecsp: sign a hash: no key: %w", minidriver.ErrInvalidParameter)
	}
	return k.SignContext(ctx, nil, h.Sum(), h.alg)
}

type md5sha1 struct{ md5, sha1 hash.Hash }

func (m *md5sha1) Write(p []byte) (int, error) { m.md5.Write(p); return m.sha1.Write(p) }
func (m *md5sha1) Sum(b []byte) []byte         { return m.sha1.Sum(m.md5.Sum(b)) }
func (m *md5sha1) Reset()                      { m.md5.Reset(); m.sha1.Reset() }
func (m *md5sha1) Size() int                   { return 36 }
func (m *md5sha1) BlockSize() int              { return 64 }

// SessionAlg is a symmetric session key algorithm, by its CAPI ALG_ID.
type SessionAlg uint32

// Session key algorithms.
const (
	TripleDES SessionAlg = 0x6603 // CALG_3DES, 24-byte key
	AES128    SessionAlg = 0x660E // CALG_AES_128
	AES192    SessionAlg = 0x660F // CALG_AES_192
	AES256    SessionAlg = 0x6610 // CALG_AES_256
)

// KeySize returns the key length in bytes, 0 for an unknown algorithm.
func (a SessionAlg) KeySize() int {
	switch a {
	case TripleDES, AES192:
		return 24
	case AES128:
		return 16
	case AES256:
		return 32
	}
	return 0
}

// String names the algorithm.
func (a SessionAlg) String() string {
	switch a {
	case TripleDES:
		return "3DES"
	case AES128:
		return "AES-128"
	case AES192:
		return "AES-192"
	case AES256:
		return "AES-256"
	}
	return fmt.Sprintf("SessionAlg(%#x)", uint32(a))
}

// SessionKey is a symmetric key in host memory (CryptGenKey of a session
// key), never stored on the card. It can be exported wrapped under a
// card key-exchange key's public key and imported by unwrapping it on the
// card. It is safe for concurrent use; Destroy wipes it.
type SessionKey struct {
	alg SessionAlg
	key []byte
	b   cipher.Block
}

// GenerateSessionKey draws a new session key from the provider's
// randomness.
func (p *Provider) GenerateSessionKey(alg SessionAlg) (*SessionKey, error) {
	if err := p.core.CheckOpen(); err != nil {
		return nil, err
	}
	n := alg.KeySize()
	if n == 0 {
		return nil, fmt.Errorf("basecsp: session key algorithm %v: %w", alg, minidriver.ErrUnsupported)
	}
	key := make([]byte, n)
	if _, err := io.ReadFull(p.core.Rand(), key); err != nil {
		return nil, fmt.Errorf("basecsp: session key: %w", err)
	}
	return newSessionKey(alg, key)
}

// newSessionKey takes ownership of key.
func newSessionKey(alg SessionAlg, key []byte) (*SessionKey, error) {
	var b cipher.Block
	var err error
	switch alg {
	case TripleDES:
		b, err = des.NewTripleDESCipher(key)
	case AES128, AES192, AES256:
		if len(key) != alg.KeySize() {
			return nil, fmt.Errorf("basecsp: %d-byte key for %v: %w", len(key), alg, minidriver.ErrInvalidParameter)
		}
		b, err = aes.NewCipher(key)
	default:
		return nil, fmt.Errorf("basecsp: session key algorithm %v: %w", alg, minidriver.ErrUnsupported)
	}
	if err != nil {
		return nil, fmt.Errorf("basecsp: %v key: %w", alg, minidriver.ErrInvalidParameter)
	}
	return &SessionKey{alg: alg, key: key, b: b}, nil
}

// Algorithm returns the key's algorithm.
func (s *SessionKey) Algorithm() SessionAlg { return s.alg }

// Destroy wipes the key bytes. The key must not be used afterwards.
func (s *SessionKey) Destroy() { clear(s.key) }

// Wrapping is how a session key is encrypted under an RSA key.
type Wrapping int

// Wrappings.
const (
	// WrapPKCS1 is RSAES-PKCS1-v1_5, the CAPI default for SIMPLEBLOBs.
	WrapPKCS1 Wrapping = iota
	// WrapOAEP is RSAES-OAEP with SHA-1, MGF1-SHA-1 and no label, what
	// CAPI's CRYPT_OAEP flag means.
	WrapOAEP
)

const (
	simpleBlob  = 0x01
	blobVersion = 0x02
	calgRSAKeyX = 0xA400
)

// Export wraps the session key under the public key of to (an RSA key,
// normally a container's AT_KEYEXCHANGE key) and returns a CAPI
// SIMPLEBLOB: BLOBHEADER {bType 1, bVersion 2, reserved 0, aiKeyAlg}, the
// ALG_ID CALG_RSA_KEYX, then the RSA ciphertext in little-endian byte
// order. Only the public key is used: the card is not touched.
func (s *SessionKey) Export(to *Key, w Wrapping) ([]byte, error) {
	if to == nil {
		return nil, fmt.Errorf("basecsp: export under no key: %w", minidriver.ErrInvalidParameter)
	}
	if err := to.core().CheckOpen(); err != nil {
		return nil, err
	}
	pub, ok := to.Public().(*rsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("basecsp: export under a %v key: %w", to.Spec(), minidriver.ErrInvalidParameter)
	}
	var c []byte
	var err error
	switch w {
	case WrapPKCS1:
		c, err = encryptPKCS1v15(to.core().Rand(), pub, s.key)
	case WrapOAEP:
		c, err = rsa.EncryptOAEP(sha1.New(), to.core().Rand(), pub, s.key, nil)
	default:
		return nil, fmt.Errorf("basecsp: wrapping %d: %w", w, minidriver.ErrInvalidParameter)
	}
	if err != nil {
		return nil, fmt.Errorf("basecsp: wrap session key: %w", err)
	}
	blob := make([]byte, 12, 12+len(c))
	blob[0], blob[1] = simpleBlob, blobVersion
	binary.LittleEndian.PutUint32(blob[4:], uint32(s.alg))
	binary.LittleEndian.PutUint32(blob[8:], calgRSAKeyX)
	slices.Reverse(c)
	return append(blob, c...), nil
}

// encryptPKCS1v15 is RSAES-PKCS1-v1_5 encryption (RFC 8017 §7.2.1).
func encryptPKCS1v15(r io.Reader, pub *rsa.PublicKey, msg []byte) ([]byte, error) {
	k := pub.Size()
	if len(msg) > k-11 {
		return nil, fmt.Errorf("message too long for the key: %w", minidriver.ErrInvalidParameter)
	}
	em := make([]byte, k)
	em[1] = 2
	ps := em[2 : k-len(msg)-1]
	if _, err := io.ReadFull(r, ps); err != nil {
		return nil, err
	}
	for i := range ps {
		for ps[i] == 0 {
			if _, err := io.ReadFull(r, ps[i:i+1]); err != nil {
				return nil, err
			}
		}
	}
	copy(em[k-len(msg):], msg)
	defer clear(em)
	return rsaEncrypt(pub, em), nil
}

// ImportSessionKey unwraps a SIMPLEBLOB made by Export (or by CAPI
// CryptExportKey) with k on the card (CryptImportKey). PKCS #1 v1.5
// wrapping is unwrapped with implicit rejection: a blob that does not
// decrypt to a key of the right length gives a random key, not an error,
// so that the card cannot serve as a padding oracle; such a key fails
// later (GCM authentication, CBC padding).
func (k *Key) ImportSessionKey(ctx context.Context, blob []byte, w Wrapping) (*SessionKey, error) {
	if err := k.core().CheckOpen(); err != nil {
		return nil, err
	}
	if len(blob) < 12 || blob[0] != simpleBlob || blob[1] != blobVersion ||
		binary.LittleEndian.Uint32(blob[8:]) != calgRSAKeyX {
		return nil, fmt.Errorf("basecsp: not a SIMPLEBLOB: %w", minidriver.ErrInvalidParameter)
	}
	alg := SessionAlg(binary.LittleEndian.Uint32(blob[4:]))
	n := alg.KeySize()
	if n == 0 {
		return nil, fmt.Errorf("basecsp: session key algorithm %v: %w", alg, minidriver.ErrUnsupported)
	}
	c := slices.Clone(blob[12:])
	slices.Reverse(c)
	var opts crypto.DecrypterOpts
	switch w {
	case WrapPKCS1:
		//lint:ignore SA1019 SIMPLEBLOBs are PKCS #1 v1.5; unwrapped with implicit rejection.
		opts = &rsa.PKCS1v15DecryptOptions{SessionKeyLen: n}
	case WrapOAEP:
		opts = &rsa.OAEPOptions{Hash: crypto.SHA1}
	default:
		return nil, fmt.Errorf("basecsp: wrapping %d: %w", w, minidriver.ErrInvalidParameter)
	}
	key, err := k.DecryptContext(ctx, nil, c, opts)
	if err != nil {
		return nil, err
	}
	if len(key) != n {
		clear(key)
		return nil, fmt.Errorf("basecsp: unwrap session key: %w", minidriver.ErrDecryption)
	}
	return newSessionKey(alg, key)
}

// EncryptCBC encrypts plaintext in CBC mode with PKCS #7 padding (the
// CAPI default for block ciphers); iv is one block.
func (s *SessionKey) EncryptCBC(iv, plaintext []byte) ([]byte, error) {
	bs := s.b.BlockSize()
	if len(iv) != bs {
		return nil, fmt.Errorf("basecsp: %d-byte IV for %v: %w", len(iv), s.alg, minidriver.ErrInvalidParameter)
	}
	pad := bs - len(plaintext)%bs
	buf := append(slices.Clone(plaintext), bytes.Repeat([]byte{byte(pad)}, pad)...)
	cipher.NewCBCEncrypter(s.b, iv).CryptBlocks(buf, buf)
	return buf, nil
}

// errPadding is the one error of a failed CBC decryption.
var errPadding = errors.New("basecsp: bad padding")

// DecryptCBC decrypts a CBC ciphertext and removes PKCS #7 padding,
// checking it in constant time.
func (s *SessionKey) DecryptCBC(iv, ciphertext []byte) ([]byte, error) {
	bs := s.b.BlockSize()
	if len(iv) != bs {
		return nil, fmt.Errorf("basecsp: %d-byte IV for %v: %w", len(iv), s.alg, minidriver.ErrInvalidParameter)
	}
	if len(ciphertext) == 0 || len(ciphertext)%bs != 0 {
		return nil, errPadding
	}
	buf := slices.Clone(ciphertext)
	cipher.NewCBCDecrypter(s.b, iv).CryptBlocks(buf, buf)
	pad := int(buf[len(buf)-1])
	good := subtle.ConstantTimeLessOrEq(1, pad) & subtle.ConstantTimeLessOrEq(pad, bs)
	for i := 1; i <= bs; i++ {
		in := subtle.ConstantTimeLessOrEq(i, pad)
		eq := subtle.ConstantTimeByteEq(buf[len(buf)-i], byte(pad))
		good &= eq | (in ^ 1)
	}
	if good != 1 {
		clear(buf)
		return nil, errPadding
	}
	return buf[:len(buf)-pad], nil
}

// gcm returns the AES-GCM AEAD of the key (12-byte nonces, 16-byte tags).
func (s *SessionKey) gcm() (cipher.AEAD, error) {
	if s.alg == TripleDES {
		return nil, fmt.Errorf("basecsp: GCM needs AES, not %v: %w", s.alg, minidriver.ErrUnsupported)
	}
	a, err := cipher.NewGCM(s.b)
	if err != nil {
		return nil, fmt.Errorf("basecsp: %w", err)
	}
	return a, nil
}

// SealGCM encrypts and authenticates plaintext and additional data with
// AES-GCM under a 12-byte nonce, which must never repeat for one key.
func (s *SessionKey) SealGCM(nonce, plaintext, additional []byte) ([]byte, error) {
	a, err := s.gcm()
	if err != nil {
		return nil, err
	}
	if len(nonce) != a.NonceSize() {
		return nil, fmt.Errorf("basecsp: %d-byte GCM nonce: %w", len(nonce), minidriver.ErrInvalidParameter)
	}
	return a.Seal(nil, nonce, plaintext, additional), nil
}

// OpenGCM decrypts and authenticates a SealGCM ciphertext.
func (s *SessionKey) OpenGCM(nonce, ciphertext, additional []byte) ([]byte, error) {
	a, err := s.gcm()
	if err != nil {
		return nil, err
	}
	if len(nonce) != a.NonceSize() {
		return nil, fmt.Errorf("basecsp: %d-byte GCM nonce: %w", len(nonce), minidriver.ErrInvalidParameter)
	}
	out, err := a.Open(nil, nonce, ciphertext, additional)
	if err != nil {
		return nil, fmt.Errorf("basecsp: GCM: %w", minidriver.ErrDecryption)
	}
	return out, nil
}

// rsaEncrypt is the RSA public-key operation on a k-byte block.
func rsaEncrypt(pub *rsa.PublicKey, em []byte) []byte {
	c := new(big.Int).Exp(new(big.Int).SetBytes(em), big.NewInt(int64(pub.E)), pub.N)
	return c.FillBytes(make([]byte, pub.Size()))
}

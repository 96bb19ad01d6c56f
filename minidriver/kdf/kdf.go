// Package kdf holds the key derivation functions of the minidriver
// specification (CardDeriveKey) and of CNG's key storage
// provider: HASH, HMAC, TLS_PRF, SP800_56A_CONCAT and SP800_108_CTR_HMAC.
// Each is a struct whose fields are the KDF's parameter list and which
// implements minidriver.KDF: Derive(Z) applies it to an ECDH shared secret
// Z (the x-coordinate). Parse maps the specification's KDF names and
// BCryptBuffer parameter lists to these structs.
//
// Parameters are checked before anything is derived; a bad or missing
// parameter is an error wrapping minidriver.ErrInvalidParameter, whose
// text never carries secret material. Intermediate buffers that hold
// secret-derived bytes are wiped before Derive returns, where the standard
// library allows it (the internal state of crypto/hmac cannot be reached).
//
// Concurrency: the KDF values hold no state of their own; Derive may be
// called from several goroutines at once as long as nobody modifies the
// struct (or the slices it refers to) meanwhile.
package kdf

import (
	"crypto"
	_ "crypto/md5"    // registers MD5 for crypto.Hash.New
	_ "crypto/sha1"   // registers SHA-1
	_ "crypto/sha256" // registers SHA-256
	_ "crypto/sha512" // registers SHA-384 and SHA-512
	"fmt"
	"hash"

	"github.com/cardmod/cardmod/minidriver"
)

// MaxLength bounds the output of the KDFs with a caller-chosen length
// (SP80056AConcat, SP800108CTRHMAC), in bytes.
const MaxLength = 1 << 16

// hashEntry is a hash algorithm the KDFs accept, with its CNG name.
type hashEntry struct {
	h    crypto.Hash
	name string
}

// hashes returns the hash algorithms the KDFs accept.
func hashes() [5]hashEntry {
	return [5]hashEntry{
		{crypto.SHA1, "SHA1"},
		{crypto.SHA256, "SHA256"},
		{crypto.SHA384, "SHA384"},
		{crypto.SHA512, "SHA512"},
		{crypto.MD5, "MD5"},
	}
}

// invalid returns an error wrapping minidriver.ErrInvalidParameter.
func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: kdf: "+format, append([]any{minidriver.ErrInvalidParameter}, args...)...)
}

// checkHash resolves a hash choice: 0 means def; anything but the five
// hashes of the specification is refused.
func checkHash(h, def crypto.Hash) (crypto.Hash, error) {
	if h == 0 {
		h = def
	}
	for _, e := range hashes() {
		if e.h == h {
			if !h.Available() {
				return 0, invalid("hash %s not linked", e.name)
			}
			return h, nil
		}
	}
	return 0, invalid("hash %v not supported", h)
}

// checkLength resolves a requested output length: 0 means the hash size.
func checkLength(n int, h crypto.Hash) (int, error) {
	switch {
	case n == 0:
		return h.Size(), nil
	case n < 0 || n > MaxLength:
		return 0, invalid("output length %d out of range 1..%d", n, MaxLength)
	}
	return n, nil
}

// writeAll feeds every part to w.
func writeAll(w hash.Hash, parts ...[]byte) {
	for _, p := range parts {
		w.Write(p)
	}
}

// Compile-time checks that every KDF implements minidriver.KDF.
var (
	_ minidriver.KDF = Hash{}
	_ minidriver.KDF = HMAC{}
	_ minidriver.KDF = TLSPRF{}
	_ minidriver.KDF = SP80056AConcat{}
	_ minidriver.KDF = SP800108CTRHMAC{}
)

package kdf

import (
	"crypto"
	"crypto/hmac"
)

// Hash is the "HASH" KDF (BCRYPT_KDF_HASH): H(prepend ‖ Z ‖ append), with
// every KDF_SECRET_PREPEND and KDF_SECRET_APPEND buffer concatenated in
// order. The output is one digest.
type Hash struct {
	// Hash is the hash function (KDF_HASH_ALGORITHM): crypto.SHA1,
	// SHA256, SHA384, SHA512 or MD5; zero means SHA1.
	Hash crypto.Hash
	// Prepend and Append are the KDF_SECRET_PREPEND and
	// KDF_SECRET_APPEND buffers, in order.
	Prepend, Append [][]byte
}

// Validate checks the parameters.
func (k Hash) Validate() error {
	_, err := checkHash(k.Hash, crypto.SHA1)
	return err
}

// Derive returns H(prepend ‖ secret ‖ append).
func (k Hash) Derive(secret []byte) ([]byte, error) {
	h, err := checkHash(k.Hash, crypto.SHA1)
	if err != nil {
		return nil, err
	}
	w := h.New()
	writeAll(w, k.Prepend...)
	w.Write(secret)
	writeAll(w, k.Append...)
	return w.Sum(nil), nil
}

// HMAC is the "HMAC" KDF (BCRYPT_KDF_HMAC): HMAC(key, prepend ‖ Z ‖ append).
// The key is Key (KDF_HMAC_KEY) or, with UseSecretAsKey
// (KDF_USE_SECRET_AS_HMAC_KEY_FLAG), Z itself; exactly one of the two must
// be given. The output is one digest.
type HMAC struct {
	// Hash is the hash function; zero means SHA1.
	Hash crypto.Hash
	// Key is the HMAC key (KDF_HMAC_KEY).
	Key []byte
	// UseSecretAsKey makes the shared secret the HMAC key.
	UseSecretAsKey bool
	// Prepend and Append are the KDF_SECRET_PREPEND and
	// KDF_SECRET_APPEND buffers, in order.
	Prepend, Append [][]byte
}

// Validate checks the parameters.
func (k HMAC) Validate() error {
	if _, err := checkHash(k.Hash, crypto.SHA1); err != nil {
		return err
	}
	switch {
	case k.UseSecretAsKey && k.Key != nil:
		return invalid("HMAC: a key and the secret-as-key flag together")
	case !k.UseSecretAsKey && len(k.Key) == 0:
		return invalid("HMAC: no key")
	}
	return nil
}

// Derive returns HMAC(key, prepend ‖ secret ‖ append).
func (k HMAC) Derive(secret []byte) ([]byte, error) {
	if err := k.Validate(); err != nil {
		return nil, err
	}
	h, _ := checkHash(k.Hash, crypto.SHA1)
	key := k.Key
	if k.UseSecretAsKey {
		key = secret
	}
	m := hmac.New(h.New, key)
	writeAll(m, k.Prepend...)
	m.Write(secret)
	writeAll(m, k.Append...)
	return m.Sum(nil), nil
}

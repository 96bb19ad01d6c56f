package minidriver

import (
	"crypto"
	"crypto/subtle"
	"errors"
	"fmt"
)

// ErrDecryption is the one error of a failed unpadding: it says nothing of
// which check failed.
var ErrDecryption = errors.New("minidriver: decryption error")

// pkcs1v15Decode checks an EME-PKCS1-v1_5 block (RFC 8017 §7.2.2) in time
// independent of its content: valid is 1 when em is 00 02 PS 00 M with at
// least eight bytes of non-zero PS, and index is where M starts.
func pkcs1v15Decode(em []byte) (valid, index int) {
	if len(em) < 11 {
		return 0, 0
	}
	first := subtle.ConstantTimeByteEq(em[0], 0)
	second := subtle.ConstantTimeByteEq(em[1], 2)
	looking := 1
	for i := 2; i < len(em); i++ {
		zero := subtle.ConstantTimeByteEq(em[i], 0)
		index = subtle.ConstantTimeSelect(looking&zero, i, index)
		looking = subtle.ConstantTimeSelect(zero, 0, looking)
	}
	// PS must be at least 8 bytes: the separator at index 10 or later.
	psOK := subtle.ConstantTimeLessOrEq(10, index)
	valid = first & second & (^looking & 1) & psOK
	index = subtle.ConstantTimeSelect(valid, index+1, 0)
	return valid, index
}

// UnpadPKCS1v15 removes EME-PKCS1-v1_5 padding from a decrypted block.
// Whether it fails is visible to the caller, so in protocols open to
// Bleichenbacher's attack (TLS RSA key exchange) use
// UnpadPKCS1v15SessionKey instead.
func UnpadPKCS1v15(em []byte) ([]byte, error) {
	valid, index := pkcs1v15Decode(em)
	if valid == 0 {
		return nil, ErrDecryption
	}
	return append([]byte(nil), em[index:]...), nil
}

// UnpadPKCS1v15SessionKey is implicit rejection, as
// rsa.DecryptPKCS1v15SessionKey does: if em holds a valid padding around a
// message of exactly len(key) bytes, the message is copied into key;
// otherwise key is left as it is. The caller fills key with random bytes
// first. The time taken does not depend on whether the padding was valid.
func UnpadPKCS1v15SessionKey(em, key []byte) error {
	k := len(em)
	if k-(len(key)+3+8) < 0 {
		return fmt.Errorf("%w: %d-byte key does not fit a %d-byte block", ErrInvalidParameter, len(key), k)
	}
	valid, index := pkcs1v15Decode(em)
	valid &= subtle.ConstantTimeEq(int32(k-index), int32(len(key)))
	subtle.ConstantTimeCopy(valid, key, em[k-len(key):])
	return nil
}

// UnpadOAEP removes EME-OAEP padding (RFC 8017 §7.1.2) from a decrypted
// block in time independent of its content. hash hashes the label;
// mgfHash is the MGF1 hash (zero means hash). Every failure is
// ErrDecryption.
func UnpadOAEP(em []byte, hash, mgfHash crypto.Hash, label []byte) ([]byte, error) {
	if mgfHash == 0 {
		mgfHash = hash
	}
	if !hash.Available() || !mgfHash.Available() {
		return nil, fmt.Errorf("%w: OAEP with hash %v/%v", ErrUnsupported, hash, mgfHash)
	}
	hLen := hash.Size()
	k := len(em)
	if k < 2*hLen+2 {
		return nil, ErrDecryption
	}
	h := hash.New()
	h.Write(label)
	lHash := h.Sum(nil)

	buf := append([]byte(nil), em...)
	defer clear(buf)
	y := buf[0]
	seed := buf[1 : 1+hLen]
	db := buf[1+hLen:]
	mgf1XOR(seed, mgfHash, db)
	mgf1XOR(db, mgfHash, seed)

	good := subtle.ConstantTimeCompare(db[:hLen], lHash) & subtle.ConstantTimeByteEq(y, 0)
	rest := db[hLen:]
	looking, index, invalid := 1, 0, 0
	for i := range rest {
		zero := subtle.ConstantTimeByteEq(rest[i], 0)
		one := subtle.ConstantTimeByteEq(rest[i], 1)
		index = subtle.ConstantTimeSelect(looking&one, i, index)
		looking = subtle.ConstantTimeSelect(one, 0, looking)
		invalid = subtle.ConstantTimeSelect(looking&^zero, 1, invalid)
	}
	if good&^invalid&^looking&1 != 1 {
		return nil, ErrDecryption
	}
	return append([]byte(nil), rest[index+1:]...), nil
}

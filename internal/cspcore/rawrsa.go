package cspcore

import (
	"crypto"
	"crypto/rsa"
	"errors"
	"fmt"

	"filippo.io/bigmod"

	"github.com/cardmod/cardmod/minidriver"
)

// rawRSACheck checks the card's raw RSA result m for a ciphertext c
// against the key's public key (n, e): m^e mod n must be c. It is what
// makes a decryption checkable on the host, as a signature is: a key that
// another application replaced, or a fault on the card, gives a result
// that does not check out, and no plaintext is derived from it.
//
// m is the secret padded block, so the check runs in constant time in m
// (filippo.io/bigmod, the standard library's crypto/rsa arithmetic
// exported): raising it to e with math/big would time it, and its timing
// (of leading zero words, say) would be an oracle of the kind Manger's
// and Bleichenbacher's attacks use. What the check's outcome says (the
// key is the one opened, or not) does not depend on the plaintext.
type rawRSACheck struct {
	n *bigmod.Modulus
	e uint
	c *bigmod.Nat
}

// newRawRSACheck prepares the check of a decryption of block (the
// ciphertext, as long as the modulus) under pub. A ciphertext not below
// the modulus is minidriver.ErrDecryption, as crypto/rsa has it; a
// public key the check cannot use (not RSA, an even modulus, an exponent
// below 2) is minidriver.ErrUnexpected.
func newRawRSACheck(pub crypto.PublicKey, block []byte) (*rawRSACheck, error) {
	rpub, ok := pub.(*rsa.PublicKey)
	if !ok || rpub.N == nil || rpub.N.Sign() <= 0 {
		return nil, fmt.Errorf("a %T public key cannot check an RSA decryption: %w", pub, minidriver.ErrUnexpected)
	}
	if rpub.N.Bit(0) == 0 || rpub.E < 2 {
		// bigmod's short exponentiation needs an odd modulus, and no
		// RSA key has an even one or an exponent below 2 (RFC 8017
		// §3.1).
		return nil, fmt.Errorf("an RSA public key with an even modulus or an exponent below 2: %w", minidriver.ErrUnexpected)
	}
	n, err := bigmod.NewModulus(rpub.N.Bytes())
	if err != nil {
		return nil, fmt.Errorf("RSA modulus: %v: %w", err, minidriver.ErrUnexpected)
	}
	c, err := bigmod.NewNat().SetBytes(block, n)
	if err != nil {
		// RFC 8017 §5.1.2 step 1: out of range (crypto/rsa:
		// ErrDecryption). The ciphertext is the caller's, no secret.
		return nil, fmt.Errorf("ciphertext not below the modulus: %w", minidriver.ErrDecryption)
	}
	return &rawRSACheck{n: n, e: uint(rpub.E), c: c}, nil
}

// errRawRSAMismatch is the check's failure, wrapped with
// minidriver.ErrUnexpected: the card's result is not the raw RSA
// decryption of the ciphertext under the key's public key.
var errRawRSAMismatch = errors.New("the card's result does not check out under the key's public key")

// check reports whether m, the card's raw result, raised to e is the
// ciphertext. A result of another length than the modulus, or not below
// it, fails too (a fault, or another key's result). Constant time in m
// but for those two, which an unchanged key never gives.
func (r *rawRSACheck) check(m []byte) error {
	if len(m) != r.n.Size() {
		return fmt.Errorf("a %d-byte result for a %d-byte modulus: %w: %w", len(m), r.n.Size(), minidriver.ErrUnexpected, errRawRSAMismatch)
	}
	x, err := bigmod.NewNat().SetBytes(m, r.n)
	if err != nil {
		return fmt.Errorf("%w: %w", minidriver.ErrUnexpected, errRawRSAMismatch)
	}
	if bigmod.NewNat().ExpShortVarTime(x, r.e, r.n).Equal(r.c) != 1 {
		return fmt.Errorf("%w: %w", minidriver.ErrUnexpected, errRawRSAMismatch)
	}
	return nil
}

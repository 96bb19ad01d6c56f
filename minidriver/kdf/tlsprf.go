package kdf

import (
	"crypto"
	"crypto/hmac"
)

// TLS protocol versions of KDF_TLS_PRF_PROTOCOL.
const (
	TLS10 uint16 = 0x0301 // TLS1_PROTOCOL_VERSION
	TLS11 uint16 = 0x0302 // TLS1_1_PROTOCOL_VERSION
	TLS12 uint16 = 0x0303 // TLS1_2_PROTOCOL_VERSION
)

// TLSSeedSize is the size of KDF_TLS_PRF_SEED: the client random followed
// by the server random.
const TLSSeedSize = 64

// TLSMasterSecretSize is the output size of TLSPRF: a TLS master secret.
const TLSMasterSecretSize = 48

// TLSPRF is the "TLS_PRF" KDF (BCRYPT_KDF_TLS_PRF): the TLS pseudo-random
// function over Z with Label and Seed, producing the 48-byte master
// secret. TLS 1.0 and 1.1 use the MD5/SHA-1 split-secret PRF of RFC 2246
// §5 (P_MD5 over the first half of Z XOR P_SHA1 over the second half);
// TLS 1.2 uses P_hash of RFC 5246 §5 with SHA-256 or SHA-384.
type TLSPRF struct {
	// Protocol is KDF_TLS_PRF_PROTOCOL: TLS10, TLS11 or TLS12; zero means
	// TLS10.
	Protocol uint16
	// Hash is the P_hash function for TLS12: crypto.SHA256 (the zero
	// value) or crypto.SHA384. It must be zero for TLS 1.0 and 1.1.
	Hash crypto.Hash
	// Label is KDF_TLS_PRF_LABEL, for example "master secret"; required.
	Label string
	// Seed is KDF_TLS_PRF_SEED, exactly TLSSeedSize bytes.
	Seed []byte
}

// Validate checks the parameters.
func (k TLSPRF) Validate() error {
	_, err := k.hash()
	return err
}

// hash returns the P_hash function, 0 for the split MD5/SHA-1 PRF.
func (k TLSPRF) hash() (crypto.Hash, error) {
	if k.Label == "" {
		return 0, invalid("TLS_PRF: no label")
	}
	if len(k.Seed) != TLSSeedSize {
		return 0, invalid("TLS_PRF: seed of %d bytes, want %d", len(k.Seed), TLSSeedSize)
	}
	switch k.Protocol {
	case 0, TLS10, TLS11:
		if k.Hash != 0 {
			return 0, invalid("TLS_PRF: a hash choice with TLS 1.0/1.1")
		}
		return 0, nil
	case TLS12:
		switch k.Hash {
		case 0, crypto.SHA256:
			return crypto.SHA256, nil
		case crypto.SHA384:
			return crypto.SHA384, nil
		}
		return 0, invalid("TLS_PRF: hash %v with TLS 1.2 (SHA256 or SHA384 only)", k.Hash)
	}
	return 0, invalid("TLS_PRF: protocol %#04x", k.Protocol)
}

// Derive returns the 48-byte master secret PRF(secret, Label, Seed).
func (k TLSPRF) Derive(secret []byte) ([]byte, error) {
	h, err := k.hash()
	if err != nil {
		return nil, err
	}
	seed := make([]byte, 0, len(k.Label)+len(k.Seed))
	seed = append(append(seed, k.Label...), k.Seed...)
	out := make([]byte, TLSMasterSecretSize)
	if h != 0 {
		pHash(out, h, secret, seed)
		return out, nil
	}
	tls10PRF(out, secret, seed)
	return out, nil
}

// tls10PRF fills out with P_MD5(S1, seed) XOR P_SHA1(S2, seed), where S1
// and S2 are the first and last ceil(len(secret)/2) bytes of secret
// (RFC 2246 §5); seed is the label followed by the seed.
func tls10PRF(out, secret, seed []byte) {
	half := (len(secret) + 1) / 2
	pHash(out, crypto.MD5, secret[:half], seed)
	tmp := make([]byte, len(out))
	defer clear(tmp)
	pHash(tmp, crypto.SHA1, secret[len(secret)-half:], seed)
	for i := range out {
		out[i] ^= tmp[i]
	}
}

// pHash fills out with P_hash(secret, seed) (RFC 5246 §5):
// A(0) = seed, A(i) = HMAC(secret, A(i-1)), output HMAC(secret, A(i) ‖ seed)
// for i = 1, 2, ...
func pHash(out []byte, h crypto.Hash, secret, seed []byte) {
	m := hmac.New(h.New, secret)
	m.Write(seed)
	a := m.Sum(nil)
	block := make([]byte, 0, h.Size())
	for n := 0; n < len(out); {
		m.Reset()
		m.Write(a)
		m.Write(seed)
		block = m.Sum(block[:0])
		n += copy(out[n:], block)
		m.Reset()
		m.Write(a)
		clear(a)
		a = m.Sum(a[:0])
	}
	clear(a)
	clear(block)
}

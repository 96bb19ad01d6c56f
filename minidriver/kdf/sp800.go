package kdf

import (
	"crypto"
	"crypto/hmac"
	"encoding/binary"
)

// SP80056AConcat is the "SP800_56A_CONCAT" KDF (BCRYPT_KDF_SP80056A_CONCAT):
// the single-step concatenation KDF of NIST SP 800-56A, which hashes
// counter ‖ Z ‖ OtherInfo for a 32-bit big-endian counter from 1 and
// truncates the concatenated digests to Length bytes. OtherInfo is
// AlgorithmID ‖ PartyUInfo ‖ PartyVInfo ‖ SuppPubInfo ‖ SuppPrivInfo, as
// CNG concatenates its parameters.
type SP80056AConcat struct {
	// Hash is the hash function; zero means SHA1.
	Hash crypto.Hash
	// AlgorithmID, PartyUInfo and PartyVInfo are KDF_ALGORITHMID,
	// KDF_PARTYUINFO and KDF_PARTYVINFO; all three are required.
	AlgorithmID, PartyUInfo, PartyVInfo []byte
	// SuppPubInfo and SuppPrivInfo are the optional KDF_SUPPPUBINFO and
	// KDF_SUPPPRIVINFO.
	SuppPubInfo, SuppPrivInfo []byte
	// Length is the output length in bytes, 1 to MaxLength; zero means the
	// hash size.
	Length int
}

// Validate checks the parameters.
func (k SP80056AConcat) Validate() error {
	_, _, err := k.resolve()
	return err
}

func (k SP80056AConcat) resolve() (crypto.Hash, int, error) {
	h, err := checkHash(k.Hash, crypto.SHA1)
	if err != nil {
		return 0, 0, err
	}
	switch {
	case len(k.AlgorithmID) == 0:
		return 0, 0, invalid("SP800_56A_CONCAT: no algorithm ID")
	case len(k.PartyUInfo) == 0:
		return 0, 0, invalid("SP800_56A_CONCAT: no party U info")
	case len(k.PartyVInfo) == 0:
		return 0, 0, invalid("SP800_56A_CONCAT: no party V info")
	}
	n, err := checkLength(k.Length, h)
	return h, n, err
}

// Derive returns Length bytes of the concatenation KDF over secret.
func (k SP80056AConcat) Derive(secret []byte) ([]byte, error) {
	h, n, err := k.resolve()
	if err != nil {
		return nil, err
	}
	out := make([]byte, n)
	w := h.New()
	block := make([]byte, 0, h.Size())
	var ctr [4]byte
	for i, off := uint32(1), 0; off < n; i++ {
		w.Reset()
		binary.BigEndian.PutUint32(ctr[:], i)
		writeAll(w, ctr[:], secret, k.AlgorithmID, k.PartyUInfo, k.PartyVInfo, k.SuppPubInfo, k.SuppPrivInfo)
		block = w.Sum(block[:0])
		off += copy(out[off:], block)
	}
	clear(block)
	return out, nil
}

// SP800108CTRHMAC is CNG's "SP800_108_CTR_HMAC" KDF: NIST SP 800-108 in
// counter mode with HMAC as the PRF and Z as the key derivation key.
// Block i (from 1) is HMAC(Z, [i]_32 ‖ Label ‖ 0x00 ‖ Context ‖ [L]_32),
// where the counter and L (the output length in bits) are 32-bit
// big-endian; the blocks are concatenated and truncated to Length bytes.
// It is not a CardDeriveKey KDF; the KSP computes it in software.
type SP800108CTRHMAC struct {
	// Hash is the HMAC hash function; zero means SHA1.
	Hash crypto.Hash
	// Label and Context are KDF_LABEL and KDF_CONTEXT.
	Label, Context []byte
	// Length is the output length in bytes, 1 to MaxLength; zero means the
	// hash size.
	Length int
}

// Validate checks the parameters.
func (k SP800108CTRHMAC) Validate() error {
	_, _, err := k.resolve()
	return err
}

func (k SP800108CTRHMAC) resolve() (crypto.Hash, int, error) {
	h, err := checkHash(k.Hash, crypto.SHA1)
	if err != nil {
		return 0, 0, err
	}
	n, err := checkLength(k.Length, h)
	return h, n, err
}

// Derive returns Length bytes of SP 800-108 counter-mode output keyed by
// secret.
func (k SP800108CTRHMAC) Derive(secret []byte) ([]byte, error) {
	h, n, err := k.resolve()
	if err != nil {
		return nil, err
	}
	fixed := make([]byte, 0, len(k.Label)+1+len(k.Context)+4)
	fixed = append(fixed, k.Label...)
	fixed = append(fixed, 0)
	fixed = append(fixed, k.Context...)
	fixed = binary.BigEndian.AppendUint32(fixed, uint32(n)*8)
	out := make([]byte, n)
	counterMode(out, h, secret, fixed)
	return out, nil
}

// counterMode fills out with HMAC(key, [i]_32 ‖ fixed) for i = 1, 2, ...
// (SP 800-108 §5.1 with the counter before the fixed input data).
func counterMode(out []byte, h crypto.Hash, key, fixed []byte) {
	m := hmac.New(h.New, key)
	block := make([]byte, 0, h.Size())
	var ctr [4]byte
	for i, off := uint32(1), 0; off < len(out); i++ {
		m.Reset()
		binary.BigEndian.PutUint32(ctr[:], i)
		m.Write(ctr[:])
		m.Write(fixed)
		block = m.Sum(block[:0])
		off += copy(out[off:], block)
	}
	clear(block)
}

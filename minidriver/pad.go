package minidriver

import (
	"crypto"
	"crypto/rand"
	"crypto/subtle"
	"encoding/asn1"
	"fmt"
	"io"
)

// digestOIDs are the DigestInfo algorithm identifiers of RFC 8017 §9.2 and
// the NIST and RIPEMD registrations.
var digestOIDs = map[crypto.Hash]asn1.ObjectIdentifier{
	crypto.MD4:        {1, 2, 840, 113549, 2, 4},
	crypto.MD5:        {1, 2, 840, 113549, 2, 5},
	crypto.SHA1:       {1, 3, 14, 3, 2, 26},
	crypto.SHA224:     {2, 16, 840, 1, 101, 3, 4, 2, 4},
	crypto.SHA256:     {2, 16, 840, 1, 101, 3, 4, 2, 1},
	crypto.SHA384:     {2, 16, 840, 1, 101, 3, 4, 2, 2},
	crypto.SHA512:     {2, 16, 840, 1, 101, 3, 4, 2, 3},
	crypto.SHA512_224: {2, 16, 840, 1, 101, 3, 4, 2, 5},
	crypto.SHA512_256: {2, 16, 840, 1, 101, 3, 4, 2, 6},
	crypto.SHA3_224:   {2, 16, 840, 1, 101, 3, 4, 2, 7},
	crypto.SHA3_256:   {2, 16, 840, 1, 101, 3, 4, 2, 8},
	crypto.SHA3_384:   {2, 16, 840, 1, 101, 3, 4, 2, 9},
	crypto.SHA3_512:   {2, 16, 840, 1, 101, 3, 4, 2, 10},
	crypto.RIPEMD160:  {1, 3, 36, 3, 2, 1},
}

// digestSizes are the output sizes of the hashes above, known without
// linking their implementations.
var digestSizes = map[crypto.Hash]int{
	crypto.MD4: 16, crypto.MD5: 16, crypto.SHA1: 20, crypto.SHA224: 28,
	crypto.SHA256: 32, crypto.SHA384: 48, crypto.SHA512: 64,
	crypto.SHA512_224: 28, crypto.SHA512_256: 32, crypto.SHA3_224: 28,
	crypto.SHA3_256: 32, crypto.SHA3_384: 48, crypto.SHA3_512: 64,
	crypto.RIPEMD160: 20, crypto.MD5SHA1: 36,
}

// DigestSize returns the digest length of h, or 0 when h is unknown.
func DigestSize(h crypto.Hash) int { return digestSizes[h] }

// DigestInfo returns the DER DigestInfo of RFC 8017 §9.2 for digest made
// with h. Hash 0 and crypto.MD5SHA1 have none: the digest is returned as it
// is.
func DigestInfo(h crypto.Hash, digest []byte) ([]byte, error) {
	if h == 0 || h == crypto.MD5SHA1 {
		if h == crypto.MD5SHA1 && len(digest) != 36 {
			return nil, fmt.Errorf("%w: MD5+SHA1 digest of %d bytes", ErrInvalidParameter, len(digest))
		}
		return digest, nil
	}
	oid, ok := digestOIDs[h]
	if !ok {
		return nil, fmt.Errorf("%w: no PKCS #1 DigestInfo for %v", ErrUnsupported, h)
	}
	if len(digest) != digestSizes[h] {
		return nil, fmt.Errorf("%w: %v digest of %d bytes", ErrInvalidParameter, h, len(digest))
	}
	type algID struct {
		Algorithm  asn1.ObjectIdentifier
		Parameters asn1.RawValue
	}
	type digestInfo struct {
		Algorithm algID
		Digest    []byte
	}
	return asn1.Marshal(digestInfo{algID{oid, asn1.NullRawValue}, digest})
}

// PadSignature encodes req's digest into a k-byte block for a raw RSA
// operation, as pfnCspPadData does for cards that cannot pad: EMSA-PKCS1-v1_5
// (with the DigestInfo of req.Hash) or EMSA-PSS (RFC 8017 §9.1) for a
// modulus of modBits bits. PaddingNone returns the digest left-padded with
// zeros to k bytes.
func PadSignature(req SignRequest, modBits int) ([]byte, error) {
	k := (modBits + 7) / 8
	switch req.Padding {
	case PaddingPKCS1:
		t, err := DigestInfo(req.Hash, req.Digest)
		if err != nil {
			return nil, err
		}
		if len(t)+11 > k {
			return nil, fmt.Errorf("%w: %d-byte DigestInfo too long for a %d-bit key", ErrInvalidParameter, len(t), modBits)
		}
		em := make([]byte, k)
		em[1] = 0x01
		for i := 2; i < k-len(t)-1; i++ {
			em[i] = 0xFF
		}
		copy(em[k-len(t):], t)
		return em, nil
	case PaddingPSS:
		return emsaPSSEncode(req, modBits)
	case PaddingNone:
		if len(req.Digest) > k {
			return nil, fmt.Errorf("%w: %d bytes for a %d-byte block", ErrInvalidParameter, len(req.Digest), k)
		}
		em := make([]byte, k)
		copy(em[k-len(req.Digest):], req.Digest)
		return em, nil
	}
	return nil, fmt.Errorf("%w: signature padding %#x", ErrInvalidParameter, req.Padding)
}

// emsaPSSEncode is EMSA-PSS-ENCODE with MGF1 over req.Hash.
func emsaPSSEncode(req SignRequest, modBits int) ([]byte, error) {
	h := req.Hash
	if !h.Available() {
		return nil, fmt.Errorf("%w: PSS with hash %v", ErrUnsupported, h)
	}
	hLen := h.Size()
	if len(req.Digest) != hLen {
		return nil, fmt.Errorf("%w: %v digest of %d bytes", ErrInvalidParameter, h, len(req.Digest))
	}
	emBits := modBits - 1
	emLen := (emBits + 7) / 8
	sLen := req.SaltLength
	if sLen < 0 {
		return nil, fmt.Errorf("%w: PSS salt length %d", ErrInvalidParameter, sLen)
	}
	if emLen < hLen+sLen+2 {
		return nil, fmt.Errorf("%w: PSS salt of %d bytes too long for a %d-bit key", ErrInvalidParameter, sLen, modBits)
	}
	r := req.Rand
	if r == nil {
		r = rand.Reader
	}
	salt := make([]byte, sLen)
	if _, err := io.ReadFull(r, salt); err != nil {
		return nil, fmt.Errorf("minidriver: PSS salt: %w", err)
	}
	hh := h.New()
	hh.Write(make([]byte, 8))
	hh.Write(req.Digest)
	hh.Write(salt)
	hm := hh.Sum(nil)

	em := make([]byte, emLen)
	db := em[:emLen-hLen-1]
	db[emLen-sLen-hLen-2] = 0x01
	copy(db[emLen-sLen-hLen-1:], salt)
	mgf1XOR(db, h, hm)
	db[0] &= 0xFF >> (8*emLen - emBits)
	copy(em[emLen-hLen-1:], hm)
	em[emLen-1] = 0xBC
	if len(em) < (modBits+7)/8 {
		// modBits-1 is a multiple of 8: the block has a leading zero byte.
		em = append([]byte{0}, em...)
	}
	return em, nil
}

// mgf1XOR XORs out with MGF1(seed) over h (RFC 8017 §B.2.1).
func mgf1XOR(out []byte, h crypto.Hash, seed []byte) {
	var counter [4]byte
	done := 0
	for done < len(out) {
		hh := h.New()
		hh.Write(seed)
		hh.Write(counter[:])
		block := hh.Sum(nil)
		n := subtle.XORBytes(out[done:], out[done:], block)
		done += n
		for i := 3; i >= 0; i-- {
			counter[i]++
			if counter[i] != 0 {
				break
			}
		}
	}
}

package piv

import (
	"context"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"

	"github.com/cardmod/cardmod/internal/bertlv"
	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/minidriver/internal/keyalg"
	"github.com/cardmod/cardmod/scrm"
)

// algOfPublic returns the PIV algorithm of a public key.
func algOfPublic(pub any) (byte, bool) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return keyalg.Table(algBits).RSA(k.N.BitLen())
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return algP256, true
		case elliptic.P384():
			return algP384, true
		}
	case *ecdh.PublicKey:
		switch k.Curve() {
		case ecdh.P256():
			return algP256, true
		case ecdh.P384():
			return algP384, true
		}
	}
	return 0, false
}

// toECDH converts an ECDSA public key to its ECDH form.
func toECDH(pub any) (*ecdh.PublicKey, error) {
	switch k := pub.(type) {
	case *ecdh.PublicKey:
		return k, nil
	case *ecdsa.PublicKey:
		ek, err := k.ECDH()
		if err != nil {
			return nil, fmt.Errorf("piv: public key: %w", err)
		}
		return ek, nil
	}
	return nil, fmt.Errorf("piv: %w: not an EC key", minidriver.ErrNoKeyContainer)
}

// errStaleAlg says a GENERAL AUTHENTICATE was refused for the algorithm:
// the slot's key changed since its algorithm was cached.
var errStaleAlg = errors.New("piv: key algorithm changed")

// generalAuth sends GENERAL AUTHENTICATE (SP 800-73-4 part 2, 3.2.4) with
// a response request (82 00) and one element (81 challenge or 85
// exponentiation), and returns the card's 82 response.
func (c *Card) generalAuth(ctx context.Context, tx *scrm.Tx, slot, alg byte, tag uint32, in []byte, cached bool) ([]byte, error) {
	data := bertlv.Encode(0x7C, bertlv.Append(bertlv.Encode(0x82, nil), tag, in))
	rsp, err := tx.Do(ctx, scrm.Command{INS: 0x87, P1: alg, P2: slot, Data: data, Ne: c.authNe(alg)})
	if err != nil {
		switch {
		case cached && (errors.Is(err, scrm.ErrWrongData) || errors.Is(err, scrm.ErrWrongParameters)):
			delete(c.algs, slot)
			return nil, errStaleAlg
		case errors.Is(err, scrm.ErrNotFound):
			delete(c.algs, slot)
			return nil, fmt.Errorf("piv: slot %02X: %w: %w", slot, minidriver.ErrNoKeyContainer, err)
		}
		return nil, cardErr(fmt.Sprintf("general authenticate with slot %02X", slot), err)
	}
	v, err := bertlv.Single(rsp.Data, 0x7C)
	if err == nil {
		v, err = bertlv.Single(v, 0x82)
	}
	if err != nil {
		return nil, fmt.Errorf("piv: general authenticate: %w: %w", minidriver.ErrUnexpected, err)
	}
	return append([]byte{}, v...), nil
}

// authNe is the Ne of generalAuth with a key of algorithm alg: 256, a
// short Le 00 (ISO/IEC 7816-4, 5.1: up to 256 bytes), where the answer
// always fits, so that a card with extended lengths is not sent 3 bytes
// more for nothing; the card's largest otherwise. The answer is 7C { 82
// value }: for P-256 and P-384 a signature of at most 2 + 2 × (2 + 49) =
// 104 bytes (ASN.1 DER Ecdsa-Sig-Value) or a shared secret of 48, for
// RSA-1024 a 128-byte block, 134 bytes with the two headers; RSA-2048 and
// larger take 264 and more. piv-go and libykpiv send every GENERAL
// AUTHENTICATE as a short APDU (piv-go's scTx.Transmit; yubico-piv-tool
// lib/ykpiv.c), a longer answer coming in 61xx parts that scrm fetches
// with GET RESPONSE whatever Ne said.
func (c *Card) authNe(alg byte) int {
	switch alg {
	case algP256, algP384, algRSA1024:
		return scrm.MaxShortNe
	}
	return c.maxNe()
}

// withKey runs op with the algorithm of container idx's key, once more if
// the cached algorithm turns out stale.
func (c *Card) withKey(ctx context.Context, tx *scrm.Tx, idx int, spec minidriver.KeySpec, op func(ct container, alg byte, cached bool) ([]byte, error)) ([]byte, error) {
	ct, err := c.container(ctx, tx, idx)
	if err != nil {
		return nil, err
	}
	if spec != 0 && spec.InSignatureSlot() != ct.Spec.InSignatureSlot() {
		return nil, fmt.Errorf("piv: container %d has no %v key: %w", idx, spec, minidriver.ErrNoKeyContainer)
	}
	for range 2 {
		alg, cached, err := c.slotAlg(ctx, tx, ct.Slot)
		if err != nil {
			return nil, err
		}
		out, err := op(ct, alg, cached)
		if errors.Is(err, errStaleAlg) {
			continue
		}
		return out, err
	}
	return nil, fmt.Errorf("piv: container %d: %w", idx, minidriver.ErrUnexpected)
}

// SignData signs a digest. RSA keys sign raw on PIV, so the digest is
// padded here (minidriver.PadSignature: PKCS #1 v1.5, PSS or none) and the
// signature is the modulus-sized block. ECDSA keys sign the digest
// truncated or left-padded to the curve size (SP 800-73-4 part 2, A.4);
// the signature is the card's ASN.1 DER Ecdsa-Sig-Value, the form of
// crypto.Signer.
func (c *Card) SignData(ctx context.Context, tx *scrm.Tx, req minidriver.SignRequest) ([]byte, error) {
	c.begin(tx)
	if req.KeySpec != 0 && !req.KeySpec.Valid() {
		return nil, fmt.Errorf("%w: key spec %d", minidriver.ErrInvalidParameter, req.KeySpec)
	}
	return c.withKey(ctx, tx, req.Container, req.KeySpec, func(ct container, alg byte, cached bool) ([]byte, error) {
		bits, ec, ok := algBits(alg)
		if !ok {
			return nil, fmt.Errorf("piv: %w: algorithm %#x", minidriver.ErrUnsupported, alg)
		}
		if ct.Spec.IsECDH() {
			return nil, fmt.Errorf("piv: container %d holds an ECDH key: %w", ct.Index, minidriver.ErrNoKeyContainer)
		}
		if !ec {
			em, err := minidriver.PadSignature(req, bits)
			if err != nil {
				return nil, err
			}
			out, err := c.generalAuth(ctx, tx, ct.Slot, alg, 0x81, em, cached)
			if err != nil {
				return nil, err
			}
			return leftPad(out, bits/8)
		}
		if len(req.Digest) == 0 {
			return nil, fmt.Errorf("%w: empty digest", minidriver.ErrInvalidParameter)
		}
		size := bits / 8
		in := make([]byte, size)
		if len(req.Digest) >= size {
			copy(in, req.Digest[:size])
		} else {
			copy(in[size-len(req.Digest):], req.Digest)
		}
		sig, err := c.generalAuth(ctx, tx, ct.Slot, alg, 0x81, in, cached)
		if err != nil {
			return nil, err
		}
		var rs struct{ R, S *big.Int }
		if rest, err := asn1.Unmarshal(sig, &rs); err != nil || len(rest) != 0 || rs.R.Sign() <= 0 || rs.S.Sign() <= 0 {
			return nil, fmt.Errorf("piv: ECDSA signature: %w", minidriver.ErrUnexpected)
		}
		return sig, nil
	})
}

// leftPad returns b as exactly n bytes.
func leftPad(b []byte, n int) ([]byte, error) {
	if len(b) > n {
		return nil, fmt.Errorf("piv: %d-byte answer for a %d-byte key: %w", len(b), n, minidriver.ErrUnexpected)
	}
	out := make([]byte, n)
	copy(out[n-len(b):], b)
	return out, nil
}

// RSADecrypt decrypts one modulus-sized block with a container's RSA key.
// The card does raw RSA: PaddingNone returns the block for the caller to
// unpad; PaddingPKCS1 and PaddingOAEP are removed here in constant time
// (minidriver.UnpadPKCS1v15, minidriver.UnpadOAEP).
func (c *Card) RSADecrypt(ctx context.Context, tx *scrm.Tx, req minidriver.DecryptRequest) ([]byte, error) {
	c.begin(tx)
	return c.withKey(ctx, tx, req.Container, req.KeySpec, func(ct container, alg byte, cached bool) ([]byte, error) {
		bits, ec, ok := algBits(alg)
		if !ok || ec {
			return nil, fmt.Errorf("piv: container %d has no RSA key: %w", ct.Index, minidriver.ErrNoKeyContainer)
		}
		k := bits / 8
		switch {
		case len(req.Ciphertext) < k:
			return nil, fmt.Errorf("piv: %d-byte block for a %d-bit key: %w", len(req.Ciphertext), bits, minidriver.ErrInsufficientBuffer)
		case len(req.Ciphertext) > k:
			return nil, fmt.Errorf("piv: %d-byte block for a %d-bit key: %w", len(req.Ciphertext), bits, minidriver.ErrInvalidParameter)
		}
		switch req.Padding {
		case minidriver.PaddingNone, minidriver.PaddingPKCS1, minidriver.PaddingOAEP:
		default:
			return nil, fmt.Errorf("%w: decryption padding %#x", minidriver.ErrInvalidParameter, req.Padding)
		}
		out, err := c.generalAuth(ctx, tx, ct.Slot, alg, 0x81, req.Ciphertext, cached)
		if err != nil {
			return nil, err
		}
		block, err := leftPad(out, k)
		if err != nil {
			return nil, err
		}
		switch req.Padding {
		case minidriver.PaddingPKCS1:
			return minidriver.UnpadPKCS1v15(block)
		case minidriver.PaddingOAEP:
			return minidriver.UnpadOAEP(block, req.OAEPHash, 0, req.Label)
		}
		return block, nil
	})
}

// Agree computes an ECDH shared secret on the card (GENERAL AUTHENTICATE
// with tag 85, SP 800-73-4 part 2, A.5) and keeps it under an index.
func (c *Card) Agree(ctx context.Context, tx *scrm.Tx, idx int, peer *ecdh.PublicKey) (int, error) {
	c.begin(tx)
	if peer == nil {
		return 0, fmt.Errorf("%w: no peer key", minidriver.ErrInvalidParameter)
	}
	z, err := c.withKey(ctx, tx, idx, 0, func(ct container, alg byte, cached bool) ([]byte, error) {
		bits, ec, _ := algBits(alg)
		if !ec {
			return nil, fmt.Errorf("piv: container %d has no EC key: %w", idx, minidriver.ErrNoKeyContainer)
		}
		peerAlg, _ := algOfPublic(peer)
		if peerAlg != alg {
			return nil, fmt.Errorf("%w: peer key on another curve", minidriver.ErrInvalidParameter)
		}
		out, err := c.generalAuth(ctx, tx, ct.Slot, alg, 0x85, peer.Bytes(), cached)
		if err != nil {
			return nil, err
		}
		if len(out) != bits/8 {
			return nil, fmt.Errorf("piv: %d-byte shared secret: %w", len(out), minidriver.ErrUnexpected)
		}
		return out, nil
	})
	if err != nil {
		return 0, err
	}
	return c.agreements.Put(z)
}

// DeriveKey applies kdf to agreement idx.
func (c *Card) DeriveKey(idx int, kdf minidriver.KDF) ([]byte, error) {
	return c.agreements.Derive(idx, kdf)
}

// DestroyAgreement wipes agreement idx.
func (c *Card) DestroyAgreement(idx int) error { return c.agreements.Destroy(idx) }

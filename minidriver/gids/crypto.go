package gids

import (
	"context"
	"crypto/ecdh"
	"encoding/asn1"
	"fmt"
	"math/big"

	"github.com/cardmod/cardmod/internal/bertlv"
	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/scrm"
)

// mse sets the security environment for a private key operation: MSE SET
// 41 tmpl { 80 algorithm reference, 84 key reference }.
func (c *Card) mse(ctx context.Context, tx *scrm.Tx, tmpl, algRef, ref byte) error {
	data := cat(bertlv.Encode(0x80, []byte{algRef}), bertlv.Encode(0x84, []byte{ref}))
	if _, err := tx.Do(ctx, scrm.Command{INS: 0x22, P1: 0x41, P2: tmpl, Data: data}); err != nil {
		return cardErr("set the security environment", err)
	}
	return nil
}

// ne is the largest answer to ask for.
func ne(tx *scrm.Tx) int {
	if tx.Card().Limits().Extended {
		return scrm.MaxNe
	}
	return scrm.MaxShortNe
}

// SignData signs with PSO COMPUTE DIGITAL SIGNATURE (00 2A 9E 9A). RSA
// blocks are padded on the host (minidriver.PadSignature: PKCS #1 v1.5,
// PSS or none) and signed raw (algorithm reference 1x: padding done off
// card); ECDSA signs the digest and the card's r || s is returned as ASN.1
// DER.
func (c *Card) SignData(ctx context.Context, tx *scrm.Tx, req minidriver.SignRequest) ([]byte, error) {
	r, spec, err := c.container(ctx, tx, req.Container)
	if err != nil {
		return nil, err
	}
	if req.KeySpec != 0 && spec != req.KeySpec {
		return nil, fmt.Errorf("%w: gids: container %d holds an %v key, not %v", minidriver.ErrNoKeyContainer, req.Container, spec, req.KeySpec)
	}
	ref := keyRef(req.Container)
	switch {
	case spec.IsRSA():
		bits := algRSABits(r.Alg)
		block, err := minidriver.PadSignature(req, bits)
		if err != nil {
			return nil, err
		}
		if err := c.mse(ctx, tx, 0xB6, padOffCard|r.Alg, ref); err != nil {
			return nil, err
		}
		rsp, err := tx.Do(ctx, scrm.Command{INS: 0x2A, P1: 0x9E, P2: 0x9A, Data: block, Ne: ne(tx)})
		if err != nil {
			return nil, cardErr("sign", err)
		}
		size := (bits + 7) / 8
		if len(rsp.Data) == 0 || len(rsp.Data) > size {
			return nil, fmt.Errorf("%w: gids: RSA signature of %d bytes", minidriver.ErrUnexpected, len(rsp.Data))
		}
		out := make([]byte, size)
		copy(out[size-len(rsp.Data):], rsp.Data)
		return out, nil
	case spec.IsECDSA():
		if len(req.Digest) == 0 || len(req.Digest) > 64 {
			return nil, fmt.Errorf("%w: gids: digest of %d bytes", minidriver.ErrInvalidParameter, len(req.Digest))
		}
		if err := c.mse(ctx, tx, 0xB6, padRaw|r.Alg, ref); err != nil {
			return nil, err
		}
		rsp, err := tx.Do(ctx, scrm.Command{INS: 0x2A, P1: 0x9E, P2: 0x9A, Data: req.Digest, Ne: ne(tx)})
		if err != nil {
			return nil, cardErr("sign", err)
		}
		return ecdsaDER(rsp.Data, (spec.CurveBits()+7)/8)
	}
	return nil, fmt.Errorf("%w: gids: container %d holds an %v key", minidriver.ErrNoKeyContainer, req.Container, spec)
}

// ecdsaDER turns a plain r || s signature into ASN.1 DER.
func ecdsaDER(raw []byte, size int) ([]byte, error) {
	if len(raw) != 2*size {
		return nil, fmt.Errorf("%w: gids: ECDSA signature of %d bytes, want %d", minidriver.ErrUnexpected, len(raw), 2*size)
	}
	r := new(big.Int).SetBytes(raw[:size])
	s := new(big.Int).SetBytes(raw[size:])
	if r.Sign() == 0 || s.Sign() == 0 {
		return nil, fmt.Errorf("%w: gids: ECDSA signature with a zero half", minidriver.ErrUnexpected)
	}
	der, err := asn1.Marshal(struct{ R, S *big.Int }{r, s})
	if err != nil {
		return nil, fmt.Errorf("%w: gids: %w", minidriver.ErrUnexpected, err)
	}
	return der, nil
}

// RSADecrypt decrypts one block raw with PSO DECIPHER (00 2A 80 86, the
// cryptogram without padding indicator, as GidsApplet takes it) after MSE
// SET 41 B8 { 80 alg } and removes the padding on the host, in constant
// time (minidriver.UnpadPKCS1v15, UnpadOAEP).
func (c *Card) RSADecrypt(ctx context.Context, tx *scrm.Tx, req minidriver.DecryptRequest) ([]byte, error) {
	r, spec, err := c.container(ctx, tx, req.Container)
	if err != nil {
		return nil, err
	}
	if spec != minidriver.KeyExchange || (req.KeySpec != 0 && req.KeySpec != minidriver.KeyExchange) {
		return nil, fmt.Errorf("%w: gids: container %d holds no RSA key exchange key (%v)", minidriver.ErrNoKeyContainer, req.Container, spec)
	}
	size := (algRSABits(r.Alg) + 7) / 8
	switch {
	case len(req.Ciphertext) < size:
		return nil, fmt.Errorf("%w: gids: %d bytes for a %d-byte modulus", minidriver.ErrInsufficientBuffer, len(req.Ciphertext), size)
	case len(req.Ciphertext) > size:
		return nil, fmt.Errorf("%w: gids: %d bytes for a %d-byte modulus", minidriver.ErrInvalidParameter, len(req.Ciphertext), size)
	}
	switch req.Padding {
	case minidriver.PaddingNone, minidriver.PaddingPKCS1, minidriver.PaddingOAEP:
	default:
		return nil, fmt.Errorf("%w: gids: padding %#x", minidriver.ErrInvalidParameter, req.Padding)
	}
	if err := c.mse(ctx, tx, 0xB8, padRaw|r.Alg, keyRef(req.Container)); err != nil {
		return nil, err
	}
	rsp, err := tx.Do(ctx, scrm.Command{INS: 0x2A, P1: 0x80, P2: 0x86, Data: req.Ciphertext, Ne: ne(tx)})
	if err != nil {
		return nil, cardErr("decrypt", err)
	}
	if len(rsp.Data) > size {
		return nil, fmt.Errorf("%w: gids: decrypted block of %d bytes", minidriver.ErrUnexpected, len(rsp.Data))
	}
	em := make([]byte, size)
	copy(em[size-len(rsp.Data):], rsp.Data)
	clear(rsp.Data)
	switch req.Padding {
	case minidriver.PaddingPKCS1:
		defer clear(em)
		return minidriver.UnpadPKCS1v15(em)
	case minidriver.PaddingOAEP:
		defer clear(em)
		return minidriver.UnpadOAEP(em, req.OAEPHash, req.OAEPHash, req.Label)
	}
	return em, nil
}

// Agree runs ECDH on the card: MSE SET 41 A4 { 80 alg, 84 ref }, then
// GENERAL AUTHENTICATE 7C { 85 peer point } answered by 7C { 82 Z }. Z
// stays in the Card's agreement table.
func (c *Card) Agree(ctx context.Context, tx *scrm.Tx, idx int, peer *ecdh.PublicKey) (int, error) {
	if peer == nil {
		return 0, fmt.Errorf("%w: gids: no peer key", minidriver.ErrInvalidParameter)
	}
	r, spec, err := c.container(ctx, tx, idx)
	if err != nil {
		return 0, err
	}
	if !spec.IsECDH() {
		return 0, fmt.Errorf("%w: gids: container %d holds an %v key, not ECDH", minidriver.ErrNoKeyContainer, idx, spec)
	}
	if _, curve := algCurve(r.Alg); peer.Curve() != curve {
		return 0, fmt.Errorf("%w: gids: peer key on another curve", minidriver.ErrInvalidParameter)
	}
	if err := c.mse(ctx, tx, 0xA4, r.Alg, keyRef(idx)); err != nil {
		return 0, err
	}
	rsp, err := tx.Do(ctx, scrm.Command{INS: 0x87, Data: bertlv.Encode(0x7C, bertlv.Encode(0x85, peer.Bytes())), Ne: ne(tx)})
	if err != nil {
		return 0, cardErr("ECDH", err)
	}
	dyn, ok := bertlv.Find(rsp.Data, 0x7C)
	var z []byte
	if ok {
		z, ok = bertlv.Find(dyn, 0x82)
	}
	if !ok || len(z) != (spec.CurveBits()+7)/8 {
		return 0, fmt.Errorf("%w: gids: ECDH answer", minidriver.ErrUnexpected)
	}
	secret := append([]byte(nil), z...)
	clear(rsp.Data)
	return c.agreements.Put(secret)
}

// DeriveKey applies kdf to agreement idx.
func (c *Card) DeriveKey(idx int, kdf minidriver.KDF) ([]byte, error) {
	return c.agreements.Derive(idx, kdf)
}

// DestroyAgreement wipes agreement idx.
func (c *Card) DestroyAgreement(idx int) error { return c.agreements.Destroy(idx) }

package gids

import (
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"fmt"
	"math/big"

	"github.com/cardmod/cardmod/internal/bertlv"
	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/minidriver/internal/keyalg"
)

// GIDS algorithm identifiers (GIDS v2.0 cryptographic mechanism
// identifiers; the low nibble of an MSE algorithm reference, whose high
// nibble says the padding).
const (
	algRSA1024 byte = 0x06
	algRSA2048 byte = 0x07
	algRSA3072 byte = 0x08
	algRSA4096 byte = 0x09
	algECCP256 byte = 0x0C
	algECCP384 byte = 0x0D
	algECCP521 byte = 0x0E

	padRaw       byte = 0x00 // RSA decipher raw; ECDSA
	padOffCard   byte = 0x10 // signature padded by the host
	padPKCS1Enc  byte = 0x40 // RSAES-PKCS1-v1_5 by the card
	padPKCS1Sign byte = 0x50 // RSASSA-PKCS1-v1_5 by the card
	padOAEP      byte = 0x80 // RSAES-OAEP (SHA-1) by the card
)

// algBits returns the key size of an algorithm identifier and whether it
// is elliptic-curve; ok is false for identifiers the plug-in does not use.
// It is the plug-in's keyalg.Table, read the other way by its methods (PIV
// numbers RSA 3072 and 4096 differently: each plug-in keeps its card's
// table).
func algBits(alg byte) (bits int, ec bool, ok bool) {
	switch alg {
	case algRSA1024, algRSA2048, algRSA3072, algRSA4096:
		return 1024 * int(alg-algRSA1024+1), false, true
	case algECCP256:
		return 256, true, true
	case algECCP384:
		return 384, true, true
	case algECCP521:
		return 521, true, true
	}
	return 0, false, false
}

// algRSABits is the modulus size of an RSA algorithm identifier, or 0.
func algRSABits(alg byte) int {
	if bits, ec, ok := algBits(alg); ok && !ec {
		return bits
	}
	return 0
}

// algCurve is the curve of an ECC algorithm identifier, or nil.
func algCurve(alg byte) (elliptic.Curve, ecdh.Curve) {
	switch alg {
	case algECCP256:
		return elliptic.P256(), ecdh.P256()
	case algECCP384:
		return elliptic.P384(), ecdh.P384()
	case algECCP521:
		return elliptic.P521(), ecdh.P521()
	}
	return nil, nil
}

// eccAlg is the algorithm identifier of an ECC key spec's curve.
func eccAlg(spec minidriver.KeySpec) (byte, bool) {
	return keyalg.Table(algBits).EC(spec.CurveBits())
}

// recordSpec is the key spec of a key map record: RSA or ECC from the
// algorithm, the slot from the key type (9C signature, 9A key exchange).
func recordSpec(r kmRecord) (minidriver.KeySpec, bool) {
	sig := r.KeyType == keyTypeSignature
	if !sig && r.KeyType != keyTypeExchange {
		return 0, false
	}
	if algRSABits(r.Alg) != 0 {
		if sig {
			return minidriver.Signature, true
		}
		return minidriver.KeyExchange, true
	}
	var base minidriver.KeySpec
	switch r.Alg {
	case algECCP256:
		base = 0
	case algECCP384:
		base = 1
	case algECCP521:
		base = 2
	default:
		return 0, false
	}
	if sig {
		return minidriver.ECDSAP256 + base, true
	}
	return minidriver.ECDHP256 + base, true
}

// maxRSAExponentBytes bounds the public exponent read from a card.
const maxRSAExponentBytes = 4

// parsePublicKey reads the public key template the card answers to GET
// DATA 3FFF 70 { 84 ref, A5 { 7F49 } } and to GENERATE ASYMMETRIC KEY
// PAIR: 7F49 { 81 modulus, 82 exponent } for RSA, 7F49 { 86 uncompressed
// point } for ECC (ISO/IEC 7816-8 table 3), possibly inside 70 or A5. The
// key must match spec.
func parsePublicKey(b []byte, spec minidriver.KeySpec, alg byte) (crypto.PublicKey, error) {
	v, ok := bertlv.Find(b, 0x7F49)
	for _, wrap := range []uint32{0x70, 0xA5} {
		if ok {
			break
		}
		if in, found := bertlv.Find(b, wrap); found {
			b = in
			v, ok = bertlv.Find(b, 0x7F49)
		}
	}
	if !ok {
		return nil, fmt.Errorf("%w: gids: no public key template", minidriver.ErrCommDataLost)
	}
	if spec.IsRSA() {
		n, ok1 := bertlv.Find(v, 0x81)
		e, ok2 := bertlv.Find(v, 0x82)
		if !ok1 || !ok2 || len(e) == 0 || len(e) > maxRSAExponentBytes {
			return nil, fmt.Errorf("%w: gids: RSA public key template", minidriver.ErrCommDataLost)
		}
		nb := new(big.Int).SetBytes(n)
		eb := new(big.Int).SetBytes(e)
		want := algRSABits(alg)
		if nb.BitLen() != want || eb.Int64() < 3 || eb.Bit(0) == 0 {
			return nil, fmt.Errorf("%w: gids: RSA public key of %d bits, exponent %v", minidriver.ErrCommDataLost, nb.BitLen(), eb)
		}
		return &rsa.PublicKey{N: nb, E: int(eb.Int64())}, nil
	}
	pt, ok := bertlv.Find(v, 0x86)
	curve, ecdhCurve := algCurve(alg)
	if !ok || curve == nil {
		return nil, fmt.Errorf("%w: gids: EC public key template", minidriver.ErrCommDataLost)
	}
	if spec.IsECDH() {
		k, err := ecdhCurve.NewPublicKey(pt)
		if err != nil {
			return nil, fmt.Errorf("%w: gids: EC point: %w", minidriver.ErrCommDataLost, err)
		}
		return k, nil
	}
	k, err := ecdsa.ParseUncompressedPublicKey(curve, pt)
	if err != nil {
		return nil, fmt.Errorf("%w: gids: EC point: %w", minidriver.ErrCommDataLost, err)
	}
	return k, nil
}

// keyFileFCP is the CREATE FILE template of key file B0<ref> for a key of
// spec and algorithm alg: MSE, key generation and import need the user
// PIN, the public key is public (8C 05 8F 10 10 10 00, what OpenSC's GIDS
// driver and the Windows minidriver create), and the CRTs list the
// mechanisms the key may serve (RSA key exchange keys: raw, OAEP and
// PKCS#1 decryption and both signature paddings; RSA signature keys: the
// signature paddings; ECDSA keys: signatures; ECDH keys: key agreement).
func keyFileFCP(ref, alg byte, spec minidriver.KeySpec) []byte {
	crt := func(tmpl uint32, a byte) []byte {
		return bertlv.Encode(tmpl, cat(bertlv.Encode(0x80, []byte{a}), bertlv.Encode(0x83, []byte{ref}), bertlv.Encode(0x95, []byte{0x40})))
	}
	var crts []byte
	switch {
	case spec == minidriver.KeyExchange:
		crts = cat(crt(0xB8, padRaw|alg), crt(0xB8, padOAEP|alg), crt(0xB8, padPKCS1Enc|alg),
			crt(0xB6, padOffCard|alg), crt(0xB6, padPKCS1Sign|alg))
	case spec == minidriver.Signature:
		crts = cat(crt(0xB6, padOffCard|alg), crt(0xB6, padPKCS1Sign|alg))
	case spec.IsECDSA():
		crts = cat(crt(0xB6, padRaw|alg), crt(0xB6, padOffCard|alg))
	default:
		crts = crt(0xA4, alg)
	}
	return bertlv.Encode(0x62, cat(
		bertlv.Encode(0x82, []byte{0x18}),
		bertlv.Encode(0x83, []byte{0xB0, ref}),
		bertlv.Encode(0x8C, []byte{0x8F, 0x10, 0x10, 0x10, 0x00}),
		bertlv.Encode(0xA5, crts),
	))
}

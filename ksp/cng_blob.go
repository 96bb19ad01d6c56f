package ksp

import (
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/binary"
	"fmt"
	"math/big"

	"github.com/cardmod/cardmod/minidriver"
)

// Magic numbers of the BCRYPT public key blobs (BCRYPT_RSAKEY_BLOB and
// BCRYPT_ECCKEY_BLOB in bcrypt.h; spec CardGetContainerInfo).
const (
	MagicRSAPublic      uint32 = 0x31415352 // BCRYPT_RSAPUBLIC_MAGIC "RSA1"
	MagicECDSAP256      uint32 = 0x31534345 // BCRYPT_ECDSA_PUBLIC_P256_MAGIC "ECS1"
	MagicECDSAP384      uint32 = 0x33534345 // "ECS3"
	MagicECDSAP521      uint32 = 0x35534345 // "ECS5"
	MagicECDHP256       uint32 = 0x314B4345 // BCRYPT_ECDH_PUBLIC_P256_MAGIC "ECK1"
	MagicECDHP384       uint32 = 0x334B4345 // "ECK3"
	MagicECDHP521       uint32 = 0x354B4345 // "ECK5"
	rsaBlobHeader              = 24         // BCRYPT_RSAKEY_BLOB
	eccBlobHeader              = 8          // BCRYPT_ECCKEY_BLOB
	maxRSAModulusBytes         = 16384 / 8
	maxRSAExponentBytes        = 8
)

// PublicBlob returns the key's public key as a BCRYPT public blob
// (NCryptExportKey with BCRYPT_PUBLIC_KEY_BLOB); see MarshalPublicBlob.
// It never touches the card. Private blobs do not exist: card keys are
// not exportable.
func (k *Key) PublicBlob() ([]byte, error) {
	ck, err := k.key()
	if err != nil {
		return nil, err
	}
	return MarshalPublicBlob(ck.Public())
}

// MarshalPublicBlob encodes a public key as a CNG public blob: an
// *rsa.PublicKey as BCRYPT_RSAKEY_BLOB (magic "RSA1", bit length, the
// sizes of the exponent and modulus, then both big-endian), an
// *ecdsa.PublicKey or *ecdh.PublicKey (P-256, P-384, P-521) as
// BCRYPT_ECCKEY_BLOB (magic ECS1/3/5 or ECK1/3/5, coordinate size, then X
// and Y big-endian). Integers of the headers are little-endian.
func MarshalPublicBlob(pub crypto.PublicKey) ([]byte, error) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if k.N == nil || k.E <= 0 {
			return nil, fmt.Errorf("ksp: incomplete RSA key: %w", ErrBadBlob)
		}
		e := big.NewInt(int64(k.E)).Bytes()
		n := k.N.Bytes()
		b := make([]byte, rsaBlobHeader, rsaBlobHeader+len(e)+len(n))
		binary.LittleEndian.PutUint32(b[0:], MagicRSAPublic)
		binary.LittleEndian.PutUint32(b[4:], uint32(k.N.BitLen()))
		binary.LittleEndian.PutUint32(b[8:], uint32(len(e)))
		binary.LittleEndian.PutUint32(b[12:], uint32(len(n)))
		return append(append(b, e...), n...), nil
	case *ecdsa.PublicKey:
		magic, err := eccMagic(k.Curve.Params().BitSize, false)
		if err != nil {
			return nil, err
		}
		pt, err := k.Bytes()
		if err != nil {
			return nil, fmt.Errorf("ksp: %w: %w", ErrBadBlob, err)
		}
		return eccBlob(magic, pt), nil
	case *ecdh.PublicKey:
		magic, err := eccMagic(minidriver.PublicKeyBits(k), true)
		if err != nil {
			return nil, err
		}
		return eccBlob(magic, k.Bytes()), nil
	}
	return nil, fmt.Errorf("ksp: a %T has no public blob: %w", pub, ErrUnsupportedAlgorithm)
}

func eccMagic(bits int, isECDH bool) (uint32, error) {
	var m [2]uint32
	switch bits {
	case 256:
		m = [2]uint32{MagicECDSAP256, MagicECDHP256}
	case 384:
		m = [2]uint32{MagicECDSAP384, MagicECDHP384}
	case 521:
		m = [2]uint32{MagicECDSAP521, MagicECDHP521}
	default:
		return 0, fmt.Errorf("ksp: %d-bit curve: %w", bits, ErrUnsupportedAlgorithm)
	}
	if isECDH {
		return m[1], nil
	}
	return m[0], nil
}

// eccBlob builds a BCRYPT_ECCKEY_BLOB from an uncompressed point.
func eccBlob(magic uint32, point []byte) []byte {
	size := (len(point) - 1) / 2
	b := make([]byte, eccBlobHeader, eccBlobHeader+2*size)
	binary.LittleEndian.PutUint32(b[0:], magic)
	binary.LittleEndian.PutUint32(b[4:], uint32(size))
	return append(b, point[1:]...)
}

// ParsePublicBlob decodes a CNG public blob made by MarshalPublicBlob (or
// by Windows): BCRYPT_RSAKEY_BLOB with magic RSA1 gives an
// *rsa.PublicKey, BCRYPT_ECCKEY_BLOB with magic ECS1/3/5 an
// *ecdsa.PublicKey and with ECK1/3/5 an *ecdh.PublicKey. Every length is
// checked against the blob; RSA integers must be in their shortest form
// (as Windows writes them) and points on their curve. Errors match
// ErrBadBlob.
func ParsePublicBlob(b []byte) (crypto.PublicKey, error) {
	if len(b) < eccBlobHeader {
		return nil, fmt.Errorf("ksp: %d-byte blob: %w", len(b), ErrBadBlob)
	}
	magic := binary.LittleEndian.Uint32(b)
	if magic == MagicRSAPublic {
		return parseRSABlob(b)
	}
	size := binary.LittleEndian.Uint32(b[4:])
	var curve elliptic.Curve
	var dh ecdh.Curve
	isECDH := false
	switch magic {
	case MagicECDSAP256, MagicECDHP256:
		curve, dh = elliptic.P256(), ecdh.P256()
	case MagicECDSAP384, MagicECDHP384:
		curve, dh = elliptic.P384(), ecdh.P384()
	case MagicECDSAP521, MagicECDHP521:
		curve, dh = elliptic.P521(), ecdh.P521()
	default:
		return nil, fmt.Errorf("ksp: blob magic %#08x: %w", magic, ErrBadBlob)
	}
	switch magic {
	case MagicECDHP256, MagicECDHP384, MagicECDHP521:
		isECDH = true
	}
	want := (curve.Params().BitSize + 7) / 8
	if size != uint32(want) || len(b) != eccBlobHeader+2*want {
		return nil, fmt.Errorf("ksp: ECC blob of %d bytes with coordinate size %d: %w", len(b), size, ErrBadBlob)
	}
	pt := append([]byte{4}, b[eccBlobHeader:]...)
	if isECDH {
		k, err := dh.NewPublicKey(pt)
		if err != nil {
			return nil, fmt.Errorf("ksp: %w: %w", ErrBadBlob, err)
		}
		return k, nil
	}
	k, err := ecdsa.ParseUncompressedPublicKey(curve, pt)
	if err != nil {
		return nil, fmt.Errorf("ksp: %w: %w", ErrBadBlob, err)
	}
	return k, nil
}

func parseRSABlob(b []byte) (*rsa.PublicKey, error) {
	if len(b) < rsaBlobHeader {
		return nil, fmt.Errorf("ksp: %d-byte RSA blob: %w", len(b), ErrBadBlob)
	}
	bits := binary.LittleEndian.Uint32(b[4:])
	ne := binary.LittleEndian.Uint32(b[8:])
	nn := binary.LittleEndian.Uint32(b[12:])
	p1 := binary.LittleEndian.Uint32(b[16:])
	p2 := binary.LittleEndian.Uint32(b[20:])
	if ne == 0 || ne > maxRSAExponentBytes || nn == 0 || nn > maxRSAModulusBytes || p1 != 0 || p2 != 0 ||
		uint64(len(b)) != rsaBlobHeader+uint64(ne)+uint64(nn) {
		return nil, fmt.Errorf("ksp: RSA blob header: %w", ErrBadBlob)
	}
	if b[rsaBlobHeader] == 0 || b[rsaBlobHeader+ne] == 0 || uint64(nn) != (uint64(bits)+7)/8 {
		return nil, fmt.Errorf("ksp: RSA blob: integers not in their shortest form: %w", ErrBadBlob)
	}
	e := new(big.Int).SetBytes(b[rsaBlobHeader : rsaBlobHeader+ne])
	n := new(big.Int).SetBytes(b[rsaBlobHeader+ne:])
	if !e.IsInt64() || e.Int64() < 3 || e.Int64() > 1<<31-1 || e.Bit(0) == 0 {
		return nil, fmt.Errorf("ksp: RSA blob exponent: %w", ErrBadBlob)
	}
	if n.BitLen() != int(bits) || n.Bit(0) == 0 {
		return nil, fmt.Errorf("ksp: RSA blob modulus of %d bits, header says %d: %w", n.BitLen(), bits, ErrBadBlob)
	}
	return &rsa.PublicKey{N: n, E: int(e.Int64())}, nil
}

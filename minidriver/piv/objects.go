package piv

import (
	"bytes"
	"compress/gzip"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/big"
	"unicode/utf16"

	"github.com/cardmod/cardmod/cardfs"
	"github.com/cardmod/cardmod/internal/bertlv"
	"github.com/cardmod/cardmod/minidriver"
)

// Data objects (SP 800-73-4 part 1, table 3) and the Yubico vendor objects
// the plug-in reads and writes.
const (
	objCHUID      uint32 = 0x5FC102
	objKeyHistory uint32 = 0x5FC10C // SP 800-73-4 part 1, 3.3.2
	objMSCMAP     uint32 = 0x5FFF10 // Yubico: Windows container map
	objMSRoots1   uint32 = 0x5FFF11 // Yubico: msroots, first of five
	objMSRoots5   uint32 = 0x5FFF15
	objFileStore  uint32 = 0x5FFF20 // cardmod: the other files (docs/piv-mapping.md)
)

// Tags inside the objects.
const (
	tagCert        = 0x70
	tagCertInfo    = 0x71
	tagMSCMAP      = 0x81
	tagMSRootsEnd  = 0x82
	tagMSRootsMid  = 0x83
	tagFileStore   = 0x81
	tagCHUIDFASCN  = 0x30
	tagCHUIDGUID   = 0x34
	certInfoGzip   = 0x01
	maxCertSize    = 0xFFFF // a certificate file holds at most 65535 bytes (the compressed form stores the length in a WORD)
	ykRecordSize   = 107
	ykNameUnits    = 40
	ykFingerprintN = 20
)

// certObject returns the data object holding the certificate of slot.
func certObject(slot byte) uint32 {
	switch {
	case slot == 0x9A:
		return 0x5FC105
	case slot == 0x9C:
		return 0x5FC10A
	case slot == 0x9D:
		return 0x5FC10B
	case slot == 0x9E:
		return 0x5FC101
	case slot >= 0x82 && slot <= 0x95:
		return 0x5FC10D + uint32(slot-0x82)
	}
	return 0
}

// chuid is what the plug-in takes from the Card Holder Unique Identifier.
type chuid struct {
	GUID  []byte // 16 bytes, or nil when absent
	FASCN []byte
	// Signed: the issuer asymmetric signature (tag 3E) is not empty.
	Signed bool
}

// parseCHUID reads the value of object 5FC102 (SP 800-73-4 part 1,
// 3.1.2): tag 30 FASC-N, tag 34 GUID, and others it ignores.
func parseCHUID(b []byte) (chuid, error) {
	m, err := parseTLVs(b)
	if err != nil {
		return chuid{}, fmt.Errorf("piv: CHUID: %w", err)
	}
	var c chuid
	if g, ok := m[tagCHUIDGUID]; ok {
		if len(g) != 16 {
			return chuid{}, fmt.Errorf("piv: CHUID: GUID of %d bytes", len(g))
		}
		c.GUID = append([]byte(nil), g...)
	}
	if f, ok := m[tagCHUIDFASCN]; ok && len(f) > 0 {
		if len(f) > 64 {
			return chuid{}, fmt.Errorf("piv: CHUID: FASC-N of %d bytes", len(f))
		}
		c.FASCN = append([]byte(nil), f...)
	}
	c.Signed = len(m[0x3E]) > 0
	return c, nil
}

// parseCertObject reads a certificate object (SP 800-73-4 part 1, table 10
// and following): tag 70 the certificate, tag 71 CertInfo whose bit 0 says
// it is gzip-compressed (as yubico-piv-tool writes with --compress), tag FE
// the error detection code. The certificate comes back as DER, inflated
// with a bound of 65535 bytes. An empty certificate (a placeholder from
// CreateFile) is returned as an empty slice.
func parseCertObject(b []byte) ([]byte, error) {
	m, err := parseTLVs(b)
	if err != nil {
		return nil, fmt.Errorf("piv: certificate object: %w", err)
	}
	cert, ok := m[tagCert]
	if !ok {
		return nil, errors.New("piv: certificate object without tag 70")
	}
	info := m[tagCertInfo]
	if len(info) > 1 {
		return nil, fmt.Errorf("piv: certificate object: CertInfo of %d bytes", len(info))
	}
	if len(info) == 1 && info[0]&certInfoGzip != 0 {
		return gunzipBounded(cert, maxCertSize)
	}
	if len(cert) > maxCertSize {
		return nil, fmt.Errorf("piv: certificate of %d bytes", len(cert))
	}
	return append([]byte{}, cert...), nil
}

// gunzipBounded inflates a gzip stream that must give at most limit bytes.
func gunzipBounded(b []byte, limit int) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("piv: compressed certificate: %w", err)
	}
	zr.Multistream(false)
	out, err := io.ReadAll(io.LimitReader(zr, int64(limit)+1))
	if err != nil {
		return nil, fmt.Errorf("piv: compressed certificate: %w", err)
	}
	if len(out) > limit {
		return nil, fmt.Errorf("piv: compressed certificate inflates past %d bytes", limit)
	}
	return out, nil
}

// marshalCertObject encodes an uncompressed certificate object.
func marshalCertObject(der []byte) []byte {
	b := bertlv.Append(nil, tagCert, der)
	b = bertlv.Append(b, tagCertInfo, []byte{0})
	return bertlv.Append(b, 0xFE, nil)
}

// Algorithm identifiers (SP 800-78-4 table 6-2 and Yubico's extensions).
const (
	algTDES    byte = 0x03
	algAES128  byte = 0x08
	algAES192  byte = 0x0A
	algAES256  byte = 0x0C
	algRSA1024 byte = 0x06
	algRSA2048 byte = 0x07
	algRSA3072 byte = 0x05
	algRSA4096 byte = 0x16
	algP256    byte = 0x11
	algP384    byte = 0x14
)

// algBits returns the key size of an asymmetric algorithm and whether it
// is elliptic-curve; ok is false for algorithms the plug-in does not use.
// It is the plug-in's keyalg.Table, read the other way by its methods
// (GIDS numbers RSA 3072 and 4096 differently: each plug-in keeps its
// card's table).
func algBits(alg byte) (bits int, ec bool, ok bool) {
	switch alg {
	case algRSA1024:
		return 1024, false, true
	case algRSA2048:
		return 2048, false, true
	case algRSA3072:
		return 3072, false, true
	case algRSA4096:
		return 4096, false, true
	case algP256:
		return 256, true, true
	case algP384:
		return 384, true, true
	}
	return 0, false, false
}

// metadata is the answer of the Yubico GET METADATA (00 F7 00 ref).
type metadata struct {
	Alg       byte
	PINPolicy byte // 0 when absent
	Public    []byte
	HasPublic bool
}

// parseMetadata reads a GET METADATA answer: 01 algorithm, 02 PIN and
// touch policy, 03 origin, 04 public key, 05 default, 06 retries.
func parseMetadata(b []byte) (metadata, error) {
	m, err := parseTLVs(b)
	if err != nil {
		return metadata{}, fmt.Errorf("piv: metadata: %w", err)
	}
	var md metadata
	alg, ok := m[0x01]
	if !ok || len(alg) != 1 {
		return metadata{}, errors.New("piv: metadata without algorithm")
	}
	md.Alg = alg[0]
	if p, ok := m[0x02]; ok {
		if len(p) != 2 {
			return metadata{}, errors.New("piv: metadata: bad policy")
		}
		md.PINPolicy = p[0]
	}
	md.Public, md.HasPublic = m[0x04]
	return md, nil
}

// parsePublicKey reads the public key elements of GENERATE (inside 7F49)
// and GET METADATA: 81 modulus and 82 exponent for RSA, 86 the point for
// EC. ecdhKey asks for an *ecdh.PublicKey rather than an *ecdsa.PublicKey.
func parsePublicKey(alg byte, b []byte, ecdhKey bool) (any, error) {
	bits, ec, ok := algBits(alg)
	if !ok {
		return nil, fmt.Errorf("%w: algorithm %#x", minidriver.ErrUnsupported, alg)
	}
	m, err := parseTLVs(b)
	if err != nil {
		return nil, fmt.Errorf("piv: public key: %w", err)
	}
	if !ec {
		n, e := m[0x81], m[0x82]
		if len(n) == 0 || len(e) == 0 || len(e) > 4 {
			return nil, errors.New("piv: public key: bad RSA elements")
		}
		pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
		if pub.N.BitLen() != bits || pub.E < 3 {
			return nil, fmt.Errorf("piv: public key: %d-bit modulus for a %d-bit algorithm", pub.N.BitLen(), bits)
		}
		return pub, nil
	}
	pt := m[0x86]
	curve, ecurve := elliptic.P256(), ecdh.P256()
	if bits == 384 {
		curve, ecurve = elliptic.P384(), ecdh.P384()
	}
	epub, err := ecurve.NewPublicKey(pt)
	if err != nil {
		return nil, fmt.Errorf("piv: public key: %w", err)
	}
	if ecdhKey {
		return epub, nil
	}
	pub, err := ecdsa.ParseUncompressedPublicKey(curve, pt)
	if err != nil {
		return nil, fmt.Errorf("piv: public key: %w", err)
	}
	return pub, nil
}

// ykRecord is one record of Yubico's container map (object 5FFF10, tag
// 81): 107 bytes, little-endian, as libykpiv's ykpiv_container:
//
//	0   WCHAR name[40] (UTF-16LE, NUL-terminated)
//	80  slot
//	81  key spec (AT_*)
//	82  key size in bits (LE16)
//	84  flags (CONTAINER_MAP_VALID_CONTAINER 1, DEFAULT 2)
//	85  PIN ID
//	86  associated ECDH container
//	87  SHA-1 fingerprint of the certificate (20 bytes)
type ykRecord struct {
	Name        string
	Slot        byte
	KeySpec     byte
	KeyBits     uint16
	Flags       byte
	PinID       byte
	ECDHAssoc   byte
	Fingerprint [ykFingerprintN]byte
}

func (r ykRecord) valid() bool { return r.Flags&byte(cardfs.ContainerValid) != 0 }

// parseYKMap reads the value of object 5FFF10.
func parseYKMap(b []byte) ([]ykRecord, error) {
	v, err := bertlv.Single(b, tagMSCMAP)
	if err != nil {
		return nil, fmt.Errorf("piv: container map object: %w", err)
	}
	if len(v)%ykRecordSize != 0 {
		return nil, fmt.Errorf("piv: container map object of %d bytes is not whole records", len(v))
	}
	n := len(v) / ykRecordSize
	if n > cardfs.MaxContainers {
		return nil, fmt.Errorf("piv: container map object: %d records", n)
	}
	recs := make([]ykRecord, n)
	for i := range recs {
		p := v[i*ykRecordSize : (i+1)*ykRecordSize]
		units := make([]uint16, 0, ykNameUnits)
		for j := 0; j < ykNameUnits; j++ {
			u := binary.LittleEndian.Uint16(p[2*j:])
			if u == 0 {
				break
			}
			units = append(units, u)
		}
		r := ykRecord{
			Name:      string(utf16.Decode(units)),
			Slot:      p[80],
			KeySpec:   p[81],
			KeyBits:   binary.LittleEndian.Uint16(p[82:]),
			Flags:     p[84],
			PinID:     p[85],
			ECDHAssoc: p[86],
		}
		copy(r.Fingerprint[:], p[87:])
		recs[i] = r
	}
	return recs, nil
}

// marshalYKMap encodes the value of object 5FFF10. Names must have passed
// cardfs.ValidateContainerName (at most 39 units).
func marshalYKMap(recs []ykRecord) []byte {
	v := make([]byte, len(recs)*ykRecordSize)
	for i, r := range recs {
		p := v[i*ykRecordSize:]
		for j, u := range utf16.Encode([]rune(r.Name)) {
			if j >= ykNameUnits-1 {
				break
			}
			binary.LittleEndian.PutUint16(p[2*j:], u)
		}
		p[80], p[81] = r.Slot, r.KeySpec
		binary.LittleEndian.PutUint16(p[82:], r.KeyBits)
		p[84], p[85], p[86] = r.Flags, r.PinID, r.ECDHAssoc
		copy(p[87:107], r.Fingerprint[:])
	}
	return bertlv.Encode(tagMSCMAP, v)
}

// parseMSRootsChunk reads one of the objects 5FFF11-5FFF15: tag 83 for a
// middle part, 82 for the last.
func parseMSRootsChunk(b []byte) (chunk []byte, last bool, err error) {
	tag, v, rest, err := bertlv.Parse(b)
	if err != nil || len(rest) != 0 || (tag != tagMSRootsEnd && tag != tagMSRootsMid) {
		return nil, false, fmt.Errorf("piv: msroots object: %w", bertlv.ErrMalformed)
	}
	return v, tag == tagMSRootsEnd, nil
}

// splitMSRoots cuts data into the values of up to five objects whose
// values hold at most maxValue bytes each.
func splitMSRoots(data []byte, maxValue int) ([][]byte, error) {
	chunk := maxValue - 4 // tag and up to three length bytes
	n := len(data)/chunk + 1
	if n > int(objMSRoots5-objMSRoots1)+1 {
		return nil, fmt.Errorf("%w: msroots of %d bytes", minidriver.ErrNoSpace, len(data))
	}
	out := make([][]byte, 0, n)
	for i := 0; i < n; i++ {
		part := data[min(i*chunk, len(data)):min((i+1)*chunk, len(data))]
		tag := uint32(tagMSRootsMid)
		if i == n-1 {
			tag = tagMSRootsEnd
		}
		out = append(out, bertlv.Encode(tag, part))
	}
	return out, nil
}

// parseFileStore reads the value of object 5FFF20 into a MemFS: tag 81
// holding a cardfs snapshot (cardfs.MemFS.Snapshot).
func parseFileStore(b []byte) (*cardfs.MemFS, error) {
	fs := cardfs.NewMemFS(cardfs.MemFSConfig{})
	if len(b) == 0 {
		return fs, nil
	}
	v, err := bertlv.Single(b, tagFileStore)
	if err != nil {
		return nil, fmt.Errorf("piv: file store object: %w", err)
	}
	if err := fs.Restore(v); err != nil {
		return nil, fmt.Errorf("piv: file store object: %w", err)
	}
	return fs, nil
}

// marshalFileStore encodes the value of object 5FFF20: the snapshot of
// fs, without the mscp directory when parseStore makes it again exactly as
// it is (storedSnapshot).
func marshalFileStore(fs *cardfs.MemFS) []byte {
	return bertlv.Encode(tagFileStore, storedSnapshot(fs.Snapshot()))
}

// storedSnapshot is the form of a file store snapshot kept on the card.
// Every version of the plug-in creates the mscp directory, empty and with
// UserCreateDeleteDirAc, when the store read has none (parseStore); a
// directory in that state is therefore left out, 8 bytes less in the
// object that starts every transaction (probeStore) and is written with
// every change of cardcf. The form is kept only where it reads back as
// the same file system, so that nothing is lost: an mscp directory with
// files or with another access condition stays.
func storedSnapshot(snap []byte) []byte {
	t := cardfs.NewMemFS(cardfs.MemFSConfig{})
	if t.Restore(snap) != nil {
		return snap
	}
	if files, err := t.ListFiles(cardfs.RolesAll, cardfs.MSCPDir); err != nil || len(files) > 0 {
		return snap
	}
	if t.DeleteDirectory(cardfs.RolesAll, cardfs.MSCPDir) != nil {
		return snap
	}
	trimmed := t.Snapshot()
	back, err := parseStore(bertlv.Encode(tagFileStore, trimmed))
	if err != nil || !bytes.Equal(back.Snapshot(), snap) {
		return snap
	}
	return trimmed
}

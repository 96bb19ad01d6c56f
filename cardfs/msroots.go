package cardfs

import (
	"bytes"
	"crypto/x509"
	"fmt"
	"strconv"
)

// MaxMSRoots bounds the number of certificates ParseMSRoots reads.
const MaxMSRoots = 1024

// DER encodings used by the msroots file.
var (
	// 1.2.840.113549.1.7.2 signedData
	oidSignedData = []byte{0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02}
	// 1.2.840.113549.1.7.1 data
	oidData = []byte{0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01}
)

// DER tags.
const (
	tagInteger     = 0x02
	tagOID         = 0x06
	tagSequence    = 0x30
	tagSet         = 0x31
	tagContext0    = 0xa0 // [0] constructed
	tagContext1    = 0xa1 // [1] constructed
	msrootsVersion = 1
)

// ParseMSRoots parses the msroots file: a certificates-only PKCS#7
// SignedData (RFC 5652 ContentInfo with content type signedData) and
// returns its certificates in file order. An empty file holds no roots.
// Reading is tolerant where it does not matter: the version, digest
// algorithms, encapsulated content, CRLs and signer infos are checked for
// form but not content. Lengths must be definite (DER); at most MaxMSRoots
// certificates are read; each must parse with crypto/x509.
func ParseMSRoots(b []byte) ([]*x509.Certificate, error) {
	if len(b) == 0 {
		return nil, nil
	}
	fail := func(reason string) error { return formatErr(MSRootsFile, reason) }
	ci, rest, ok := readTLV(b, tagSequence)
	if !ok {
		return nil, fail("not a DER ContentInfo")
	}
	if len(rest) != 0 {
		return nil, fail("trailing bytes after ContentInfo")
	}
	oid, ci, ok := readTLV(ci, tagOID)
	if !ok || !bytes.Equal(oid, oidSignedData) {
		return nil, fail("content type is not signedData")
	}
	explicit, ci, ok := readTLV(ci, tagContext0)
	if !ok || len(ci) != 0 {
		return nil, fail("bad ContentInfo content")
	}
	sd, rest, ok := readTLV(explicit, tagSequence)
	if !ok || len(rest) != 0 {
		return nil, fail("bad SignedData")
	}
	ver, sd, ok := readTLV(sd, tagInteger)
	if !ok || len(ver) == 0 || len(ver) > 1 {
		return nil, fail("bad SignedData version")
	}
	if _, sd, ok = readTLV(sd, tagSet); !ok {
		return nil, fail("bad digestAlgorithms")
	}
	if _, sd, ok = readTLV(sd, tagSequence); !ok {
		return nil, fail("bad encapContentInfo")
	}
	var certs []*x509.Certificate
	if len(sd) > 0 && sd[0] == tagContext0 {
		var set []byte
		if set, sd, ok = readTLV(sd, tagContext0); !ok {
			return nil, fail("bad certificates")
		}
		for len(set) > 0 {
			if len(certs) == MaxMSRoots {
				return nil, fail("more than " + strconv.Itoa(MaxMSRoots) + " certificates")
			}
			start := set
			var ok bool
			if _, set, ok = readTLV(set, tagSequence); !ok {
				return nil, fail("certificate " + strconv.Itoa(len(certs)) + " is not a DER SEQUENCE")
			}
			der := start[:len(start)-len(set)]
			c, err := x509.ParseCertificate(der)
			if err != nil {
				return nil, &FormatError{File: MSRootsFile, Reason: "certificate " + strconv.Itoa(len(certs)), Err: err}
			}
			certs = append(certs, c)
		}
	}
	if len(sd) > 0 && sd[0] == tagContext1 {
		if _, sd, ok = readTLV(sd, tagContext1); !ok {
			return nil, fail("bad crls")
		}
	}
	if _, sd, ok = readTLV(sd, tagSet); !ok {
		return nil, fail("bad signerInfos")
	}
	if len(sd) != 0 {
		return nil, fail("trailing bytes in SignedData")
	}
	return certs, nil
}

// readTLV reads one DER element with the given one-byte tag from the front
// of b and returns its contents and the bytes after it. Only definite
// lengths of up to 4 length bytes are accepted, and the length must fit in
// b. ok is false on any mismatch; contents is then nil.
func readTLV(b []byte, tag byte) (contents, rest []byte, ok bool) {
	if len(b) < 2 || b[0] != tag {
		return nil, b, false
	}
	n := int(b[1])
	hdr := 2
	if n&0x80 != 0 {
		k := n & 0x7f
		if k == 0 || k > 4 || len(b) < 2+k {
			return nil, b, false
		}
		n = 0
		for _, c := range b[2 : 2+k] {
			n = n<<8 | int(c)
		}
		if n < 0x80 || (k > 1 && b[2] == 0) { // also catches overflow to < 0
			return nil, b, false // not minimal
		}
		hdr += k
	}
	if n > len(b)-hdr {
		return nil, b, false
	}
	return b[hdr : hdr+n : hdr+n], b[hdr+n:], true
}

// appendTLV appends a DER element with a definite, minimal length.
func appendTLV(b []byte, tag byte, contents ...[]byte) []byte {
	n := 0
	for _, c := range contents {
		n += len(c)
	}
	b = append(b, tag)
	switch {
	case n < 0x80:
		b = append(b, byte(n))
	case n <= 0xff:
		b = append(b, 0x81, byte(n))
	case n <= 0xffff:
		b = append(b, 0x82, byte(n>>8), byte(n))
	case n <= 0xffffff:
		b = append(b, 0x83, byte(n>>16), byte(n>>8), byte(n))
	default:
		b = append(b, 0x84, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	for _, c := range contents {
		b = append(b, c...)
	}
	return b
}

// MarshalMSRoots encodes certs as the msroots file: a DER ContentInfo
// holding a SignedData of version 1 with no digest algorithms, an
// encapsulated content of type data without content, the certificates as
// [0] IMPLICIT SET in the order given (not sorted: readers do not care and
// the order survives a round trip), and no signer infos. No certificates
// give an empty file. At most MaxMSRoots certificates are accepted.
func MarshalMSRoots(certs []*x509.Certificate) ([]byte, error) {
	if len(certs) == 0 {
		return nil, nil
	}
	if len(certs) > MaxMSRoots {
		return nil, fmt.Errorf("%w: %d certificates, over the limit of %d", ErrInvalidParameter, len(certs), MaxMSRoots)
	}
	var set []byte
	for i, c := range certs {
		if c == nil || len(c.Raw) == 0 {
			return nil, fmt.Errorf("%w: certificate %d has no DER encoding", ErrInvalidParameter, i)
		}
		set = append(set, c.Raw...)
	}
	sd := appendTLV(nil, tagSequence,
		appendTLV(nil, tagInteger, []byte{msrootsVersion}),
		appendTLV(nil, tagSet),
		appendTLV(nil, tagSequence, appendTLV(nil, tagOID, oidData)),
		appendTLV(nil, tagContext0, set),
		appendTLV(nil, tagSet),
	)
	return appendTLV(nil, tagSequence,
		appendTLV(nil, tagOID, oidSignedData),
		appendTLV(nil, tagContext0, sd),
	), nil
}

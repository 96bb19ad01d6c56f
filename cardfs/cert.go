package cardfs

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"fmt"
	"io"
	"strconv"
)

// Compressed certificate file layout (spec: certificate compression, when
// CARD_CAPABILITIES.fCertificateCompression is false).
const (
	// CertCompressionVersion is the WORD at offset 0 of a compressed
	// certificate file.
	CertCompressionVersion = 0x0001
	// certHeaderSize: version WORD and uncompressed length WORD.
	certHeaderSize = 4
	// MaxCertSize is the largest certificate a certificate file can hold:
	// the uncompressed length is a WORD.
	MaxCertSize = 0xFFFF
)

// certFile names certificate files in errors.
const certFile = "certificate file"

// CompressCert encodes a DER certificate as a compressed certificate file:
// 01 00, the certificate's length as a little-endian WORD, and a zlib
// stream (RFC 1950). The certificate must be 1 to 65535 bytes. The Base
// CSP writes this form when the card module does not compress certificates
// itself (CARD_CAPABILITIES.fCertificateCompression FALSE).
func CompressCert(der []byte) ([]byte, error) {
	if len(der) == 0 || len(der) > MaxCertSize {
		return nil, fmt.Errorf("%w: certificate of %d bytes, want 1 to %d", ErrInvalidParameter, len(der), MaxCertSize)
	}
	var buf bytes.Buffer
	buf.Grow(certHeaderSize + len(der)/2 + 64)
	var hdr [certHeaderSize]byte
	binary.LittleEndian.PutUint16(hdr[0:], CertCompressionVersion)
	binary.LittleEndian.PutUint16(hdr[2:], uint16(len(der)))
	buf.Write(hdr[:])
	zw, err := zlib.NewWriterLevel(&buf, zlib.BestCompression)
	if err != nil {
		return nil, fmt.Errorf("cardfs: compressing certificate: %w", err)
	}
	if _, err := zw.Write(der); err != nil {
		return nil, fmt.Errorf("cardfs: compressing certificate: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("cardfs: compressing certificate: %w", err)
	}
	return buf.Bytes(), nil
}

// DecompressCert decodes a certificate file. A file starting with 01 00 is
// a compressed certificate: the zlib stream must inflate to exactly the
// stated length (and pass its checksum); decompression never produces more
// than the stated length plus one byte, so a hostile stream cannot make it
// allocate more. A file starting with 0x30 (a DER SEQUENCE) is taken as an
// uncompressed certificate and returned as a copy, as written by modules
// that compress themselves (a fallback the specification does not
// describe). Anything else is a
// *FormatError. Bytes after the end of the zlib stream are ignored (cards
// may pad their objects). The certificate itself is not parsed.
func DecompressCert(b []byte) ([]byte, error) {
	if len(b) > 0 && b[0] == 0x30 {
		return append([]byte(nil), b...), nil
	}
	if len(b) < certHeaderSize {
		return nil, formatErr(certFile, "size "+strconv.Itoa(len(b))+", too short for a compressed certificate")
	}
	if v := binary.LittleEndian.Uint16(b); v != CertCompressionVersion {
		return nil, formatErr(certFile, "unknown format 0x"+strconv.FormatUint(uint64(v), 16))
	}
	n := int(binary.LittleEndian.Uint16(b[2:]))
	if n == 0 {
		return nil, formatErr(certFile, "uncompressed length 0")
	}
	zr, err := zlib.NewReader(bytes.NewReader(b[certHeaderSize:]))
	if err != nil {
		return nil, &FormatError{File: certFile, Reason: "bad zlib stream", Err: err}
	}
	out := make([]byte, 0, n+1)
	w := bytes.NewBuffer(out)
	if _, err := io.Copy(w, io.LimitReader(zr, int64(n)+1)); err != nil {
		return nil, &FormatError{File: certFile, Reason: "bad zlib stream", Err: err}
	}
	if w.Len() != n {
		return nil, formatErr(certFile, "inflates to "+lenText(w.Len(), n)+", header says "+strconv.Itoa(n))
	}
	return w.Bytes(), nil
}

func lenText(got, want int) string {
	if got > want {
		return "more than " + strconv.Itoa(want) + " bytes"
	}
	return strconv.Itoa(got) + " bytes"
}

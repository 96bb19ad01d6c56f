package cardfs

import (
	"bytes"
	"crypto/x509"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func testRoots(tb testing.TB) []*x509.Certificate {
	tb.Helper()
	var certs []*x509.Certificate
	for _, p := range []string{"testdata/root1.pem", "testdata/root2.pem"} {
		c, err := x509.ParseCertificate(readPEMCert(tb, p))
		require.NoError(tb, err)
		certs = append(certs, c)
	}
	return certs
}

// TestMSRootsOpenSSL reads a certificates-only PKCS#7 made by
// `openssl crl2pkcs7 -nocrl -certfile root1.pem -certfile root2.pem
// -outform DER` and checks that MarshalMSRoots writes the same bytes.
func TestMSRootsOpenSSL(t *testing.T) {
	file, err := os.ReadFile("testdata/msroots-openssl.p7b")
	require.NoError(t, err)
	roots := testRoots(t)
	got, err := ParseMSRoots(file)
	require.NoError(t, err)
	require.Len(t, got, 2)
	assert.Equal(t, roots[0].Raw, got[0].Raw)
	assert.Equal(t, roots[1].Raw, got[1].Raw)

	enc, err := MarshalMSRoots(roots)
	require.NoError(t, err)
	assert.Equal(t, file, enc)
}

// TestMSRootsGolden checks the frame byte by byte for one certificate of
// length L (> 255, < 65536): every length is written in the two-byte long
// form 82 hi lo.
func TestMSRootsGolden(t *testing.T) {
	c := testRoots(t)[0]
	L := len(c.Raw)
	require.True(t, L > 255 && L < 0xffff-64)
	l2 := func(n int) []byte { return []byte{0x82, byte(n >> 8), byte(n)} }
	// SignedData contents: version, digestAlgorithms, encapContentInfo,
	// [0] certificates, signerInfos.
	sdBody := bytes.Join([][]byte{
		{0x02, 0x01, 0x01},
		{0x31, 0x00},
		unhex(t, "30 0b 06 09 2a 86 48 86 f7 0d 01 07 01"),
		append(append([]byte{0xa0}, l2(L)...), c.Raw...),
		{0x31, 0x00},
	}, nil)
	sd := append(append([]byte{0x30}, l2(len(sdBody))...), sdBody...)
	ciBody := bytes.Join([][]byte{
		unhex(t, "06 09 2a 86 48 86 f7 0d 01 07 02"),
		append(append([]byte{0xa0}, l2(len(sd))...), sd...),
	}, nil)
	want := append(append([]byte{0x30}, l2(len(ciBody))...), ciBody...)

	got, err := MarshalMSRoots([]*x509.Certificate{c})
	require.NoError(t, err)
	assert.Equal(t, want, got)
}

func TestMSRootsEmpty(t *testing.T) {
	certs, err := ParseMSRoots(nil)
	require.NoError(t, err)
	assert.Empty(t, certs)
	b, err := MarshalMSRoots(nil)
	require.NoError(t, err)
	assert.Empty(t, b)

	// A SignedData without the certificates field, and one with CRLs.
	noCerts := unhex(t, `30 23 06 09 2a 86 48 86 f7 0d 01 07 02 a0 16
		30 14 02 01 01 31 00 30 0b 06 09 2a 86 48 86 f7 0d 01 07 01 31 00`)
	certs, err = ParseMSRoots(noCerts)
	require.NoError(t, err)
	assert.Empty(t, certs)
	withCRLs := unhex(t, `30 27 06 09 2a 86 48 86 f7 0d 01 07 02 a0 1a
		30 18 02 01 01 31 00 30 0b 06 09 2a 86 48 86 f7 0d 01 07 01 a0 00 a1 00 31 00`)
	certs, err = ParseMSRoots(withCRLs)
	require.NoError(t, err)
	assert.Empty(t, certs)
}

func TestMSRootsErrors(t *testing.T) {
	good, err := MarshalMSRoots(testRoots(t))
	require.NoError(t, err)
	mutate := func(f func([]byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	tests := []struct {
		name string
		file []byte
	}{
		{"not DER", []byte("hello")},
		{"truncated", good[:len(good)-1]},
		{"trailing byte", append(append([]byte(nil), good...), 0)},
		{"content type data", mutate(func(b []byte) []byte { b[14] = 0x01; return b })},
		{"indefinite length", mutate(func(b []byte) []byte { b[1] = 0x80; return b })},
		{"non-minimal length", unhex(t, "30 81 05 06 03 2a 03 04")},
		{"length beyond the end", unhex(t, "30 84 7f ff ff ff 00")},
		{"huge length on 32 bits", unhex(t, "30 84 ff ff ff ff 00")},
		{"certificate not a sequence", unhex(t, `30 27 06 09 2a 86 48 86 f7 0d 01 07 02 a0 1a
			30 18 02 01 01 31 00 30 0b 06 09 2a 86 48 86 f7 0d 01 07 01 a0 02 04 00 31 00`)},
		{"certificate garbage", unhex(t, `30 27 06 09 2a 86 48 86 f7 0d 01 07 02 a0 1a
			30 18 02 01 01 31 00 30 0b 06 09 2a 86 48 86 f7 0d 01 07 01 a0 02 30 00 31 00`)},
		{"no signerInfos", unhex(t, `30 21 06 09 2a 86 48 86 f7 0d 01 07 02 a0 14
			30 12 02 01 01 31 00 30 0b 06 09 2a 86 48 86 f7 0d 01 07 01`)},
		{"long version", unhex(t, `30 24 06 09 2a 86 48 86 f7 0d 01 07 02 a0 17
			30 15 02 02 00 01 31 00 30 0b 06 09 2a 86 48 86 f7 0d 01 07 01 31 00`)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseMSRoots(tc.file)
			requireFormatError(t, err, "msroots")
		})
	}

	_, err = MarshalMSRoots([]*x509.Certificate{nil})
	assert.ErrorIs(t, err, ErrInvalidParameter)
	_, err = MarshalMSRoots(make([]*x509.Certificate, MaxMSRoots+1))
	assert.ErrorIs(t, err, ErrInvalidParameter)
}

func TestMSRootsManyCerts(t *testing.T) {
	c := testRoots(t)[1]
	certs := make([]*x509.Certificate, MaxMSRoots)
	for i := range certs {
		certs[i] = c
	}
	b, err := MarshalMSRoots(certs)
	require.NoError(t, err)
	got, err := ParseMSRoots(b)
	require.NoError(t, err)
	assert.Len(t, got, MaxMSRoots)
}

func TestMSRootsTooMany(t *testing.T) {
	c := testRoots(t)[1]
	var set []byte
	for i := 0; i <= MaxMSRoots; i++ {
		set = append(set, c.Raw...)
	}
	sd := appendTLV(nil, tagSequence,
		[]byte{0x02, 0x01, 0x01, 0x31, 0x00},
		appendTLV(nil, tagSequence, appendTLV(nil, tagOID, oidData)),
		appendTLV(nil, tagContext0, set),
		[]byte{0x31, 0x00})
	file := appendTLV(nil, tagSequence, appendTLV(nil, tagOID, oidSignedData), appendTLV(nil, tagContext0, sd))
	_, err := ParseMSRoots(file)
	requireFormatError(t, err, "msroots")
	assert.ErrorContains(t, err, "more than 1024 certificates")
}

func FuzzParseMSRoots(f *testing.F) {
	f.Add([]byte{})
	if b, err := os.ReadFile("testdata/msroots-openssl.p7b"); err == nil {
		f.Add(b)
	}
	f.Add(unhex(f, "30 23 06 09 2a 86 48 86 f7 0d 01 07 02 a0 16 30 14 02 01 01 31 00 30 0b 06 09 2a 86 48 86 f7 0d 01 07 01 31 00"))
	f.Add([]byte{0x30, 0x84, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		certs, err := ParseMSRoots(b)
		if err != nil {
			checkFormatError(t, err, "msroots")
			return
		}
		enc, err := MarshalMSRoots(certs)
		if err != nil {
			t.Fatal(err)
		}
		back, err := ParseMSRoots(enc)
		if err != nil || len(back) != len(certs) {
			t.Fatalf("re-encoding does not parse back: %v", err)
		}
		for i := range certs {
			if !bytes.Equal(back[i].Raw, certs[i].Raw) {
				t.Fatalf("certificate %d changed", i)
			}
		}
	})
}

package cardfs

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"encoding/pem"
	"os"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// goldenCompressed is a compressed certificate file written by hand from the
// specification's certificate compression for the 5 bytes 30 03 02 01 05:
// version 01 00, length 05 00, then a zlib stream (header 78 01) holding one
// stored deflate block (final, length 5, one's complement fa ff) and the
// Adler-32 checksum 01 0e 00 3c.
const goldenCompressed = "01 00 05 00  78 01  01 05 00 fa ff  30 03 02 01 05  01 0e 00 3c"

func readPEMCert(tb testing.TB, path string) []byte {
	tb.Helper()
	b, err := os.ReadFile(path)
	require.NoError(tb, err)
	blk, _ := pem.Decode(b)
	require.NotNil(tb, blk)
	return blk.Bytes
}

func TestDecompressCertGolden(t *testing.T) {
	got, err := DecompressCert(unhex(t, goldenCompressed))
	require.NoError(t, err)
	assert.Equal(t, []byte{0x30, 0x03, 0x02, 0x01, 0x05}, got)
}

func TestCompressCertRoundTrip(t *testing.T) {
	der := readPEMCert(t, "testdata/root1.pem")
	file, err := CompressCert(der)
	require.NoError(t, err)
	assert.Equal(t, []byte{0x01, 0x00}, file[:2])
	assert.Equal(t, uint16(len(der)), binary.LittleEndian.Uint16(file[2:]))
	// The rest is a plain zlib stream.
	zr, err := zlib.NewReader(bytes.NewReader(file[4:]))
	require.NoError(t, err)
	var plain bytes.Buffer
	_, err = plain.ReadFrom(zr)
	require.NoError(t, err)
	assert.Equal(t, der, plain.Bytes())

	back, err := DecompressCert(file)
	require.NoError(t, err)
	assert.Equal(t, der, back)

	big := bytes.Repeat([]byte{0x30}, MaxCertSize)
	file, err = CompressCert(big)
	require.NoError(t, err)
	back, err = DecompressCert(file)
	require.NoError(t, err)
	assert.Equal(t, big, back)
}

func TestCompressCertLimits(t *testing.T) {
	_, err := CompressCert(nil)
	assert.ErrorIs(t, err, ErrInvalidParameter)
	_, err = CompressCert(make([]byte, MaxCertSize+1))
	assert.ErrorIs(t, err, ErrInvalidParameter)
}

func TestDecompressCertRawDER(t *testing.T) {
	der := readPEMCert(t, "testdata/root2.pem")
	got, err := DecompressCert(der)
	require.NoError(t, err)
	assert.Equal(t, der, got)
	got[0] = 0
	assert.Equal(t, byte(0x30), der[0], "result is a copy")
}

// zlibOf compresses b with the standard library.
func zlibOf(tb testing.TB, b []byte) []byte {
	tb.Helper()
	var buf bytes.Buffer
	zw, err := zlib.NewWriterLevel(&buf, zlib.BestCompression)
	require.NoError(tb, err)
	_, err = zw.Write(b)
	require.NoError(tb, err)
	require.NoError(tb, zw.Close())
	return buf.Bytes()
}

func compressedFile(stated uint16, stream []byte) []byte {
	return append([]byte{0x01, 0x00, byte(stated), byte(stated >> 8)}, stream...)
}

func TestDecompressCertErrors(t *testing.T) {
	payload := bytes.Repeat([]byte("certificate "), 10)
	good := zlibOf(t, payload)
	badSum := append([]byte(nil), good...)
	badSum[len(badSum)-1] ^= 0xff
	tests := []struct {
		name string
		file []byte
	}{
		{"empty", nil},
		{"short", []byte{0x01, 0x00, 0x05}},
		{"neither DER nor compressed", append([]byte{0x31, 0x00}, compressedFile(uint16(len(payload)), good)[2:]...)},
		{"version 2", append([]byte{0x02, 0x00}, compressedFile(uint16(len(payload)), good)[2:]...)},
		{"zero length", compressedFile(0, good)},
		{"stated length too small", compressedFile(uint16(len(payload)-1), good)},
		{"stated length too large", compressedFile(uint16(len(payload)+1), good)},
		{"truncated stream", compressedFile(uint16(len(payload)), good[:len(good)-6])},
		{"bad checksum", compressedFile(uint16(len(payload)), badSum)},
		{"not zlib", compressedFile(5, []byte{1, 2, 3, 4, 5, 6})},
		{"header only", compressedFile(5, nil)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecompressCert(tc.file)
			requireFormatError(t, err, "certificate file")
		})
	}
}

func TestDecompressCertTrailingBytes(t *testing.T) {
	// Bytes after the end of the zlib stream (a card that pads its
	// objects) are ignored.
	file := append(unhex(t, goldenCompressed), 0, 0, 0, 0)
	got, err := DecompressCert(file)
	require.NoError(t, err)
	assert.Equal(t, []byte{0x30, 0x03, 0x02, 0x01, 0x05}, got)
}

func TestDecompressCertBomb(t *testing.T) {
	// 64 MiB of zeros compress to about 64 KiB; the header claims 100
	// bytes. Decompression must stop right after 101 bytes.
	stream := zlibOf(t, make([]byte, 64<<20))
	file := compressedFile(100, stream)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err := DecompressCert(file)
	runtime.ReadMemStats(&after)
	requireFormatError(t, err, "certificate file")
	assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(4<<20), "allocated while decompressing a bomb")
}

func FuzzDecompressCert(f *testing.F) {
	f.Add(unhex(f, goldenCompressed))
	f.Add([]byte{0x30, 0x03, 0x02, 0x01, 0x05})
	f.Add([]byte{0x01, 0x00, 0x00, 0x00})
	f.Add(compressedFile(12, zlibOf(f, []byte("certificate "))))
	f.Add([]byte{0x01, 0x00, 0xff, 0xff, 0x78, 0x9c})
	f.Fuzz(func(t *testing.T, b []byte) {
		der, err := DecompressCert(b)
		if err != nil {
			checkFormatError(t, err, "certificate file")
			return
		}
		if len(b) > 0 && b[0] == 0x30 {
			if !bytes.Equal(der, b) {
				t.Fatal("raw DER changed")
			}
			return
		}
		if len(der) != int(binary.LittleEndian.Uint16(b[2:])) {
			t.Fatalf("inflated %d bytes, header says %d", len(der), binary.LittleEndian.Uint16(b[2:]))
		}
		// Our own encoding of the result decodes to the same bytes.
		file, err := CompressCert(der)
		if err != nil {
			t.Fatal(err)
		}
		back, err := DecompressCert(file)
		if err != nil || !bytes.Equal(back, der) {
			t.Fatalf("re-compression round trip: %v", err)
		}
	})
}

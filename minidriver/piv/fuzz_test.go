package piv

import (
	"bytes"
	"encoding/hex"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cardmod/cardmod/cardfs"
	"github.com/cardmod/cardmod/internal/bertlv"
)

// The parsers take hostile card data: none may panic, and what they accept
// must survive a round trip where the format has one.

func FuzzParseCHUID(f *testing.F) {
	f.Add(mustHex("3019D4E739DA739CED39CE739D836858210842108421C84210C3EB34100102030405060708090A0B0C0D0E0F10350832303330303130313E00FE00"))
	f.Add([]byte{0x34, 0x10})
	f.Add([]byte{0x30, 0x00, 0x00, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := parseCHUID(b)
		if err == nil && c.GUID != nil && len(c.GUID) != 16 {
			t.Fatalf("GUID of %d bytes", len(c.GUID))
		}
	})
}

func FuzzParseCertObject(f *testing.F) {
	f.Add(marshalCertObject([]byte{0x30, 0x03, 0x02, 0x01, 0x01}))
	f.Add([]byte{0x70, 0x00, 0x71, 0x01, 0x01, 0xFE, 0x00})
	f.Add(append(bertlv.Encode(0x70, mustHex("1f8b08000000000000ff33303430040072f7b21505000000")), 0x71, 0x01, 0x01))
	f.Fuzz(func(t *testing.T, b []byte) {
		der, err := parseCertObject(b)
		if err != nil {
			return
		}
		if len(der) > maxCertSize {
			t.Fatalf("certificate of %d bytes", len(der))
		}
		if m, _ := parseTLVs(b); len(m[tagCertInfo]) == 0 || m[tagCertInfo][0]&certInfoGzip == 0 {
			got, err := parseCertObject(marshalCertObject(der))
			if err != nil || !bytes.Equal(got, der) {
				t.Fatalf("round trip failed")
			}
		}
	})
}

func FuzzParseMetadata(f *testing.F) {
	f.Add(mustHex("010111020202010301010441860441" + "04" + string(bytes.Repeat([]byte("11"), 64))))
	f.Add(mustHex("0101030202000105010106020303"))
	f.Add([]byte{0x01, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		md, err := parseMetadata(b)
		if err != nil || !md.HasPublic {
			return
		}
		_, _ = parsePublicKey(md.Alg, md.Public, false)
		_, _ = parsePublicKey(md.Alg, md.Public, true)
	})
}

func FuzzParseYKMap(f *testing.F) {
	rec := ykRecord{Name: "container", Slot: 0x9A, KeySpec: 1, KeyBits: 2048, Flags: 3, PinID: 1}
	f.Add(marshalYKMap([]ykRecord{rec}))
	f.Add(marshalYKMap([]ykRecord{rec, {}, {Name: "é€😀", Slot: 0x82, KeySpec: 6, KeyBits: 256, Flags: 1}}))
	f.Add([]byte{0x81, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		recs, err := parseYKMap(b)
		if err != nil {
			return
		}
		// Names decoded from 39 units or fewer re-encode to the same
		// records.
		again, err := parseYKMap(marshalYKMap(recs))
		if err != nil || len(again) != len(recs) {
			t.Fatalf("round trip failed: %v", err)
		}
		for i := range recs {
			a, b := recs[i], again[i]
			a.Name, b.Name = "", ""
			if a != b {
				t.Fatalf("record %d changed", i)
			}
		}
	})
}

func FuzzParseMSRootsChunk(f *testing.F) {
	parts, _ := splitMSRoots(bytes.Repeat([]byte{7}, 5000), 3052)
	for _, p := range parts {
		f.Add(p)
	}
	f.Add([]byte{0x82, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		chunk, last, err := parseMSRootsChunk(b)
		if err != nil {
			return
		}
		tag := uint32(tagMSRootsMid)
		if last {
			tag = tagMSRootsEnd
		}
		if c2, l2, err := parseMSRootsChunk(bertlv.Encode(tag, chunk)); err != nil || l2 != last || !bytes.Equal(c2, chunk) {
			t.Fatalf("round trip failed")
		}
	})
}

// FuzzParseFileStore: no input panics the file store's parsers, and
// what is stored reads back as the file system stored: the plug-in's view
// (parseStore, which makes an absent mscp directory) of the value
// marshalFileStore writes is the file system it was given, whether or not
// storedSnapshot left the mscp directory out, and writing it again gives
// the same bytes.
func FuzzParseFileStore(f *testing.F) {
	fs, _ := parseStore(nil)
	f.Add(marshalFileStore(fs))
	f.Add(bertlv.Encode(tagFileStore, fs.Snapshot()))
	require.NoError(f, fs.CreateFile(cardfs.RolesAll, cardfs.MSCPDir, "notes", 0, cardfs.EveryoneReadUserWriteAc))
	f.Add(marshalFileStore(fs))
	f.Add([]byte{0x81, 0x04, 'C', 'F', 'S', 0x01})
	f.Add([]byte{0x81, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		if _, err := parseFileStore(b); err != nil {
			return
		}
		fs, err := parseStore(b)
		if err != nil {
			t.Fatalf("parseStore refuses what parseFileStore reads: %v", err)
		}
		stored := marshalFileStore(fs)
		again, err := parseStore(stored)
		if err != nil || !bytes.Equal(again.Snapshot(), fs.Snapshot()) {
			t.Fatalf("the stored form reads back as another file system: %v", err)
		}
		if !bytes.Equal(marshalFileStore(again), stored) {
			t.Fatalf("storing it again gives other bytes")
		}
	})
}

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

func FuzzParseProtected(f *testing.F) {
	f.Add([]byte{0x88, 0x1A, 0x89, 0x18, 1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8})
	f.Add([]byte{0x80, 0x03, 0x81, 0x01, 0x02})
	f.Fuzz(func(t *testing.T, b []byte) {
		if k, err := parseProtectedKey(b); err == nil && len(k) != 16 && len(k) != 24 && len(k) != 32 {
			t.Fatalf("%d-byte key", len(k))
		}
		_ = parseAdminProtected(b)
	})
}

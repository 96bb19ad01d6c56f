package cardfs

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// goldenRecord is one cmapfile record written by hand from the
// specification's CONTAINER_MAP_RECORD:
// name "0b2b5c27-1b1e-4f8b-9b13-1d6b9b3f5a10" as UTF-16LE NUL-padded to 80
// bytes, flags valid|default (0x03), reserved 0, no signature key, a
// 2048-bit key exchange key (0x0800 little-endian).
const goldenRecord = `
30 00 62 00 32 00 62 00 35 00 63 00 32 00 37 00
2d 00 31 00 62 00 31 00 65 00 2d 00 34 00 66 00
38 00 62 00 2d 00 39 00 62 00 31 00 33 00 2d 00
31 00 64 00 36 00 62 00 39 00 62 00 33 00 66 00
35 00 61 00 31 00 30 00 00 00 00 00 00 00 00 00
03 00 00 00 00 08`

const goldenName = "0b2b5c27-1b1e-4f8b-9b13-1d6b9b3f5a10"

func TestContainerMapGoldenRecord(t *testing.T) {
	var m ContainerMap
	idx, err := m.Add(ContainerMapRecord{Name: goldenName, Flags: ContainerDefault, KeyExchangeKeySizeBits: 2048}, 0)
	require.NoError(t, err)
	assert.Equal(t, 0, idx)
	want := unhex(t, goldenRecord)
	require.Len(t, want, ContainerMapRecordSize)
	assert.Equal(t, want, m.Marshal())

	parsed, err := ParseContainerMap(want)
	require.NoError(t, err)
	rec, ok := parsed.Record(0)
	require.True(t, ok)
	assert.Equal(t, ContainerMapRecord{Index: 0, Name: goldenName, Flags: ContainerValid | ContainerDefault, KeyExchangeKeySizeBits: 2048}, rec)
	assert.True(t, rec.Valid())
	assert.True(t, rec.Default())
	assert.Equal(t, want, parsed.Marshal())
}

func TestContainerMapEmpty(t *testing.T) {
	m, err := ParseContainerMap(nil)
	require.NoError(t, err)
	assert.Equal(t, 0, m.Len())
	assert.Empty(t, m.Marshal())
	_, ok := m.Default()
	assert.False(t, ok)
	_, ok = m.Record(0)
	assert.False(t, ok)
}

// record builds a record's bytes by hand: the name (BMP characters only,
// one UTF-16 unit each, up to 40), flags, reserved byte, key sizes.
func record(name string, flags, reserved byte, sig, kx uint16) []byte {
	b := make([]byte, ContainerMapRecordSize)
	units := []rune(name)
	for i, u := range units {
		b[2*i] = byte(u)
		b[2*i+1] = byte(u >> 8)
	}
	b[80] = flags
	b[81] = reserved
	b[82], b[83] = byte(sig), byte(sig>>8)
	b[84], b[85] = byte(kx), byte(kx>>8)
	return b
}

func TestContainerMapParseErrors(t *testing.T) {
	unterminated := record(strings.Repeat("a", 40), 1, 0, 0, 2048)
	loneHigh := record("ab", 1, 0, 0, 0)
	loneHigh[2], loneHigh[3] = 0x00, 0xd8 // U+D800 then NUL
	loneLow := record("ab", 1, 0, 0, 0)
	loneLow[0], loneLow[1] = 0x00, 0xdc
	highThenASCII := record("abc", 1, 0, 0, 0)
	highThenASCII[0], highThenASCII[1] = 0x00, 0xd8
	tests := []struct {
		name string
		file []byte
	}{
		{"size 85", make([]byte, 85)},
		{"size 87", make([]byte, 87)},
		{"too many records", make([]byte, ContainerMapRecordSize*(MaxContainers+1))},
		{"unterminated name", unterminated},
		{"empty name", record("", 1, 0, 0, 0)},
		{"backslash", record(`a\b`, 1, 0, 0, 0)},
		{"lone high surrogate", loneHigh},
		{"lone low surrogate", loneLow},
		{"high surrogate then ASCII", highThenASCII},
		{"default without valid", record("a", 2, 0, 0, 0)},
		{"two defaults", append(record("a", 3, 0, 0, 0), record("b", 3, 0, 0, 0)...)},
		{"duplicate names", append(record("abc", 1, 0, 0, 0), record("abc", 1, 0, 0, 0)...)},
		{"duplicate names differing in case", append(record("ABC", 1, 0, 0, 0), record("abc", 1, 0, 0, 0)...)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseContainerMap(tc.file)
			requireFormatError(t, err, "cmapfile")
		})
	}
}

func TestContainerMapTolerantRead(t *testing.T) {
	// Free records keep whatever they hold; a valid record may carry
	// bytes after its terminating NUL, reserved flag bits and a
	// non-zero reserved byte. All survive a round trip.
	freeGarbage := record("old-name", 0, 7, 1024, 2048)
	padded := record("name", 0x01|0x40, 9, 256, 0)
	padded[20] = 0x55 // after the NUL at unit 4
	maxName := record(strings.Repeat("x", 39), 1, 0, 0, 0)
	surrogates := record("a", 1, 0, 0, 0)
	// U+1F511 as D83D DD11
	surrogates[2], surrogates[3], surrogates[4], surrogates[5] = 0x3d, 0xd8, 0x11, 0xdd
	file := bytes.Join([][]byte{freeGarbage, padded, maxName, surrogates}, nil)

	m, err := ParseContainerMap(file)
	require.NoError(t, err)
	assert.Equal(t, file, m.Marshal())
	valid := m.ValidRecords()
	require.Len(t, valid, 3)
	assert.Equal(t, ContainerMapRecord{Index: 1, Name: "name", Flags: 0x41, SigKeySizeBits: 256}, valid[0])
	assert.Equal(t, strings.Repeat("x", 39), valid[1].Name)
	assert.Equal(t, "a\U0001F511", valid[2].Name)
	free, ok := m.Record(0)
	require.True(t, ok)
	assert.False(t, free.Valid())
	assert.Empty(t, free.Name)

	// Adding reuses the free record and writes it canonically.
	idx, err := m.Add(ContainerMapRecord{Name: "new"}, 0)
	require.NoError(t, err)
	assert.Equal(t, 0, idx)
	assert.Equal(t, record("new", 1, 0, 0, 0), m.Marshal()[:ContainerMapRecordSize])
}

func TestContainerMapOperations(t *testing.T) {
	var m ContainerMap
	a, err := m.Add(ContainerMapRecord{Name: "Alpha", Flags: ContainerDefault, SigKeySizeBits: 256}, 0)
	require.NoError(t, err)
	b, err := m.Add(ContainerMapRecord{Name: "beta", KeyExchangeKeySizeBits: 2048}, 0)
	require.NoError(t, err)
	c, err := m.Add(ContainerMapRecord{Name: "gamma", Flags: 0xff}, 0) // only default is taken from Flags
	require.NoError(t, err)
	assert.Equal(t, []int{0, 1, 2}, []int{a, b, c})

	def, ok := m.Default()
	require.True(t, ok)
	assert.Equal(t, "gamma", def.Name, "the newest default wins")
	assert.Equal(t, ContainerValid|ContainerDefault, def.Flags)
	rec, _ := m.Record(a)
	assert.Equal(t, ContainerValid, rec.Flags, "old default cleared")

	// Case-insensitive lookup, case kept.
	found, ok := m.Find("ALPHA")
	require.True(t, ok)
	assert.Equal(t, "Alpha", found.Name)
	assert.Equal(t, a, found.Index)
	_, err = m.Add(ContainerMapRecord{Name: "alpha"}, 0)
	assert.ErrorIs(t, err, ErrContainerExists)

	// Delete zeroes the record in place; the table is not packed.
	require.NoError(t, m.Delete(b))
	assert.Equal(t, 3, m.Len())
	assert.Equal(t, make([]byte, ContainerMapRecordSize), m.Marshal()[b*86:(b+1)*86])
	_, ok = m.Find("beta")
	assert.False(t, ok)
	assert.ErrorIs(t, m.Delete(b), ErrNoContainer)
	assert.ErrorIs(t, m.Delete(7), ErrNoContainer)
	assert.ErrorIs(t, m.Delete(-1), ErrNoContainer)

	// The free slot is reused.
	d, err := m.Add(ContainerMapRecord{Name: "delta"}, 0)
	require.NoError(t, err)
	assert.Equal(t, b, d)

	require.NoError(t, m.SetDefault(a))
	def, _ = m.Default()
	assert.Equal(t, "Alpha", def.Name)
	assert.Len(t, m.ValidRecords(), 3)
	assert.ErrorIs(t, m.SetDefault(5), ErrNoContainer)

	require.NoError(t, m.SetKeySizes(d, 384, 521))
	rec, _ = m.Record(d)
	assert.Equal(t, uint16(384), rec.SigKeySizeBits)
	assert.Equal(t, uint16(521), rec.KeyExchangeKeySizeBits)
	assert.ErrorIs(t, m.SetKeySizes(9, 0, 0), ErrNoContainer)

	// Deleting the default leaves no default.
	require.NoError(t, m.Delete(a))
	_, ok = m.Default()
	assert.False(t, ok)

	// Whatever we built parses back to the same bytes.
	back, err := ParseContainerMap(m.Marshal())
	require.NoError(t, err)
	assert.Equal(t, m.Marshal(), back.Marshal())
}

func TestContainerMapAddLimits(t *testing.T) {
	var m ContainerMap
	for i := 0; i < 3; i++ {
		_, err := m.Add(ContainerMapRecord{Name: string(rune('a' + i))}, 3)
		require.NoError(t, err)
	}
	_, err := m.Add(ContainerMapRecord{Name: "d"}, 3)
	assert.ErrorIs(t, err, ErrTooManyContainers)
	require.NoError(t, m.Delete(1))
	idx, err := m.Add(ContainerMapRecord{Name: "d"}, 3)
	require.NoError(t, err)
	assert.Equal(t, 1, idx)

	var big ContainerMap
	for i := 0; i < MaxContainers; i++ {
		_, err := big.Add(ContainerMapRecord{Name: strings.Repeat("n", 1+i%30) + string(rune('A'+i/30))}, 0)
		require.NoError(t, err, "container %d", i)
	}
	_, err = big.Add(ContainerMapRecord{Name: "one-more"}, 1000)
	assert.ErrorIs(t, err, ErrTooManyContainers)
	_, err = ParseContainerMap(big.Marshal())
	assert.NoError(t, err)
}

func TestValidateContainerName(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{goldenName, true},
		{"{" + goldenName + "}", true},
		{strings.Repeat("x", 39), true},
		{strings.Repeat("x", 40), false},
		{strings.Repeat("é", 39), true},
		{strings.Repeat("\U0001F511", 19) + "x", true}, // 39 units
		{strings.Repeat("\U0001F511", 20), false},      // 40 units
		{"", false},
		{`a\b`, false},
		{"a\x00b", false},
		{"\xff", false},
	}
	for _, tc := range tests {
		err := ValidateContainerName(tc.name)
		if tc.ok {
			assert.NoError(t, err, "%q", tc.name)
			var m ContainerMap
			_, err := m.Add(ContainerMapRecord{Name: tc.name}, 0)
			require.NoError(t, err)
			back, err := ParseContainerMap(m.Marshal())
			require.NoError(t, err)
			r, _ := back.Record(0)
			assert.Equal(t, tc.name, r.Name)
		} else {
			assert.ErrorIs(t, err, ErrInvalidName, "%q", tc.name)
			var m ContainerMap
			_, err := m.Add(ContainerMapRecord{Name: tc.name}, 0)
			assert.ErrorIs(t, err, ErrInvalidName)
		}
	}
}

func FuzzParseContainerMap(f *testing.F) {
	f.Add([]byte{})
	f.Add(unhex(f, goldenRecord))
	f.Add(append(record("a", 1, 0, 1024, 0), record("b", 3, 0, 0, 2048)...))
	f.Add(record("old", 0, 5, 1, 2))
	f.Add(record(strings.Repeat("x", 40), 1, 0, 0, 0))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseContainerMap(b)
		if err != nil {
			checkFormatError(t, err, "cmapfile")
			return
		}
		if !bytes.Equal(m.Marshal(), b) {
			t.Fatal("round trip changed the file")
		}
		defaults := 0
		for _, r := range m.ValidRecords() {
			if ValidateContainerName(r.Name) != nil {
				t.Fatalf("record %d: parsed name %q is not valid", r.Index, r.Name)
			}
			if f, ok := m.Find(r.Name); !ok || f.Index != r.Index {
				t.Fatalf("record %d not found by name", r.Index)
			}
			if r.Default() {
				defaults++
			}
		}
		if defaults > 1 {
			t.Fatal("two defaults")
		}
		// Mutations keep the map parseable.
		if idx, err := m.Add(ContainerMapRecord{Name: "fuzz-new", Flags: ContainerDefault}, 0); err == nil {
			if _, err := ParseContainerMap(m.Marshal()); err != nil {
				t.Fatalf("after Add at %d: %v", idx, err)
			}
			if err := m.Delete(idx); err != nil {
				t.Fatal(err)
			}
			if _, err := ParseContainerMap(m.Marshal()); err != nil {
				t.Fatalf("after Delete: %v", err)
			}
		}
	})
}

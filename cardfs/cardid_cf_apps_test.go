package cardfs

import (
	"bytes"
	"errors"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCardID(t *testing.T) {
	src := bytes.NewReader(unhex(t, "00 11 22 33 44 55 66 77 88 99 aa bb cc dd ee ff"))
	id, err := NewCardID(src)
	require.NoError(t, err)
	assert.Equal(t, "00112233-4455-6677-8899-aabbccddeeff", id.String())
	assert.Equal(t, unhex(t, "00112233445566778899aabbccddeeff"), id.Marshal())

	back, err := ParseCardID(id.Marshal())
	require.NoError(t, err)
	assert.Equal(t, id, back)

	for _, n := range []int{0, 15, 17, 32} {
		_, err := ParseCardID(make([]byte, n))
		requireFormatError(t, err, "cardid")
	}
	_, err = NewCardID(bytes.NewReader(make([]byte, 15)))
	assert.Error(t, err)
	_, err = NewCardID(iotest.ErrReader(errors.New("no entropy")))
	assert.ErrorContains(t, err, "no entropy")
	_, err = NewCardID(nil)
	assert.ErrorIs(t, err, ErrInvalidParameter)
}

func TestCardCFGolden(t *testing.T) {
	tests := []struct {
		name string
		file string
		want CardCF
	}{
		{"new card", "00 00 00 00 00 00", CardCF{}},
		{"counters", "01 02 04 03 06 05", CardCF{Version: 1, Pins: 2, Containers: 0x0304, Files: 0x0506}},
		{"max", "01 ff ff ff ff ff", CardCF{Version: 1, Pins: 0xff, Containers: 0xffff, Files: 0xffff}},
		{"app bytes kept", "01 00 01 00 02 00 de ad be ef", CardCF{Version: 1, Containers: 1, Files: 2, Extra: []byte{0xde, 0xad, 0xbe, 0xef}}},
		{"odd trailing byte", "00 00 00 00 00 00 07", CardCF{Extra: []byte{7}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := unhex(t, tc.file)
			got, err := ParseCardCF(b)
			require.NoError(t, err)
			assert.True(t, tc.want.Equal(got), "got %+v", got)
			assert.Equal(t, b, got.Marshal())
			assert.Equal(t, b, tc.want.Marshal())
		})
	}
}

func TestCardCFErrors(t *testing.T) {
	for _, n := range []int{0, 1, 5, MaxCardCFSize + 1} {
		_, err := ParseCardCF(make([]byte, n))
		requireFormatError(t, err, "cardcf")
	}
	_, err := ParseCardCF(make([]byte, MaxCardCFSize))
	assert.NoError(t, err)
}

func TestCardCFNoAliasing(t *testing.T) {
	b := unhex(t, "01 00 00 00 00 00 aa")
	c, err := ParseCardCF(b)
	require.NoError(t, err)
	b[6] = 0xbb
	assert.Equal(t, []byte{0xaa}, c.Extra)
}

func TestCardCFBump(t *testing.T) {
	c := CardCF{Version: 1, Pins: 0xff, Containers: 0xffff, Files: 0xfffe}
	c.BumpPins()
	c.BumpContainers()
	c.BumpFiles()
	assert.Equal(t, CardCF{Version: 1, Pins: 0, Containers: 0, Files: 0xffff}, c)
	c.BumpFiles()
	assert.Equal(t, uint16(0), c.Files)
	assert.Equal(t, unhex(t, "01 00 00 00 00 00"), c.Marshal())
}

func TestCardCFStaleSince(t *testing.T) {
	base := CardCF{Version: 1, Pins: 3, Containers: 10, Files: 20, Extra: []byte{1, 2, 3, 4}}
	tests := []struct {
		name   string
		change func(*CardCF)
		want   Stale
	}{
		{"same", func(*CardCF) {}, 0},
		{"pins", (*CardCF).BumpPins, StalePins},
		{"containers", (*CardCF).BumpContainers, StaleContainers},
		{"files", (*CardCF).BumpFiles, StaleFiles},
		{"files and containers", func(c *CardCF) { c.BumpFiles(); c.BumpContainers() }, StaleFiles | StaleContainers},
		{"counter went back", func(c *CardCF) { c.Files-- }, StaleFiles},
		{"wrapped all the way", func(c *CardCF) {
			for i := 0; i < 256; i++ {
				c.BumpPins()
			}
		}, 0},
		{"application bytes", func(c *CardCF) { c.Extra = []byte{1, 2, 3, 5} }, StaleApplications},
		{"application bytes dropped", func(c *CardCF) { c.Extra = nil }, StaleApplications},
		{"version", func(c *CardCF) { c.Version = 2 }, StaleAll},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cur := base
			cur.Extra = append([]byte(nil), base.Extra...)
			tc.change(&cur)
			assert.Equal(t, tc.want, cur.StaleSince(base))
		})
	}
	assert.Equal(t, "none", Stale(0).String())
	assert.Equal(t, "pins|files", (StalePins | StaleFiles).String())
	assert.Equal(t, "pins|containers|files|applications", StaleAll.String())
}

func TestCardAppsGolden(t *testing.T) {
	tests := []struct {
		name string
		file string
		want CardApps
	}{
		{"new card", "6d 73 63 70 00 00 00 00", CardApps{"mscp"}},
		{"empty file", "", CardApps{}},
		{"eight characters need no NUL", "6d 73 63 70 00 00 00 00 76 65 6e 64 6f 72 61 62", CardApps{"mscp", "vendorab"}},
		{"free slot and case kept", "00 00 00 00 00 00 00 00 4d 79 41 70 70 00 00 00", CardApps{"", "MyApp"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := unhex(t, tc.file)
			got, err := ParseCardApps(b)
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
			enc, err := got.Marshal()
			require.NoError(t, err)
			assert.Equal(t, b, enc)
		})
	}
	enc, err := DefaultCardApps().Marshal()
	require.NoError(t, err)
	assert.Equal(t, []byte("mscp\x00\x00\x00\x00"), enc)
	assert.Equal(t, 1, CardApps{"x", "MSCP"}.Index("mscp"))
	assert.Equal(t, -1, CardApps{"", "mscp"}.Index(""))
	assert.Equal(t, -1, DefaultCardApps().Index("other"))
}

func TestCardAppsErrors(t *testing.T) {
	bad := []string{
		"6d 73 63 70 00 00 00",       // size 7
		"6d 73 63 70 00 00 00 00 00", // size 9
		"6d 73 63 70 00 41 00 00",    // bytes after NUL
		"6d 73 20 70 00 00 00 00",    // space in name
		"6d 73 5c 70 00 00 00 00",    // backslash
		"6d 73 ff 70 00 00 00 00",    // not ASCII
	}
	for _, h := range bad {
		_, err := ParseCardApps(unhex(t, h))
		requireFormatError(t, err, "cardapps")
	}
	_, err := ParseCardApps(make([]byte, 8*257))
	requireFormatError(t, err, "cardapps")

	_, err = CardApps{"toolongname"}.Marshal()
	assert.ErrorIs(t, err, ErrInvalidName)
	_, err = CardApps{"a b"}.Marshal()
	assert.ErrorIs(t, err, ErrInvalidName)
	_, err = make(CardApps, 257).Marshal()
	assert.ErrorIs(t, err, ErrInvalidParameter)
}

func FuzzParseCardCF(f *testing.F) {
	f.Add([]byte{})
	f.Add(make([]byte, 6))
	f.Add([]byte{1, 2, 4, 3, 6, 5})
	f.Add([]byte{1, 0, 1, 0, 2, 0, 0xde, 0xad, 0xbe, 0xef})
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseCardCF(b)
		if err != nil {
			checkFormatError(t, err, "cardcf")
			return
		}
		if !bytes.Equal(c.Marshal(), b) {
			t.Fatalf("round trip: % x -> % x", b, c.Marshal())
		}
		if c.StaleSince(c) != 0 {
			t.Fatal("a cardcf is stale against itself")
		}
	})
}

func FuzzParseCardApps(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte("mscp\x00\x00\x00\x00"))
	f.Add([]byte("mscp\x00\x00\x00\x00vendorab"))
	f.Add([]byte("\x00\x00\x00\x00\x00\x00\x00\x00"))
	f.Add([]byte("ms cp\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		apps, err := ParseCardApps(b)
		if err != nil {
			checkFormatError(t, err, "cardapps")
			return
		}
		enc, err := apps.Marshal()
		if err != nil {
			t.Fatalf("parsed %q does not marshal: %v", apps, err)
		}
		if !bytes.Equal(enc, b) {
			t.Fatalf("round trip: % x -> % x", b, enc)
		}
	})
}

// FuzzParseCardID checks the cardid codec: exactly 16 bytes are a card
// id, which marshals back to them; anything else is a format error.
func FuzzParseCardID(f *testing.F) {
	f.Add(make([]byte, CardIDSize))
	f.Add([]byte{1, 2, 3})
	f.Add(bytes.Repeat([]byte{0xA5}, CardIDSize+1))
	f.Fuzz(func(t *testing.T, b []byte) {
		id, err := ParseCardID(b)
		if len(b) != CardIDSize {
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("%d bytes: %v", len(b), err)
			}
			return
		}
		if err != nil || !bytes.Equal(id.Marshal(), b) {
			t.Fatalf("round trip of % x: %v", b, err)
		}
		if again, err := ParseCardID(id.Marshal()); err != nil || again != id {
			t.Fatalf("round trip changed the id")
		}
	})
}

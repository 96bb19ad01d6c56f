package gids

import (
	"encoding/hex"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cardmod/cardmod/minidriver"
)

// TestMasterFileBytes checks the initial master file against the bytes
// OpenSC's gids-tool writes (version 01, then 28-byte records).
func TestMasterFileBytes(t *testing.T) {
	b := initialMasterFile().marshal()
	require.Len(t, b, 1+5*mfRecordSize)
	assert.Equal(t, []byte{0x01, 'm', 's', 'c', 'p', 0, 0, 0, 0, 0}, b[:10])
	// cardid: DO DF20 in A012, little-endian.
	rec := b[1+mfRecordSize : 1+2*mfRecordSize]
	assert.Equal(t, "cardid", string(rec[9:15]))
	assert.Equal(t, []byte{0x20, 0xDF, 0, 0, 0x12, 0xA0, 0, 0}, rec[20:28])
	mf, err := parseMasterFile(b)
	require.NoError(t, err)
	assert.Equal(t, initialMasterFile().records, mf.records)
}

// TestNamesCaseInsensitive checks that names written by OpenSC in upper
// case are found, listed in lower case and kept as they are.
func TestNamesCaseInsensitive(t *testing.T) {
	mf := initialMasterFile()
	mf.records = append(mf.records, mfRecord{Dir: "mscp", Name: "kxc0A", DO: 0xDF24, FID: fidEveryoneReadUserWrite})
	again, err := parseMasterFile(mf.marshal())
	require.NoError(t, err)
	assert.Equal(t, 5, again.find("mscp", "kxc0a"))
	assert.Equal(t, []string{"cmapfile", "kxc0a"}, again.files("mscp"))
	assert.Equal(t, "kxc0A", again.records[5].Name)
	for in, want := range map[string]string{"kxc0a": "kxc0A", "ksc1f": "ksc1F", "kxc00": "kxc00", "msroots": "msroots", "kxc0ab": "kxc0ab"} {
		assert.Equal(t, want, storedName("mscp", in), in)
	}
	assert.Equal(t, "kxc0a", storedName("", "kxc0a"))
	do, ok := again.freeDO(fidEveryoneReadUserWrite)
	require.True(t, ok)
	assert.Equal(t, uint32(0xDF25), do)
}

// TestKeyMapBytes checks the key map record layout OpenSC reads.
func TestKeyMapBytes(t *testing.T) {
	km := &keyMap{}
	km.set(1, kmRecord{State: 1, Alg: algRSA2048, KeyType: keyTypeExchange, KeyFile: 0xB082, Unknown: 0xFFFF})
	b := km.marshal()
	assert.Equal(t, []byte{0x01,
		0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0,
		1, 0, 0, 0, 0x07, 0x9A, 0x82, 0xB0, 0xFF, 0xFF, 0, 0}, b)
	again, err := parseKeyMap(b)
	require.NoError(t, err)
	_, ok := again.get(0)
	assert.False(t, ok)
	r, ok := again.get(1)
	require.True(t, ok)
	spec, ok := recordSpec(r)
	require.True(t, ok)
	assert.Equal(t, "AT_KEYEXCHANGE", spec.String())
	assert.Equal(t, 1, again.count())
}

// hexBytes decodes spaced hexadecimal.
func hexBytes(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	require.NoError(t, err)
	return b
}

// TestWindowsTrace compares what the plug-in writes with an APDU trace of
// the Windows GIDS minidriver importing an RSA-2048 key into container 0
// (GidsApplet's MinidriverTest): the key file template and the key map.
func TestWindowsTrace(t *testing.T) {
	assert.Equal(t, hexBytes(t, "62 47 82 01 18 83 02 B0 81 8C 05 8F 10 10 10 00 A5 37 "+
		"B8 09 80 01 07 83 01 81 95 01 40 B8 09 80 01 87 83 01 81 95 01 40 B8 09 80 01 47 83 01 81 95 01 40 "+
		"B6 09 80 01 17 83 01 81 95 01 40 B6 09 80 01 57 83 01 81 95 01 40"),
		keyFileFCP(0x81, algRSA2048, minidriver.KeyExchange))
	km := &keyMap{}
	km.set(0, kmRecord{State: 1, Alg: algRSA2048, KeyType: keyTypeExchange, KeyFile: 0xB081, Unknown: 0xFFFF})
	assert.Equal(t, hexBytes(t, "01 01 00 00 00 07 9A 81 B0 FF FF 00 00"), km.marshal())
}

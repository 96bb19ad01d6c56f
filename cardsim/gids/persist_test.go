package gids_test

import (
	"bytes"
	"crypto/ecdsa"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cardmod/cardmod/cardsim/gids"
)

// provisioned is an initialized card with an EC key in B081, a data
// object, and one wrong PIN try spent.
func provisioned(t *testing.T) *tcard {
	t.Helper()
	tc := initialized(t)
	require.Equal(t, uint16(0x63C2), tc.verify("000000"))
	require.Equal(t, uint16(0x9000), tc.verify(gids.DefaultPIN))
	require.Equal(t, uint16(0x63C2), tc.verify("000000"))
	require.Equal(t, uint16(0x9000), tc.verify(gids.DefaultPIN))
	tc.createKeyFile(ecKeyFileFCP(0x81, gids.AlgECCP256))
	tc.generate(0x81, gids.AlgECCP256)
	require.Equal(t, uint16(0x9000), tc.putDO(0xA010, 0xDF24, []byte("certificate")))
	require.Equal(t, uint16(0x63C2), tc.verify("000000"))
	return tc
}

func TestSaveLoadRoundTrip(t *testing.T) {
	tc := provisioned(t)
	var buf bytes.Buffer
	require.NoError(t, tc.c.Save(&buf))
	var doc map[string]any
	require.NoError(t, json.Unmarshal(buf.Bytes(), &doc))
	assert.EqualValues(t, gids.StateVersion, doc["version"])
	assert.Equal(t, "operational", doc["life_cycle"])

	loaded, err := gids.Load(bytes.NewReader(buf.Bytes()), gids.Config{Rand: seededRand(2)})
	require.NoError(t, err)
	lc := &tcard{t: t, c: loaded}
	assert.Equal(t, 2, loaded.PINTriesLeft())
	assert.Equal(t, gids.LifeCycleOperational, loaded.LifeCycle())
	lc.mustOK(0xA4, 0x04, 0x00, gids.AID[:9])
	got, sw := lc.getDO(0xA010, 0xDF24)
	require.Equal(t, uint16(0x9000), sw)
	assert.Equal(t, tlv(0xDF24, []byte("certificate")), got)
	assert.True(t, tc.publicKey(0x81).(*ecdsa.PublicKey).Equal(lc.publicKey(0x81)))
	// Session state is not saved; the access rules and admin key are.
	assert.Equal(t, uint16(0x6982), lc.putDO(0xA010, 0xDF25, []byte{1}))
	lc.adminAuth(gids.DefaultAdminKey)
	assert.Equal(t, uint16(0x9000), lc.putDO(0xA010, 0xDF25, []byte{1}))

	// Saving the loaded card gives the same document.
	var again bytes.Buffer
	require.NoError(t, loaded.Save(&again))
	var d1, d2 map[string]any
	require.NoError(t, json.Unmarshal(buf.Bytes(), &d1))
	require.NoError(t, json.Unmarshal(again.Bytes(), &d2))
	files1, files2 := d1["files"].([]any), d2["files"].([]any)
	assert.Len(t, files2, len(files1))
}

func TestSaveLoadBlankCard(t *testing.T) {
	tc := newCard(t, gids.Config{})
	var buf bytes.Buffer
	require.NoError(t, tc.c.Save(&buf))
	loaded, err := gids.Load(&buf, gids.Config{})
	require.NoError(t, err)
	assert.Equal(t, gids.LifeCycleCreation, loaded.LifeCycle())
	lc := &tcard{t: t, c: loaded}
	lc.mustOK(0xA4, 0x04, 0x00, gids.AID[:9])
	gidsToolInit(t, lc, "1234", gids.DefaultAdminKey, make([]byte, 16))
}

func TestSaveFileAtomic(t *testing.T) {
	tc := provisioned(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "card.json")
	require.NoError(t, tc.c.SaveFile(path))
	info, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), info.Mode().Perm())
	require.NoError(t, tc.c.SaveFile(path)) // over an existing file
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Len(t, entries, 1, "no temporary files left")
	loaded, err := gids.LoadFile(path, gids.Config{})
	require.NoError(t, err)
	assert.Equal(t, 2, loaded.PINTriesLeft())

	err = tc.c.SaveFile(filepath.Join(dir, "missing", "card.json"))
	assert.Error(t, err)
}

func TestLoadErrors(t *testing.T) {
	tc := provisioned(t)
	var buf bytes.Buffer
	require.NoError(t, tc.c.Save(&buf))
	good := buf.String()
	edit := func(old, new string) string {
		require.Contains(t, good, old)
		return strings.Replace(good, old, new, 1)
	}
	cases := map[string]string{
		"not JSON":         "{",
		"no version":       `{"life_cycle":"creation"}`,
		"version 2":        `{"version":2}`,
		"unknown field":    edit(`"version": 1,`, `"version": 1, "extra": 1,`),
		"life cycle":       edit(`"life_cycle": "operational"`, `"life_cycle": "dead"`),
		"PIN tries":        edit(`"max": 3`, `"max": 30`),
		"PIN value":        edit(`"value": "313233343536"`, `"value": "31"`),
		"file id":          edit(`"fid": "a000"`, `"fid": "a0000"`),
		"file id mismatch": edit(`"fid": "a000"`, `"fid": "a001"`),
		"file twice":       edit(`"fid": "a010"`, `"fid": "a000"`),
		"fcp":              edit(`"fcp": "YgyCATmDAqAA`, `"fcp": "YgyCATmDAqAB`),
		"secret":           edit(`"secret": "01020304050607080102030405060708`, `"secret": "zz020304050607080102030405060708`),
		"tag":              edit(`"tag": "df1f"`, `"tag": "5c"`),
	}
	for name, doc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := gids.Load(strings.NewReader(doc), gids.Config{})
			var le *gids.LoadError
			require.ErrorAs(t, err, &le)
			assert.Contains(t, err.Error(), "gids: cannot load card state")
			assert.NotContains(t, err.Error(), "010203040506", "no secrets in errors")
		})
	}
	_, err := gids.Load(strings.NewReader(`{"version":2}`), gids.Config{})
	assert.True(t, errors.Is(err, gids.ErrUnsupportedStateVersion))
	_, err = gids.Load(strings.NewReader(good), gids.Config{Capacity: 5})
	assert.Error(t, err, "over capacity")

	_, err = gids.LoadFile(filepath.Join(t.TempDir(), "none.json"), gids.Config{})
	var le *gids.LoadError
	require.ErrorAs(t, err, &le)
	assert.NotEmpty(t, le.Path)
	assert.True(t, errors.Is(err, os.ErrNotExist))
}

// TestLoadErrorKeepsFile: a corrupt file is reported and left as it was.
func TestLoadErrorKeepsFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "card.json")
	require.NoError(t, os.WriteFile(path, []byte(`{"version":1,`), 0o600))
	_, err := gids.LoadFile(path, gids.Config{})
	require.Error(t, err)
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, `{"version":1,`, string(data))
}

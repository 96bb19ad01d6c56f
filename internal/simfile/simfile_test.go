package simfile_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cardmod/cardmod/cardsim/gids"
	"github.com/cardmod/cardmod/cardsim/piv"
	"github.com/cardmod/cardmod/internal/simfile"
)

func TestOpenCreatesThenLoads(t *testing.T) {
	tests := []struct {
		kind string
		opts simfile.Options
		desc string
	}{
		{simfile.KindPIV, simfile.Options{PIV: piv.Config{Serial: 77}}, "PIV card 77 (yubikey-5.7, firmware 5.7.1)"},
		{simfile.KindGIDS, simfile.Options{Kind: simfile.KindGIDS, GIDS: gids.Config{Initialized: true}}, "GIDS card"},
	}
	for _, tt := range tests {
		t.Run(tt.kind, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "card.json")
			o, err := simfile.Open(path, tt.opts)
			require.NoError(t, err)
			assert.True(t, o.Created)
			assert.Equal(t, tt.kind, o.Kind)
			assert.Contains(t, o.Desc, tt.desc)
			_, err = os.Stat(path)
			require.NoError(t, err)

			// Loaded again, whatever kind is asked for a new card.
			again, err := simfile.Open(path, simfile.Options{Kind: simfile.KindPIV})
			require.NoError(t, err)
			assert.False(t, again.Created)
			assert.Equal(t, tt.kind, again.Kind)
		})
	}
}

func TestOpenRefusesWhatItCannotLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "card.json")
	require.NoError(t, os.WriteFile(path, []byte(`{"not":"a card"}`), 0o600))
	_, err := simfile.Open(path, simfile.Options{})
	require.Error(t, err)
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, `{"not":"a card"}`, string(b), "never overwritten")

	_, err = simfile.Open("", simfile.Options{})
	assert.Error(t, err)
	_, err = simfile.Open(path, simfile.Options{Kind: "java"})
	assert.Error(t, err)
}

func TestSaverWritesOnlyChanges(t *testing.T) {
	path := filepath.Join(t.TempDir(), "card.json")
	o, err := simfile.Open(path, simfile.Options{})
	require.NoError(t, err)
	sv, err := simfile.NewSaver(o.Card, path)
	require.NoError(t, err)
	changed, err := sv.SaveIfChanged()
	require.NoError(t, err)
	assert.False(t, changed)

	// A wrong PIN changes the card's state (its retry counter).
	o.Card.Transmit([]byte{0x00, 0xA4, 0x04, 0x00, 0x05, 0xA0, 0x00, 0x00, 0x03, 0x08})
	rsp := o.Card.Transmit([]byte{0x00, 0x20, 0x00, 0x80, 0x08, '0', '0', '0', '0', '0', '0', 0xFF, 0xFF})
	require.Equal(t, []byte{0x63, 0xC2}, rsp)
	changed, err = sv.SaveIfChanged()
	require.NoError(t, err)
	assert.True(t, changed)
	loaded, err := piv.LoadFile(path, piv.Config{})
	require.NoError(t, err)
	loaded.Transmit([]byte{0x00, 0xA4, 0x04, 0x00, 0x05, 0xA0, 0x00, 0x00, 0x03, 0x08})
	assert.Equal(t, []byte{0x63, 0xC2}, loaded.Transmit([]byte{0x00, 0x20, 0x00, 0x80}))
}

func ExampleOpen() {
	dir, _ := os.MkdirTemp("", "simfile")
	defer os.RemoveAll(dir)
	o, err := simfile.Open(filepath.Join(dir, "card.json"), simfile.Options{PIV: piv.Config{Serial: 1234}})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(o.Created, o.Kind, o.Desc)
	// Output: true piv PIV card 1234 (yubikey-5.7, firmware 5.7.1)
}

// TestOpenProfile: every documented profile of each kind makes a new card
// of that family; a loaded card keeps its own profile whatever is asked;
// a name that is not a profile of the kind is refused, also when loading.
func TestOpenProfile(t *testing.T) {
	for _, kind := range []string{simfile.KindPIV, simfile.KindGIDS} {
		names := simfile.ProfileNames(kind)
		require.NotEmpty(t, names)
		for i, name := range names {
			t.Run(kind+"/"+name, func(t *testing.T) {
				path := filepath.Join(t.TempDir(), "card.json")
				o, err := simfile.Open(path, simfile.Options{Kind: kind, Profile: name, GIDS: gids.Config{Initialized: true}})
				require.NoError(t, err)
				assert.True(t, o.Created)
				assert.Equal(t, kind, o.Kind)
				assert.Equal(t, name, o.Profile)
				assert.Contains(t, o.Desc, name)

				other := names[(i+1)%len(names)]
				again, err := simfile.Open(path, simfile.Options{Kind: kind, Profile: other})
				require.NoError(t, err)
				assert.False(t, again.Created)
				assert.Equal(t, name, again.Profile, "the state file keeps its profile")
			})
		}
	}

	path := filepath.Join(t.TempDir(), "card.json")
	_, err := simfile.Open(path, simfile.Options{Kind: simfile.KindGIDS, Profile: "yubikey-5.7"})
	assert.ErrorIs(t, err, simfile.ErrUnknownProfile, "a PIV profile for a GIDS card")
	assert.ErrorContains(t, err, "gids-rsa-ec", "the error lists the kind's profiles")
	_, err = os.Stat(path)
	assert.ErrorIs(t, err, os.ErrNotExist, "no card made")
	_, err = simfile.Open(path, simfile.Options{})
	require.NoError(t, err)
	_, err = simfile.Open(path, simfile.Options{Profile: "yubikey-99"})
	assert.ErrorIs(t, err, simfile.ErrUnknownProfile, "checked when loading too")
}

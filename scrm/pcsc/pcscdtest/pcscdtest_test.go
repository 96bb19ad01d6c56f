package pcscdtest

import (
	"os"
	"path/filepath"
	"testing"

	simpiv "github.com/cardmod/cardmod/cardsim/piv"
	"github.com/cardmod/cardmod/scrm"
	"github.com/cardmod/cardmod/scrm/virtual"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSlots(t *testing.T) {
	tests := []struct {
		name    string
		readers string
		host    string
		want    []Slot
		wantErr bool
	}{
		{"default", "", "", []Slot{{"127.0.0.1:35963", "Virtual PCD 00 00"}, {"127.0.0.1:35964", "Virtual PCD 00 01"}}, false},
		{"configured", "35965=Virtual PCD 35965 00 00; 35966=Virtual PCD 35965 00 01;", "::1",
			[]Slot{{"[::1]:35965", "Virtual PCD 35965 00 00"}, {"[::1]:35966", "Virtual PCD 35965 00 01"}}, false},
		{"no name", "35963=", "", nil, true},
		{"bad port", "x=Virtual PCD 00 00", "", nil, true},
		{"port out of range", "70000=Virtual PCD 00 00", "", nil, true},
		{"only separators", ";;", "", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(EnvReaders, tt.readers)
			t.Setenv(EnvHost, tt.host)
			got, err := Slots()
			if tt.wantErr {
				assert.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestSlotLocks(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "slot.lock")
	unlock, ok, err := tryLock(path)
	require.NoError(t, err)
	require.True(t, ok)
	_, ok, err = tryLock(path)
	require.NoError(t, err)
	assert.False(t, ok, "a held slot is not handed out twice")
	unlock()
	unlock2, ok, err := tryLock(path)
	require.NoError(t, err)
	assert.True(t, ok, "a released slot can be taken again")
	unlock2()
}

func TestRequireSkipsWhenDisabled(t *testing.T) {
	t.Setenv(EnvEnable, "")
	ran := false
	t.Run("inner", func(t *testing.T) {
		Require(t)
		ran = true
	})
	assert.False(t, ran, "Require must skip without "+EnvEnable)
}

// TestIsolated: the backend of Env.Isolated shows the readers the Env holds
// and no other, to every call, and follows acquisition and release.
func TestIsolated(t *testing.T) {
	vb := virtual.NewBackend()
	card, err := simpiv.New(simpiv.Config{})
	require.NoError(t, err)
	vb.AddReader("Mine").Insert(card)
	vb.AddReader("Theirs").Insert(card)
	e := &Env{held: map[string]*Reader{}, owned: map[string]bool{"Mine": true}}
	b := &isolated{Backend: vb, e: e}
	ctx := t.Context()

	names, err := b.ListReaders(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{"Mine"}, names)

	_, err = b.Connect(ctx, "Theirs", scrm.ShareShared, scrm.ProtocolAny)
	assert.ErrorIs(t, err, scrm.ErrUnknownReader)
	assert.ErrorIs(t, b.GetStatusChange(ctx, []scrm.ReaderState{{Reader: "Mine"}, {Reader: "Theirs"}}), scrm.ErrUnknownReader)
	st := []scrm.ReaderState{{Reader: "Mine"}, {Reader: scrm.PnPNotification}}
	require.NoError(t, b.GetStatusChange(ctx, st))
	assert.True(t, st[0].Event.Has(scrm.StatePresent))
	c, err := b.Connect(ctx, "Mine", scrm.ShareShared, scrm.ProtocolAny)
	require.NoError(t, err)
	require.NoError(t, c.Disconnect(scrm.LeaveCard))

	e.mu.Lock()
	delete(e.owned, "Mine") // as Reader.Release does
	e.mu.Unlock()
	names, err = b.ListReaders(ctx)
	assert.ErrorIs(t, err, scrm.ErrNoReadersAvailable)
	assert.Empty(t, names)
}

// TestOpenSCConf: OpenSC is told to ignore every vpcd reader of the bed but
// the test's.
func TestOpenSCConf(t *testing.T) {
	t.Setenv(EnvReaders, "35963=Virtual PCD 00 00;35964=Virtual PCD 00 01;35965=Virtual PCD 35965 00 00")
	conf, err := os.ReadFile(OpenSCConf(t, "Virtual PCD 00 01"))
	require.NoError(t, err)
	assert.Contains(t, string(conf), `ignored_readers = "Virtual PCD 00 00", "Virtual PCD 35965 00 00";`)
	assert.Contains(t, string(conf), "max_virtual_slots = 128;")

	conf, err = os.ReadFile(OpenSCConf(t, "Virtual PCD 00 00", "Virtual PCD 00 01", "Virtual PCD 35965 00 00"))
	require.NoError(t, err)
	assert.NotContains(t, string(conf), "ignored_readers", "nothing to ignore")
}

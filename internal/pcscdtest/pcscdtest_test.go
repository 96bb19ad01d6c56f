package pcscdtest

import (
	"path/filepath"
	"testing"

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

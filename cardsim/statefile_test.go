package cardsim_test

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cardmod/cardmod/cardsim"
)

func TestStateFiles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	require.NoError(t, cardsim.SaveFile(path, "x", func(w io.Writer) error { _, err := w.Write([]byte("state")); return err }))
	st, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm())

	got, err := cardsim.LoadFile(path, "x", func(r io.Reader) (string, error) {
		b, err := cardsim.ReadState(r, "x")
		return string(b), err
	})
	require.NoError(t, err)
	assert.Equal(t, "state", got)

	// A loader's LoadError gets the path; a missing file is a LoadError too.
	_, err = cardsim.LoadFile(path, "x", func(io.Reader) (int, error) {
		return 0, &cardsim.LoadError{Card: "x", Reason: "bad"}
	})
	var le *cardsim.LoadError
	require.ErrorAs(t, err, &le)
	assert.Equal(t, path, le.Path)
	_, err = cardsim.LoadFile(filepath.Join(t.TempDir(), "none"), "x", func(io.Reader) (int, error) { return 0, nil })
	assert.ErrorIs(t, err, fs.ErrNotExist)

	// A failed save leaves the old state.
	boom := errors.New("boom")
	assert.ErrorIs(t, cardsim.SaveFile(path, "x", func(io.Writer) error { return boom }), boom)
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, "state", string(b))
}

func TestReadStateBound(t *testing.T) {
	_, err := cardsim.ReadState(io.LimitReader(zeros{}, cardsim.MaxStateSize+10), "x")
	var le *cardsim.LoadError
	assert.ErrorAs(t, err, &le)
	b, err := cardsim.ReadState(bytes.NewReader([]byte("{}")), "x")
	require.NoError(t, err)
	assert.Equal(t, "{}", string(b))
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

package cspcore_test

import (
	"bytes"
	"errors"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cardmod/cardmod/cardfs"
	"github.com/cardmod/cardmod/internal/cspcore"
	"github.com/cardmod/cardmod/internal/engine"
	"github.com/cardmod/cardmod/minidriver/plugins"
	"github.com/cardmod/cardmod/scrm/virtual"
)

var errBad = errors.New("test: bad name")

func TestParseName(t *testing.T) {
	for _, c := range []struct {
		name, reader, container string
		bad                     bool
	}{
		{`\\.\R\box`, "R", "box", false},
		{`\\.\R\`, "R", "", false},
		{`\\.\R`, "R", "", false},
		{`box`, "", "box", false},
		{``, "", "", false},
		{`\\.\`, "", "", true},
		{`a\b`, "", "", true},
		{`\\.\R\a\b`, "", "", true},
	} {
		r, ct, err := cspcore.ParseName(c.name, errBad)
		if c.bad {
			assert.ErrorIs(t, err, errBad, c.name)
			continue
		}
		require.NoError(t, err, c.name)
		assert.Equal(t, c.reader, r, c.name)
		assert.Equal(t, c.container, ct, c.name)
	}
	_, _, err := cspcore.ParseName(`a\b`, errBad)
	assert.ErrorIs(t, err, cardfs.ErrInvalidName)
}

func TestDiskCacheDir(t *testing.T) {
	d, err := cspcore.DiskCacheDir("/x", true, false)
	require.NoError(t, err)
	assert.Equal(t, "/x", d)
	d, err = cspcore.DiskCacheDir("", false, false)
	require.NoError(t, err)
	assert.Empty(t, d)
	d, err = cspcore.DiskCacheDir("", true, true)
	require.NoError(t, err)
	assert.Empty(t, d, "NoCache wins")
	t.Setenv("XDG_CACHE_HOME", "/tmp/cachehome")
	d, err = cspcore.DiskCacheDir("", true, false)
	require.NoError(t, err)
	assert.Equal(t, "/tmp/cachehome/cardmod", d)
}

func TestNewAndGUID(t *testing.T) {
	e, err := engine.New(engine.Config{Backend: virtual.NewBackend(), Registry: plugins.NewRegistry()})
	require.NoError(t, err)
	defer e.Close()
	_, err = cspcore.New(cspcore.Config{Engine: e})
	assert.Error(t, err, "sentinels are required")
	c, err := cspcore.New(cspcore.Config{Engine: e, Prefix: "test", Rand: bytes.NewReader(make([]byte, 16)),
		ErrExists: errBad, ErrNoCertificate: errBad, ErrBadName: errBad})
	require.NoError(t, err)
	g, err := c.NewGUID()
	require.NoError(t, err)
	assert.Equal(t, "00000000-0000-4000-8000-000000000000", g)
	assert.Regexp(t, regexp.MustCompile(`^test: `), c.Errorf("x %d", 1).Error())
}

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
	"github.com/cardmod/cardmod/keystore"
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

func TestNewAndGUID(t *testing.T) {
	s := keystore.Config{Backend: virtual.NewBackend(), Rand: bytes.NewReader(make([]byte, 16))}
	_, err := cspcore.Open(s, cspcore.Config{Plugins: plugins.NewRegistry})
	assert.Error(t, err, "sentinels are required")
	c, err := cspcore.Open(s, cspcore.Config{Prefix: "test", Plugins: plugins.NewRegistry,
		ErrExists: errBad, ErrNoCertificate: errBad, ErrBadName: errBad, ErrClosed: errBad})
	require.NoError(t, err)
	defer c.Close()
	g, err := c.NewGUID()
	require.NoError(t, err)
	assert.Equal(t, "00000000-0000-4000-8000-000000000000", g)
	assert.Regexp(t, regexp.MustCompile(`^test: `), c.Errorf("x %d", 1).Error())
}

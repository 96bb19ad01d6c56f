package cspcore_test

import (
	"bytes"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cardmod/cardmod/internal/cspcore"
	"github.com/cardmod/cardmod/keystore"
	"github.com/cardmod/cardmod/minidriver/plugins"
	"github.com/cardmod/cardmod/scrm/virtual"
)

func TestNewAndGUID(t *testing.T) {
	s := keystore.Config{Backend: virtual.NewBackend(), Rand: bytes.NewReader(make([]byte, 16))}
	_, err := cspcore.Open(s, cspcore.Config{Prefix: "test"})
	assert.Error(t, err, "the default plug-in list is required")
	c, err := cspcore.Open(s, cspcore.Config{Prefix: "test", Plugins: plugins.NewRegistry})
	require.NoError(t, err)
	defer c.Close()
	g, err := c.NewGUID()
	require.NoError(t, err)
	assert.Equal(t, "00000000-0000-4000-8000-000000000000", g)
	assert.Regexp(t, regexp.MustCompile(`^test: `), c.Errorf("x %d", 1).Error())
}

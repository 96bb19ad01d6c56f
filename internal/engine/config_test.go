package engine

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDiskCacheDir(t *testing.T) {
	dir := func(cacheDir string, use, noCache bool) (string, error) {
		c := config{CacheDir: cacheDir, UseDiskCache: use, NoCache: noCache}
		return c.diskCacheDir()
	}
	d, err := dir("/x", true, false)
	require.NoError(t, err)
	assert.Equal(t, "/x", d)
	d, err = dir("", false, false)
	require.NoError(t, err)
	assert.Empty(t, d)
	d, err = dir("", true, true)
	require.NoError(t, err)
	assert.Empty(t, d, "NoCache wins")
	t.Setenv("XDG_CACHE_HOME", "/tmp/cachehome")
	d, err = dir("", true, false)
	require.NoError(t, err)
	assert.Equal(t, "/tmp/cachehome/cardmod", d)
}

package gids_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/cardmod/cardmod/minidriver/gids"
)

// Container i's key reference is 81 + i, written in hex; an index no
// container can have is no key reference.
func TestKeyRefOf(t *testing.T) {
	assert.Equal(t, gids.KeyRef(0x81), gids.KeyRefOf(0))
	assert.Equal(t, "81", gids.KeyRefOf(0).String())
	assert.Equal(t, "8A", gids.KeyRefOf(9).String())
	assert.Equal(t, gids.KeyRef(0xFF), gids.KeyRefOf(gids.MaxContainers-1))
	assert.Zero(t, gids.KeyRefOf(gids.MaxContainers))
	assert.Zero(t, gids.KeyRefOf(-1))
}

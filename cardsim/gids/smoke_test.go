package gids_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/cardmod/cardmod/cardsim/gids"
)

func TestSmokeInitialized(t *testing.T) {
	tc := initialized(t)
	assert.Equal(t, gids.LifeCycleOperational, tc.c.LifeCycle())
	mf, sw := tc.getDO(0xA000, 0xDF1F)
	assert.Equal(t, uint16(0x9000), sw)
	assert.Len(t, mf, 4+141)
	assert.Equal(t, uint16(0x9000), tc.verify(gids.DefaultPIN))
}

package gids_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cardmod/cardmod/cardsim/gids"
)

// failingRand is a random source that has run dry.
type failingRand struct{}

func (failingRand) Read([]byte) (int, error) { return 0, errors.New("no entropy") }

// TestRandomSourceFails: a card whose random source fails answers 6F00
// where it needs randomness, and New reports it when initialization needs
// a cardid.
func TestRandomSourceFails(t *testing.T) {
	_, err := gids.New(gids.Config{Initialized: true, Rand: failingRand{}})
	require.Error(t, err)
	tc := selected(t, gids.Config{Initialized: true, CardID: make([]byte, 16), Rand: failingRand{}})
	tc.mustOK(0x22, 0xC1, 0xA4, h("83 01 80"))
	tc.wantSW(0x6F00, 0x87, 0, 0, tlv(0x7C, tlv(0x81, make([]byte, 16))))
	require.Equal(t, uint16(0x9000), tc.verify(gids.DefaultPIN))
	tc.createKeyFile(ecKeyFileFCP(0x81, gids.AlgECCP256))
	_, sw := tc.raw(short(0, 0x47, 0, 0, h("AC 06 80 01 0C 83 01 81"), false))
	assert.Equal(t, uint16(0x6F00), sw)
}

func TestConfigErrors(t *testing.T) {
	for name, cfg := range map[string]gids.Config{
		"PIN tries":   {PINTries: 16},
		"short PIN":   {Initialized: true, PIN: "123"},
		"long PIN":    {Initialized: true, PIN: "12345678901234567"},
		"admin key":   {AdminKey: make([]byte, 8)},
		"card id":     {Initialized: true, CardID: make([]byte, 8)},
		"tries below": {PINTries: -1},
	} {
		_, err := gids.New(cfg)
		assert.Errorf(t, err, "%s", name)
		if err != nil {
			assert.Contains(t, err.Error(), "gids: ")
		}
	}
}

func TestLifeCycleString(t *testing.T) {
	assert.Equal(t, "creation", gids.LifeCycleCreation.String())
	assert.Equal(t, "operational", gids.LifeCycleOperational.String())
	assert.Equal(t, "terminated", gids.LifeCycleTerminated.String())
	assert.Equal(t, "LifeCycle(0x2)", gids.LifeCycle(2).String())
}

// TestActivateAndTerminateErrors covers the parameter and target checks of
// ACTIVATE FILE and TERMINATE DF.
func TestActivateAndTerminateErrors(t *testing.T) {
	tc := initialized(t)
	tc.wantSW(0x6A86, 0x44, 0x01, 0x00, nil)
	tc.wantSW(0x6A82, 0x44, 0x00, 0x00, h("A0 99"))
	tc.mustOK(0x44, 0x00, 0x00, h("3F FF")) // already operational: nothing changes
	assert.Equal(t, gids.LifeCycleOperational, tc.c.LifeCycle())
	tc.mustOK(0x44, 0x00, 0x00, h("A0 10"))
	tc.wantSW(0x6A86, 0xE6, 0x01, 0x00, nil)
	tc.wantSW(0x6A86, 0xE4, 0x01, 0x00, nil)
	tc.wantSW(0x6A86, 0xA4, 0x02, 0x00, h("A0 10"))
}

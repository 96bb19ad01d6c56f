package cardsim_test

import (
	"errors"
	"io/fs"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/cardmod/cardmod/cardsim"
)

func TestLoadError(t *testing.T) {
	err := error(&cardsim.LoadError{Card: "piv", Path: "card.json", Reason: "opening", Err: fs.ErrNotExist})
	assert.Equal(t, "piv: cannot load card state from card.json: opening: file does not exist", err.Error())
	assert.ErrorIs(t, err, fs.ErrNotExist)
	var le *cardsim.LoadError
	assert.True(t, errors.As(err, &le))
	assert.Equal(t, "gids: cannot load card state: version 9: unsupported state version",
		(&cardsim.LoadError{Card: "gids", Reason: "version 9", Err: cardsim.ErrUnsupportedStateVersion}).Error())
}

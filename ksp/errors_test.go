package ksp_test

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	simpiv "github.com/cardmod/cardmod/cardsim/piv"
	"github.com/cardmod/cardmod/ksp"
	"github.com/cardmod/cardmod/scrm"
	"github.com/cardmod/cardmod/scrm/virtual"
)

// refusingCardCF is a PIV card whose PUT DATA of the cardcf object
// (5FFF20) fails with 6581, a memory failure (ISO/IEC 7816-4 5.6). (A
// 6A81 there would tell the plug-in the card has no room for cardcf, and
// the create goes on without it.)
type refusingCardCF struct{ *simpiv.Card }

func (c refusingCardCF) Transmit(apdu []byte) []byte {
	if len(apdu) > 5 && apdu[1] == 0xDB && bytes.Contains(apdu[5:], []byte{0x5C, 0x03, 0x5F, 0xFF, 0x20}) {
		return []byte{0x65, 0x81}
	}
	return c.Card.Transmit(apdu)
}

// TestFinalizeStorageFailureIsNotUnsupportedAlgorithm: a create that
// fails writing cardcf says so, and is not an unsupported algorithm.
func TestFinalizeStorageFailureIsNotUnsupportedAlgorithm(t *testing.T) {
	sim, err := simpiv.New(simpiv.Config{})
	require.NoError(t, err)
	b := virtual.NewBackend()
	b.AddReader(readerName).Insert(refusingCardCF{sim})
	f := &fixture{b: b, prompt: newPrompt(simpiv.DefaultPIN)}
	f.p = f.open(t, ksp.Config{})

	ctx := context.Background()
	k, err := f.p.CreatePersistedKey(ctx, "ec", ksp.ECDSAP256)
	require.NoError(t, err)
	err = k.Finalize(ctx)
	require.Error(t, err)
	assert.False(t, errors.Is(err, ksp.ErrUnsupportedAlgorithm), "P-256 is supported; the cardcf write failed: %v", err)
	assert.ErrorIs(t, err, scrm.ErrCardError, "the card's answer is kept")
	assert.Contains(t, err.Error(), "cardcf")
}

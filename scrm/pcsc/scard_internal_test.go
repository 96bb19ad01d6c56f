//go:build windows || (cgo && (darwin || cardmod_scard))

package pcsc

import (
	"testing"

	"github.com/ebfe/scard"
	"github.com/stretchr/testify/assert"

	"github.com/cardmod/cardmod/scrm"
)

func TestScardValuesMatch(t *testing.T) {
	// The values the shared backend passes to ebfe/scard as plain numbers.
	assert.Equal(t, uint32(scard.ShareShared), shareShared)
	assert.Equal(t, uint32(scard.ShareExclusive), shareExclusive)
	assert.Equal(t, uint32(scard.ShareDirect), shareDirect)
	assert.Equal(t, uint32(scard.ProtocolT0), protoT0)
	assert.Equal(t, uint32(scard.ProtocolT1), protoT1)
	assert.Equal(t, uint32(scard.ResetCard), resetCard)
	assert.Equal(t, uint32(scard.EjectCard), ejectCard)
	assert.Equal(t, uint32(scard.StatePresent), uint32(scrm.StatePresent))
	assert.Equal(t, uint32(scard.StateEmpty), uint32(scrm.StateEmpty))
	assert.Equal(t, uint32(scard.StateChanged), uint32(scrm.StateChanged))
	assert.Equal(t, uint32(scard.StateUnpowered), uint32(scrm.StateUnpowered))
	assert.ErrorIs(t, scardErr(scard.Error(0x80100069)), scrm.ErrRemovedCard)
	if scard.CtlCode(3400) != CtlCode(3400) {
		t.Errorf("CtlCode(3400) = %#x, ebfe/scard says %#x", CtlCode(3400), scard.CtlCode(3400))
	}
}

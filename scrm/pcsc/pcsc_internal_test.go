//go:build cgo || windows

package pcsc

import (
	"errors"
	"testing"

	"github.com/ebfe/scard"
	"github.com/stretchr/testify/assert"

	"github.com/cardmod/cardmod/scrm"
)

func TestCodeMapping(t *testing.T) {
	tests := []struct {
		goos string
		in   uint32
		want scrm.Code
	}{
		{"linux", 0x80100069, scrm.ErrRemovedCard},
		{"linux", 0x80100068, scrm.ErrResetCard},
		{"linux", 0x8010001D, scrm.ErrNoService},
		{"linux", 0x8010001F, scrm.ErrUnsupportedFeature},
		{"windows", 0x8010001F, scrm.ErrUnexpected},
		{"windows", 0x80100022, scrm.ErrUnsupportedFeature},
		{"darwin", 0x8010000A, scrm.ErrTimeout},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, codeFor(tt.goos, tt.in), "%s %#x", tt.goos, tt.in)
	}
	err := wrap("transmit", scard.Error(0x80100069))
	assert.ErrorIs(t, err, scrm.ErrRemovedCard)
	other := errors.New("x")
	assert.ErrorIs(t, wrap("op", other), other)
	assert.True(t, staleContext(scard.Error(0x8010001D)))
	assert.False(t, staleContext(scard.Error(0x80100069)))
	assert.False(t, staleContext(other))
}

func TestStateMapping(t *testing.T) {
	tests := []struct {
		goos string
		in   uint32
		want scrm.CardState
	}{
		{"linux", 0x0034, scrm.CardStatePresent | scrm.CardStatePowered | scrm.CardStateNegotiable},
		{"linux", 0x00030054, scrm.CardStatePresent | scrm.CardStatePowered | scrm.CardStateSpecific},
		{"linux", 0x0002, scrm.CardStateAbsent},
		{"linux", 0, scrm.CardStateUnknown},
		{"windows", 6, scrm.CardStateSpecific},
		{"windows", 1, scrm.CardStateAbsent},
		{"windows", 0, scrm.CardStateUnknown},
		{"windows", 99, scrm.CardStateUnknown},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, cardStateFor(tt.goos, tt.in), "%s %#x", tt.goos, tt.in)
	}
	// Reader state flags share their values with ebfe/scard.
	assert.Equal(t, uint32(scard.StatePresent), uint32(scrm.StatePresent))
	assert.Equal(t, uint32(scard.StateEmpty), uint32(scrm.StateEmpty))
	assert.Equal(t, uint32(scard.StateChanged), uint32(scrm.StateChanged))
	assert.Equal(t, uint32(scard.StateUnpowered), uint32(scrm.StateUnpowered))
}

func TestArgumentMapping(t *testing.T) {
	m, err := shareMode(scrm.ShareShared)
	assert.NoError(t, err)
	assert.Equal(t, scard.ShareShared, m)
	m, err = shareMode(scrm.ShareExclusive)
	assert.NoError(t, err)
	assert.Equal(t, scard.ShareExclusive, m)
	m, err = shareMode(scrm.ShareDirect)
	assert.NoError(t, err)
	assert.Equal(t, scard.ShareDirect, m)
	_, err = shareMode(7)
	assert.ErrorIs(t, err, scrm.ErrInvalidValue)

	assert.Equal(t, scard.ProtocolT0|scard.ProtocolT1, protocols(scrm.ShareShared, scrm.ProtocolAny))
	assert.Equal(t, scard.ProtocolUndefined, protocols(scrm.ShareDirect, scrm.ProtocolAny))
	assert.Equal(t, scard.ProtocolT1, protocols(scrm.ShareShared, scrm.ProtocolT1))

	for d, want := range map[scrm.Disposition]scard.Disposition{
		scrm.LeaveCard: scard.LeaveCard, scrm.ResetCard: scard.ResetCard,
		scrm.UnpowerCard: scard.UnpowerCard, scrm.EjectCard: scard.EjectCard,
	} {
		got, err := disposition(d)
		assert.NoError(t, err)
		assert.Equal(t, want, got)
	}
	_, err = disposition(9)
	assert.ErrorIs(t, err, scrm.ErrInvalidValue)
}

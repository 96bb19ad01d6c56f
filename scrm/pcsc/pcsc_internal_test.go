package pcsc

import (
	"errors"
	"fmt"
	"testing"

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
	err := wrap("transmit", scrm.Code(0x80100069))
	assert.ErrorIs(t, err, scrm.ErrRemovedCard)
	other := errors.New("x")
	assert.ErrorIs(t, wrap("op", other), other)
	assert.True(t, staleContext(scrm.ErrNoService))
	assert.True(t, staleContext(fmt.Errorf("x: %w", scrm.ErrCommError)))
	assert.False(t, staleContext(scrm.ErrRemovedCard))
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
}

func TestArgumentMapping(t *testing.T) {
	m, err := shareMode(scrm.ShareShared)
	assert.NoError(t, err)
	assert.Equal(t, shareShared, m)
	m, err = shareMode(scrm.ShareExclusive)
	assert.NoError(t, err)
	assert.Equal(t, shareExclusive, m)
	m, err = shareMode(scrm.ShareDirect)
	assert.NoError(t, err)
	assert.Equal(t, shareDirect, m)
	_, err = shareMode(7)
	assert.ErrorIs(t, err, scrm.ErrInvalidValue)

	assert.Equal(t, protoT0|protoT1, protocols(scrm.ShareShared, scrm.ProtocolAny))
	assert.Equal(t, protoUndefined, protocols(scrm.ShareDirect, scrm.ProtocolAny))
	assert.Equal(t, protoT1, protocols(scrm.ShareShared, scrm.ProtocolT1))

	for d, want := range map[scrm.Disposition]uint32{
		scrm.LeaveCard: leaveCard, scrm.ResetCard: resetCard,
		scrm.UnpowerCard: unpowerCard, scrm.EjectCard: ejectCard,
	} {
		got, err := disposition(d)
		assert.NoError(t, err)
		assert.Equal(t, want, got)
	}
	_, err = disposition(9)
	assert.ErrorIs(t, err, scrm.ErrInvalidValue)
}

func TestCtlCode(t *testing.T) {
	assert.Equal(t, uint32(0x42000D48), ctlCodeFor("linux", 3400), "CM_IOCTL_GET_FEATURE_REQUEST on pcsc-lite")
	assert.Equal(t, uint32(0x00313520), ctlCodeFor("windows", 3400), "CM_IOCTL_GET_FEATURE_REQUEST on WinSCard")
	assert.Equal(t, uint32(0x42000D48), ctlCodeFor("darwin", 3400))
}

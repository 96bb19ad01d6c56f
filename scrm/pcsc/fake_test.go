package pcsc_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cardmod/cardmod/scrm"
	"github.com/cardmod/cardmod/scrm/pcsc"
	"github.com/cardmod/cardmod/scrm/pcsc/internal/fakepcscd"
	"github.com/cardmod/cardmod/scrm/pcsc/internal/pcsclite"
)

func fakeBackend(t *testing.T, s *fakepcscd.Server) *pcsc.Backend {
	t.Helper()
	b, err := pcsc.NewPureGo(testCtx(t), pcsclite.Config{SocketPath: s.Path()})
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Release() })
	return b
}

// TestReaderFeatures reads the PC/SC part 10 features, the TLV properties
// (the maximum APDU size) and an attribute through the backend.
func TestReaderFeatures(t *testing.T) {
	s := fakepcscd.Start(t, fakepcscd.Config{})
	s.AddReader("R 00 00")
	s.Insert("R 00 00", tinyATR)
	b := fakeBackend(t, s)
	ctx := testCtx(t)
	c := connect(t, b, "R 00 00", scrm.ShareShared).(*pcsc.Conn)

	feats, err := c.Features(ctx)
	require.NoError(t, err)
	assert.Equal(t, map[pcsc.Feature]uint32{pcsc.FeatureVerifyPINDirect: 0x42330006, pcsc.FeatureGetTLVProperties: fakepcscd.IoctlTLV}, feats)
	n, err := c.MaxAPDUSize(ctx)
	require.NoError(t, err)
	assert.Equal(t, fakepcscd.MaxAPDU, n)
	props, err := c.TLVProperties(ctx)
	require.NoError(t, err)
	v, ok := pcsc.PropertyUint(props, pcsc.PropertyMaxPINSize)
	assert.True(t, ok)
	assert.Equal(t, uint32(4), v)
	atr, err := c.GetAttrib(pcsc.AttrATRString)
	require.NoError(t, err)
	assert.Equal(t, tinyATR, atr)
	_, err = c.Control(ctx, pcsc.CtlCode(1), nil)
	assert.ErrorIs(t, err, scrm.ErrUnsupportedFeature)
}

// TestPcscdRestart: pcscd dies during a transmit and during a wait; the
// calls fail with a clear error, and once pcscd is back the backend lists
// readers again (it re-establishes its context) and new connections and
// waits work.
func TestPcscdRestart(t *testing.T) {
	s := fakepcscd.Start(t, fakepcscd.Config{})
	s.AddReader("R 00 00")
	s.Insert("R 00 00", tinyATR)
	b := fakeBackend(t, s)
	ctx := testCtx(t)
	c := connect(t, b, "R 00 00", scrm.ShareShared)
	_, err := b.ListReaders(ctx)
	require.NoError(t, err)

	s.SetHook(0x09, fakepcscd.Hook{Kill: true})
	_, err = c.Transmit(ctx, cmdState)
	require.ErrorIs(t, err, scrm.ErrCommError)
	assert.Contains(t, err.Error(), "connection to pcscd lost")
	_, err = b.ListReaders(ctx)
	assert.ErrorIs(t, err, scrm.ErrNoService, "pcscd is down")

	s.SetHook(0x09, fakepcscd.Hook{})
	s.Restart()
	s.SetHook(0x13, fakepcscd.Hook{Kill: true}) // dies during the next wait
	st := []scrm.ReaderState{{Reader: "R 00 00"}}
	err = b.GetStatusChange(ctx, st)
	require.ErrorIs(t, err, scrm.ErrCommError)

	s.SetHook(0x13, fakepcscd.Hook{})
	s.Restart()
	readers, err := b.ListReaders(ctx)
	require.NoError(t, err, "the backend's context is established again")
	assert.Equal(t, []string{"R 00 00"}, readers)
	require.NoError(t, b.GetStatusChange(ctx, st))
	assert.True(t, st[0].Event.Has(scrm.StatePresent))
	c2 := connect(t, b, "R 00 00", scrm.ShareShared)
	rsp, err := c2.Transmit(ctx, cmdState)
	require.NoError(t, err)
	assert.Equal(t, append(cmdState, 0x90, 0x00), rsp)
	_, err = c.Transmit(ctx, cmdState)
	assert.ErrorIs(t, err, scrm.ErrCommError, "a connection from before the restart stays broken")
}

// TestFakeWaitCancel: Release cancels a wait registered in pcscd (the fake
// counts registrations), through SCARD_CANCEL.
func TestFakeWaitCancel(t *testing.T) {
	s := fakepcscd.Start(t, fakepcscd.Config{Version: pcsclite.Version45, Policy: fakepcscd.Tolerant})
	s.AddReader("R 00 00")
	b := fakeBackend(t, s)
	ctx := testCtx(t)
	st := []scrm.ReaderState{{Reader: "R 00 00", Current: scrm.StateEmpty}}
	done := make(chan error, 1)
	go func() { done <- b.GetStatusChange(ctx, st) }()
	require.Eventually(t, func() bool { return s.Waiting() == 1 }, 10*time.Second, time.Millisecond)
	require.NoError(t, b.Release())
	assert.Zero(t, s.Waiting())
	assert.ErrorIs(t, <-done, scrm.ErrCancelled)

	// A deadline is ErrTimeout, and pcscd forgets the wait.
	b2 := fakeBackend(t, s)
	tctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	assert.ErrorIs(t, b2.GetStatusChange(tctx, st), scrm.ErrTimeout)
	assert.Zero(t, s.Waiting())
}

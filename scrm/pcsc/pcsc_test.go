package pcsc_test

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cardmod/cardmod/scrm"
	"github.com/cardmod/cardmod/scrm/pcsc"
	"github.com/cardmod/cardmod/scrm/pcsc/pcscdtest"
)

// tinyCard answers SELECT (sets a "selected" flag that a reset clears),
// ECHO (INS 01: the data back) and STATE (INS 02: one byte, 1 when
// selected). Everything else gets 6D00.
type tinyCard struct {
	mu       sync.Mutex
	selected bool
	resets   atomic.Int32
}

var tinyATR = []byte{0x3B, 0x80, 0x80, 0x01, 0x01}

func (c *tinyCard) ATR() []byte { return tinyATR }

func (c *tinyCard) Reset() {
	c.mu.Lock()
	c.selected = false
	c.mu.Unlock()
	c.resets.Add(1)
}

func (c *tinyCard) Transmit(apdu []byte) []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(apdu) < 4 {
		return []byte{0x67, 0x00}
	}
	switch apdu[1] {
	case 0xA4:
		c.selected = true
		return []byte{0x90, 0x00}
	case 0x01:
		if len(apdu) < 5 || len(apdu) < 5+int(apdu[4]) {
			return []byte{0x90, 0x00}
		}
		return append(append([]byte(nil), apdu[5:5+int(apdu[4])]...), 0x90, 0x00)
	case 0x02:
		if c.selected {
			return []byte{0x01, 0x90, 0x00}
		}
		return []byte{0x00, 0x90, 0x00}
	}
	return []byte{0x6D, 0x00}
}

var (
	cmdSelect = []byte{0x00, 0xA4, 0x04, 0x00, 0x02, 0xF0, 0x01}
	cmdState  = []byte{0x00, 0x02, 0x00, 0x00, 0x01}
)

func cmdEcho(data ...byte) []byte {
	return append([]byte{0x00, 0x01, 0x00, 0x00, byte(len(data))}, data...)
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func connect(t testing.TB, b *pcsc.Backend, reader string, share scrm.ShareMode) scrm.Conn {
	t.Helper()
	c, err := b.Connect(testCtx(t), reader, share, scrm.ProtocolAny)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Disconnect(scrm.LeaveCard) })
	return c
}

func TestListReadersAndState(t *testing.T) {
	t.Parallel()
	env := pcscdtest.Require(t)
	reader, _ := env.InsertTB(t, &tinyCard{})
	b := env.Backend(t)
	ctx := testCtx(t)

	readers, err := b.ListReaders(ctx)
	require.NoError(t, err)
	assert.Contains(t, readers, reader)

	st := []scrm.ReaderState{{Reader: reader}, {Reader: scrm.PnPNotification}}
	require.NoError(t, b.GetStatusChange(ctx, st))
	assert.True(t, st[0].Event.Has(scrm.StatePresent|scrm.StateChanged), "event %#x", st[0].Event)
	assert.Equal(t, tinyATR, st[0].ATR)
	assert.Nil(t, st[1].ATR)
}

func TestConnectTransmitStatus(t *testing.T) {
	t.Parallel()
	env := pcscdtest.Require(t)
	reader, _ := env.InsertTB(t, &tinyCard{})
	b := env.Backend(t)
	ctx := testCtx(t)
	c := connect(t, b, reader, scrm.ShareShared)

	rsp, err := c.Transmit(ctx, cmdSelect)
	require.NoError(t, err)
	assert.Equal(t, []byte{0x90, 0x00}, rsp)
	rsp, err = c.Transmit(ctx, cmdEcho(1, 2, 3))
	require.NoError(t, err)
	assert.Equal(t, []byte{1, 2, 3, 0x90, 0x00}, rsp)

	st, err := c.Status()
	require.NoError(t, err)
	assert.Equal(t, reader, st.Reader)
	assert.Equal(t, tinyATR, st.ATR)
	assert.Equal(t, scrm.ProtocolT1, st.Protocol)
	assert.NotZero(t, st.State&scrm.CardStatePresent, "state %#x", st.State)
	assert.Zero(t, st.State&^0x7F, "no event counter in the state")

	// What makes ebfe/scard panic is an error here.
	_, err = c.Transmit(ctx, nil)
	assert.ErrorIs(t, err, scrm.ErrInvalidParameter)

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	_, err = c.Transmit(cancelled, cmdState)
	assert.ErrorIs(t, err, scrm.ErrCancelled)
	assert.ErrorIs(t, err, context.Canceled)

	require.NoError(t, c.Disconnect(scrm.LeaveCard))
	assert.ErrorIs(t, c.Disconnect(scrm.LeaveCard), scrm.ErrClosed)
	_, err = c.Transmit(ctx, cmdState)
	assert.ErrorIs(t, err, scrm.ErrClosed)
}

func TestConnectErrors(t *testing.T) {
	t.Parallel()
	env := pcscdtest.Require(t)
	b := env.Backend(t)
	ctx := testCtx(t)

	_, err := b.Connect(ctx, "no such reader", scrm.ShareShared, scrm.ProtocolAny)
	assert.ErrorIs(t, err, scrm.ErrUnknownReader)
	_, err = b.Connect(ctx, "no such reader", scrm.ShareMode(9), scrm.ProtocolAny)
	assert.ErrorIs(t, err, scrm.ErrInvalidValue)

	// An empty reader: shared connections fail, a direct one works but
	// has no protocol to transmit with.
	r, err := env.Acquire(ctx)
	require.NoError(t, err)
	defer func() { assert.NoError(t, r.Release()) }()
	_, err = b.Connect(ctx, r.Name, scrm.ShareShared, scrm.ProtocolAny)
	assert.ErrorIs(t, err, scrm.ErrNoSmartcard)
	direct, err := b.Connect(ctx, r.Name, scrm.ShareDirect, scrm.ProtocolAny)
	require.NoError(t, err)
	defer direct.Disconnect(scrm.LeaveCard)
	_, err = direct.Transmit(ctx, cmdState)
	assert.ErrorIs(t, err, scrm.ErrProtoMismatch)

	err = b.GetStatusChange(ctx, []scrm.ReaderState{{Reader: "no such reader"}})
	assert.ErrorIs(t, err, scrm.ErrUnknownReader)
	assert.ErrorIs(t, b.GetStatusChange(ctx, nil), scrm.ErrInvalidParameter)
}

func TestExclusive(t *testing.T) {
	t.Parallel()
	env := pcscdtest.Require(t)
	reader, _ := env.InsertTB(t, &tinyCard{})
	b := env.Backend(t)
	ex := connect(t, b, reader, scrm.ShareExclusive)
	_, err := b.Connect(testCtx(t), reader, scrm.ShareShared, scrm.ProtocolAny)
	assert.ErrorIs(t, err, scrm.ErrSharingViolation)
	require.NoError(t, ex.Disconnect(scrm.LeaveCard))
	connect(t, b, reader, scrm.ShareShared)
}

func TestTransactionsContend(t *testing.T) {
	t.Parallel()
	env := pcscdtest.Require(t)
	reader, _ := env.InsertTB(t, &tinyCard{})
	b := env.Backend(t)
	ctx := testCtx(t)
	a := connect(t, b, reader, scrm.ShareShared)
	o := connect(t, b, reader, scrm.ShareShared)

	require.NoError(t, a.BeginTransaction(ctx))
	var aEnded atomic.Bool
	oDone := make(chan error, 1)
	go func() {
		err := o.BeginTransaction(ctx)
		if err == nil && !aEnded.Load() {
			err = errors.New("second connection began while the first held the transaction")
		}
		if err == nil {
			_, err = o.Transmit(ctx, cmdEcho(2))
			if endErr := o.EndTransaction(scrm.LeaveCard); err == nil {
				err = endErr
			}
		}
		oDone <- err
	}()
	for i := range 3 {
		rsp, err := a.Transmit(ctx, cmdEcho(byte(i)))
		require.NoError(t, err)
		assert.Equal(t, []byte{byte(i), 0x90, 0x00}, rsp)
	}
	aEnded.Store(true)
	require.NoError(t, a.EndTransaction(scrm.LeaveCard))
	require.NoError(t, <-oDone)

	// A transaction asked for with a context already done is not taken.
	done, cancel := context.WithCancel(ctx)
	cancel()
	assert.ErrorIs(t, a.BeginTransaction(done), scrm.ErrCancelled)
	require.NoError(t, a.BeginTransaction(ctx))
	require.NoError(t, a.EndTransaction(scrm.LeaveCard))
}

func TestBeginTransactionCancelledWhileWaiting(t *testing.T) {
	t.Parallel()
	env := pcscdtest.Require(t)
	reader, _ := env.InsertTB(t, &tinyCard{})
	b := env.Backend(t)
	ctx := testCtx(t)
	a := connect(t, b, reader, scrm.ShareShared)
	o := connect(t, b, reader, scrm.ShareShared)

	require.NoError(t, a.BeginTransaction(ctx))
	octx, cancel := context.WithCancel(ctx)
	oDone := make(chan error, 1)
	go func() { oDone <- o.BeginTransaction(octx) }()
	// O may be waiting or not have started yet; cancelled either way, it
	// must not end up holding the transaction.
	cancel()
	// The pure-Go client stops polling at once; libpcsclite (ebfe/scard)
	// cannot be interrupted: its wait ends when A ends its transaction,
	// and the transaction O then obtains is given back.
	require.NoError(t, a.EndTransaction(scrm.LeaveCard))
	err := <-oDone
	assert.ErrorIs(t, err, scrm.ErrCancelled)
	require.NoError(t, a.BeginTransaction(ctx), "the cancelled waiter must not keep the transaction")
	require.NoError(t, a.EndTransaction(scrm.LeaveCard))
}

func TestRemovalSeenAsEventAndError(t *testing.T) {
	t.Parallel()
	env := pcscdtest.Require(t)
	reader, remove := env.InsertTB(t, &tinyCard{})
	b := env.Backend(t)
	ctx := testCtx(t)
	c := connect(t, b, reader, scrm.ShareShared)
	_, err := c.Transmit(ctx, cmdSelect)
	require.NoError(t, err)

	st := []scrm.ReaderState{{Reader: reader}}
	require.NoError(t, b.GetStatusChange(ctx, st))
	require.True(t, st[0].Event.Has(scrm.StatePresent))
	st[0].Update()
	count := st[0].EventCount()

	// Wait for the removal in the background while the card goes.
	waited := make(chan error, 1)
	go func() { waited <- b.GetStatusChange(ctx, st) }()
	remove()
	require.NoError(t, <-waited)
	assert.True(t, st[0].Event.Has(scrm.StateEmpty|scrm.StateChanged), "event %#x", st[0].Event)
	assert.NotEqual(t, count, st[0].EventCount(), "the event counter moves on removal")
	assert.Nil(t, st[0].ATR)

	_, err = c.Transmit(ctx, cmdState)
	assert.ErrorIs(t, err, scrm.ErrRemovedCard)
	_, err = c.Status()
	assert.ErrorIs(t, err, scrm.ErrRemovedCard)
	_, err = b.Connect(ctx, reader, scrm.ShareShared, scrm.ProtocolAny)
	assert.ErrorIs(t, err, scrm.ErrNoSmartcard)
}

func TestResetSeenByOtherThenReconnect(t *testing.T) {
	t.Parallel()
	env := pcscdtest.Require(t)
	card := &tinyCard{}
	reader, _ := env.InsertTB(t, card)
	b := env.Backend(t)
	ctx := testCtx(t)
	a := connect(t, b, reader, scrm.ShareShared)
	o := connect(t, b, reader, scrm.ShareShared)

	_, err := o.Transmit(ctx, cmdSelect)
	require.NoError(t, err)
	resets := card.resets.Load()

	require.NoError(t, a.BeginTransaction(ctx))
	require.NoError(t, a.EndTransaction(scrm.ResetCard))
	assert.Greater(t, card.resets.Load(), resets, "the card saw the reset")

	_, err = o.Transmit(ctx, cmdState)
	require.ErrorIs(t, err, scrm.ErrResetCard)
	require.NoError(t, o.Reconnect(scrm.ShareShared, scrm.ProtocolAny, scrm.LeaveCard))
	rsp, err := o.Transmit(ctx, cmdState)
	require.NoError(t, err)
	assert.Equal(t, []byte{0x00, 0x90, 0x00}, rsp, "the selection was lost with the reset")

	// The connection that reset the card learns it too, once.
	_, err = a.Transmit(ctx, cmdState)
	if err != nil {
		require.ErrorIs(t, err, scrm.ErrResetCard)
		require.NoError(t, a.Reconnect(scrm.ShareShared, scrm.ProtocolAny, scrm.LeaveCard))
		_, err = a.Transmit(ctx, cmdState)
	}
	require.NoError(t, err)

	assert.ErrorIs(t, a.Reconnect(scrm.ShareShared, scrm.ProtocolAny, scrm.Disposition(9)), scrm.ErrInvalidValue)
	assert.ErrorIs(t, a.EndTransaction(scrm.Disposition(9)), scrm.ErrInvalidValue)
}

func TestWaitHonoursCancellation(t *testing.T) {
	t.Parallel()
	env := pcscdtest.Require(t)
	reader, _ := env.InsertTB(t, &tinyCard{})
	b := env.Backend(t)
	ctx := testCtx(t)

	st := []scrm.ReaderState{{Reader: reader}}
	require.NoError(t, b.GetStatusChange(ctx, st))
	st[0].Update()

	// Two waits on one backend: cancelling one leaves the other waiting.
	ctx1, cancel1 := context.WithCancel(ctx)
	ctx2, cancel2 := context.WithCancel(ctx)
	defer cancel2()
	st1 := []scrm.ReaderState{st[0]}
	st2 := []scrm.ReaderState{st[0]}
	done1 := make(chan error, 1)
	done2 := make(chan error, 1)
	go func() { done1 <- b.GetStatusChange(ctx1, st1) }()
	go func() { done2 <- b.GetStatusChange(ctx2, st2) }()
	cancel1()
	select {
	case err := <-done1:
		assert.ErrorIs(t, err, scrm.ErrCancelled)
		assert.ErrorIs(t, err, context.Canceled)
	case <-time.After(20 * time.Second):
		t.Fatal("a cancelled wait did not return")
	}
	select {
	case err := <-done2:
		t.Fatalf("the other wait ended too: %v", err)
	default:
	}
	cancel2()
	assert.ErrorIs(t, <-done2, scrm.ErrCancelled)

	// A deadline is a timeout.
	tctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	err := b.GetStatusChange(tctx, st)
	assert.ErrorIs(t, err, scrm.ErrTimeout)
	assert.ErrorIs(t, err, context.DeadlineExceeded)

	// A wait cancelled before it starts does not reach pcscd.
	assert.ErrorIs(t, b.GetStatusChange(ctx1, st), scrm.ErrCancelled)

	// After all that, waits still work (pooled contexts are healthy).
	st[0].Current = scrm.StateUnaware
	require.NoError(t, b.GetStatusChange(ctx, st))
	assert.True(t, st[0].Event.Has(scrm.StatePresent))
}

func TestPnPNotificationWait(t *testing.T) {
	t.Parallel()
	env := pcscdtest.Require(t)
	b := env.Backend(t)
	// No reader comes or goes: the wait on the PnP pseudo-reader is
	// accepted and ends with the deadline.
	ctx, cancel := context.WithTimeout(testCtx(t), 300*time.Millisecond)
	defer cancel()
	st := []scrm.ReaderState{{Reader: scrm.PnPNotification}}
	assert.ErrorIs(t, b.GetStatusChange(ctx, st), scrm.ErrTimeout)
}

func TestReleaseCancelsWaits(t *testing.T) {
	t.Parallel()
	env := pcscdtest.Require(t)
	reader, _ := env.InsertTB(t, &tinyCard{})
	b, err := pcsc.New(testCtx(t))
	require.NoError(t, err)
	ctx := testCtx(t)
	st := []scrm.ReaderState{{Reader: reader}}
	require.NoError(t, b.GetStatusChange(ctx, st))
	st[0].Update()

	done := make(chan error, 1)
	go func() { done <- b.GetStatusChange(ctx, st) }()
	// Release once the wait is registered: it may not block in pcscd yet,
	// which the cancellation must cope with.
	require.Eventually(t, func() bool { return pcsc.ActiveWaits(b) == 1 }, 20*time.Second, time.Millisecond)
	require.NoError(t, b.Release())
	// Release returns once the wait has ended and given its PC/SC context
	// back; the goroutine that made it receives the result a moment
	// later, so the send on done is awaited, not polled.
	assert.Zero(t, pcsc.ActiveWaits(b), "Release returned before the wait it cancelled had ended")
	select {
	case err := <-done:
		assert.ErrorIs(t, err, scrm.ErrCancelled)
	case <-time.After(20 * time.Second):
		t.Fatal("the cancelled wait did not return")
	}
	require.NoError(t, b.Release(), "a second Release is a no-op")
	assert.ErrorIs(t, b.GetStatusChange(ctx, st), scrm.ErrClosed)
	_, err = b.ListReaders(ctx)
	assert.ErrorIs(t, err, scrm.ErrClosed)
	_, err = b.Connect(ctx, reader, scrm.ShareShared, scrm.ProtocolAny)
	assert.ErrorIs(t, err, scrm.ErrClosed)
}

func TestScrmCardOverPCSC(t *testing.T) {
	t.Parallel()
	env := pcscdtest.Require(t)
	reader, _ := env.InsertTB(t, &tinyCard{})
	sc := env.Context(t)
	ctx := testCtx(t)
	card, err := sc.Connect(ctx, reader, nil)
	require.NoError(t, err)
	defer card.Close(scrm.LeaveCard)

	rsp, err := card.Do(ctx, scrm.Command{INS: 0xA4, P1: 0x04, Data: []byte{0xF0, 0x01}})
	require.NoError(t, err)
	assert.Equal(t, uint16(0x9000), rsp.SW)
	rsp, err = card.Do(ctx, scrm.Command{INS: 0x01, Data: []byte{7, 8}, Ne: 2})
	require.NoError(t, err)
	assert.Equal(t, []byte{7, 8}, rsp.Data)
	_, err = card.Do(ctx, scrm.Command{INS: 0x55})
	assert.ErrorIs(t, err, scrm.ErrUnsupported)
	assert.Equal(t, tinyATR, card.ATR())
}

func TestNewWithDoneContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := pcsc.New(ctx)
	if errors.Is(err, scrm.ErrNoCGO) {
		return
	}
	assert.ErrorIs(t, err, scrm.ErrCancelled)
}

// BenchmarkTransmit measures one APDU round trip through pcscd and vpcd.
func BenchmarkTransmit(b *testing.B) {
	env := pcscdtest.Require(b)
	reader, _ := env.InsertTB(b, &tinyCard{})
	be := env.Backend(b)
	ctx := testCtx(b)
	c := connect(b, be, reader, scrm.ShareShared)
	cmd := cmdEcho(bytes.Repeat([]byte{0xA5}, 16)...)
	b.ReportAllocs()
	for b.Loop() {
		rsp, err := c.Transmit(ctx, cmd)
		if err != nil || len(rsp) != 18 {
			b.Fatalf("transmit: %x, %v", rsp, err)
		}
	}
	b.ReportMetric(1, "APDUs/op")
	b.ReportMetric(float64(len(cmd)), "bytes-sent/op")
	b.ReportMetric(18, "bytes-received/op")
}

// TestControlAndAttributesOnVpcd: vpcd's driver has no PC/SC part 10
// features and no attributes; both clients report what pcscd answers
// (SCARD_E_UNSUPPORTED_FEATURE, 0x8010001F in pcsc-lite) as
// scrm.ErrUnsupportedFeature, and pcscd's own answer for the friendly name
// through vpcd (SCARD_E_INSUFFICIENT_BUFFER) as it is.
func TestControlAndAttributesOnVpcd(t *testing.T) {
	t.Parallel()
	env := pcscdtest.Require(t)
	reader, _ := env.InsertTB(t, &tinyCard{})
	b := env.Backend(t)
	ctx := testCtx(t)
	c := connect(t, b, reader, scrm.ShareShared).(*pcsc.Conn)
	_, err := c.Features(ctx)
	assert.ErrorIs(t, err, scrm.ErrUnsupportedFeature)
	_, err = c.MaxAPDUSize(ctx)
	assert.ErrorIs(t, err, scrm.ErrUnsupportedFeature)
	_, err = c.GetAttrib(pcsc.AttrATRString)
	assert.ErrorIs(t, err, scrm.ErrUnsupportedFeature)
	_, err = c.GetAttrib(pcsc.AttrDeviceFriendlyName)
	assert.ErrorIs(t, err, scrm.ErrInsufficientBuffer)
	direct := connect(t, b, reader, scrm.ShareDirect).(*pcsc.Conn)
	_, err = direct.Control(ctx, pcsc.CtlCode(3400), nil)
	assert.ErrorIs(t, err, scrm.ErrUnsupportedFeature)
}

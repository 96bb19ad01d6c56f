package scrmtest

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
)

// Harness gives the behaviour suite a backend and hands to put simulated
// cards in its readers and take them out.
type Harness interface {
	// Context returns the context under test. The suite does not release
	// it.
	Context(t *testing.T) *scrm.Context
	// Insert presents card in a free reader and returns the reader's name
	// once the backend reports a card present there.
	Insert(t *testing.T, card Card) string
	// Remove takes the card out of reader and returns once the backend
	// reports the reader empty.
	Remove(t *testing.T, reader string)
}

// Run runs the behaviour suite against h: every scrm backend must pass it.
func Run(t *testing.T, h Harness) {
	t.Run("ListReaders", func(t *testing.T) { testListReaders(t, h) })
	t.Run("TransmitRaw", func(t *testing.T) { testTransmitRaw(t, h) })
	t.Run("DoISORules", func(t *testing.T) { testDoISORules(t, h) })
	t.Run("StatusWords", func(t *testing.T) { testStatusWords(t, h) })
	t.Run("BoundedRounds", func(t *testing.T) { testBoundedRounds(t, h) })
	t.Run("TransactionsContend", func(t *testing.T) { testTransactionsContend(t, h) })
	t.Run("Exclusive", func(t *testing.T) { testExclusive(t, h) })
	t.Run("ResetSeenByOther", func(t *testing.T) { testResetSeenByOther(t, h) })
	t.Run("Removal", func(t *testing.T) { testRemoval(t, h) })
	t.Run("WaitCancelled", func(t *testing.T) { testWaitCancelled(t, h) })
	t.Run("Stats", func(t *testing.T) { testStats(t, h) })
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func connect(t *testing.T, sc *scrm.Context, reader string, opts *scrm.ConnectOptions) *scrm.Card {
	t.Helper()
	card, err := sc.Connect(ctxT(t), reader, opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = card.Close(scrm.LeaveCard) })
	return card
}

func testListReaders(t *testing.T, h Harness) {
	sc := h.Context(t)
	reader := h.Insert(t, NewTestCard())
	readers, err := sc.ListReaders(ctxT(t))
	require.NoError(t, err)
	assert.Contains(t, readers, reader)

	atr, err := sc.WaitForCard(ctxT(t), reader)
	require.NoError(t, err)
	assert.Equal(t, TestATR, atr)

	st := []scrm.ReaderState{{Reader: reader}}
	require.NoError(t, sc.GetStatusChange(ctxT(t), st))
	assert.True(t, st[0].Event.Has(scrm.StatePresent), "event state %#x", st[0].Event)
	assert.True(t, st[0].Event.Has(scrm.StateChanged))
	assert.Equal(t, TestATR, st[0].ATR)
}

func testTransmitRaw(t *testing.T, h Harness) {
	sc := h.Context(t)
	reader := h.Insert(t, NewTestCard())
	card := connect(t, sc, reader, nil)
	assert.Equal(t, TestATR, card.ATR())
	assert.Equal(t, reader, card.Reader())

	rsp, err := card.Transmit(ctxT(t), []byte{0x00, InsEcho, 0, 0, 3, 'a', 'b', 'c', 0})
	require.NoError(t, err)
	assert.Equal(t, []byte{'a', 'b', 'c', 0x90, 0x00}, rsp)

	// Raw transmit leaves 61xx to the caller.
	rsp, err = card.Transmit(ctxT(t), []byte{0x00, InsGenerate, 0x01, 0x10, 0x00})
	require.NoError(t, err)
	require.Len(t, rsp, 258)
	assert.Equal(t, []byte{0x61, 0x10}, rsp[256:])

	_, err = card.Transmit(ctxT(t), []byte{0x00, 0x01})
	assert.ErrorIs(t, err, scrm.ErrInvalidCommand)
}

func testDoISORules(t *testing.T, h Harness) {
	sc := h.Context(t)
	reader := h.Insert(t, NewTestCard())
	card := connect(t, sc, reader, nil)
	ctx := ctxT(t)

	long := bytes.Repeat([]byte("0123456789"), 70) // 700 bytes: three chained parts
	tests := []struct {
		name  string
		cmd   scrm.Command
		want  []byte
		parts int
	}{
		{"short echo", scrm.Command{INS: InsEcho, Data: []byte("hi"), Ne: 256}, []byte("hi"), 1},
		{"chained echo", scrm.Command{INS: InsEcho, Data: long, Ne: scrm.MaxNe}, long, 3},
		{"long answer by 61xx", scrm.Command{INS: InsGenerate, P1: 0x03, P2: 0x00, Ne: scrm.MaxNe}, counting(0x300), 1},
		{"6Cxx resend", scrm.Command{INS: InsExactLe, P1: 0x20, Ne: 256}, bytes.Repeat([]byte{0xA5}, 0x20), 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rsp, err := card.Do(ctx, tc.cmd)
			require.NoError(t, err)
			assert.Equal(t, uint16(0x9000), rsp.SW)
			assert.Equal(t, tc.want, rsp.Data)
			cnt, err := card.Do(ctx, scrm.Command{INS: InsChainCount, Ne: 1})
			require.NoError(t, err)
			assert.Equal(t, []byte{byte(tc.parts)}, cnt.Data)
		})
	}
}

// testBoundedRounds: an answer at the MaxResponse bound in 256-byte
// blocks comes whole; a card that trickles its answer a byte per round, or
// that answers 6Cxx to the Le it asked for, fails fast with
// ErrTooManyRounds (a card fault, not ErrWrongLength), within the rounds
// an answer of MaxResponse bytes needs.
func testBoundedRounds(t *testing.T, h Harness) {
	sc := h.Context(t)
	reader := h.Insert(t, NewTestCard())
	const bound = 0xFFFF
	card := connect(t, sc, reader, &scrm.ConnectOptions{MaxResponse: bound})
	ctx := ctxT(t)

	rounds := func(f func()) int {
		before := card.Stats().APDUs
		f()
		return int(card.Stats().APDUs - before)
	}
	t.Run("answer at the bound", func(t *testing.T) {
		n := rounds(func() {
			rsp, err := card.Do(ctx, scrm.Command{INS: InsGenerate, P1: 0xFF, P2: 0xFF, Ne: scrm.MaxNe})
			require.NoError(t, err)
			assert.Equal(t, counting(bound), rsp.Data)
		})
		assert.Equal(t, (bound+255)/256, n, "one exchange per 256 bytes")
	})
	t.Run("short trickle", func(t *testing.T) {
		rsp, err := card.Do(ctx, scrm.Command{INS: InsTrickle, P1: 0, P2: 5, Ne: 256})
		require.NoError(t, err)
		assert.Equal(t, counting(5), rsp.Data)
	})
	t.Run("trickling card", func(t *testing.T) {
		n := rounds(func() {
			_, err := card.Do(ctx, scrm.Command{INS: InsTrickle, P1: 0x10, P2: 0x00, Ne: scrm.MaxNe})
			require.ErrorIs(t, err, scrm.ErrTooManyRounds)
			assert.ErrorIs(t, err, scrm.ErrMalformedResponse)
		})
		assert.LessOrEqual(t, n, 1+(bound+255)/256+16, "rounds bounded by what MaxResponse needs")
		assert.Greater(t, n, (bound+255)/256, "no answer cut short before the bound")
	})
	t.Run("endless 6Cxx", func(t *testing.T) {
		n := rounds(func() {
			rsp, err := card.Do(ctx, scrm.Command{INS: InsEndless6C, Ne: 16})
			require.ErrorIs(t, err, scrm.ErrTooManyRounds)
			assert.NotErrorIs(t, err, scrm.ErrWrongLength, "the card is at fault, not the command")
			assert.Equal(t, uint16(0x6C12), rsp.SW)
		})
		assert.Equal(t, 2, n, "the command and one re-send")
	})
	// The card still works afterwards.
	rsp, err := card.Do(ctx, scrm.Command{INS: InsEcho, Data: []byte{1}, Ne: 1})
	require.NoError(t, err)
	assert.Equal(t, []byte{1}, rsp.Data)
}

func counting(n int) []byte {
	out := make([]byte, n)
	for i := range out {
		out[i] = byte(i)
	}
	return out
}

func testStatusWords(t *testing.T, h Harness) {
	sc := h.Context(t)
	reader := h.Insert(t, NewTestCard())
	card := connect(t, sc, reader, nil)
	ctx := ctxT(t)

	tests := []struct {
		sw   uint16
		want error
	}{
		{0x6A82, scrm.ErrNotFound},
		{0x6982, scrm.ErrSecurityStatus},
		{0x6983, scrm.ErrBlocked},
		{0x6700, scrm.ErrWrongLength},
		{0x6D00, scrm.ErrUnsupported},
		{0x6A80, scrm.ErrWrongData},
	}
	for _, tc := range tests {
		rsp, err := card.Do(ctx, scrm.Command{INS: InsStatus, P1: byte(tc.sw >> 8), P2: byte(tc.sw)})
		assert.ErrorIs(t, err, tc.want, "SW %04X", tc.sw)
		assert.Equal(t, tc.sw, rsp.SW)
		var se *scrm.StatusError
		require.ErrorAs(t, err, &se)
		assert.Equal(t, tc.sw, se.SW())
	}

	_, err := card.Do(ctx, scrm.Command{INS: InsVerify, P2: 0x80, Data: []byte("9999")})
	require.ErrorIs(t, err, scrm.ErrWrongPIN)
	var se *scrm.StatusError
	require.ErrorAs(t, err, &se)
	n, ok := se.RetriesLeft()
	assert.True(t, ok)
	assert.Equal(t, 2, n)
	assert.NotContains(t, err.Error(), "9999", "error text must not carry the PIN")

	_, err = card.Do(ctx, scrm.Command{INS: InsVerify, P2: 0x80, Data: []byte(TestPIN)})
	require.NoError(t, err)
}

func testTransactionsContend(t *testing.T, h Harness) {
	sc := h.Context(t)
	reader := h.Insert(t, NewTestCard())
	a := connect(t, sc, reader, nil)
	b := connect(t, sc, reader, nil)
	ctx := ctxT(t)

	txA, err := a.Begin(ctx)
	require.NoError(t, err)
	_, err = txA.Do(ctx, scrm.Command{INS: InsEcho, Data: []byte{1}, Ne: 1})
	require.NoError(t, err)

	var aEnded atomic.Bool
	bDone := make(chan error, 1)
	go func() {
		txB, err := b.Begin(ctx)
		if err != nil {
			bDone <- err
			return
		}
		if !aEnded.Load() {
			bDone <- errors.New("second connection began while the first held the transaction")
		}
		_, err = txB.Do(ctx, scrm.Command{INS: InsEcho, Data: []byte{2}, Ne: 1})
		if endErr := txB.End(scrm.LeaveCard); err == nil {
			err = endErr
		}
		bDone <- err
	}()
	// While A holds the transaction, A's exchanges keep going.
	for i := range 3 {
		_, err = txA.Do(ctx, scrm.Command{INS: InsEcho, Data: []byte{byte(i)}, Ne: 1})
		require.NoError(t, err)
	}
	aEnded.Store(true)
	require.NoError(t, txA.End(scrm.LeaveCard))
	require.NoError(t, <-bDone)

	// Goroutines sharing one Card never interleave inside a transaction.
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Go(func() {
			tx, err := a.Begin(ctx)
			if err != nil {
				errs <- err
				return
			}
			defer func() { _ = tx.End(scrm.LeaveCard) }()
			payload := bytes.Repeat([]byte{byte(g)}, 300) // chained: several APDUs
			rsp, err := tx.Do(ctx, scrm.Command{INS: InsEcho, Data: payload, Ne: scrm.MaxNe})
			if err == nil && !bytes.Equal(rsp.Data, payload) {
				err = errors.New("interleaved exchange: echo mismatch")
			}
			if err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		assert.NoError(t, err)
	}
}

func testExclusive(t *testing.T, h Harness) {
	sc := h.Context(t)
	reader := h.Insert(t, NewTestCard())
	ex := connect(t, sc, reader, &scrm.ConnectOptions{Share: scrm.ShareExclusive})
	_, err := sc.Connect(ctxT(t), reader, nil)
	assert.ErrorIs(t, err, scrm.ErrSharingViolation)
	require.NoError(t, ex.Close(scrm.LeaveCard))
	assert.ErrorIs(t, ex.Close(scrm.LeaveCard), scrm.ErrClosed)
	_ = connect(t, sc, reader, nil)
}

func testResetSeenByOther(t *testing.T, h Harness) {
	sc := h.Context(t)
	tc := NewTestCard()
	reader := h.Insert(t, tc)
	a := connect(t, sc, reader, nil)
	b := connect(t, sc, reader, nil)
	ctx := ctxT(t)

	// B logs in; A resets the card at the end of its transaction.
	_, err := b.Do(ctx, scrm.Command{INS: InsVerify, P2: 0x80, Data: []byte(TestPIN)})
	require.NoError(t, err)
	txA, err := a.Begin(ctx)
	require.NoError(t, err)
	require.NoError(t, txA.End(scrm.ResetCard))

	txB, err := b.Begin(ctx)
	require.NoError(t, err)
	assert.True(t, txB.WasReset(), "B must learn that its login is gone")
	_, err = txB.Do(ctx, scrm.Command{INS: InsVerify, P2: 0x80})
	assert.ErrorIs(t, err, scrm.ErrWrongPIN, "the PIN is no longer verified after the reset")
	require.NoError(t, txB.End(scrm.LeaveCard))
	assert.Equal(t, uint64(1), b.ResetCount())

	txB, err = b.Begin(ctx)
	require.NoError(t, err)
	assert.False(t, txB.WasReset(), "a reset is reported once")
	require.NoError(t, txB.End(scrm.LeaveCard))

	// A's own reset is reported to A's next transaction too.
	txA, err = a.Begin(ctx)
	require.NoError(t, err)
	assert.True(t, txA.WasReset())
	require.NoError(t, txA.End(scrm.LeaveCard))
}

func testRemoval(t *testing.T, h Harness) {
	sc := h.Context(t)
	reader := h.Insert(t, NewTestCard())
	card := connect(t, sc, reader, nil)
	ctx := ctxT(t)

	st := []scrm.ReaderState{{Reader: reader}}
	require.NoError(t, sc.GetStatusChange(ctx, st))
	require.True(t, st[0].Event.Has(scrm.StatePresent))
	st[0].Update()
	count := st[0].EventCount()

	h.Remove(t, reader)

	require.NoError(t, sc.GetStatusChange(ctx, st))
	assert.True(t, st[0].Event.Has(scrm.StateEmpty), "event state %#x", st[0].Event)
	assert.True(t, st[0].Event.Has(scrm.StateChanged))
	assert.NotEqual(t, count, st[0].EventCount(), "event counter must move on removal")

	_, err := card.Do(ctx, scrm.Command{INS: InsEcho, Data: []byte{1}, Ne: 1})
	assert.ErrorIs(t, err, scrm.ErrRemovedCard)
	_, err = card.Transmit(ctx, []byte{0, InsEcho, 0, 0})
	assert.ErrorIs(t, err, scrm.ErrRemovedCard, "every later call fails cleanly")

	_, err = sc.Connect(ctx, reader, nil)
	assert.ErrorIs(t, err, scrm.ErrNoSmartcard)
}

func testWaitCancelled(t *testing.T, h Harness) {
	sc := h.Context(t)
	reader := h.Insert(t, NewTestCard())
	st := []scrm.ReaderState{{Reader: reader}}
	require.NoError(t, sc.GetStatusChange(ctxT(t), st))
	st[0].Update()

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sc.GetStatusChange(ctx, st) }()
	cancel()
	select {
	case err := <-done:
		assert.ErrorIs(t, err, scrm.ErrCancelled)
	case <-time.After(20 * time.Second):
		t.Fatal("a cancelled wait did not return")
	}

	ctx, cancel = context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	err := sc.GetStatusChange(ctx, st)
	assert.ErrorIs(t, err, scrm.ErrTimeout)

	_, err = sc.WaitForCard(ctxT(t), reader)
	assert.NoError(t, err, "a present card ends the wait at once")
}

func testStats(t *testing.T, h Harness) {
	sc := h.Context(t)
	reader := h.Insert(t, NewTestCard())
	var events []scrm.TraceEvent
	var mu sync.Mutex
	card := connect(t, sc, reader, &scrm.ConnectOptions{Tracer: scrm.TracerFunc(func(e *scrm.TraceEvent) {
		mu.Lock()
		defer mu.Unlock()
		ev := *e
		ev.Command, ev.Response = bytes.Clone(e.Command), bytes.Clone(e.Response)
		events = append(events, ev)
	})})
	ctx := ctxT(t)
	before := card.Stats()
	_, err := card.Do(ctx, scrm.Command{INS: InsGenerate, P1: 0x01, P2: 0x10, Ne: scrm.MaxNe})
	require.NoError(t, err)
	_, err = card.Do(ctx, scrm.Command{INS: InsVerify, P2: 0x80, Data: []byte(TestPIN)})
	require.NoError(t, err)
	d := card.Stats().Sub(before)
	assert.Equal(t, uint64(3), d.APDUs, "GENERATE, GET RESPONSE, VERIFY")
	assert.Equal(t, uint64(5+5+9), d.BytesSent)
	assert.Equal(t, uint64(258+18+2), d.BytesReceived)

	mu.Lock()
	defer mu.Unlock()
	require.Len(t, events, 3)
	assert.Equal(t, reader, events[0].Reader)
	verify := events[2]
	assert.True(t, verify.RedactedCommand)
	assert.NotContains(t, string(verify.Command), TestPIN, "the tracer must not see the PIN")
	assert.Equal(t, []byte{0x00, InsVerify, 0x00, 0x80, 0x04, 0, 0, 0, 0}, verify.Command)
}

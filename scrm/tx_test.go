package scrm_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cardmod/cardmod/scrm"
	"github.com/cardmod/cardmod/scrm/scrmtest"
	"github.com/cardmod/cardmod/scrm/virtual"
)

// verified reports, through a connection of its own, whether the test
// card's PIN is verified.
func verified(t *testing.T, b *virtual.Backend) bool {
	t.Helper()
	c, err := scrm.NewContext(b).Connect(context.Background(), "R", nil)
	require.NoError(t, err)
	defer c.Close(scrm.LeaveCard)
	_, err = c.Do(context.Background(), scrm.Command{INS: scrmtest.InsVerify, P2: 0x80})
	if err != nil {
		require.ErrorIs(t, err, scrm.ErrWrongPIN)
	}
	return err == nil
}

// A transaction in which a command was sent and its answer lost ends with
// a reset, whatever End is asked: the card may have executed it.
func TestLostAnswerEndsWithReset(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name      string
		fault     virtual.Fault
		wantReset bool
	}{
		{"answer lost", virtual.Fault{Lose: scrm.ErrCommError}, true},
		{"0-byte answer", virtual.Fault{Mutate: func([]byte) []byte { return nil }}, true},
		{"failed before sending", virtual.Fault{Err: scrm.ErrCommError}, true}, // the backend cannot tell
		{"refused", virtual.Fault{Mutate: func([]byte) []byte { return []byte{0x63, 0xC2} }}, false},
		{"no fault", virtual.Fault{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := virtual.NewBackend()
			r := b.AddReader("R")
			r.Insert(scrmtest.NewTestCard())
			c, err := scrm.NewContext(b).Connect(ctx, "R", nil)
			require.NoError(t, err)
			defer c.Close(scrm.LeaveCard)
			tx, err := c.Begin(ctx)
			require.NoError(t, err)
			r.InjectFault(tc.fault)
			_, _ = tx.Do(ctx, scrm.Command{INS: scrmtest.InsVerify, P2: 0x80, Data: []byte(scrmtest.TestPIN)})
			assert.Equal(t, tc.wantReset, tx.ResetRequired())
			require.NoError(t, tx.End(scrm.LeaveCard))
			if tc.wantReset {
				assert.False(t, verified(t, b), "no login outlives the transaction")
			}
			tx, err = c.Begin(ctx)
			require.NoError(t, err)
			assert.Equal(t, tc.wantReset, tx.WasReset())
			assert.False(t, tx.ResetRequired(), "a new transaction starts clean")
			require.NoError(t, tx.End(scrm.LeaveCard))
		})
	}
}

func TestRequireReset(t *testing.T) {
	ctx := context.Background()
	c, r := setup(t, scrmtest.NewTestCard(), nil)
	_ = r
	tx, err := c.Begin(ctx)
	require.NoError(t, err)
	_, err = tx.Do(ctx, scrm.Command{INS: scrmtest.InsVerify, P2: 0x80, Data: []byte(scrmtest.TestPIN)})
	require.NoError(t, err)
	tx.RequireReset()
	require.NoError(t, tx.End(scrm.LeaveCard))
	tx, err = c.Begin(ctx)
	require.NoError(t, err)
	assert.True(t, tx.WasReset())
	_, err = tx.Do(ctx, scrm.Command{INS: scrmtest.InsVerify, P2: 0x80})
	assert.ErrorIs(t, err, scrm.ErrWrongPIN, "the login is gone")
	require.NoError(t, tx.End(scrm.LeaveCard))
}

// A tracer that panics in Card.Do leaves the card free, and reset: the
// command it traced may have been a VERIFY.
func TestPanickingTracerReleasesCard(t *testing.T) {
	ctx := context.Background()
	b := virtual.NewBackend()
	b.AddReader("R").Insert(scrmtest.NewTestCard())
	c, err := scrm.NewContext(b).Connect(ctx, "R", &scrm.ConnectOptions{
		Tracer: scrm.TracerFunc(func(ev *scrm.TraceEvent) {
			if ev.Command[1] == scrmtest.InsVerify {
				panic("tracer")
			}
		}),
	})
	require.NoError(t, err)
	require.PanicsWithValue(t, "tracer", func() {
		_, _ = c.Do(ctx, scrm.Command{INS: scrmtest.InsVerify, P2: 0x80, Data: []byte(scrmtest.TestPIN)})
	})
	assert.False(t, verified(t, b), "reset on the way out")
	tctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	_, err = c.Do(tctx, scrm.Command{INS: scrmtest.InsEcho, Data: []byte{1}, Ne: 1})
	require.NoError(t, err, "the card's lock was released")
	require.NoError(t, c.Close(scrm.LeaveCard))
}

// Begin recovers from as many resets by other connections as happen
// before it gets the card.
func TestBeginRecoversFromRepeatedResets(t *testing.T) {
	ctx := context.Background()
	b := virtual.NewBackend()
	r := b.AddReader("R")
	r.Insert(scrmtest.NewTestCard())
	c, err := scrm.NewContext(b).Connect(ctx, "R", nil)
	require.NoError(t, err)
	defer c.Close(scrm.LeaveCard)
	resetter := &resettingBackend{Backend: b, r: r, n: 5}
	c2, err := scrm.NewContext(resetter).Connect(ctx, "R", nil)
	require.NoError(t, err)
	defer c2.Close(scrm.LeaveCard)
	r.Reset()
	tx, err := c2.Begin(ctx)
	require.NoError(t, err, "five resets in a row are no failure")
	assert.True(t, tx.WasReset())
	require.NoError(t, tx.End(scrm.LeaveCard))
	assert.Zero(t, resetter.n)
}

// resettingBackend resets the card after each of its connections' first
// n reconnections, as another application taking the card in between
// would.
type resettingBackend struct {
	*virtual.Backend
	r *virtual.Reader
	n int
}

func (b *resettingBackend) Connect(ctx context.Context, reader string, share scrm.ShareMode, proto scrm.Protocol) (scrm.Conn, error) {
	c, err := b.Backend.Connect(ctx, reader, share, proto)
	if err != nil {
		return nil, err
	}
	return &resettingConn{Conn: c, b: b}, nil
}

type resettingConn struct {
	scrm.Conn
	b *resettingBackend
}

func (c *resettingConn) Reconnect(share scrm.ShareMode, proto scrm.Protocol, init scrm.Disposition) error {
	err := c.Conn.Reconnect(share, proto, init)
	if err == nil && c.b.n > 0 {
		c.b.n--
		c.b.r.Reset()
	}
	return err
}

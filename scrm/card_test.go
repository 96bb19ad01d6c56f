package scrm_test

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cardmod/cardmod/scrm"
	"github.com/cardmod/cardmod/scrm/scrmtest"
	"github.com/cardmod/cardmod/scrm/virtual"
)

// funcCard is a card whose answers come from a function; it records every
// APDU it gets.
type funcCard struct {
	mu     sync.Mutex
	atr    []byte
	answer func(apdu []byte) []byte
	got    [][]byte
}

func (c *funcCard) ATR() []byte { return c.atr }
func (c *funcCard) Reset()      {}
func (c *funcCard) Transmit(apdu []byte) []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.got = append(c.got, bytes.Clone(apdu))
	return c.answer(apdu)
}

func (c *funcCard) received() [][]byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.got
}

// setup puts card in a virtual reader and connects to it.
func setup(t testing.TB, card interface {
	ATR() []byte
	Reset()
	Transmit([]byte) []byte
}, opts *scrm.ConnectOptions) (*scrm.Card, *virtual.Reader) {
	t.Helper()
	b := virtual.NewBackend()
	r := b.AddReader("R")
	r.Insert(card)
	c, err := scrm.NewContext(b).Connect(context.Background(), "R", opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close(scrm.LeaveCard) })
	return c, r
}

func ok(data ...byte) []byte { return append(data, 0x90, 0x00) }

func TestDoEncoding(t *testing.T) {
	data300 := bytes.Repeat([]byte{7}, 300)
	tests := []struct {
		name     string
		extended bool
		maxData  int
		cmd      scrm.Command
		want     [][]byte // APDUs sent, headers and lengths checked in full
	}{
		{"case 1", false, 0, scrm.Command{INS: 0x10}, [][]byte{{0, 0x10, 0, 0}}},
		{"case 2 short", false, 0, scrm.Command{INS: 0x10, Ne: 8}, [][]byte{{0, 0x10, 0, 0, 8}}},
		{"case 2 Ne 256 is Le 00", false, 0, scrm.Command{INS: 0x10, Ne: 256}, [][]byte{{0, 0x10, 0, 0, 0}}},
		{"case 2 big Ne on short card", false, 0, scrm.Command{INS: 0x10, Ne: scrm.MaxNe}, [][]byte{{0, 0x10, 0, 0, 0}}},
		{"case 3 short", false, 0, scrm.Command{INS: 0x10, Data: []byte{1, 2}}, [][]byte{{0, 0x10, 0, 0, 2, 1, 2}}},
		{"case 4 short", false, 0, scrm.Command{INS: 0x10, Data: []byte{1}, Ne: 256}, [][]byte{{0, 0x10, 0, 0, 1, 1, 0}}},
		{"case 2 extended", true, 0, scrm.Command{INS: 0x10, Ne: 1000}, [][]byte{{0, 0x10, 0, 0, 0, 0x03, 0xE8}}},
		{"case 2 extended Ne 65536", true, 0, scrm.Command{INS: 0x10, Ne: scrm.MaxNe}, [][]byte{{0, 0x10, 0, 0, 0, 0, 0}}},
		{"extended card sends short when it fits", true, 0, scrm.Command{INS: 0x10, Data: []byte{1}, Ne: 10}, [][]byte{{0, 0x10, 0, 0, 1, 1, 10}}},
		{"case 3 extended", true, 0, scrm.Command{INS: 0x10, Data: data300}, [][]byte{append([]byte{0, 0x10, 0, 0, 0, 0x01, 0x2C}, data300...)}},
		{"case 4 extended", true, 0, scrm.Command{INS: 0x10, Data: data300, Ne: 2}, [][]byte{append(append([]byte{0, 0x10, 0, 0, 0, 0x01, 0x2C}, data300...), 0, 2)}},
		{"chaining on a short card", false, 0, scrm.Command{CLA: 0x00, INS: 0x10, Data: data300, Ne: 256}, [][]byte{
			append([]byte{0x10, 0x10, 0, 0, 0xFF}, data300[:255]...),
			append(append([]byte{0x00, 0x10, 0, 0, 45}, data300[255:]...), 0),
		}},
		{"chaining with a plug-in limit", true, 100, scrm.Command{INS: 0x10, Data: data300[:150]}, [][]byte{
			append([]byte{0x10, 0x10, 0, 0, 100}, data300[:100]...),
			append([]byte{0x00, 0x10, 0, 0, 50}, data300[100:150]...),
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			card := &funcCard{atr: scrmtest.TestATR, answer: func([]byte) []byte { return ok() }}
			c, _ := setup(t, card, nil)
			c.SetLimits(scrm.Limits{Extended: tc.extended, MaxCommandData: tc.maxData})
			_, err := c.Do(context.Background(), tc.cmd)
			require.NoError(t, err)
			assert.Equal(t, tc.want, card.received())
		})
	}
}

func TestDoInvalid(t *testing.T) {
	card := &funcCard{atr: scrmtest.TestATR, answer: func([]byte) []byte { return ok() }}
	c, _ := setup(t, card, nil)
	ctx := context.Background()
	_, err := c.Do(ctx, scrm.Command{INS: 1, Ne: -1})
	assert.ErrorIs(t, err, scrm.ErrInvalidCommand)
	_, err = c.Do(ctx, scrm.Command{INS: 1, Ne: scrm.MaxNe + 1})
	assert.ErrorIs(t, err, scrm.ErrInvalidCommand)
	_, err = c.Transmit(ctx, nil)
	assert.ErrorIs(t, err, scrm.ErrInvalidCommand)
	assert.Empty(t, card.received(), "nothing invalid reaches the card")
}

func TestDoResponseRules(t *testing.T) {
	tests := []struct {
		name    string
		answers [][]byte
		want    []byte
		sw      uint16
		wantErr error
		sent    int
	}{
		{"plain", [][]byte{ok(1, 2)}, []byte{1, 2}, 0x9000, nil, 1},
		{"61xx twice", [][]byte{{1, 0x61, 0x02}, {2, 3, 0x61, 0x01}, ok(4)}, []byte{1, 2, 3, 4}, 0x9000, nil, 3},
		{"61xx then error keeps data", [][]byte{{1, 0x61, 0x02}, {2, 0x62, 0x82}}, []byte{1, 2}, 0x6282, nil, 2},
		{"6Cxx resend once", [][]byte{{0x6C, 0x03}, ok(1, 2, 3)}, []byte{1, 2, 3}, 0x9000, nil, 2},
		{"6Cxx twice is a card fault", [][]byte{{0x6C, 0x03}, {0x6C, 0x04}}, nil, 0x6C04, scrm.ErrTooManyRounds, 2},
		{"GET RESPONSE without progress", [][]byte{{1, 0x61, 0x02}, {0x61, 0x02}}, nil, 0x6102, scrm.ErrMalformedResponse, 2},
		{"short answer", [][]byte{{0x90}}, nil, 0, scrm.ErrMalformedResponse, 1},
		{"status error", [][]byte{{0x6A, 0x82}}, []byte{}, 0x6A82, scrm.ErrNotFound, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			i := 0
			card := &funcCard{atr: scrmtest.TestATR, answer: func([]byte) []byte {
				a := tc.answers[min(i, len(tc.answers)-1)]
				i++
				return bytes.Clone(a)
			}}
			c, _ := setup(t, card, nil)
			rsp, err := c.Do(context.Background(), scrm.Command{INS: 0xCA, Ne: 256})
			if tc.wantErr != nil {
				assert.ErrorIs(t, err, tc.wantErr)
			} else if tc.sw != 0x9000 {
				var se *scrm.StatusError
				require.ErrorAs(t, err, &se)
				assert.Equal(t, tc.sw, se.SW())
			} else {
				require.NoError(t, err)
			}
			if tc.want != nil {
				assert.Equal(t, tc.want, rsp.Data)
			}
			assert.Equal(t, tc.sw, rsp.SW)
			got := card.received()
			assert.Len(t, got, tc.sent)
			for _, apdu := range got[1:] {
				if tc.name[:4] == "6Cxx" {
					assert.Equal(t, byte(0xCA), apdu[1])
				} else {
					assert.Equal(t, byte(0xC0), apdu[1], "continuation is GET RESPONSE")
				}
			}
		})
	}
}

func TestDoResponseBound(t *testing.T) {
	// A card that never stops answering 61FF is cut off at MaxResponse.
	card := &funcCard{atr: scrmtest.TestATR, answer: func([]byte) []byte {
		return append(make([]byte, 255), 0x61, 0xFF)
	}}
	c, _ := setup(t, card, &scrm.ConnectOptions{MaxResponse: 4096})
	_, err := c.Do(context.Background(), scrm.Command{INS: 0xCA, Ne: scrm.MaxNe})
	require.ErrorIs(t, err, scrm.ErrMalformedResponse)
	assert.LessOrEqual(t, len(card.received()), 4096/255+2)
}

func TestDoResponseRounds(t *testing.T) {
	// A card that trickles its answer one byte per round is cut off after
	// the rounds an answer of MaxResponse bytes needs, long before the
	// byte bound: MaxResponse 4096 is 16 full rounds.
	tests := []struct {
		name   string
		answer []byte
	}{
		{"61 01 with a byte", []byte{0xA5, 0x61, 0x01}},
		{"61 FF with a byte", []byte{0xA5, 0x61, 0xFF}},
		{"61 00 with a byte", []byte{0xA5, 0x61, 0x00}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			card := &funcCard{atr: scrmtest.TestATR, answer: func([]byte) []byte { return bytes.Clone(tc.answer) }}
			c, _ := setup(t, card, &scrm.ConnectOptions{MaxResponse: 4096})
			rsp, err := c.Do(context.Background(), scrm.Command{INS: 0xCA, Ne: scrm.MaxNe})
			require.ErrorIs(t, err, scrm.ErrTooManyRounds)
			assert.ErrorIs(t, err, scrm.ErrMalformedResponse)
			assert.NotErrorIs(t, err, scrm.ErrWrongLength)
			assert.Equal(t, sw(tc.answer), rsp.SW)
			assert.Len(t, card.received(), 1+16+8, "the command, then 16 rounds and the slack")
		})
	}
	t.Run("6Cxx on GET RESPONSE twice", func(t *testing.T) {
		i := 0
		answers := [][]byte{{1, 0x61, 0x02}, {0x6C, 0x01}, {2, 0x61, 0x01}, {0x6C, 0x01}}
		card := &funcCard{atr: scrmtest.TestATR, answer: func([]byte) []byte {
			a := answers[min(i, len(answers)-1)]
			i++
			return bytes.Clone(a)
		}}
		c, _ := setup(t, card, nil)
		_, err := c.Do(context.Background(), scrm.Command{INS: 0xCA, Ne: 256})
		require.ErrorIs(t, err, scrm.ErrTooManyRounds)
		assert.Len(t, card.received(), 4)
	})
}

func sw(rsp []byte) uint16 { return uint16(rsp[len(rsp)-2])<<8 | uint16(rsp[len(rsp)-1]) }

func TestChainingStopsOnError(t *testing.T) {
	card := &funcCard{atr: scrmtest.TestATR, answer: func([]byte) []byte { return []byte{0x6A, 0x80} }}
	c, _ := setup(t, card, nil)
	_, err := c.Do(context.Background(), scrm.Command{INS: 0xDB, Data: make([]byte, 600)})
	assert.ErrorIs(t, err, scrm.ErrWrongData)
	assert.Len(t, card.received(), 1, "no further parts after a refused one")
}

func TestT0Case4(t *testing.T) {
	// Under T=0 a case 4 command goes as case 3; the answer comes by 61xx.
	// The virtual reader reports T=1, so this checks encoding through
	// ParseCommand instead.
	cmd, err := scrm.ParseCommand([]byte{0, 0x10, 0, 0, 1, 9, 0})
	require.NoError(t, err)
	assert.Equal(t, []byte{9}, cmd.Data)
	assert.Equal(t, 256, cmd.Ne)
}

func TestParseCommand(t *testing.T) {
	tests := []struct {
		name string
		apdu []byte
		want scrm.Command
		err  bool
	}{
		{"case 1", []byte{1, 2, 3, 4}, scrm.Command{CLA: 1, INS: 2, P1: 3, P2: 4}, false},
		{"case 2", []byte{0, 2, 0, 0, 5}, scrm.Command{INS: 2, Ne: 5}, false},
		{"case 2 Le 00", []byte{0, 2, 0, 0, 0}, scrm.Command{INS: 2, Ne: 256}, false},
		{"case 3", []byte{0, 2, 0, 0, 2, 9, 9}, scrm.Command{INS: 2, Data: []byte{9, 9}}, false},
		{"case 4", []byte{0, 2, 0, 0, 1, 9, 7}, scrm.Command{INS: 2, Data: []byte{9}, Ne: 7}, false},
		{"case 2E", []byte{0, 2, 0, 0, 0, 1, 0}, scrm.Command{INS: 2, Ne: 256}, false},
		{"case 2E 0000", []byte{0, 2, 0, 0, 0, 0, 0}, scrm.Command{INS: 2, Ne: 65536}, false},
		{"case 3E", []byte{0, 2, 0, 0, 0, 0, 1, 9}, scrm.Command{INS: 2, Data: []byte{9}}, false},
		{"case 4E", []byte{0, 2, 0, 0, 0, 0, 1, 9, 0, 0}, scrm.Command{INS: 2, Data: []byte{9}, Ne: 65536}, false},
		{"too short", []byte{0, 2, 0}, scrm.Command{}, true},
		{"Lc too long", []byte{0, 2, 0, 0, 5, 1}, scrm.Command{}, true},
		{"extended Lc 0", []byte{0, 2, 0, 0, 0, 0, 0, 1}, scrm.Command{}, true},
		{"extended truncated", []byte{0, 2, 0, 0, 0, 0, 5, 1}, scrm.Command{}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := scrm.ParseCommand(tc.apdu)
			if tc.err {
				assert.ErrorIs(t, err, scrm.ErrInvalidCommand)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want.CLA, got.CLA)
			assert.Equal(t, tc.want.INS, got.INS)
			assert.Equal(t, tc.want.Ne, got.Ne)
			assert.Equal(t, len(tc.want.Data), len(got.Data))
			if len(tc.want.Data) > 0 {
				assert.Equal(t, tc.want.Data, got.Data)
			}
		})
	}
}

func TestRedaction(t *testing.T) {
	tests := []struct {
		name         string
		cmd          scrm.Command
		answer       [][]byte
		wantCmd      bool
		wantRsp      bool
		secretInCmd  []byte
		secretInRsps []byte
	}{
		{"VERIFY", scrm.Command{INS: 0x20, P2: 0x80, Data: []byte("123456\xff\xff")}, [][]byte{ok()}, true, false, []byte("123456"), nil},
		{"CHANGE REFERENCE DATA", scrm.Command{INS: 0x24, P2: 0x80, Data: []byte("123456\xff\xff654321\xff\xff")}, [][]byte{ok()}, true, false, []byte("654321"), nil},
		{"RESET RETRY COUNTER", scrm.Command{INS: 0x2C, P2: 0x80, Data: []byte("12345678654321\xff\xff")}, [][]byte{ok()}, true, false, []byte("12345678"), nil},
		{"management key auth", scrm.Command{INS: 0x87, P1: 0x03, P2: 0x9B, Data: []byte{0x7C, 0x0A, 0x80, 0x08, 'S', 'E', 'C', 'R', 'E', 'T', '!', '!'}, Ne: 256}, [][]byte{ok(0x7C, 0x0A, 0x81, 0x08, 'C', 'H', 'A', 'L', 'L', 'E', 'N', 'G')}, true, true, []byte("SECRET"), []byte("CHALLENG")},
		{"GENERAL AUTHENTICATE answer", scrm.Command{INS: 0x87, P1: 0x07, P2: 0x9D, Data: []byte{0x7C, 0x02, 0x82, 0x00}, Ne: 256}, [][]byte{{'P', 'L', 'A', 'I', 'N', 0x61, 0x04}, ok('T', 'E', 'X', 'T')}, false, true, nil, []byte("TEXT")},
		{"chained key import", scrm.Command{INS: 0xFE, P1: 0x11, P2: 0x9A, Data: bytes.Repeat([]byte("KEY!"), 100)}, [][]byte{ok()}, true, false, []byte("KEY!"), nil},
		{"ordinary command", scrm.Command{INS: 0xCB, P1: 0x3F, P2: 0xFF, Data: []byte{0x5C, 0x01, 0x7E}, Ne: 256}, [][]byte{ok(0x7E, 0x00)}, false, false, nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			i := 0
			card := &funcCard{atr: scrmtest.TestATR, answer: func(apdu []byte) []byte {
				if apdu[0]&0x10 != 0 {
					return ok()
				}
				a := tc.answer[min(i, len(tc.answer)-1)]
				i++
				return bytes.Clone(a)
			}}
			var events []scrm.TraceEvent
			c, _ := setup(t, card, &scrm.ConnectOptions{Tracer: scrm.TracerFunc(func(e *scrm.TraceEvent) {
				ev := *e
				ev.Command, ev.Response = bytes.Clone(e.Command), bytes.Clone(e.Response)
				events = append(events, ev)
			})})
			_, err := c.Do(context.Background(), tc.cmd)
			require.NoError(t, err)
			require.NotEmpty(t, events)
			for _, ev := range events {
				if ev.Command[1] != 0xC0 {
					assert.Equal(t, tc.wantCmd, ev.RedactedCommand, "command % X", ev.Command)
				}
				assert.Equal(t, tc.wantRsp, ev.RedactedResponse, "response to % X", ev.Command)
				if tc.secretInCmd != nil {
					assert.False(t, bytes.Contains(ev.Command, tc.secretInCmd), "secret in traced command % X", ev.Command)
				}
				if tc.secretInRsps != nil {
					assert.False(t, bytes.Contains(ev.Response, tc.secretInRsps), "secret in traced answer % X", ev.Response)
				}
				assert.Equal(t, len(ev.Command) >= 4, true)
			}
			// The card got the real data.
			assert.Equal(t, tc.cmd.INS, card.received()[0][1])
		})
	}
	cmd, rsp := scrm.Redacts(scrm.Header{INS: 0x20})
	assert.True(t, cmd)
	assert.False(t, rsp)
}

func TestSensitiveOption(t *testing.T) {
	card := &funcCard{atr: scrmtest.TestATR, answer: func([]byte) []byte { return ok('k') }}
	var seen *scrm.TraceEvent
	c, _ := setup(t, card, &scrm.ConnectOptions{
		Tracer: scrm.TracerFunc(func(e *scrm.TraceEvent) { ev := *e; ev.Command = bytes.Clone(e.Command); seen = &ev }),
		Sensitive: func(c scrm.Command) (bool, bool) {
			return c.INS == 0xDB && c.P1 == 0x3F, true
		},
	})
	_, err := c.Do(context.Background(), scrm.Command{INS: 0xDB, P1: 0x3F, P2: 0xFF, Data: []byte("secret")})
	require.NoError(t, err)
	require.NotNil(t, seen)
	assert.True(t, seen.RedactedCommand)
	assert.True(t, seen.RedactedResponse)
	assert.NotContains(t, string(seen.Command), "secret")
}

func TestFaults(t *testing.T) {
	ctx := context.Background()
	t.Run("fail next", func(t *testing.T) {
		c, r := setup(t, scrmtest.NewTestCard(), nil)
		r.FailNext(scrm.ErrCommError)
		_, err := c.Do(ctx, scrm.Command{INS: scrmtest.InsEcho, Data: []byte{1}, Ne: 1})
		assert.ErrorIs(t, err, scrm.ErrCommError)
		_, err = c.Do(ctx, scrm.Command{INS: scrmtest.InsEcho, Data: []byte{1}, Ne: 1})
		assert.NoError(t, err, "a failed exchange does not break the connection")
	})
	t.Run("truncated answer", func(t *testing.T) {
		c, r := setup(t, scrmtest.NewTestCard(), nil)
		r.TruncateNext(1)
		_, err := c.Do(ctx, scrm.Command{INS: scrmtest.InsEcho, Data: []byte{1}, Ne: 1})
		assert.ErrorIs(t, err, scrm.ErrMalformedResponse)
	})
	t.Run("corrupted status", func(t *testing.T) {
		c, r := setup(t, scrmtest.NewTestCard(), nil)
		r.CorruptNext(func(rsp []byte) []byte { rsp[len(rsp)-2] = 0x6F; return rsp })
		_, err := c.Do(ctx, scrm.Command{INS: scrmtest.InsEcho, Data: []byte{1}, Ne: 1})
		assert.ErrorIs(t, err, scrm.ErrCardError)
	})
	t.Run("reset inside a transaction", func(t *testing.T) {
		tc := scrmtest.NewTestCard()
		c, r := setup(t, tc, nil)
		tx, err := c.Begin(ctx)
		require.NoError(t, err)
		_, err = tx.Do(ctx, scrm.Command{INS: scrmtest.InsVerify, P2: 0x80, Data: []byte(scrmtest.TestPIN)})
		require.NoError(t, err)
		r.ResetOnNext()
		_, err = tx.Do(ctx, scrm.Command{INS: scrmtest.InsEcho, Data: []byte{1}, Ne: 1})
		require.ErrorIs(t, err, scrm.ErrResetCard)
		_, err = tx.Do(ctx, scrm.Command{INS: scrmtest.InsEcho, Data: []byte{1}, Ne: 1})
		assert.ErrorIs(t, err, scrm.ErrResetCard, "the transaction stays lost")
		require.NoError(t, tx.End(scrm.LeaveCard))
		assert.ErrorIs(t, tx.End(scrm.LeaveCard), scrm.ErrTxDone)

		tx, err = c.Begin(ctx)
		require.NoError(t, err)
		assert.True(t, tx.WasReset())
		_, err = tx.Do(ctx, scrm.Command{INS: scrmtest.InsVerify, P2: 0x80})
		assert.ErrorIs(t, err, scrm.ErrWrongPIN, "login gone with the reset")
		require.NoError(t, tx.End(scrm.LeaveCard))
	})
	t.Run("removal mid-chain", func(t *testing.T) {
		c, r := setup(t, scrmtest.NewTestCard(), nil)
		r.InjectFault(virtual.Fault{})
		r.RemoveOnNext()
		_, err := c.Do(ctx, scrm.Command{INS: scrmtest.InsEcho, Data: make([]byte, 600), Ne: scrm.MaxNe})
		assert.ErrorIs(t, err, scrm.ErrRemovedCard)
		_, err = c.Begin(ctx)
		assert.ErrorIs(t, err, scrm.ErrRemovedCard)
		_, err = c.Transmit(ctx, []byte{0, 1, 0, 0})
		assert.ErrorIs(t, err, scrm.ErrRemovedCard)
	})
	t.Run("delay honours cancellation", func(t *testing.T) {
		c, r := setup(t, scrmtest.NewTestCard(), nil)
		r.DelayNext(time.Hour)
		cctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() {
			_, err := c.Do(cctx, scrm.Command{INS: scrmtest.InsEcho, Data: []byte{1}, Ne: 1})
			done <- err
		}()
		cancel()
		assert.ErrorIs(t, <-done, scrm.ErrCancelled)
	})
}

func TestLockHonoursContext(t *testing.T) {
	c, _ := setup(t, scrmtest.NewTestCard(), nil)
	tx, err := c.Begin(context.Background())
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err = c.Begin(ctx)
	assert.ErrorIs(t, err, scrm.ErrTimeout)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	_, err = c.Do(ctx, scrm.Command{INS: 1})
	assert.ErrorIs(t, err, scrm.ErrTimeout)
	// Facts about the connection do not wait for the transaction.
	assert.NotEmpty(t, c.ATR())
	require.NoError(t, tx.End(scrm.LeaveCard))
}

func TestClose(t *testing.T) {
	c, _ := setup(t, scrmtest.NewTestCard(), nil)
	require.NoError(t, c.Close(scrm.LeaveCard))
	_, err := c.Do(context.Background(), scrm.Command{INS: 1})
	assert.ErrorIs(t, err, scrm.ErrClosed)
	assert.ErrorIs(t, c.Close(scrm.LeaveCard), scrm.ErrClosed)
}

func TestStatusErrorText(t *testing.T) {
	err := error(&scrm.StatusError{SW1: 0x63, SW2: 0xC2, INS: 0x20})
	assert.Equal(t, "scrm: INS 20: card answered 63C2 (wrong PIN, 2 tries left)", err.Error())
	assert.True(t, errors.Is(err, scrm.ErrWrongPIN))
	assert.False(t, errors.Is(err, scrm.ErrBlocked))
	blocked := &scrm.StatusError{SW1: 0x69, SW2: 0x83}
	n, ok := blocked.RetriesLeft()
	assert.True(t, ok)
	assert.Zero(t, n)
	assert.ErrorIs(t, blocked, scrm.ErrBlocked)
	odd := &scrm.StatusError{SW1: 0x6F, SW2: 0x12}
	assert.Equal(t, "scrm: card answered 6F12 (status)", odd.Error())
}

func TestLimitsFromATR(t *testing.T) {
	yubiKey5 := []byte{0x3B, 0xFD, 0x13, 0x00, 0x00, 0x81, 0x31, 0xFE, 0x15, 0x80, 0x73, 0xC0, 0x21, 0xC0, 0x57, 0x59, 0x75, 0x62, 0x69, 0x4B, 0x65, 0x79, 0x40}
	tests := []struct {
		name string
		atr  []byte
		want scrm.Limits
	}{
		{"YubiKey 5 announces extended length", yubiKey5, scrm.Limits{Extended: true}},
		{"chaining only", scrmtest.TestATR, scrm.Limits{}},
		{"no historical bytes", []byte{0x3B, 0x80, 0x80, 0x01, 0x01}, scrm.Limits{}},
		{"unparseable", []byte{0x3B, 0x8F}, scrm.Limits{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := setup(t, &funcCard{atr: tc.atr, answer: func([]byte) []byte { return ok() }}, nil)
			assert.Equal(t, tc.want, c.Limits())
		})
	}
}

// A plug-in's rule sees the command data: it can single out the answer to
// a GET DATA of one secret object, through Do and raw Transmit alike.
func TestAddRedaction(t *testing.T) {
	secretObject := []byte{0x5C, 0x03, 0x5F, 0xC1, 0x09}
	card := &funcCard{atr: scrmtest.TestATR, answer: func(apdu []byte) []byte {
		if bytes.Contains(apdu, secretObject) {
			return ok('K', 'E', 'Y')
		}
		return ok('p', 'u', 'b')
	}}
	var seen []scrm.TraceEvent
	c, _ := setup(t, card, &scrm.ConnectOptions{Tracer: scrm.TracerFunc(func(e *scrm.TraceEvent) {
		ev := *e
		ev.Response = bytes.Clone(e.Response)
		seen = append(seen, ev)
	})})
	c.AddRedaction(func(cmd scrm.Command) (bool, bool) {
		return false, cmd.INS == 0xCB && bytes.Equal(cmd.Data, secretObject)
	})
	ctx := context.Background()
	_, err := c.Do(ctx, scrm.Command{INS: 0xCB, P1: 0x3F, P2: 0xFF, Data: secretObject, Ne: 256})
	require.NoError(t, err)
	_, err = c.Transmit(ctx, append([]byte{0, 0xCB, 0x3F, 0xFF, 5}, secretObject...))
	require.NoError(t, err)
	_, err = c.Do(ctx, scrm.Command{INS: 0xCB, P1: 0x3F, P2: 0xFF, Data: []byte{0x5C, 0x01, 0x7E}, Ne: 256})
	require.NoError(t, err)
	require.Len(t, seen, 3)
	for _, ev := range seen[:2] {
		assert.True(t, ev.RedactedResponse)
		assert.NotContains(t, string(ev.Response), "KEY")
	}
	assert.False(t, seen[2].RedactedResponse, "other objects stay visible")
	assert.Equal(t, ok('p', 'u', 'b'), seen[2].Response)
}

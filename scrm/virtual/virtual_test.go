package virtual_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cardmod/cardmod/scrm"
	"github.com/cardmod/cardmod/scrm/scrmtest"
	"github.com/cardmod/cardmod/scrm/virtual"
)

// harness runs the scrm behaviour suite on virtual readers: one new reader
// per inserted card.
type harness struct {
	mu sync.Mutex
	b  *virtual.Backend
	sc *scrm.Context
	n  int
}

func (h *harness) Context(t *testing.T) *scrm.Context { return h.sc }

func (h *harness) Insert(t *testing.T, card scrmtest.Card) string {
	h.mu.Lock()
	h.n++
	name := fmt.Sprintf("Virtual Reader %d", h.n)
	h.mu.Unlock()
	h.b.AddReader(name).Insert(card)
	t.Cleanup(func() { h.b.RemoveReader(name) })
	return name
}

func (h *harness) Remove(t *testing.T, reader string) {
	r := h.b.Reader(reader)
	require.NotNil(t, r)
	r.Remove()
}

func newHarness() *harness {
	b := virtual.NewBackend()
	return &harness{b: b, sc: scrm.NewContext(b)}
}

func TestBehaviourSuite(t *testing.T) {
	scrmtest.Run(t, newHarness())
}

func TestReaderArrival(t *testing.T) {
	b := virtual.NewBackend()
	sc := scrm.NewContext(b)
	ctx := context.Background()
	_, err := sc.ListReaders(ctx)
	require.ErrorIs(t, err, scrm.ErrNoReadersAvailable)

	// With no readers the plug-and-play wait blocks (StateUnaware is a
	// count of 0), however often it is called: no busy loop.
	st := []scrm.ReaderState{{Reader: scrm.PnPNotification}}
	for range 3 {
		short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
		err := sc.GetStatusChange(short, st)
		cancel()
		require.ErrorIs(t, err, scrm.ErrTimeout, "the wait returned with no reader attached")
		assert.Equal(t, 0, st[0].EventCount(), "no readers yet")
		st[0].Update()
	}

	// A reader attached before or during the wait ends it with the new
	// count: whichever the goroutine sees, it cannot miss the reader.
	done := make(chan error, 1)
	go func() { done <- sc.GetStatusChange(ctx, st) }()
	b.AddReader("New Reader")
	require.NoError(t, <-done)
	assert.True(t, st[0].Event.Has(scrm.StateChanged))
	assert.Equal(t, 1, st[0].EventCount(), "the count is the number of readers")
	st[0].Update()
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	require.ErrorIs(t, sc.GetStatusChange(short, st), scrm.ErrTimeout, "no change since: the wait blocks")

	unknown := []scrm.ReaderState{{Reader: "No Such Reader"}}
	require.NoError(t, sc.GetStatusChange(ctx, unknown))
	assert.True(t, unknown[0].Event.Has(scrm.StateUnknown))
	_, err = sc.WaitForCard(ctx, "No Such Reader")
	assert.ErrorIs(t, err, scrm.ErrUnknownReader)
}

func TestInsertionWakesWaiter(t *testing.T) {
	b := virtual.NewBackend()
	r := b.AddReader("R")
	sc := scrm.NewContext(b)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	got := make(chan []byte, 1)
	go func() {
		atr, err := sc.WaitForCard(ctx, "R")
		assert.NoError(t, err)
		got <- atr
	}()
	r.Insert(scrmtest.NewTestCard())
	assert.Equal(t, scrmtest.TestATR, <-got)
	r.Remove()
	require.NoError(t, sc.WaitForRemoval(ctx, "R"))
}

func TestReaderDetached(t *testing.T) {
	b := virtual.NewBackend()
	b.AddReader("R").Insert(scrmtest.NewTestCard())
	sc := scrm.NewContext(b)
	c, err := sc.Connect(context.Background(), "R", nil)
	require.NoError(t, err)
	b.RemoveReader("R")
	_, err = c.Do(context.Background(), scrm.Command{INS: scrmtest.InsEcho, Ne: 1})
	assert.ErrorIs(t, err, scrm.ErrReaderUnavailable)
	require.NoError(t, sc.Release())
	_, err = sc.ListReaders(context.Background())
	assert.Error(t, err)
}

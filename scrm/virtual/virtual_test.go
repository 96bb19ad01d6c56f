package virtual_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cardmod/cardmod/cardsim"
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

func (h *harness) Insert(t *testing.T, card cardsim.Card) string {
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

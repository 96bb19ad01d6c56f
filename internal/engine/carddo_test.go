package engine_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	simgids "github.com/cardmod/cardmod/cardsim/gids"
	simpiv "github.com/cardmod/cardmod/cardsim/piv"
	"github.com/cardmod/cardmod/internal/engine"
	"github.com/cardmod/cardmod/keystore"
	"github.com/cardmod/cardmod/minidriver/plugins"
	"github.com/cardmod/cardmod/scrm"
	"github.com/cardmod/cardmod/scrm/virtual"
)

// cardDoCase is one card for the CardDo tests: a fresh copy of it in
// "Virtual Reader 0" of a new backend, for a new engine.
type cardDoCase struct {
	name string
	card func(t *testing.T) virtual.Card
	// saved: the APDUs CardDo saves over CardIn then Do: the SELECT,
	// and on GIDS also cardcf, which its Open read in the same
	// transaction.
	saved uint64
}

var cardDoCases = []cardDoCase{
	{"piv", func(t *testing.T) virtual.Card {
		c, err := simpiv.New(simpiv.Config{})
		require.NoError(t, err)
		return c
	}, 1},
	{"gids", func(t *testing.T) virtual.Card {
		c, err := simgids.New(simgids.Config{Initialized: true})
		require.NoError(t, err)
		return c
	}, 2},
}

// listMap is an operation that reads the container map.
func listMap(_ *engine.Card, op *engine.Op) error {
	_, err := op.ContainerMap()
	return err
}

// CardDo opens a card in the transaction of its first operation: one
// transaction and its SELECT fewer than CardIn followed by Do, and
// nothing fewer once the card is open (the next operation re-selects as
// Do does).
func TestCardDoOpensInTheOperationsTransaction(t *testing.T) {
	ctx := context.Background()
	for _, tc := range cardDoCases {
		t.Run(tc.name, func(t *testing.T) {
			newEngine := func() (*engine.Engine, *virtual.Reader) {
				b := virtual.NewBackend()
				r := b.AddReader("Virtual Reader 0")
				r.Insert(tc.card(t))
				e, err := engine.New(keystore.Config{Backend: b, Registry: plugins.NewRegistry()})
				require.NoError(t, err)
				t.Cleanup(func() { _ = e.Close() })
				return e, r
			}
			// Apart: CardIn, then Do.
			e1, _ := newEngine()
			c1, err := e1.CardIn(ctx, "Virtual Reader 0")
			require.NoError(t, err)
			require.NoError(t, c1.Do(ctx, func(op *engine.Op) error { return listMap(c1, op) }))
			apart := c1.Conn().Stats()

			// Together: CardDo.
			e2, _ := newEngine()
			ran := 0
			c2, err := e2.CardDo(ctx, "Virtual Reader 0", func(c *engine.Card, op *engine.Op) error {
				ran++
				assert.NotEqual(t, [16]byte{}, [16]byte(c.ID()), "the card is open when fn runs")
				return listMap(c, op)
			})
			require.NoError(t, err)
			require.NotNil(t, c2)
			assert.Equal(t, 1, ran)
			together := c2.Conn().Stats()
			assert.Equal(t, apart.APDUs-tc.saved, together.APDUs, "the second transaction's SELECT is saved")

			// Once open, CardDo is Do: the application is selected again.
			before := c2.Conn().Stats().APDUs
			c3, err := e2.CardDo(ctx, "Virtual Reader 0", listMap)
			require.NoError(t, err)
			assert.Same(t, c2, c3)
			before1 := c1.Conn().Stats().APDUs
			require.NoError(t, c1.Do(ctx, func(op *engine.Op) error { return listMap(c1, op) }))
			assert.Equal(t, c1.Conn().Stats().APDUs-before1, c2.Conn().Stats().APDUs-before,
				"a warm CardDo costs what a warm Do costs")
		})
	}
}

// A reset in the first operation of CardDo is recovered as in Do: the
// operation runs again in a new transaction, which selects the
// application again.
func TestCardDoResetInTheFirstOperation(t *testing.T) {
	ctx := context.Background()
	for _, tc := range cardDoCases {
		t.Run(tc.name, func(t *testing.T) {
			b := virtual.NewBackend()
			r := b.AddReader("Virtual Reader 0")
			r.Insert(tc.card(t))
			e, err := engine.New(keystore.Config{Backend: b, Registry: plugins.NewRegistry()})
			require.NoError(t, err)
			defer e.Close()
			ran := 0
			c, err := e.CardDo(ctx, "Virtual Reader 0", func(c *engine.Card, op *engine.Op) error {
				ran++
				if ran == 1 {
					r.ResetOnNext()
				}
				return listMap(c, op)
			})
			require.NoError(t, err)
			require.NotNil(t, c)
			assert.Equal(t, 2, ran, "run again after the reset")
			assert.Zero(t, r.PendingFaults())
		})
	}
}

// A reader without a card: CardDo returns no card and the error CardIn
// gives, and fn does not run.
func TestCardDoNoCard(t *testing.T) {
	b := virtual.NewBackend()
	b.AddReader("Virtual Reader 0")
	e, err := engine.New(keystore.Config{Backend: b, Registry: plugins.NewRegistry()})
	require.NoError(t, err)
	defer e.Close()
	c, err := e.CardDo(context.Background(), "Virtual Reader 0", func(*engine.Card, *engine.Op) error {
		t.Error("fn ran without a card")
		return nil
	})
	assert.Nil(t, c)
	assert.ErrorIs(t, err, scrm.ErrNoSmartcard)
}

package engine_test

import (
	"bytes"
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	simpiv "github.com/cardmod/cardmod/cardsim/piv"
	"github.com/cardmod/cardmod/internal/engine"
	"github.com/cardmod/cardmod/keystore"
	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/minidriver/plugins"
	"github.com/cardmod/cardmod/scrm"
	"github.com/cardmod/cardmod/scrm/virtual"
)

// cfCountingCard counts the GET DATA commands of the file store object
// (5FFF20, cardcf's on a PIV card) the simulated card receives.
type cfCountingCard struct {
	*simpiv.Card
	mu    sync.Mutex
	reads int
}

// tagCardCF is the tag list of GET DATA of the file store object.
var tagCardCF = []byte{0x5C, 0x03, 0x5F, 0xFF, 0x20}

func (c *cfCountingCard) Transmit(apdu []byte) []byte {
	if len(apdu) > 4 && apdu[1] == 0xCB && bytes.Contains(apdu[4:], tagCardCF) {
		c.mu.Lock()
		c.reads++
		c.mu.Unlock()
	}
	return c.Card.Transmit(apdu)
}

func (c *cfCountingCard) take() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.reads
	c.reads = 0
	return n
}

// TestDoCachedReadsCardCFOnlyAfterAReset: on a PIV card no cardmod
// process wrote to (its file store object answers 6A82), in shared mode,
// DoCached, the decryptions' and agreements' Do, sends a cached PIN
// without reading cardcf, until a transaction begins after a card reset
// (here another connection's, as every cardmod write to such a card ends
// with): that one reads cardcf before the PIN, also when a DoChecked
// operation that sent no PIN (and read no cardcf) came first after the
// reset; the next reads none again. DoChecked, which reads no cardcf
// otherwise, reads it after a reset before it sends a cached PIN, so
// that a PIN changed by the cardmod write that ended with the reset is
// dropped untried. Do reads cardcf every time.
func TestDoCachedReadsCardCFOnlyAfterAReset(t *testing.T) {
	sim, err := simpiv.New(simpiv.Config{Profile: simpiv.ProfileYubiKey57()})
	require.NoError(t, err)
	card := &cfCountingCard{Card: sim}
	b := virtual.NewBackend()
	b.AddReader("Virtual Reader 0").Insert(card)
	prompt := &countingPrompt{pin: simpiv.DefaultPIN}
	e, err := engine.New(keystore.Config{Backend: b, Registry: plugins.NewRegistry(), Prompt: prompt})
	require.NoError(t, err)
	defer func() { assert.NoError(t, e.Close()) }()
	ctx := context.Background()
	cards, err := e.Cards(ctx)
	require.NoError(t, err)
	require.Len(t, cards, 1)
	ec := cards[0]
	login := func(op *engine.Op) error { return op.Authenticate(minidriver.RoleUser, "decrypt") }
	for range 2 {
		require.NoError(t, ec.Do(ctx, login))
	}
	card.take()

	require.NoError(t, ec.DoCached(ctx, login))
	assert.Equal(t, 0, card.take(), "no cardcf read on a card without one, not reset")
	require.NoError(t, ec.Do(ctx, login))
	assert.Equal(t, 1, card.take(), "Do reads cardcf")

	reset := func() {
		conn, err := scrm.NewContext(b).Connect(ctx, "Virtual Reader 0", nil)
		require.NoError(t, err)
		tx, err := conn.Begin(ctx)
		require.NoError(t, err)
		require.NoError(t, tx.End(scrm.ResetCard))
		require.NoError(t, conn.Close(scrm.LeaveCard))
	}
	reset()
	require.NoError(t, ec.DoCached(ctx, login))
	assert.Equal(t, 1, card.take(), "cardcf read after a reset")
	require.NoError(t, ec.DoCached(ctx, login))
	assert.Equal(t, 0, card.take(), "and not again")

	reset()
	noPIN := func(op *engine.Op) error { return nil }
	require.NoError(t, ec.DoChecked(ctx, noPIN))
	assert.Equal(t, 0, card.take(), "a checked operation that sends no PIN reads no cardcf")
	require.NoError(t, ec.DoCached(ctx, login))
	assert.Equal(t, 1, card.take(), "the reset is not forgotten")
	require.NoError(t, ec.DoCached(ctx, login))
	assert.Equal(t, 0, card.take())

	reset()
	require.NoError(t, ec.DoChecked(ctx, login))
	assert.Equal(t, 1, card.take(), "a checked operation reads cardcf before a cached PIN after a reset")
	require.NoError(t, ec.DoChecked(ctx, login))
	assert.Equal(t, 0, card.take(), "and not again")
	require.NoError(t, ec.DoCached(ctx, login))
	assert.Equal(t, 0, card.take(), "nor does DoCached: the read saw the reset")
	assert.Equal(t, int32(1), prompt.count.Load(), "the PIN was asked for once")
}

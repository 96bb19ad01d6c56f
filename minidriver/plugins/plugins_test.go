package plugins_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	simgids "github.com/cardmod/cardmod/cardsim/gids"
	simpiv "github.com/cardmod/cardmod/cardsim/piv"
	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/minidriver/plugins"
	"github.com/cardmod/cardmod/scrm"
	"github.com/cardmod/cardmod/scrm/virtual"
)

func TestDefaultOrder(t *testing.T) {
	var names []string
	for _, p := range plugins.Default() {
		names = append(names, p.Name())
	}
	assert.Equal(t, []string{"PIV", "GIDS"}, names)
	// Each call returns a new slice: a caller's append does not reach the
	// next caller.
	d := plugins.Default()
	d[0] = nil
	assert.NotNil(t, plugins.Default()[0])
}

// The default registry takes the cards of both plug-ins.
func TestNewRegistryTakesEveryCard(t *testing.T) {
	for _, c := range []struct {
		plugin string
		card   func() (virtual.Card, error)
	}{
		{"PIV", func() (virtual.Card, error) { return simpiv.New(simpiv.Config{}) }},
		{"GIDS", func() (virtual.Card, error) { return simgids.New(simgids.Config{Initialized: true}) }},
	} {
		t.Run(c.plugin, func(t *testing.T) {
			sim, err := c.card()
			require.NoError(t, err)
			b := virtual.NewBackend()
			b.AddReader("R").Insert(sim)
			ctx := context.Background()
			conn, err := scrm.NewContext(b).Connect(ctx, "R", nil)
			require.NoError(t, err)
			defer conn.Close(scrm.LeaveCard)
			card, m, err := plugins.NewRegistry().Open(ctx, conn, minidriver.Env{})
			require.NoError(t, err)
			defer card.Close()
			assert.Equal(t, c.plugin, m.Plugin.Name())
		})
	}
}

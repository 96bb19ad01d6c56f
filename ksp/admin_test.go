package ksp_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	simgids "github.com/cardmod/cardmod/cardsim/gids"
	simpiv "github.com/cardmod/cardmod/cardsim/piv"
	"github.com/cardmod/cardmod/ksp"
	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/minidriver/gids"
	"github.com/cardmod/cardmod/minidriver/piv"
	"github.com/cardmod/cardmod/scrm/virtual"
)

// TestAdminResponderPerCard creates keys and writes certificates on a
// PIV and a GIDS card from one provider, each card authenticated with
// its own admin key.
func TestAdminResponderPerCard(t *testing.T) {
	ctx := context.Background()
	ps, err := simpiv.New(simpiv.Config{})
	require.NoError(t, err)
	gs, err := simgids.New(simgids.Config{Initialized: true, PIN: simpiv.DefaultPIN})
	require.NoError(t, err)
	b := virtual.NewBackend()
	b.AddReader("PIV Reader").Insert(ps)
	b.AddReader("GIDS Reader").Insert(gs)
	asked := map[string]string{}
	keys := minidriver.AdminResponders(piv.ManagementKey(simpiv.DefaultManagementKey), gids.AdminKey(simgids.DefaultAdminKey))
	f := &fixture{b: b, prompt: newPrompt(simpiv.DefaultPIN)}
	f.p = f.open(t, ksp.Config{AdminResponse: func(ctx context.Context, ch minidriver.AdminChallenge) ([]byte, error) {
		asked[ch.Reader] = ch.Plugin
		return keys(ctx, ch)
	}})
	for _, reader := range []string{"PIV Reader", "GIDS Reader"} {
		k := f.create(t, `\\.\`+reader+`\key`, ksp.ECDSAP256, nil)
		require.NoError(t, k.SetProperty(ctx, ksp.PropSmartCardKeyCertificate, selfSigned(t, k, reader)), reader)
	}
	assert.Equal(t, map[string]string{"PIV Reader": "PIV", "GIDS Reader": "GIDS"}, asked)
	keysOnCards, err := f.p.Keys(ctx)
	require.NoError(t, err)
	assert.Len(t, keysOnCards, 2)
}

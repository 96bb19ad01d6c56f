package basecsp_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cardmod/cardmod/basecsp"
	simgids "github.com/cardmod/cardmod/cardsim/gids"
	simpiv "github.com/cardmod/cardmod/cardsim/piv"
	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/minidriver/gids"
	"github.com/cardmod/cardmod/scrm/virtual"
)

func TestInitializeCard(t *testing.T) {
	ctx := context.Background()
	blank, err := simgids.New(simgids.Config{})
	require.NoError(t, err)
	yk, err := simpiv.New(simpiv.Config{})
	require.NoError(t, err)
	b := virtual.NewBackend()
	b.AddReader("PIV Reader").Insert(yk)
	b.AddReader("GIDS Reader").Insert(blank)
	adminKey := []byte("0123456789abcdefghijklmn")
	p, err := basecsp.Open(basecsp.Config{Backend: b, Prompt: newPrompt("4321"), AdminResponse: gids.AdminKey(adminKey)})
	require.NoError(t, err)
	t.Cleanup(func() { _ = p.Close() })

	_, err = p.InitializeCard(ctx, "", basecsp.InitParams{PIN: []byte("4321"), AdminKey: adminKey})
	assert.ErrorIs(t, err, minidriver.ErrInvalidParameter, "the reader is required")
	_, err = p.InitializeCard(ctx, "PIV Reader", basecsp.InitParams{PIN: []byte("4321"), AdminKey: adminKey})
	assert.ErrorIs(t, err, minidriver.ErrUnsupported, "the PIV plug-in does not initialize cards")

	card, err := p.InitializeCard(ctx, "GIDS Reader", basecsp.InitParams{PIN: []byte("4321"), AdminKey: adminKey})
	require.NoError(t, err)
	assert.Equal(t, "GIDS Reader", card.Reader())
	assert.NotZero(t, card.ID())
	assert.Equal(t, simgids.LifeCycleOperational, blank.LifeCycle())

	cards, err := p.Cards(ctx)
	require.NoError(t, err, "both cards open now")
	assert.Len(t, cards, 2)

	// The PIN and admin key given are the card's: a key made and used.
	ct, err := p.CreateContainer(ctx, `\\.\GIDS Reader\k`, minidriver.ECDSAP256, 0, nil)
	require.NoError(t, err)
	k, err := ct.Key(minidriver.ECDSAP256)
	require.NoError(t, err)
	digest := sha256.Sum256([]byte("x"))
	sig, err := k.Sign(rand.Reader, digest[:], crypto.SHA256)
	require.NoError(t, err)
	assert.True(t, ecdsa.VerifyASN1(k.Public().(*ecdsa.PublicKey), digest[:], sig))

	_, err = p.InitializeCard(ctx, "GIDS Reader", basecsp.InitParams{PIN: []byte("4321"), AdminKey: adminKey})
	assert.ErrorIs(t, err, minidriver.ErrFileExists, "an initialized card is refused")
	list, err := p.Containers(ctx)
	require.NoError(t, err)
	assert.Len(t, list, 1, "and left as it was")
}

package basecsp_test

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cardmod/cardmod/basecsp"
	simgids "github.com/cardmod/cardmod/cardsim/gids"
	simpiv "github.com/cardmod/cardmod/cardsim/piv"
	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/minidriver/gids"
	"github.com/cardmod/cardmod/minidriver/piv"
	"github.com/cardmod/cardmod/scrm/virtual"
)

// twoKinds is a backend with a PIV card in "PIV Reader" and an
// initialized GIDS card in "GIDS Reader", both with the PIV default PIN.
func twoKinds(t *testing.T) *virtual.Backend {
	t.Helper()
	ps, err := simpiv.New(simpiv.Config{})
	require.NoError(t, err)
	gs, err := simgids.New(simgids.Config{Initialized: true, PIN: simpiv.DefaultPIN})
	require.NoError(t, err)
	b := virtual.NewBackend()
	b.AddReader("PIV Reader").Insert(ps)
	b.AddReader("GIDS Reader").Insert(gs)
	return b
}

// TestAdminResponderPerCard writes to a PIV and a GIDS card from one
// provider: its responder learns which card asks and answers each with
// its own key.
func TestAdminResponderPerCard(t *testing.T) {
	ctx := context.Background()
	b := twoKinds(t)
	var mu sync.Mutex
	seen := map[string]minidriver.AdminChallenge{}
	keys := minidriver.AdminResponders(piv.ManagementKey(simpiv.DefaultManagementKey), gids.AdminKey(simgids.DefaultAdminKey))
	p, err := basecsp.Open(basecsp.Config{Backend: b, Prompt: newPrompt(simpiv.DefaultPIN),
		AdminResponse: func(ctx context.Context, ch minidriver.AdminChallenge) ([]byte, error) {
			mu.Lock()
			seen[ch.Reader] = ch
			mu.Unlock()
			return keys(ctx, ch)
		}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = p.Close() })

	for _, reader := range []string{"PIV Reader", "GIDS Reader"} {
		ct, err := p.CreateContainer(ctx, `\\.\`+reader+`\box`, minidriver.ECDSAP256, 0, nil)
		require.NoError(t, err, reader)
		k, err := ct.Key(minidriver.ECDSAP256)
		require.NoError(t, err)
		require.NoError(t, k.SetCertificate(ctx, selfSigned(t, k, reader)), reader)
	}
	certs, err := p.Certificates(ctx)
	require.NoError(t, err)
	assert.Len(t, certs, 2)

	cards, err := p.Cards(ctx)
	require.NoError(t, err)
	ids := map[string]any{}
	for _, c := range cards {
		ids[c.Reader()] = c.ID()
	}
	pivCh, gidsCh := seen["PIV Reader"], seen["GIDS Reader"]
	assert.Equal(t, "PIV", pivCh.Plugin)
	assert.Equal(t, ids["PIV Reader"], pivCh.CardID)
	assert.NotEmpty(t, pivCh.Serial)
	assert.Equal(t, "AES-192", pivCh.Algorithm, "a YubiKey 5.7's default management key")
	assert.Len(t, pivCh.Challenge, 16)
	assert.Equal(t, "GIDS", gidsCh.Plugin)
	assert.Equal(t, ids["GIDS Reader"], gidsCh.CardID)
	assert.Empty(t, gidsCh.Algorithm, "a GIDS card does not say")
	assert.Len(t, gidsCh.Challenge, 32)
}

// TestAdminResponderDeclinesOtherCards: a provider with a PIV management
// key only writes to a GIDS card with the user PIN, and the PIV
// responder alone refuses a GIDS challenge with ErrNoAdminKey.
func TestAdminResponderDeclinesOtherCards(t *testing.T) {
	ctx := context.Background()
	p, err := basecsp.Open(basecsp.Config{Backend: twoKinds(t), Prompt: newPrompt(simpiv.DefaultPIN),
		AdminResponse: piv.ManagementKey(simpiv.DefaultManagementKey)})
	require.NoError(t, err)
	t.Cleanup(func() { _ = p.Close() })
	for _, reader := range []string{"PIV Reader", "GIDS Reader"} {
		_, err := p.CreateContainer(ctx, `\\.\`+reader+`\box`, minidriver.ECDSAP256, 0, nil)
		require.NoError(t, err, reader)
	}

	_, err = piv.ManagementKey(simpiv.DefaultManagementKey)(ctx, minidriver.AdminChallenge{Plugin: "GIDS", Challenge: make([]byte, 32)})
	assert.ErrorIs(t, err, minidriver.ErrNoAdminKey)
	_, err = minidriver.AdminResponders(gids.AdminKey(simgids.DefaultAdminKey))(ctx, minidriver.AdminChallenge{Plugin: "PIV", Reader: "r", Challenge: make([]byte, 16)})
	assert.ErrorIs(t, err, minidriver.ErrNoAdminKey)
}

// TestAdminChallengeAlgorithm: the responder learns the management key's
// algorithm as far as the card told it.
func TestAdminChallengeAlgorithm(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  simpiv.Config
		want string
	}{
		{"5.7 metadata, AES-192", simpiv.Config{}, "AES-192"},
		{"5.7 metadata, AES-256", simpiv.Config{ManagementKeyAlgorithm: simpiv.AlgAES256, ManagementKey: make([]byte, 32)}, "AES-256"},
		{"5.4 metadata, 3DES", simpiv.Config{Version: simpiv.Version{Major: 5, Minor: 4, Patch: 3}}, "3DES"},
		{"5.2 no metadata, 3DES", simpiv.Config{Version: simpiv.Version{Major: 5, Minor: 2, Patch: 7}}, "3DES"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sim, err := simpiv.New(tc.cfg)
			require.NoError(t, err)
			key := tc.cfg.ManagementKey
			if key == nil {
				key = simpiv.DefaultManagementKey
			}
			b := virtual.NewBackend()
			b.AddReader(readerName).Insert(sim)
			var got minidriver.AdminChallenge
			p, err := basecsp.Open(basecsp.Config{Backend: b, Prompt: newPrompt(simpiv.DefaultPIN),
				AdminResponse: func(ctx context.Context, ch minidriver.AdminChallenge) ([]byte, error) {
					got = ch
					return piv.ManagementKey(key)(ctx, ch)
				}})
			require.NoError(t, err)
			t.Cleanup(func() { _ = p.Close() })
			_, err = p.CreateContainer(context.Background(), "k", minidriver.ECDSAP256, 0, nil)
			require.NoError(t, err)
			assert.Equal(t, tc.want, got.Algorithm)
			assert.Equal(t, readerName, got.Reader)
		})
	}
}

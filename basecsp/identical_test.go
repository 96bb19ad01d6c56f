package basecsp_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cardmod/cardmod/basecsp"
	simpiv "github.com/cardmod/cardmod/cardsim/piv"
	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/minidriver/piv"
	"github.com/cardmod/cardmod/pincache"
	"github.com/cardmod/cardmod/scrm/virtual"
)

// TestIdenticalCardsKeepTheirOwnCache puts two default simulated PIV
// cards (same serial, same cardid) in two readers: the data cache, in
// memory and on disk, never gives one card's containers for the other.
func TestIdenticalCardsKeepTheirOwnCache(t *testing.T) {
	for _, tc := range []struct {
		name string
		disk bool
	}{{"memory cache", false}, {"disk cache", true}} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			b := virtual.NewBackend()
			for _, r := range []string{"Reader A", "Reader B"} {
				sim, err := simpiv.New(simpiv.Config{})
				require.NoError(t, err)
				b.AddReader(r).Insert(sim)
			}
			cfg := basecsp.Config{Backend: b, Prompt: newPrompt(simpiv.DefaultPIN),
				AdminResponse: piv.ManagementKey(simpiv.DefaultManagementKey)}
			if tc.disk {
				cfg.CacheDir = t.TempDir()
			}
			open := func() *basecsp.Provider {
				p, err := basecsp.Open(cfg)
				require.NoError(t, err)
				t.Cleanup(func() { _ = p.Close() })
				return p
			}
			p := open()
			cards, err := p.Cards(ctx)
			require.NoError(t, err)
			require.Len(t, cards, 2)
			require.Equal(t, cards[0].ID(), cards[1].ID(), "the two cards report the same identity")

			// Warm the cache on both cards, then write to each.
			_, err = p.Containers(ctx)
			require.NoError(t, err)
			_, err = p.CreateContainer(ctx, `\\.\Reader A\one`, minidriver.ECDSAP256, 0, nil)
			require.NoError(t, err)
			_, err = p.CreateContainer(ctx, `\\.\Reader B\two`, minidriver.ECDSAP256, 0, nil)
			require.NoError(t, err)

			want := map[string]string{"Reader A": "one", "Reader B": "two"}
			check := func(t *testing.T, p *basecsp.Provider) {
				t.Helper()
				for range 2 { // cold, then from the cache
					list, err := p.Containers(ctx)
					require.NoError(t, err)
					got := map[string]string{}
					for _, e := range list {
						got[e.Reader] += e.Name
					}
					assert.Equal(t, want, got)
				}
				for reader, name := range want {
					ct, err := p.Container(ctx, `\\.\`+reader+`\`)
					require.NoError(t, err)
					assert.Equal(t, name, ct.Name(), reader)
				}
			}
			check(t, p)
			check(t, open()) // a new process, on the same disk cache
		})
	}
}

// TestIdenticalCardsDiskCacheAcrossProcesses: each card is used by a
// process of its own (which sees no duplicate), both on one disk cache;
// a later process reading one reader's card gets that card's data.
func TestIdenticalCardsDiskCacheAcrossProcesses(t *testing.T) {
	ctx := context.Background()
	b := virtual.NewBackend()
	for _, r := range []string{"Reader A", "Reader B"} {
		sim, err := simpiv.New(simpiv.Config{})
		require.NoError(t, err)
		b.AddReader(r).Insert(sim)
	}
	dir := t.TempDir()
	open := func() *basecsp.Provider {
		p, err := basecsp.Open(basecsp.Config{Backend: b, Prompt: newPrompt(simpiv.DefaultPIN), CacheDir: dir,
			AdminResponse: piv.ManagementKey(simpiv.DefaultManagementKey)})
		require.NoError(t, err)
		t.Cleanup(func() { _ = p.Close() })
		return p
	}
	for reader, name := range map[string]string{"Reader A": "one", "Reader B": "two"} {
		p := open()
		_, err := p.CreateContainer(ctx, `\\.\`+reader+`\`+name, minidriver.ECDSAP256, 0, nil)
		require.NoError(t, err)
		ct, err := p.Container(ctx, `\\.\`+reader+`\`)
		require.NoError(t, err)
		require.Equal(t, name, ct.Name())
		require.NoError(t, p.Close())
	}
	for reader, name := range map[string]string{"Reader A": "one", "Reader B": "two"} {
		p := open()
		ct, err := p.Container(ctx, `\\.\`+reader+`\`)
		require.NoError(t, err)
		assert.Equal(t, name, ct.Name(), "%s, from the disk cache", reader)
		_, err = p.Container(ctx, `\\.\`+reader+`\`+name)
		assert.NoError(t, err)
	}
}

// TestIdenticalCardsKeepTheirOwnPIN: two cards that report the same
// identity but have different PINs. The PIN cached for one is never tried
// on the other (which would cost it a try): each card's PIN is asked once
// and then cached for that card.
func TestIdenticalCardsKeepTheirOwnPIN(t *testing.T) {
	ctx := context.Background()
	pins := map[string]string{"Reader A": simpiv.DefaultPIN, "Reader B": "654321"}
	b := virtual.NewBackend()
	for _, r := range []string{"Reader A", "Reader B"} {
		sim, err := simpiv.New(simpiv.Config{PIN: pins[r]})
		require.NoError(t, err)
		b.AddReader(r).Insert(sim)
	}
	var mu sync.Mutex
	asked := map[string]int{}
	p, err := basecsp.Open(basecsp.Config{Backend: b,
		AdminResponse: piv.ManagementKey(simpiv.DefaultManagementKey),
		Prompt: pincache.Func(func(_ context.Context, r pincache.Request) (*pincache.Secret, error) {
			mu.Lock()
			defer mu.Unlock()
			asked[r.CardName]++
			return pincache.NewSecret([]byte(pins[r.CardName])), nil
		})})
	require.NoError(t, err)
	t.Cleanup(func() { _ = p.Close() })

	// The card in Reader A is used (and its PIN cached) before the
	// provider meets the one in Reader B: the PIN cached under the
	// identity they share is dropped then, and asked again once.
	digest := sha256.Sum256([]byte("x"))
	for range 2 {
		for _, r := range []string{"Reader A", "Reader B"} {
			ct, err := p.Container(ctx, `\\.\`+r+`\k`)
			if err != nil {
				ct, err = p.CreateContainer(ctx, `\\.\`+r+`\k`, minidriver.ECDSAP256, 0, nil)
				require.NoError(t, err, r)
			}
			k, err := ct.Key(minidriver.ECDSAP256)
			require.NoError(t, err)
			_, err = k.Sign(rand.Reader, digest[:], crypto.SHA256)
			require.NoError(t, err, r)
		}
	}
	assert.Equal(t, map[string]int{"Reader A": 2, "Reader B": 1}, asked, "no PIN was tried on the other card")
	cards, err := p.Cards(ctx)
	require.NoError(t, err)
	require.Len(t, cards, 2)
	assert.Equal(t, cards[0].ID(), cards[1].ID(), "the two cards report the same identity")
}

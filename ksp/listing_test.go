package ksp_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cardmod/cardmod/cardfs"
	simgids "github.com/cardmod/cardmod/cardsim/gids"
	simpiv "github.com/cardmod/cardmod/cardsim/piv"
	"github.com/cardmod/cardmod/ksp"
	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/scrm/virtual"
)

// TestKeysReportUnreadableCard puts a PIV card and a blank GIDS card in
// two readers, in both orders: Keys and the user store list the PIV
// card's key and report the GIDS card by reader.
func TestKeysReportUnreadableCard(t *testing.T) {
	for _, tc := range []struct{ name, pivReader, gidsReader string }{
		{"PIV first", "Reader A", "Reader B"},
		{"GIDS first", "Reader B", "Reader A"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			sim, err := simpiv.New(simpiv.Config{})
			require.NoError(t, err)
			blank, err := simgids.New(simgids.Config{})
			require.NoError(t, err)
			b := virtual.NewBackend()
			b.AddReader(tc.pivReader).Insert(sim)
			b.AddReader(tc.gidsReader).Insert(blank)
			f := &fixture{b: b, prompt: newPrompt(simpiv.DefaultPIN)}
			f.p = f.open(t, ksp.Config{})

			k := f.create(t, `\\.\`+tc.pivReader+`\one`, ksp.ECDSAP256, nil)
			require.NoError(t, k.SetProperty(ctx, ksp.PropSmartCardKeyCertificate, selfSigned(t, k, "one")))

			check := func(t *testing.T, err error) {
				t.Helper()
				var ce ksp.CardErrors
				require.ErrorAs(t, err, &ce, "%v", err)
				require.Len(t, ce, 1)
				assert.Equal(t, tc.gidsReader, ce[0].Reader)
				assert.ErrorIs(t, ce[0].Err, minidriver.ErrNotInitialized)
				assert.ErrorIs(t, ce[0].Err, cardfs.ErrFileNotFound)
			}
			keys, err := f.p.Keys(ctx)
			check(t, err)
			require.Len(t, keys, 1)
			assert.Equal(t, "one", keys[0].Name)
			assert.Equal(t, tc.pivReader, keys[0].Reader)

			certs, err := f.p.Certificates(ctx)
			check(t, err)
			require.Len(t, certs, 1)
			assert.Equal(t, "one", certs[0].Container)

			v, err := k.Property(ctx, ksp.PropSmartCardUserCertStore)
			check(t, err)
			var pe *ksp.PropertyError
			assert.ErrorAs(t, err, &pe)
			assert.Len(t, v, 1)

			opened, err := f.p.OpenKey(ctx, "one")
			require.NoError(t, err)
			assert.Equal(t, `\\.\`+tc.pivReader+`\one`, opened.FullName())
		})
	}
}

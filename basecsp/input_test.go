package basecsp_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cardmod/cardmod/basecsp"
	simpiv "github.com/cardmod/cardmod/cardsim/piv"
	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/scrm"
	"github.com/cardmod/cardmod/scrm/virtual"
)

// TestExclusiveOpenWhileHeld: a provider that wants the card exclusively
// while another application has it, or any provider while another holds
// it exclusively, says sharing violation, not "no card present".
func TestExclusiveOpenWhileHeld(t *testing.T) {
	for _, tc := range []struct {
		name        string
		other       scrm.ShareMode
		exclusiveUs bool
	}{
		{"we want it exclusively, another shares it", scrm.ShareShared, true},
		{"another holds it exclusively", scrm.ShareExclusive, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sim, err := simpiv.New(simpiv.Config{})
			require.NoError(t, err)
			b := virtual.NewBackend()
			b.AddReader(readerName).Insert(sim)
			ctx := context.Background()
			held, err := scrm.NewContext(b).Connect(ctx, readerName, &scrm.ConnectOptions{Share: tc.other})
			require.NoError(t, err)
			f := &fixture{b: b, prompt: newPrompt(simpiv.DefaultPIN)}
			p := f.open(t, basecsp.Config{Exclusive: tc.exclusiveUs})

			_, err = p.Container(ctx, "")
			require.Error(t, err)
			assert.ErrorIs(t, err, scrm.ErrSharingViolation)
			assert.NotErrorIs(t, err, scrm.ErrNoSmartcard, "the card is there")
			assert.NotContains(t, err.Error(), "no card present")
			_, err = p.CreateContainer(ctx, "", minidriver.ECDSAP256, 0, nil)
			assert.ErrorIs(t, err, scrm.ErrSharingViolation)

			require.NoError(t, held.Close(scrm.LeaveCard))
			_, err = p.CreateContainer(ctx, "", minidriver.ECDSAP256, 0, nil)
			require.NoError(t, err, "once the other application lets go")
		})
	}
}

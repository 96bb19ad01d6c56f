package basecsp_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cardmod/cardmod/basecsp"
	"github.com/cardmod/cardmod/cardsim"
	simgids "github.com/cardmod/cardmod/cardsim/gids"
	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/scrm/virtual"
)

// failingWrites refuses the n-th write command (PUT DATA, CREATE FILE,
// ACTIVATE FILE, GENERATE, DELETE FILE) it sees with 6A84 (not enough
// memory), as a full card would, and counts them.
type failingWrites struct {
	cardsim.Card
	mu     sync.Mutex
	n, at  int
	failed bool
}

func (f *failingWrites) Transmit(apdu []byte) []byte {
	if len(apdu) >= 4 {
		switch apdu[1] {
		case 0xDB, 0xE0, 0x44, 0x47, 0xE4:
			f.mu.Lock()
			f.n++
			fail := f.n == f.at
			f.failed = f.failed || fail
			f.mu.Unlock()
			if fail {
				return []byte{0x6A, 0x84}
			}
		}
	}
	return f.Card.Transmit(apdu)
}

// gidsState is a GIDS card's saved state with cardcf's content left out:
// cardcf says that something may have changed, and is bumped before the
// first write as the specification asks; everything else must be as it
// was.
func gidsState(t *testing.T, sim *simgids.Card) string {
	t.Helper()
	var b bytes.Buffer
	require.NoError(t, sim.Save(&b))
	var s map[string]any
	require.NoError(t, json.Unmarshal(b.Bytes(), &s))
	for _, f := range s["files"].([]any) {
		file := f.(map[string]any)
		objs, _ := file["objects"].([]any)
		for _, o := range objs {
			obj := o.(map[string]any)
			if strings.EqualFold(obj["tag"].(string), fmt.Sprintf("%x", simgids.DOCardCF)) {
				obj["data"] = "cardcf"
			}
		}
	}
	out, err := json.MarshalIndent(s, "", " ")
	require.NoError(t, err)
	return string(out)
}

// TestFailedCreateLeavesNothing fails a create at every write it makes, in
// turn, and checks that the card is left as it was, byte for byte (but
// for cardcf's counters), and that the provider lists nothing new (issue
// 15, item 4). The unsupported algorithm case (ECDH P-256 on an RSA-only
// card) is refused before any write.
func TestFailedCreateLeavesNothing(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		profile simgids.Profile
		spec    minidriver.KeySpec
		bits    int
	}{
		{simgids.ProfileRSAEC(), minidriver.ECDSAP256, 0},
		{simgids.ProfileRSAQuiet(), minidriver.ECDHP256, 0},
		{simgids.ProfileRSA(), minidriver.ECDHP256, 0},
	} {
		t.Run(tc.profile.Name, func(t *testing.T) {
			// A create that fails by itself (an algorithm the card lacks)
			// is checked as it fails; one that succeeds is failed at each
			// of its writes in turn. (A refusal of the writes that undo a
			// failed create cannot be undone: not tested.)
			start := 1
			if tc.profile.Name != simgids.ProfileRSAEC().Name {
				start = 0
			}
			for at := start; ; at++ {
				sim, err := simgids.New(simgids.Config{Initialized: true, Profile: tc.profile})
				require.NoError(t, err)
				card := &failingWrites{Card: sim}
				b := virtual.NewBackend()
				b.AddReader(readerName).Insert(card)
				p, err := basecsp.Open(basecsp.Config{Backend: b, Prompt: newPrompt(simgids.DefaultPIN)})
				require.NoError(t, err)
				// One container first, so that the map is not empty.
				_, err = p.CreateContainer(ctx, `\\.\`+readerName+`\first`, minidriver.KeyExchange, 1024, nil)
				require.NoError(t, err)
				card.mu.Lock()
				card.n, card.failed = 0, false
				card.at = at
				card.mu.Unlock()
				before := gidsState(t, sim)
				_, err = p.CreateContainer(ctx, `\\.\`+readerName+`\second`, tc.spec, tc.bits, nil)
				card.mu.Lock()
				failed, writes := card.failed, card.n
				card.mu.Unlock()
				if err == nil {
					require.False(t, failed, "a create that survived a refused write")
					require.Equal(t, simgids.ProfileRSAEC().Name, tc.profile.Name, "created on a card without the algorithm")
					_ = p.Close()
					return // every write of a successful create was failed in turn
				}
				if !failed {
					// Refused without an injected failure: only the
					// unsupported algorithm may do that.
					assert.ErrorIs(t, err, minidriver.ErrUnsupported)
					if tc.profile.Advertise {
						assert.Zero(t, writes, "refused before any write: the card lists its algorithms")
					}
				}
				assert.Equal(t, before, gidsState(t, sim), "card state after a create failed at write %d of %d: %v", at, writes, err)
				list, lerr := p.Containers(ctx)
				require.NoError(t, lerr)
				assert.Len(t, list, 1, "only the first container is listed")
				_ = p.Close()
				if at == 0 {
					return
				}
				if !failed || at > 40 {
					if tc.profile.Name == simgids.ProfileRSAEC().Name {
						t.Fatalf("the create never succeeded (%d writes)", writes)
					}
					return
				}
			}
		})
	}
}

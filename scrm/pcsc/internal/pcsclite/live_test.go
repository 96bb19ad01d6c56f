package pcsclite_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cardmod/cardmod/scrm"
	"github.com/cardmod/cardmod/scrm/pcsc/internal/pcsclite"
)

// TestLiveHandshake runs the handshake against the test bed's real pcscd
// (1.9.9, protocol 4.4): offered 4.5 first, the client must be refused,
// retry with 4.4 and then list the vpcd readers. Offered 4.6, the same.
func TestLiveHandshake(t *testing.T) {
	if os.Getenv("CARDMOD_PCSCD") == "" {
		t.Skip("needs pcscd: set CARDMOD_PCSCD=1 or run ./scripts/test.sh")
	}
	for _, offer := range []pcsclite.Version{{}, pcsclite.Version45, pcsclite.Version46, pcsclite.Version44} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		c, err := pcsclite.Establish(ctx, pcsclite.Config{Offer: offer})
		cancel()
		require.NoError(t, err, "offer %v", offer)
		assert.Equal(t, pcsclite.Version44, c.Version(), "offer %v", offer)
		names, err := c.ListReaders()
		require.NoError(t, err)
		assert.NotEmpty(t, names)
		for _, n := range names {
			assert.NotContains(t, n, "\x00")
		}
		st := []scrm.ReaderState{{Reader: names[0]}, {Reader: scrm.PnPNotification}}
		wctx, wcancel := context.WithTimeout(context.Background(), 10*time.Second)
		err = c.GetStatusChange(wctx, st, 5*time.Second)
		wcancel()
		require.NoError(t, err)
		assert.True(t, st[0].Event.Has(scrm.StateChanged), "%#x", st[0].Event)
		require.NoError(t, c.Release())
	}
}

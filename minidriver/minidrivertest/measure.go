package minidrivertest

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/scrm"
)

// Measure is the benchmark loop plug-ins share: it runs op b.N times, each
// in one transaction as the engine runs it (Resume, read cardcf, VERIFY of
// pin when it is not nil, op, logout), and reports APDUs per operation for
// the whole transaction ("APDUs/op"), for op alone ("op-APDUs/op") and the
// bytes exchanged ("bytes/op"), from sc's counters.
func Measure(b *testing.B, sc *scrm.Card, card minidriver.Card, pinID minidriver.PinID, pin []byte,
	op func(ctx context.Context, tx *scrm.Tx) error) {
	b.Helper()
	ctx := context.Background()
	var opAPDUs uint64
	before := sc.Stats()
	b.ResetTimer()
	for range b.N {
		tx, err := sc.Begin(ctx)
		require.NoError(b, err)
		require.NoError(b, card.Resume(ctx, tx))
		_, err = card.ReadFile(ctx, tx, "", "cardcf")
		require.NoError(b, err)
		if pin != nil {
			_, err = card.Authenticate(ctx, tx, pinID, pin, 0)
			require.NoError(b, err)
		}
		s := sc.Stats()
		require.NoError(b, op(ctx, tx))
		opAPDUs += sc.Stats().Sub(s).APDUs
		if pin != nil {
			require.NoError(b, card.Deauthenticate(ctx, tx, minidriver.NewPinSet(pinID)))
		}
		require.NoError(b, tx.End(scrm.LeaveCard))
	}
	b.StopTimer()
	d := sc.Stats().Sub(before)
	b.ReportMetric(float64(d.APDUs)/float64(b.N), "APDUs/op")
	b.ReportMetric(float64(opAPDUs)/float64(b.N), "op-APDUs/op")
	b.ReportMetric(float64(d.BytesSent+d.BytesReceived)/float64(b.N), "bytes/op")
}

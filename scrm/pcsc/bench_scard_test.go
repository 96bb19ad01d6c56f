//go:build cardmod_scard && cgo && linux

package pcsc_test

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cardmod/cardmod/scrm"
	"github.com/cardmod/cardmod/scrm/pcsc"
	"github.com/cardmod/cardmod/scrm/pcsc/internal/pcsclite"
	"github.com/cardmod/cardmod/scrm/pcsc/pcscdtest"
)

// clients returns a connection to reader through each Linux client: the
// pure-Go one and ebfe/scard over libpcsclite (this build's default).
func clients(tb testing.TB, env *pcscdtest.Env, reader string) map[string]scrm.Conn {
	tb.Helper()
	pure, err := pcsc.NewPureGo(testCtx(tb), pcsclite.Config{})
	require.NoError(tb, err)
	tb.Cleanup(func() { _ = pure.Release() })
	return map[string]scrm.Conn{
		"purego":   connect(tb, pure, reader, scrm.ShareShared),
		"ebfe-cgo": connect(tb, env.Backend(tb), reader, scrm.ShareShared),
	}
}

// benchRounds is how many times each client is measured in
// BenchmarkTransmitClients, alternating.
const benchRounds = 6

// BenchmarkTransmitClients measures one APDU round trip through pcscd and
// vpcd with both Linux clients, interleaved in one run: round r measures
// both, the first client alternating, so that load on the machine hits
// both alike. scripts/bench-pcsc.sh runs it and prints the median ratio.
func BenchmarkTransmitClients(b *testing.B) {
	env := pcscdtest.Require(b)
	reader, _ := env.InsertTB(b, &tinyCard{})
	conns := clients(b, env, reader)
	cmd := cmdEcho(bytes.Repeat([]byte{0xA5}, 16)...)
	ctx := testCtx(b)
	for r := range benchRounds {
		order := []string{"purego", "ebfe-cgo"}
		if r%2 == 1 {
			order[0], order[1] = order[1], order[0]
		}
		for _, name := range order {
			c := conns[name]
			b.Run(fmt.Sprintf("%s/round=%d", name, r), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					rsp, err := c.Transmit(ctx, cmd)
					if err != nil || len(rsp) != 18 {
						b.Fatalf("transmit: %x, %v", rsp, err)
					}
				}
				b.ReportMetric(1, "APDUs/op")
				b.ReportMetric(float64(len(cmd)), "bytes-sent/op")
				b.ReportMetric(18, "bytes-received/op")
			})
		}
	}
}

// TestTransmitAllocsBelowCgo: the pure-Go client allocates less per
// transmit than ebfe/scard (which allocates a 64 KiB answer buffer).
func TestTransmitAllocsBelowCgo(t *testing.T) {
	env := pcscdtest.Require(t)
	reader, _ := env.InsertTB(t, &tinyCard{})
	conns := clients(t, env, reader)
	ctx := testCtx(t)
	cmd := cmdEcho(1, 2, 3)
	allocs := map[string]float64{}
	for name, c := range conns {
		allocs[name] = testing.AllocsPerRun(50, func() {
			if _, err := c.Transmit(ctx, cmd); err != nil {
				t.Fatal(err)
			}
		})
	}
	t.Logf("allocs per transmit: %v", allocs)
	assert.Less(t, allocs["purego"], allocs["ebfe-cgo"])
}

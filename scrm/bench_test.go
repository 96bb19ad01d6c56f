package scrm_test

import (
	"context"
	"testing"

	"github.com/cardmod/cardmod/scrm"
	"github.com/cardmod/cardmod/scrm/scrmtest"
)

// reportStats reports APDUs and bytes per operation beside ns/op.
func reportStats(b *testing.B, c *scrm.Card, before scrm.Stats) {
	d := c.Stats().Sub(before)
	n := float64(b.N)
	b.ReportMetric(float64(d.APDUs)/n, "APDUs/op")
	b.ReportMetric(float64(d.BytesSent)/n, "bytes-sent/op")
	b.ReportMetric(float64(d.BytesReceived)/n, "bytes-recv/op")
}

func BenchmarkVirtual(b *testing.B) {
	cases := []struct {
		name string
		cmd  scrm.Command
	}{
		{"Transmit/echo16", scrm.Command{INS: scrmtest.InsEcho, Data: make([]byte, 16), Ne: 256}},
		{"Do/answer1K", scrm.Command{INS: scrmtest.InsGenerate, P1: 0x04, P2: 0x00, Ne: scrm.MaxNe}},
		{"Do/chained600", scrm.Command{INS: scrmtest.InsEcho, Data: make([]byte, 600), Ne: scrm.MaxNe}},
	}
	for _, bc := range cases {
		b.Run(bc.name, func(b *testing.B) {
			c, _ := setup(b, scrmtest.NewTestCard(), nil)
			ctx := context.Background()
			before := c.Stats()
			b.ReportAllocs()
			for b.Loop() {
				if bc.name == "Transmit/echo16" {
					if _, err := c.Transmit(ctx, []byte{0, scrmtest.InsEcho, 0, 0, 16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}); err != nil {
						b.Fatal(err)
					}
					continue
				}
				if _, err := c.Do(ctx, bc.cmd); err != nil {
					b.Fatal(err)
				}
			}
			reportStats(b, c, before)
		})
	}
}

package main

import (
	"context"
	"net"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh/agent"

	"github.com/cardmod/cardmod/internal/simfile"
	"github.com/cardmod/cardmod/scrm"
	"github.com/cardmod/cardmod/scrm/virtual"
)

// countingBackend counts the APDUs and bytes of every connection.
type countingBackend struct {
	scrm.Backend
	apdus, sent, received atomic.Uint64
}

func (b *countingBackend) Connect(ctx context.Context, reader string, share scrm.ShareMode, proto scrm.Protocol) (scrm.Conn, error) {
	c, err := b.Backend.Connect(ctx, reader, share, proto)
	if err != nil {
		return nil, err
	}
	return &countingConn{Conn: c, b: b}, nil
}

type countingConn struct {
	scrm.Conn
	b *countingBackend
}

func (c *countingConn) Transmit(ctx context.Context, cmd []byte) ([]byte, error) {
	rsp, err := c.Conn.Transmit(ctx, cmd)
	c.b.apdus.Add(1)
	c.b.sent.Add(uint64(len(cmd)))
	c.b.received.Add(uint64(len(rsp)))
	return rsp, err
}

// BenchmarkAgentSignature: one SSH signature request through the agent
// (the agent protocol over its socket, the card in a virtual reader), the
// PIN cached. It reports the APDUs and bytes each signature costs.
func BenchmarkAgentSignature(b *testing.B) {
	for _, bc := range []struct{ name, mode string }{
		{"ecdsa-p256", "shared"}, {"rsa-2048", "shared"}, {"ecdsa-p256", "exclusive"},
	} {
		name := bc.name
		b.Run(bc.name+"/"+bc.mode, func(b *testing.B) {
			sim := provisioned(b)
			opened, err := simfile.Open(sim, simfile.Options{})
			require.NoError(b, err)
			vb := virtual.NewBackend()
			vb.AddReader("Reader 1").Insert(opened.Card)
			cb := &countingBackend{Backend: vb}
			args := []string{"-pin-stdin"}
			ra := startAgentArgs(b, &stdio{backend: cb}, strings.Repeat("123456\n", 4), args, bc.mode == "exclusive")
			conn, err := net.Dial("unix", ra.sock)
			require.NoError(b, err)
			defer conn.Close()
			ag := agent.NewClient(conn)
			keys, err := ag.List()
			require.NoError(b, err)
			key := keys[0] // ec256, slot 9A
			if name == "rsa-2048" {
				key = keys[2]
			}
			data := []byte("session identifier and the rest of SSH_MSG_USERAUTH_REQUEST")
			_, err = ag.SignWithFlags(key, data, agent.SignatureFlagRsaSha256) // PIN asked and cached
			require.NoError(b, err)
			a0, s0, r0 := cb.apdus.Load(), cb.sent.Load(), cb.received.Load()
			b.ResetTimer()
			for range b.N {
				if _, err := ag.SignWithFlags(key, data, agent.SignatureFlagRsaSha256); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			n := float64(b.N)
			b.ReportMetric(float64(cb.apdus.Load()-a0)/n, "apdus/op")
			b.ReportMetric(float64(cb.sent.Load()-s0+cb.received.Load()-r0)/n, "bytes/op")
		})
	}
}

// TestAgentSignatureAPDUs is the budget of one SSH signature through the
// agent in shared mode, the PIN cached, issue 14's 4: GET DATA of cardcf's
// object in place of the SELECT (the card was provisioned by cardmod),
// VERIFY, GENERAL AUTHENTICATE, logout.
func TestAgentSignatureAPDUs(t *testing.T) {
	sim := provisioned(t)
	opened, err := simfile.Open(sim, simfile.Options{})
	require.NoError(t, err)
	vb := virtual.NewBackend()
	vb.AddReader("Reader 1").Insert(opened.Card)
	cb := &countingBackend{Backend: vb}
	ra := startAgent(t, &stdio{backend: cb}, "123456\n", "-pin-stdin")
	conn, err := net.Dial("unix", ra.sock)
	require.NoError(t, err)
	defer conn.Close()
	ag := agent.NewClient(conn)
	keys, err := ag.List()
	require.NoError(t, err)
	_, err = ag.Sign(keys[0], []byte("warm"))
	require.NoError(t, err)
	for range 3 {
		before := cb.apdus.Load()
		_, err = ag.Sign(keys[0], []byte("data"))
		require.NoError(t, err)
		require.Equal(t, uint64(4), cb.apdus.Load()-before)
	}
}

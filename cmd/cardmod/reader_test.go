package main

import (
	"encoding/json"
	"net"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"

	"github.com/cardmod/cardmod/internal/simfile"
	"github.com/cardmod/cardmod/scrm"
	"github.com/cardmod/cardmod/scrm/virtual"
)

// countingCard counts the APDUs a simulated card is sent.
type countingCard struct {
	virtual.Card
	apdus atomic.Int64
}

func (c *countingCard) Transmit(apdu []byte) []byte {
	c.apdus.Add(1)
	return c.Card.Transmit(apdu)
}

// twoIdenticalCards puts two copies of one provisioned card (the same
// state: the same card identity, serial and keys) in readers "Reader A"
// and "Reader B".
func twoIdenticalCards(t *testing.T) (vb *virtual.Backend, a, b *countingCard) {
	t.Helper()
	sim := provisioned(t)
	oa, err := simfile.Open(sim, simfile.Options{})
	require.NoError(t, err)
	ob, err := simfile.Open(sim, simfile.Options{})
	require.NoError(t, err)
	a, b = &countingCard{Card: oa.Card}, &countingCard{Card: ob.Card}
	vb = virtual.NewBackend()
	vb.AddReader("Reader A").Insert(a)
	vb.AddReader("Reader B").Insert(b)
	return vb, a, b
}

// TestReaderRestrictsCommands: with -reader, a command sees that reader
// only: the card in the other reader is sent no APDU, and what is printed
// is about the chosen card.
func TestReaderRestrictsCommands(t *testing.T) {
	vb, a, b := twoIdenticalCards(t)
	tests := []struct {
		name  string
		stdin string
		args  []string
		check func(t *testing.T, r result)
	}{
		{"list", "", []string{"list", "-json"}, func(t *testing.T, r result) {
			var l listing
			require.NoError(t, json.Unmarshal([]byte(r.out), &l), r.out)
			require.Len(t, l.Readers, 1)
			assert.Equal(t, "Reader B", l.Readers[0].Name)
			require.NotNil(t, l.Readers[0].Card)
			assert.Len(t, l.Readers[0].Card.Containers, 3)
		}},
		{"list -ssh", "", []string{"list", "-ssh"}, func(t *testing.T, r result) {
			lines := strings.Split(strings.TrimSpace(r.out), "\n")
			require.Len(t, lines, 3, r.out)
			for _, l := range lines {
				assert.True(t, strings.HasSuffix(l, " in Reader B"), l)
			}
		}},
		{"pin info", "", []string{"pin", "info"}, func(t *testing.T, r result) {
			assert.Contains(t, r.out, "PIN: 3 of 3 tries left")
		}},
		{"generate", "123456\n", []string{"-pin-stdin", "generate", "-alg", "p256", "onb"}, nil},
		{"sign", "123456\n", []string{"-pin-stdin", "sign", "-in", "/dev/null", "ec256"}, nil},
		{"cert export", "", []string{"cert", "export", "ec256"}, func(t *testing.T, r result) {
			assert.Contains(t, r.out, "BEGIN CERTIFICATE")
		}},
		{"delete", "123456\n", []string{"-pin-stdin", "delete", "onb"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a.apdus.Store(0)
			b.apdus.Store(0)
			r := ok(t, runIO(t, &stdio{backend: nopRelease{vb}}, tt.stdin, append([]string{"-reader", "Reader B"}, tt.args...)...))
			if tt.check != nil {
				tt.check(t, r)
			}
			assert.Zero(t, a.apdus.Load(), "APDUs to the card in the other reader")
			assert.NotZero(t, b.apdus.Load(), "APDUs to the card in -reader")
		})
	}

	r := runIO(t, &stdio{backend: nopRelease{vb}}, "", "-reader", "Reader C", "list")
	assert.Equal(t, exitNotFound, r.code, r.err)
	assert.Contains(t, r.err, `reader "Reader C"`)
}

// TestReaderRestrictsAgent: `cardmod -reader R agent` serves the keys of
// R's card only and never talks to the card in another reader, even an
// identical one; with R's card pulled it serves nothing, and with it back
// it signs with the PIN it cached (the identical card elsewhere does not
// disturb it: only one PIN is on standard input).
func TestReaderRestrictsAgent(t *testing.T) {
	vb, a, b := twoIdenticalCards(t)
	ra := startAgent(t, &stdio{backend: nopRelease{vb}}, "123456\n", "-reader", "Reader B", "-pin-stdin")
	conn, err := net.Dial("unix", ra.sock)
	require.NoError(t, err)
	defer conn.Close()
	ag := agent.NewClient(conn)
	keys, err := ag.List()
	require.NoError(t, err)
	require.Len(t, keys, 3)
	for _, k := range keys {
		assert.True(t, strings.HasSuffix(k.Comment, " in Reader B"), k.Comment)
	}
	pub, err := ssh.ParsePublicKey(keys[0].Blob)
	require.NoError(t, err)
	sig, err := ag.Sign(pub, []byte("one"))
	require.NoError(t, err)
	require.NoError(t, pub.Verify([]byte("one"), sig))

	vb.Reader("Reader B").Remove()
	keys, err = ag.List()
	require.NoError(t, err)
	assert.Empty(t, keys, "the identical card in Reader A is not served")

	vb.Reader("Reader B").Insert(b)
	keys, err = ag.List()
	require.NoError(t, err)
	require.Len(t, keys, 3)
	sig, err = ag.Sign(pub, []byte("two"))
	require.NoError(t, err, ra.errb.String())
	require.NoError(t, pub.Verify([]byte("two"), sig))
	assert.Zero(t, a.apdus.Load(), "APDUs to the card in the other reader")
}

// TestOneReaderBackend: the filter itself: the other readers are unknown
// to every call.
func TestOneReaderBackend(t *testing.T) {
	vb, _, _ := twoIdenticalCards(t)
	f := &oneReaderBackend{Backend: vb, reader: "Reader B"}
	ctx := t.Context()
	rs, err := f.ListReaders(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{"Reader B"}, rs)
	_, err = f.Connect(ctx, "Reader A", scrm.ShareShared, scrm.ProtocolAny)
	assert.ErrorIs(t, err, scrm.ErrUnknownReader)
	assert.ErrorIs(t, f.GetStatusChange(ctx, []scrm.ReaderState{{Reader: "Reader A"}}), scrm.ErrUnknownReader)
	st := []scrm.ReaderState{{Reader: "Reader B"}}
	require.NoError(t, f.GetStatusChange(ctx, st))
	assert.True(t, st[0].Event.Has(scrm.StatePresent))
	c, err := f.Connect(ctx, "Reader B", scrm.ShareShared, scrm.ProtocolAny)
	require.NoError(t, err)
	require.NoError(t, c.Disconnect(scrm.LeaveCard))

	vb.RemoveReader("Reader B")
	_, err = f.ListReaders(ctx)
	assert.ErrorIs(t, err, scrm.ErrUnknownReader)
}

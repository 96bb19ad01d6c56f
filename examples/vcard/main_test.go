package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"flag"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cardmod/cardmod/cardsim/piv"
	"github.com/cardmod/cardmod/scrm"
	"github.com/cardmod/cardmod/scrm/pcsc/pcscdtest"
)

// waitLimit bounds the waits of these tests (a broken setup fails instead of
// hanging); it is not a timing assertion.
const waitLimit = time.Minute

// served is one run of the command in the background.
type served struct {
	cancel context.CancelFunc
	done   chan struct{} // closed when run has returned
	err    error         // run's result, set before done is closed
	out    *syncBuffer
}

// syncBuffer is the command's output, written by the run while a test
// reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// serve starts run with args and waits until it reports the card present.
// When t ends the run is interrupted and waited for, so a test that fails
// halfway leaves no card served into its reader.
func serve(t *testing.T, args ...string) (*served, string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &served{cancel: cancel, done: make(chan struct{}), out: new(syncBuffer)}
	readyc := make(chan string, 1)
	go func() {
		defer close(s.done)
		s.err = run(ctx, args, s.out, func(r string) { readyc <- r })
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-s.done:
		case <-time.After(waitLimit):
			t.Errorf("run did not stop within %v", waitLimit)
		}
	})
	select {
	case reader := <-readyc:
		return s, reader
	case <-s.done:
		t.Fatalf("run ended before the card was served: %v\n%s", s.err, s.out)
	case <-time.After(waitLimit):
		t.Fatalf("run did not serve the card within %v", waitLimit)
	}
	return nil, ""
}

// stop interrupts the run and returns its output.
func (s *served) stop(t *testing.T) string {
	t.Helper()
	s.cancel()
	select {
	case <-s.done:
		require.NoError(t, s.err, s.out.String())
	case <-time.After(waitLimit):
		t.Fatalf("run did not stop within %v", waitLimit)
	}
	return s.out.String()
}

// waitEmpty waits until pcscd reports reader empty. A card presented
// before pcscd has seen the last one go may never be reported (the card
// swap race of pcscd 1.9.9 with vpcd, see docs/testing.md), so the next run
// starts only then.
func waitEmpty(t *testing.T, sc *scrm.Context, reader string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	st := []scrm.ReaderState{{Reader: reader, Current: scrm.StateUnaware}}
	for {
		require.NoError(t, sc.GetStatusChange(ctx, st), "waiting for %q to be empty", reader)
		if st[0].Event.Has(scrm.StateEmpty) {
			return
		}
		st[0].Update()
	}
}

// pinTries asks the card in reader, through pcscd, for the PIN tries left.
func pinTries(t *testing.T, sc *scrm.Context, reader string) (serial uint32, tries int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	card, err := sc.Connect(ctx, reader, nil)
	require.NoError(t, err)
	defer func() { assert.NoError(t, card.Close(scrm.LeaveCard)) }()
	_, err = card.Do(ctx, scrm.Command{INS: 0xA4, P1: 0x04, Data: piv.AID[:5], Ne: 256})
	require.NoError(t, err)
	resp, err := card.Do(ctx, scrm.Command{INS: 0xF8, Ne: 4})
	require.NoError(t, err)
	require.Len(t, resp.Data, 4)
	serial = binary.BigEndian.Uint32(resp.Data)
	_, err = card.Do(ctx, scrm.Command{INS: 0x20, P2: 0x80})
	var se *scrm.StatusError
	require.ErrorAs(t, err, &se)
	tries, ok := se.RetriesLeft()
	require.True(t, ok, "empty VERIFY: %v", err)
	return serial, tries
}

// wrongPIN presents a wrong PIN once through pcscd.
func wrongPIN(t *testing.T, sc *scrm.Context, reader string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	card, err := sc.Connect(ctx, reader, nil)
	require.NoError(t, err)
	defer func() { assert.NoError(t, card.Close(scrm.LeaveCard)) }()
	_, err = card.Do(ctx, scrm.Command{INS: 0xA4, P1: 0x04, Data: piv.AID[:5], Ne: 256})
	require.NoError(t, err)
	_, err = card.Do(ctx, scrm.Command{INS: 0x20, P2: 0x80, Data: []byte("000000\xff\xff")})
	require.ErrorIs(t, err, scrm.ErrWrongPIN)
}

// TestRunServesAndPersists runs the command against pcscd twice on one state
// file: the first run creates the card, a wrong PIN through pcscd changes
// it, and the second run serves the saved card.
func TestRunServesAndPersists(t *testing.T) {
	env := pcscdtest.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	r, err := env.Acquire(ctx)
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, r.Release()) })
	sc := env.Context(t)
	state := filepath.Join(t.TempDir(), "card.json")
	args := []string{"-state", state, "-addr", r.Addr, "-reader", r.Name, "-firmware", "5.4.3", "-serial", "4242"}

	s, reader := serve(t, args...)
	require.Equal(t, r.Name, reader)
	serial, tries := pinTries(t, sc, reader)
	assert.Equal(t, uint32(4242), serial)
	assert.Equal(t, piv.DefaultTries, tries)
	wrongPIN(t, sc, reader)
	out := s.stop(t)
	assert.Contains(t, out, "created PIV card 4242 (yubikey-5.4.3, firmware 5.4.3) in "+state)
	assert.Contains(t, out, `PIV card 4242 (yubikey-5.4.3, firmware 5.4.3) present in reader "`+r.Name+`"`)
	assert.Contains(t, out, "state saved in "+state)

	saved, err := piv.LoadFile(state, piv.Config{})
	require.NoError(t, err)
	assert.Equal(t, uint32(4242), saved.Serial())
	assert.Equal(t, piv.Version{Major: 5, Minor: 4, Patch: 3}, saved.Version())

	// The creation flags no longer apply: the saved card is served.
	waitEmpty(t, sc, r.Name)
	s, reader = serve(t, "-state", state, "-addr", r.Addr, "-reader", r.Name, "-serial", "7")
	require.Equal(t, r.Name, reader, "%s", s.out)
	serial, tries = pinTries(t, sc, reader)
	assert.Equal(t, uint32(4242), serial)
	assert.Equal(t, piv.DefaultTries-1, tries, "the wrong PIN of the first run was not saved")
	out = s.stop(t)
	assert.Contains(t, out, "loaded PIV card 4242 (yubikey-5.4.3, firmware 5.4.3) from "+state)
	assert.Contains(t, out, "ignoring -serial (creation flags apply only to a new card)")
	assert.Contains(t, out, "state unchanged in "+state)
}

// TestRunServesGIDS serves a GIDS card (-card gids): pcscd sees a card that
// answers a SELECT of the GIDS application with its FCI and counts a wrong
// PIN, and the second run serves the saved card whatever -card says.
func TestRunServesGIDS(t *testing.T) {
	env := pcscdtest.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	r, err := env.Acquire(ctx)
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, r.Release()) })
	sc := env.Context(t)
	state := filepath.Join(t.TempDir(), "gids.json")

	gidsTries := func(reader string, wrong bool) int {
		card, err := sc.Connect(ctx, reader, nil)
		require.NoError(t, err)
		defer func() { assert.NoError(t, card.Close(scrm.LeaveCard)) }()
		fci, err := card.Do(ctx, scrm.Command{INS: 0xA4, P1: 0x04, Data: []byte{0xA0, 0x00, 0x00, 0x03, 0x97, 0x42, 0x54, 0x46, 0x59}, Ne: 256})
		require.NoError(t, err)
		assert.Equal(t, byte(0x61), fci.Data[0], "the FCI")
		if wrong {
			_, err = card.Do(ctx, scrm.Command{INS: 0x20, P2: 0x80, Data: []byte("00000000")})
			require.ErrorIs(t, err, scrm.ErrWrongPIN)
		}
		_, err = card.Do(ctx, scrm.Command{INS: 0x20, P2: 0x80})
		var se *scrm.StatusError
		require.ErrorAs(t, err, &se)
		n, ok := se.RetriesLeft()
		require.True(t, ok, "empty VERIFY: %v", err)
		return n
	}

	s, reader := serve(t, "-card", "gids", "-state", state, "-addr", r.Addr, "-reader", r.Name)
	require.Equal(t, r.Name, reader, "%s", s.out)
	first := gidsTries(reader, true)
	out := s.stop(t)
	assert.Contains(t, out, "created GIDS card")
	assert.Contains(t, out, "state saved in "+state)

	waitEmpty(t, sc, r.Name)
	s, reader = serve(t, "-state", state, "-addr", r.Addr, "-reader", r.Name)
	require.Equal(t, r.Name, reader, "%s", s.out)
	assert.Equal(t, first, gidsTries(reader, false), "the wrong PIN was saved")
	out = s.stop(t)
	assert.Contains(t, out, "loaded GIDS card")
}

// TestRunKeepsCorruptState: a state file that cannot be loaded is an error
// and stays as it was.
func TestRunKeepsCorruptState(t *testing.T) {
	state := filepath.Join(t.TempDir(), "card.json")
	corrupt := []byte(`{"version": 1, "serial": `)
	require.NoError(t, os.WriteFile(state, corrupt, 0o600))
	var out bytes.Buffer
	err := run(context.Background(), []string{"-state", state, "-addr", "127.0.0.1:1"}, &out, nil)
	var le *piv.LoadError
	require.ErrorAs(t, err, &le)
	got, rerr := os.ReadFile(state)
	require.NoError(t, rerr)
	assert.Equal(t, corrupt, got)
}

func TestParseArgs(t *testing.T) {
	o, err := parseArgs([]string{"-state", "c.json"}, &bytes.Buffer{})
	require.NoError(t, err)
	assert.Equal(t, options{kind: "piv", state: "c.json", addr: "127.0.0.1:35963", reader: "Virtual PCD 00 00",
		version: piv.DefaultVersion, serial: piv.DefaultSerial}, o)

	o, err = parseArgs([]string{"-state", "c.json", "-addr", "127.0.0.1:35964", "-firmware", "5.4.3",
		"-mgmt-alg", "AES256", "-serial", "12"}, &bytes.Buffer{})
	require.NoError(t, err)
	assert.Equal(t, options{kind: "piv", state: "c.json", addr: "127.0.0.1:35964", reader: "Virtual PCD 00 01",
		version: piv.Version{Major: 5, Minor: 4, Patch: 3}, serial: 12, mgmtAlg: piv.AlgAES256,
		creation: []string{"-firmware", "-mgmt-alg", "-serial"}}, o)

	o, err = parseArgs([]string{"-state", "c.json", "-addr", "10.0.0.1:40000"}, &bytes.Buffer{})
	require.NoError(t, err)
	assert.Empty(t, o.reader, "no reader name is known for a port of another configuration")

	for _, args := range [][]string{
		{},
		{"-state", "c.json", "extra"},
		{"-state", "c.json", "-firmware", "5.7"},
		{"-state", "c.json", "-firmware", "5.7.256"},
		{"-state", "c.json", "-mgmt-alg", "des"},
		{"-state", "c.json", "-serial", "0"},
		{"-state", "c.json", "-serial", "4294967296"},
		{"-state", "c.json", "-addr", "35963"},
		{"-state", "c.json", "-card", "cac"},
		{"-state", "c.json", "-blank"},
		{"-state", "c.json", "-card", "gids", "-firmware", "5.4.3"},
		{"-state", "c.json", "-profile", "yubikey-9"},
		{"-state", "c.json", "-profile", "gids-rsa"},
		{"-state", "c.json", "-card", "gids", "-profile", "piv-applet"},
		{"-state", "c.json", "-profile", "yubikey-4", "-firmware", "5.7.1"},
		{"-nosuchflag"},
	} {
		_, err := parseArgs(args, &bytes.Buffer{})
		assert.Error(t, err, "%q", args)
	}
	o, err = parseArgs([]string{"-state", "g.json", "-card", "gids", "-blank"}, &bytes.Buffer{})
	require.NoError(t, err)
	assert.Equal(t, "gids", o.kind)
	assert.True(t, o.blank)

	o, err = parseArgs([]string{"-state", "c.json", "-profile", "piv-applet"}, &bytes.Buffer{})
	require.NoError(t, err)
	assert.Equal(t, "piv-applet", o.pivProfile.Name)
	o, err = parseArgs([]string{"-state", "g.json", "-card", "gids", "-profile", "gids-rsa"}, &bytes.Buffer{})
	require.NoError(t, err)
	assert.Equal(t, "gids-rsa", o.gidsProfile.Name)

	_, err = parseArgs([]string{"-h"}, &bytes.Buffer{})
	assert.ErrorIs(t, err, flag.ErrHelp)
}

// FuzzParseArgs: any command line gives options or an error, never a panic,
// and accepted options are consistent.
func FuzzParseArgs(f *testing.F) {
	f.Add("c.json", "5.7.1", "aes192", "127.0.0.1:35963", "10000001")
	f.Add("c.json", "5.4.3", "tdes", "[::1]:35964", "1")
	f.Add("", "5..7", "des", "35963", "0")
	f.Add("x", "255.255.255", "AES256", "host:0", "4294967295")
	f.Fuzz(func(t *testing.T, state, firmware, alg, addr, serial string) {
		o, err := parseArgs([]string{"-state", state, "-firmware", firmware, "-mgmt-alg", alg,
			"-addr", addr, "-serial", serial}, &bytes.Buffer{})
		if err != nil {
			return
		}
		assert.NotEmpty(t, o.state)
		assert.NotZero(t, o.serial)
		again, err := parseVersion(o.version.String())
		assert.NoError(t, err)
		assert.Equal(t, o.version, again)
	})
}

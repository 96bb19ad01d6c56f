package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"flag"
	"net"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"

	simpiv "github.com/cardmod/cardmod/cardsim/piv"
	"github.com/cardmod/cardmod/internal/simfile"
	"github.com/cardmod/cardmod/scrm"
	"github.com/cardmod/cardmod/scrm/virtual"
)

// Tests of points of issue 14 that the other files do not show.

// forgingCard answers a PIV GENERAL AUTHENTICATE of a key (not of the
// management key, slot 9B) with its last data byte flipped: a signature
// in the right format that does not verify.
type forgingCard struct{ virtual.Card }

func (c forgingCard) Transmit(apdu []byte) []byte {
	rsp := c.Card.Transmit(apdu)
	if len(apdu) >= 4 && apdu[1] == 0x87 && apdu[3] != 0x9B && len(rsp) > 8 && rsp[len(rsp)-2] == 0x90 {
		rsp[len(rsp)-3] ^= 0x01
	}
	return rsp
}

// TestSignPrintsOnlyVerifiedSignatures: a signature that does not verify
// under the key's public key is never printed: a card answering a wrong
// signature gets a one-line error and nothing on standard output (the
// provider refuses it first; `cardmod sign` checks again before printing).
func TestSignPrintsOnlyVerifiedSignatures(t *testing.T) {
	for _, key := range []string{"ec256", "rsa"} {
		t.Run(key, func(t *testing.T) {
			opened, err := simfile.Open(provisioned(t), simfile.Options{})
			require.NoError(t, err)
			b := virtual.NewBackend()
			rd := b.AddReader("Reader 1")
			rd.Insert(opened.Card)
			r := ok(t, runIO(t, &stdio{backend: nopRelease{b}}, "123456\n", "-pin-stdin", "sign", "-in", "/dev/null", key))
			assert.NotEmpty(t, r.out, "the genuine card's signature is printed")

			rd.Remove()
			rd.Insert(forgingCard{opened.Card})
			r = runIO(t, &stdio{backend: nopRelease{b}}, "123456\n", "-pin-stdin", "sign", "-in", "/dev/null", key)
			assert.Equal(t, exitFailed, r.code, r.err)
			assert.Empty(t, r.out, "no signature printed")
			assert.Equal(t, 1, strings.Count(r.err, "\n"), "one line: %q", r.err)
			t.Log(r.err)
		})
	}
}

// TestPINNeverFromArgumentsOrEnvironment: no flag takes a PIN, and an
// environment full of PINs is not read for one: without -pin-stdin,
// pinentry or a terminal, a command that needs the PIN fails with exit
// code 4.
func TestPINNeverFromArgumentsOrEnvironment(t *testing.T) {
	check := func(cmd string, fs *flag.FlagSet) {
		fs.VisitAll(func(f *flag.Flag) {
			name := strings.ToLower(f.Name)
			if !strings.Contains(name, "pin") && !strings.Contains(name, "puk") {
				return
			}
			if bf, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && bf.IsBoolFlag() {
				return
			}
			assert.Equal(t, "pinentry", f.Name, "%s: flag -%s takes a value", cmd, f.Name)
		})
	}
	top := flag.NewFlagSet("cardmod", flag.ContinueOnError)
	(&globals{}).register(top)
	check("cardmod", top)
	for _, c := range commands() {
		fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
		if c.flags != nil {
			c.flags(fs, &cmdOpts{})
		}
		check(c.name, fs)
	}

	cacheDir := t.TempDir()
	env := func(k string) string {
		switch k {
		case "CARDMOD_PINENTRY", "GPG_TTY", "TERM": // where to ask, not what
			return ""
		case "CARDMOD_CACHE_DIR": // a path: the PIN would be a directory beside the test
			return cacheDir
		}
		return simpiv.DefaultPIN
	}
	r := runIO(t, &stdio{getenv: env}, "", "-sim", simFile(t), "generate", "k")
	assert.Equal(t, exitPIN, r.code, r.err)
	assert.Contains(t, r.err, "no way to ask for the PIN")
}

// TestAgentServesEveryCard: without -reader the agent serves the keys of
// every card present, each named by its card (plug-in and serial) and
// reader, and signs with the keys of each; its log holds no PIN, no data
// signed and no signature.
func TestAgentServesEveryCard(t *testing.T) {
	// The provisioned card (3 keys) and a card of its own serial with
	// one P-384 key.
	other := simFile(t)
	_, err := simfile.Open(other, simfile.Options{PIV: simpiv.Config{Serial: 4002}})
	require.NoError(t, err)
	ok(t, runCmd(t, "123456\n", "-sim", other, "-pin-stdin", "generate", "-alg", "p384", "other"))
	b := virtual.NewBackend()
	for i, sim := range []string{provisioned(t), other} {
		opened, err := simfile.Open(sim, simfile.Options{})
		require.NoError(t, err)
		b.AddReader([]string{"Reader A", "Reader B"}[i]).Insert(opened.Card)
	}
	ra := startAgent(t, &stdio{backend: b}, "123456\n123456\n", "-pin-stdin")
	conn, err := net.Dial("unix", ra.sock)
	require.NoError(t, err)
	defer conn.Close()
	ag := agent.NewClient(conn)
	keys, err := ag.List()
	require.NoError(t, err)
	require.Len(t, keys, 4, "three keys of the first card, one of the second")
	perReader := map[string]*agent.Key{}
	for _, k := range keys {
		switch {
		case strings.HasSuffix(k.Comment, "PIV 10000001 in Reader A"):
			perReader["Reader A"] = k
		case strings.HasSuffix(k.Comment, "PIV 4002 in Reader B"):
			perReader["Reader B"] = k
		default:
			t.Errorf("unexpected key name %q", k.Comment)
		}
	}
	require.Len(t, perReader, 2)
	var secrets []string
	for r, k := range perReader {
		pub, err := ssh.ParsePublicKey(k.Blob)
		require.NoError(t, err)
		data := "data to sign on the card in " + r
		sig, err := ag.Sign(pub, []byte(data))
		require.NoError(t, err, "%s: %s", r, ra.errb.String())
		require.NoError(t, pub.Verify([]byte(data), sig), r)
		secrets = append(secrets, data, hex.EncodeToString(sig.Blob), base64.StdEncoding.EncodeToString(sig.Blob),
			hex.EncodeToString([]byte(data)))
	}
	log := ra.errb.String()
	assert.Contains(t, log, "signed with")
	for _, s := range append(secrets, "123456", hex.EncodeToString([]byte("123456"))) {
		assert.NotContains(t, strings.ToLower(log), strings.ToLower(s))
	}
}

// txCountingBackend counts the transactions begun on its connections.
type txCountingBackend struct {
	scrm.Backend
	begun atomic.Int64
}

func (b *txCountingBackend) Connect(ctx context.Context, reader string, share scrm.ShareMode, proto scrm.Protocol) (scrm.Conn, error) {
	c, err := b.Backend.Connect(ctx, reader, share, proto)
	if err != nil {
		return nil, err
	}
	return &txCountingConn{Conn: c, b: b}, nil
}

type txCountingConn struct {
	scrm.Conn
	b *txCountingBackend
}

func (c *txCountingConn) BeginTransaction(ctx context.Context) error {
	err := c.Conn.BeginTransaction(ctx)
	if err == nil {
		c.b.begun.Add(1)
	}
	return err
}

// TestAgentOneTransactionPerSignature: each SSH signature through the
// agent is one PC/SC transaction on the card, the first (PIN asked) as
// the later ones (PIN cached), for each kind of key.
func TestAgentOneTransactionPerSignature(t *testing.T) {
	opened, err := simfile.Open(provisioned(t), simfile.Options{})
	require.NoError(t, err)
	vb := virtual.NewBackend()
	vb.AddReader("Reader 1").Insert(opened.Card)
	cb := &txCountingBackend{Backend: vb}
	ra := startAgent(t, &stdio{backend: cb}, strings.Repeat("123456\n", 8), "-pin-stdin")
	conn, err := net.Dial("unix", ra.sock)
	require.NoError(t, err)
	defer conn.Close()
	ag := agent.NewClient(conn)
	keys, err := ag.List()
	require.NoError(t, err)
	require.Len(t, keys, 3)
	for _, k := range keys {
		for i := range 3 {
			before := cb.begun.Load()
			_, err := ag.Sign(k, []byte("data"))
			require.NoError(t, err, ra.errb.String())
			assert.Equal(t, int64(1), cb.begun.Load()-before, "%s, signature %d", k.Comment, i+1)
		}
	}
}

// TestAgentBackgroundAsksOnItsTerminal: `cardmod agent` started from a
// terminal goes to the background without one, and asks for the PIN on
// the terminal it was started from, through pinentry (Debian's
// pinentry-tty; GPG_TTY names the terminal, as for gpg-agent).
func TestAgentBackgroundAsksOnItsTerminal(t *testing.T) {
	pe := needTool(t, "pinentry-tty")
	sim := provisioned(t)
	t.Setenv(envRunMain, "1")
	t.Setenv("TMPDIR", t.TempDir())
	master, slave, _ := openPTY(t)
	seen := ptyOutput(master)
	var out, errb bytes.Buffer
	// Standard input is the terminal (runIO would give a string).
	code := run(context.Background(), []string{"-sim", sim, "-pinentry", pe, "agent"},
		&stdio{in: slave, out: &out, err: &errb, getenv: func(string) string { return "" }})
	require.Equal(t, exitOK, code, errb.String())
	m := regexp.MustCompile(`SSH_AUTH_SOCK=(\S+); export SSH_AUTH_SOCK;\nSSH_AGENT_PID=(\d+);`).FindStringSubmatch(out.String())
	require.NotNil(t, m, "%q", out.String())
	pid, err := strconv.Atoi(m[2])
	require.NoError(t, err)
	t.Cleanup(func() {
		_ = syscall.Kill(pid, syscall.SIGTERM)
		// The agent is this test process's child: reap it.
		deadline := time.Now().Add(time.Minute)
		for time.Now().Before(deadline) {
			var ws syscall.WaitStatus
			if got, err := syscall.Wait4(pid, &ws, syscall.WNOHANG, nil); got == pid || err != nil {
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		_ = syscall.Kill(pid, syscall.SIGKILL)
	})

	conn, err := net.Dial("unix", m[1])
	require.NoError(t, err)
	defer conn.Close()
	ag := agent.NewClient(conn)
	keys, err := ag.List()
	require.NoError(t, err)
	require.NotEmpty(t, keys)
	type res struct {
		sig *ssh.Signature
		err error
	}
	done := make(chan res, 1)
	go func() {
		sig, err := ag.Sign(keys[0], []byte("data"))
		done <- res{sig, err}
	}()
	waitShown(t, seen, "PIN")
	_, err = master.Write([]byte("123456\r"))
	require.NoError(t, err)
	var got res
	select {
	case got = <-done:
	case <-time.After(time.Minute):
		t.Fatalf("no signature; the terminal showed %q", seen.String())
	}
	require.NoError(t, got.err)
	pub, err := ssh.ParsePublicKey(keys[0].Blob)
	require.NoError(t, err)
	require.NoError(t, pub.Verify([]byte("data"), got.sig))
	assert.NotContains(t, seen.String(), "123456", "no echo")
}

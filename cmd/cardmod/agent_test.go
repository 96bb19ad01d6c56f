package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"

	"github.com/cardmod/cardmod/internal/simfile"
	"github.com/cardmod/cardmod/scrm"
	"github.com/cardmod/cardmod/scrm/pcsc/pcscdtest"
	"github.com/cardmod/cardmod/scrm/virtual"
)

// runningAgent is `cardmod agent -D` run in-process.
type runningAgent struct {
	sock   string
	cancel context.CancelFunc
	done   chan int
	errb   *syncBuffer
	agent  *cardAgent
}

// syncBuffer is a bytes.Buffer safe for the agent's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startAgent runs the agent with io (its in is given here) and args (the
// global flags), on a socket in a private directory, until the test ends.
func startAgent(t testing.TB, io *stdio, stdin string, args ...string) *runningAgent {
	t.Helper()
	return startAgentArgs(t, io, stdin, args, false)
}

// startAgentArgs is startAgent with -exclusive when exclusive is set.
func startAgentArgs(t testing.TB, io *stdio, stdin string, args []string, exclusive bool) *runningAgent {
	t.Helper()
	dir, err := os.MkdirTemp("", "cmtest")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	require.NoError(t, os.Chmod(dir, 0o700))
	sock := filepath.Join(dir, "agent.sock")
	ra := &runningAgent{sock: sock, done: make(chan int, 1), errb: &syncBuffer{}}
	var out syncBuffer
	io.in, io.out, io.err = strings.NewReader(stdin), &out, ra.errb
	if io.getenv == nil {
		io.getenv = func(string) string { return "" }
	}
	ready := make(chan *cardAgent, 1)
	ctx, cancel := context.WithCancel(context.Background())
	ctx = context.WithValue(ctx, agentReadyKey{}, func(path string, a *cardAgent) { ready <- a })
	ra.cancel = cancel
	agentArgs := []string{"agent", "-D", "-a", sock}
	if exclusive {
		agentArgs = append(agentArgs, "-exclusive")
	}
	go func() { ra.done <- run(ctx, append(args, agentArgs...), io) }()
	select {
	case ra.agent = <-ready:
	case code := <-ra.done:
		t.Fatalf("agent ended with %d: %s", code, ra.errb)
	case <-time.After(time.Minute):
		t.Fatal("agent did not start")
	}
	assert.Contains(t, out.String(), "SSH_AUTH_SOCK="+sock+"; export SSH_AUTH_SOCK;")
	t.Cleanup(func() { ra.stop(t) })
	return ra
}

func (ra *runningAgent) stop(t testing.TB) {
	ra.cancel()
	select {
	case code := <-ra.done:
		assert.Equal(t, exitOK, code, ra.errb.String())
	case <-time.After(time.Minute):
		t.Error("agent did not stop")
	}
	ra.done <- exitOK
}

// provisioned makes a simulated PIV card with an ECDSA P-256 key and a
// certificate (CN=Alice), an ECDSA P-384 key and an RSA-2048 key, in a
// state file.
func provisioned(t testing.TB) string {
	t.Helper()
	sim := filepath.Join(t.TempDir(), "card.json")
	steps := [][]string{
		{"generate", "-alg", "p256", "ec256"},
		{"selfsign", "-subject", "CN=Alice", "ec256"},
		{"generate", "-alg", "p384", "ec384"},
		{"generate", "-alg", "rsa2048", "rsa"},
	}
	for _, st := range steps {
		var out, errb bytes.Buffer
		io := &stdio{in: strings.NewReader("123456\n"), out: &out, err: &errb, getenv: func(string) string { return "" }}
		code := run(context.Background(), append([]string{"-sim", sim, "-pin-stdin"}, st...), io)
		require.Equal(t, exitOK, code, errb.String())
	}
	return sim
}

// sshEnv is the environment of the OpenSSH tools: the agent, a private
// HOME.
func sshEnv(t testing.TB, sock string) []string {
	home := t.TempDir()
	return append(os.Environ(), "SSH_AUTH_SOCK="+sock, "HOME="+home)
}

func runTool(t testing.TB, env []string, stdin string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = env
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s %v: %s", name, args, out)
	return string(out)
}

// needTool fails (in CI, where CARDMOD_PCSCD is set) or skips without the
// OpenSSH program.
func needTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if pcscdtest.Enabled() {
			t.Fatalf("%s not installed (Debian openssh-client, openssh-server): scripts/test.sh installs it", name)
		}
		t.Skipf("%s not installed (Debian openssh-client, openssh-server); scripts/test.sh installs it", name)
	}
	return p
}

// TestAgentWithOpenSSH: ssh-add lists the card keys; ssh-keygen -Y signs
// through the agent and verifies; the socket is private.
func TestAgentWithOpenSSH(t *testing.T) {
	needTool(t, "ssh-add")
	needTool(t, "ssh-keygen")
	sim := provisioned(t)
	ra := startAgent(t, &stdio{}, strings.Repeat("123456\n", 20), "-sim", sim, "-pin-stdin")
	st, err := os.Stat(ra.sock)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	dst, err := os.Stat(filepath.Dir(ra.sock))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o700), dst.Mode().Perm())

	env := sshEnv(t, ra.sock)
	l := runTool(t, env, "", "ssh-add", "-l")
	assert.Contains(t, l, "256 SHA256:")
	assert.Contains(t, l, "Alice [ec256] PIV 10000001 in cardmod Simulated PIV 0 (ECDSA)")
	assert.Contains(t, l, "384 SHA256:")
	assert.Contains(t, l, "ec384 [ec384] PIV 10000001 in cardmod Simulated PIV 0 (ECDSA)")
	assert.Contains(t, l, "2048 SHA256:")
	assert.Contains(t, l, "(RSA)")

	// The keys the agent serves are the ones `cardmod list -ssh` prints.
	listed := ok(t, runCmd(t, "", "-sim", sim, "list", "-ssh")).out
	agentKeys := runTool(t, env, "", "ssh-add", "-L")
	assert.Equal(t, strings.Count(listed, "\n"), 3)
	for _, line := range strings.Split(strings.TrimSpace(listed), "\n") {
		f := strings.Fields(line)
		assert.Contains(t, agentKeys, f[0]+" "+f[1])
	}

	dir := t.TempDir()
	msg := filepath.Join(dir, "msg")
	require.NoError(t, os.WriteFile(msg, []byte("signed by a card\n"), 0o600))
	for i, line := range strings.Split(strings.TrimSpace(listed), "\n") {
		f := strings.Fields(line)
		pub := filepath.Join(dir, fmt.Sprintf("k%d.pub", i))
		require.NoError(t, os.WriteFile(pub, []byte(f[0]+" "+f[1]+"\n"), 0o600))
		runTool(t, env, "", "ssh-keygen", "-Y", "sign", "-f", pub, "-n", "file", msg)
		allowed := filepath.Join(dir, "allowed")
		require.NoError(t, os.WriteFile(allowed, []byte("alice@example "+f[0]+" "+f[1]+"\n"), 0o600))
		out := runTool(t, env, "signed by a card\n", "ssh-keygen", "-Y", "verify", "-f", allowed, "-I", "alice@example", "-n", "file", "-s", msg+".sig")
		assert.Contains(t, out, "Good \"file\" signature for alice@example")
		require.NoError(t, os.Remove(msg+".sig"))
	}
	// Nothing secret in the log.
	log := ra.errb.String()
	assert.NotContains(t, log, "123456")
	assert.Contains(t, log, "signed with Alice [ec256]")
}

// TestAgentKeysFollowTheCard: keys come and go as the card is removed and
// inserted; lock hides them.
func TestAgentKeysFollowTheCard(t *testing.T) {
	sim := provisioned(t)
	opened, err := simfile.Open(sim, simfile.Options{})
	require.NoError(t, err)
	b := virtual.NewBackend()
	rd := b.AddReader("Reader 1")
	rd.Insert(opened.Card)
	ra := startAgent(t, &stdio{backend: b}, strings.Repeat("123456\n", 10), "-pin-stdin")
	conn, err := net.Dial("unix", ra.sock)
	require.NoError(t, err)
	defer conn.Close()
	ag := agent.NewClient(conn)
	keys, err := ag.List()
	require.NoError(t, err)
	require.Len(t, keys, 3)

	rd.Remove()
	keys, err = ag.List()
	require.NoError(t, err)
	assert.Empty(t, keys)

	rd.Insert(opened.Card)
	keys, err = ag.List()
	require.NoError(t, err)
	require.Len(t, keys, 3)
	sig, err := ag.Sign(keys[0], []byte("data"))
	require.NoError(t, err)
	pub, err := ssh.ParsePublicKey(keys[0].Blob)
	require.NoError(t, err)
	require.NoError(t, pub.Verify([]byte("data"), sig))

	require.NoError(t, ag.Lock([]byte("pw")))
	keys, err = ag.List()
	require.NoError(t, err)
	assert.Empty(t, keys)
	_, err = ag.Sign(pub, []byte("data"))
	assert.Error(t, err)
	assert.Error(t, ag.Unlock([]byte("wrong")))
	require.NoError(t, ag.Unlock([]byte("pw")))
	keys, err = ag.List()
	require.NoError(t, err)
	require.Len(t, keys, 3)
	// The PIN was forgotten at Lock: the next signature asks again (the
	// next line of stdin).
	_, err = ag.Sign(pub, []byte("data"))
	require.NoError(t, err)

	assert.Error(t, ag.RemoveAll(), "card keys cannot be removed")
}

// TestAgentWrongPINNotRetried: a wrong PIN fails the signature, is not
// tried again, and costs one try.
func TestAgentWrongPINNotRetried(t *testing.T) {
	sim := provisioned(t)
	ra := startAgent(t, &stdio{}, "999999\n", "-sim", sim, "-pin-stdin")
	conn, err := net.Dial("unix", ra.sock)
	require.NoError(t, err)
	defer conn.Close()
	ag := agent.NewClient(conn)
	keys, err := ag.List()
	require.NoError(t, err)
	require.NotEmpty(t, keys)
	_, err = ag.Sign(keys[0], []byte("data"))
	require.Error(t, err)
	_, err = ag.Sign(keys[0], []byte("data"))
	require.Error(t, err, "no PIN left on stdin: cancelled, not the wrong PIN again")
	ra.stop(t)
	r := ok(t, runCmd(t, "", "-sim", sim, "pin", "info"))
	assert.Contains(t, r.out, "PIN: 2 of 3 tries left")
	assert.NotContains(t, ra.errb.String(), "999999")
}

// sshd is an OpenSSH server started by a test on 127.0.0.1.
type sshd struct {
	port int
	cmd  *exec.Cmd
	log  *syncBuffer
}

// startSSHD starts sshd on a free loopback port accepting authorizedKeys,
// with a throwaway host key. It needs root (sshd's privilege separation).
func startSSHD(t testing.TB, authorizedKeys string) *sshd {
	t.Helper()
	bin := needTool(t, "sshd")
	needTool(t, "ssh-keygen")
	if os.Geteuid() != 0 {
		if pcscdtest.Enabled() {
			t.Fatal("the sshd test needs root")
		}
		t.Skip("the sshd test needs root (scripts/test.sh runs it as root)")
	}
	dir := t.TempDir()
	hostKey := filepath.Join(dir, "host_key")
	runTool(t, os.Environ(), "", "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", hostKey)
	ak := filepath.Join(dir, "authorized_keys")
	require.NoError(t, os.WriteFile(ak, []byte(authorizedKeys), 0o600))
	require.NoError(t, os.MkdirAll("/run/sshd", 0o755)) // privilege separation directory
	for attempt := 0; ; attempt++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		port := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		conf := filepath.Join(dir, "sshd_config")
		require.NoError(t, os.WriteFile(conf, []byte(fmt.Sprintf(`Port %d
ListenAddress 127.0.0.1
HostKey %s
AuthorizedKeysFile %s
StrictModes no
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
PermitRootLogin yes
PidFile %s/sshd.pid
MaxStartups 32
MaxSessions 32
`, port, hostKey, ak, dir)), 0o600))
		s := &sshd{port: port, log: &syncBuffer{}}
		s.cmd = exec.Command(bin, "-D", "-e", "-f", conf)
		s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
		require.NoError(t, s.cmd.Start())
		exited := make(chan struct{})
		go func() { _ = s.cmd.Wait(); close(exited) }()
		up := false
		for range 200 {
			if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
				c.Close()
				up = true
				break
			}
			select {
			case <-exited:
			case <-time.After(25 * time.Millisecond):
				continue
			}
			break
		}
		if up {
			t.Cleanup(func() { _ = s.cmd.Process.Kill(); <-exited })
			return s
		}
		_ = s.cmd.Process.Kill()
		<-exited
		require.Less(t, attempt, 3, "sshd did not start: %s", s.log)
	}
}

// login runs `ssh user@127.0.0.1 echo logged-in` through the agent.
func (s *sshd) login(env []string) (string, error) {
	user := "root"
	cmd := exec.Command("ssh", "-F", "/dev/null", "-p", fmt.Sprint(s.port),
		"-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes",
		"-o", "PreferredAuthentications=publickey", "-o", "LogLevel=ERROR",
		user+"@127.0.0.1", "echo", "logged-in")
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// loggedIn reports the output of a login that ran its command. The remote
// command runs in the user's shell, whose start-up files may print first
// (seen: root's pyenv hook racing itself across eight logins at once,
// "pyenv: cannot rehash: ... isn't writable"): the command's line must end
// the output.
func loggedIn(out string) bool {
	return out == "logged-in\n" || strings.HasSuffix(out, "\nlogged-in\n")
}

// testSSHLogins: one login, then eight at once, through the agent on sock,
// to an sshd that accepts the keys of authorized.
func testSSHLogins(t *testing.T, sock, authorized string) {
	needTool(t, "ssh")
	srv := startSSHD(t, authorized)
	env := sshEnv(t, sock)
	out, err := srv.login(env)
	require.NoError(t, err, "%s\nsshd: %s", out, srv.log)
	assert.True(t, loggedIn(out), "%q", out)

	var wg sync.WaitGroup
	var failed atomic.Int32
	outs := make([]string, 8)
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			o, err := srv.login(env)
			outs[i] = o
			if err != nil || !loggedIn(o) {
				failed.Add(1)
			}
		}()
	}
	wg.Wait()
	assert.Zero(t, failed.Load(), "%q\nsshd: %s", outs, srv.log)
}

// TestAgentSSHLogin: sshd accepts logins through the agent in-process,
// with the authorized key printed by `cardmod list -ssh`.
func TestAgentSSHLogin(t *testing.T) {
	sim := provisioned(t)
	listed := ok(t, runCmd(t, "", "-sim", sim, "list", "-ssh")).out
	first := strings.SplitN(listed, "\n", 2)[0] + "\n" // the P-256 key of slot 9A
	ra := startAgent(t, &stdio{}, "123456\n", "-sim", sim, "-pin-stdin")
	testSSHLogins(t, ra.sock, first)
	assert.NotContains(t, ra.errb.String(), "123456")
}

// openscPKCS11 is OpenSC's PKCS #11 module on Debian (package opensc).
const openscPKCS11 = "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so"

// nopRelease keeps the test's pcscd backend from being released by the
// command.
type nopRelease struct{ scrm.Backend }

func (nopRelease) Release() error { return nil }

// TestAgentThroughPCSCD: the agent over pcscd and vpcd: ssh-add lists the
// keys of the card in the vpcd reader, sshd accepts logins with the key
// `cardmod list -ssh` prints, and OpenSC (pkcs11-tool) and yubico-piv-tool
// still read the card while the agent holds it.
func TestAgentThroughPCSCD(t *testing.T) {
	env := pcscdtest.Require(t)
	// The simulator's default card: other packages' tests put identical
	// default cards into the other vpcd readers at the same time. -reader
	// keeps them out of the agent (TestReaderRestrictsAgent), so they
	// cannot make it drop the PIN it cached for this one.
	sim := provisioned(t)
	opened, err := simfile.Open(sim, simfile.Options{})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	slot, err := env.Acquire(ctx)
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, slot.Release()) })
	require.NoError(t, slot.Insert(ctx, opened.Card))
	reader := slot.Name
	ra := startAgent(t, &stdio{backend: nopRelease{env.Isolated(t)}}, "123456\n", "-reader", reader, "-pin-stdin")

	senv := sshEnv(t, ra.sock)
	l := runTool(t, senv, "", "ssh-add", "-l")
	assert.Contains(t, l, "Alice [ec256] PIV 10000001 in "+reader+" (ECDSA)")
	assert.Equal(t, 3, strings.Count(l, "SHA256:"), l)

	// sshd's authorized_keys comes from cardmod's own output (list -ssh,
	// through pcscd), the keys the agent serves.
	r := runIO(t, &stdio{backend: nopRelease{env.Isolated(t)}}, "", "-reader", reader, "list", "-ssh")
	require.Equal(t, exitOK, r.code, r.err)
	first := strings.SplitN(r.out, "\n", 2)[0] + "\n"
	f := strings.Fields(first)
	require.GreaterOrEqual(t, len(f), 2, r.out)
	assert.Contains(t, runTool(t, senv, "", "ssh-add", "-L"), f[0]+" "+f[1])
	testSSHLogins(t, ra.sock, first)

	// OpenSC gets the card while the agent holds its shared connection
	// (OpenSCConf: other packages' cards in the other readers would use up
	// OpenSC's default 16 slots).
	out, err := pcscdtest.RunTool(t, pcscdtest.OpenSCConf(t, reader), needTool(t, "pkcs11-tool"), "-L")
	require.NoError(t, err, "%s", out)
	assert.Contains(t, strings.ToLower(slotBlock(out, reader)), "token manufacturer : piv_ii", "%s", out)
	// ... and reads it: its objects, the certificate of Alice.
	out, err = pcscdtest.RunTool(t, pcscdtest.OpenSCConf(t, reader), "pkcs11-tool", "--module", openscPKCS11, "--slot-description", reader, "-O")
	require.NoError(t, err, "%s", out)
	assert.Contains(t, out, "CN=Alice", "%s", out)
	// ... and so does yubico-piv-tool.
	out, err = pcscdtest.RunTool(t, "", needTool(t, "yubico-piv-tool"), "-r", reader, "-a", "status")
	require.NoError(t, err, "%s", out)
	assert.Contains(t, out, "Subject DN:\tCN=Alice", "%s", out)
	// ... and the agent still signs afterwards.
	assert.Equal(t, l, runTool(t, senv, "", "ssh-add", "-l"))
	msg := filepath.Join(t.TempDir(), "msg")
	require.NoError(t, os.WriteFile(msg, []byte("x"), 0o600))
	pub := msg + ".pub"
	require.NoError(t, os.WriteFile(pub, []byte(first), 0o600))
	runTool(t, senv, "", "ssh-keygen", "-Y", "sign", "-f", pub, "-n", "file", msg)
	require.NoError(t, os.Remove(msg+".sig"))

	// The card pulled: no keys. Inserted again: the keys are back and
	// sign, the PIN still cached (the same card, by its identity).
	require.NoError(t, slot.Remove(ctx))
	cmd := exec.Command("ssh-add", "-l")
	cmd.Env = senv
	gone, _ := cmd.CombinedOutput()
	assert.Contains(t, string(gone), "no identities")
	require.NoError(t, slot.Insert(ctx, opened.Card))
	assert.Equal(t, l, runTool(t, senv, "", "ssh-add", "-l"))
	runTool(t, senv, "", "ssh-keygen", "-Y", "sign", "-f", pub, "-n", "file", msg)
}

// TestAgentPINPolicy: the agent asks for the PIN (here through a pinentry
// program) only when the card's policy wants it: once for the key of slot
// 9A (cached), before every signature for the key of slot 9C (always).
func TestAgentPINPolicy(t *testing.T) {
	sim := provisioned(t) // ec256 in 9A, ec384 in 9C, rsa in 9D
	pe, log := fakePinentry(t, `D 123456\nOK`)
	ra := startAgent(t, &stdio{}, "", "-sim", sim, "-pinentry", pe)
	conn, err := net.Dial("unix", ra.sock)
	require.NoError(t, err)
	defer conn.Close()
	ag := agent.NewClient(conn)
	keys, err := ag.List()
	require.NoError(t, err)
	byName := map[string]*agent.Key{}
	for _, k := range keys {
		byName[strings.Fields(k.Comment)[1]] = k
	}
	prompts := func() int {
		b, err := os.ReadFile(log)
		if os.IsNotExist(err) {
			return 0
		}
		require.NoError(t, err)
		return strings.Count(string(b), "GETPIN\n")
	}
	for range 3 {
		_, err := ag.Sign(byName["[ec256]"], []byte("x"))
		require.NoError(t, err)
	}
	assert.Equal(t, 1, prompts(), "9A: the PIN once, then cached")
	for range 2 {
		_, err := ag.Sign(byName["[ec384]"], []byte("x"))
		require.NoError(t, err)
	}
	assert.Equal(t, 3, prompts(), "9C: the PIN before every signature")
	_, err = ag.Sign(byName["[rsa]"], []byte("x"))
	require.NoError(t, err)
	assert.Equal(t, 3, prompts(), "9D: the cached PIN")
}

// restartingBackend is a backend whose service can "restart" as pcscd
// does: every connection made before fails from then on with lost (an
// invalid handle, or cardmod's pcscd client's communication error for a
// socket that broke); new ones work.
type restartingBackend struct {
	scrm.Backend
	lost  error
	mu    sync.Mutex
	epoch int
}

func (b *restartingBackend) restart() {
	b.mu.Lock()
	b.epoch++
	b.mu.Unlock()
}

func (b *restartingBackend) Connect(ctx context.Context, reader string, share scrm.ShareMode, proto scrm.Protocol) (scrm.Conn, error) {
	c, err := b.Backend.Connect(ctx, reader, share, proto)
	if err != nil {
		return nil, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return &restartingConn{Conn: c, b: b, epoch: b.epoch}, nil
}

type restartingConn struct {
	scrm.Conn
	b     *restartingBackend
	epoch int
}

func (c *restartingConn) stale() bool {
	c.b.mu.Lock()
	defer c.b.mu.Unlock()
	return c.epoch != c.b.epoch
}

func (c *restartingConn) Transmit(ctx context.Context, cmd []byte) ([]byte, error) {
	if c.stale() {
		return nil, c.b.lost
	}
	return c.Conn.Transmit(ctx, cmd)
}

func (c *restartingConn) BeginTransaction(ctx context.Context) error {
	if c.stale() {
		return c.b.lost
	}
	return c.Conn.BeginTransaction(ctx)
}

func (c *restartingConn) Status() (scrm.ConnStatus, error) {
	if c.stale() {
		return scrm.ConnStatus{}, c.b.lost
	}
	return c.Conn.Status()
}

// TestAgentSurvivesServiceRestart: after the PC/SC service restarts (every
// connection's handle is gone), the agent connects again and signs; the PIN
// is asked again (the new provider has no cached PIN, and a restarted pcscd
// has powered the card down anyway). The connections fail as libpcsclite
// reports a handle the new pcscd does not know, and as cardmod's own pcscd
// client reports the broken socket (TestAgentSurvivesPCSCDRestart does
// it with a real pcscd).
func TestAgentSurvivesServiceRestart(t *testing.T) {
	for _, lost := range []error{scrm.ErrInvalidHandle, fmt.Errorf("pcsclite: transmit: connection to pcscd lost: %w", scrm.ErrCommError)} {
		t.Run(lost.Error(), func(t *testing.T) {
			sim := provisioned(t)
			opened, err := simfile.Open(sim, simfile.Options{})
			require.NoError(t, err)
			vb := virtual.NewBackend()
			vb.AddReader("Reader 1").Insert(opened.Card)
			rb := &restartingBackend{Backend: vb, lost: lost}
			ra := startAgent(t, &stdio{backend: rb}, "123456\n123456\n123456\n", "-pin-stdin")
			conn, err := net.Dial("unix", ra.sock)
			require.NoError(t, err)
			defer conn.Close()
			ag := agent.NewClient(conn)
			keys, err := ag.List()
			require.NoError(t, err)
			require.Len(t, keys, 3)
			_, err = ag.Sign(keys[0], []byte("before"))
			require.NoError(t, err)

			rb.restart()
			_, err = ag.Sign(keys[0], []byte("after"))
			require.NoError(t, err, ra.errb.String())
			assert.Contains(t, ra.errb.String(), "the PC/SC service was lost; connecting again")
			keys, err = ag.List()
			require.NoError(t, err)
			assert.Len(t, keys, 3)
			rb.restart()
			keys, err = ag.List()
			require.NoError(t, err)
			assert.Len(t, keys, 3, "a listing connects again too")
			_, err = ag.Sign(keys[0], []byte("after the second restart"))
			require.NoError(t, err, ra.errb.String())
		})
	}
}

// slotBlock returns the lines `pkcs11-tool -L` prints for the first slot of
// reader: from its "Slot N (0x…): <reader> …" line to the next slot's.
func slotBlock(list, reader string) string {
	var b strings.Builder
	in := false
	for _, l := range strings.Split(list, "\n") {
		if strings.HasPrefix(l, "Slot ") {
			if in {
				break
			}
			in = strings.Contains(l, reader)
		}
		if in {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

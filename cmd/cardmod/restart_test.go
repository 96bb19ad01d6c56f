package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cardmod/cardmod/scrm/pcsc/pcscdtest"
)

// vpcdDriver is Debian's vsmartcard-vpcd driver (scripts/test.sh loads
// the same file).
const vpcdDriver = "/usr/lib/pcsc/drivers/serial/libifdvpcd.so"

// privatePCSCD is a pcscd of one test's own, beside the test bed's shared
// one, so that the test can kill and restart it while other packages use
// the shared one.
//
// pcscd 1.9.9 listens on its compiled-in socket, /run/pcscd/pcscd.comm
// (it ignores PCSCLITE_CSOCK_NAME, which only its clients read, and
// refuses to start while another pcscd's socket and pid file are there):
// each run of pcscd gets a mount namespace of its own with a directory of
// the test bind-mounted on /run/pcscd, and the clients (cardmod, run as
// child processes) find the socket there through PCSCLITE_CSOCK_NAME. Its
// vpcd reader listens on 0.0.0.0 (port 35963, the bed's first): pcscd
// and the card runs in a network namespace of the test's, held by a
// process of its own across pcscd restarts. Needs root, as the bed does.
type privatePCSCD struct {
	dir    string // holds run/ (the socket), conf/ (reader.conf) and the logs
	sock   string
	reader string // the vpcd slot's reader name
	addr   string // where vpcd listens, inside the network namespace
	netns  *exec.Cmd
	pcscd  *exec.Cmd
	runs   int
}

// startPrivatePCSCD starts the network namespace and a first pcscd in it,
// stopped when t ends.
func startPrivatePCSCD(t *testing.T) *privatePCSCD {
	t.Helper()
	for _, tool := range []string{"pcscd", "unshare", "nsenter", "ip"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not found (Debian pcscd, util-linux, iproute2; scripts/test.sh installs them): %v", tool, err)
		}
	}
	_, err := os.Stat(vpcdDriver)
	require.NoError(t, err, "the vpcd driver (Debian vsmartcard-vpcd)")
	if os.Geteuid() != 0 {
		t.Fatal("a private pcscd needs root (namespaces, a bind mount): run through scripts/test.sh as root")
	}
	// A short directory: a UNIX socket path holds at most 107 bytes.
	dir, err := os.MkdirTemp("", "cmpcscd")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	p := &privatePCSCD{dir: dir, sock: filepath.Join(dir, "run", "pcscd.comm"),
		reader: "Private VPCD 00 00", addr: "127.0.0.1:35963"}
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "run"), 0o755))
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "conf"), 0o755))
	// reader.conf: pcscd names the slots FRIENDLYNAME "00 00" and "00 01".
	require.NoError(t, os.WriteFile(filepath.Join(dir, "conf", "vpcd"), []byte(fmt.Sprintf(
		"FRIENDLYNAME \"Private VPCD\"\nDEVICENAME /dev/null:35963\nLIBPATH %s\nCHANNELID 35963\n", vpcdDriver)), 0o644))

	p.netns = exec.Command("unshare", "--net", "sh", "-c", "ip link set lo up && echo up && exec sleep 3600")
	out, err := p.netns.StdoutPipe()
	require.NoError(t, err)
	p.netns.Stderr = os.Stderr
	require.NoError(t, p.netns.Start())
	t.Cleanup(func() {
		_ = p.netns.Process.Kill()
		_ = p.netns.Wait()
	})
	line, err := readLine(out, 10*time.Second)
	require.NoError(t, err)
	require.Equal(t, "up", line)

	p.start(t)
	t.Cleanup(func() { p.stop(t, syscall.SIGTERM) })
	return p
}

// inNetns returns a command run in the namespace's network.
func (p *privatePCSCD) inNetns(name string, args ...string) *exec.Cmd {
	return exec.Command("nsenter", append([]string{"-t", fmt.Sprint(p.netns.Process.Pid), "-n", "--", name}, args...)...)
}

// env is the environment of a cardmod process using this pcscd.
func (p *privatePCSCD) env() []string {
	return append(os.Environ(), "PCSCLITE_CSOCK_NAME="+p.sock, envRunMain+"=1")
}

// start runs pcscd (nsenter, unshare and sh exec it: the command's
// process is pcscd) and returns once a client lists its reader.
func (p *privatePCSCD) start(t *testing.T) {
	t.Helper()
	p.runs++
	logf, err := os.Create(filepath.Join(p.dir, fmt.Sprintf("pcscd-%d.log", p.runs)))
	require.NoError(t, err)
	defer logf.Close()
	p.pcscd = p.inNetns("unshare", "--mount", "--propagation", "private", "sh", "-c",
		`mount --bind "$0/run" /run/pcscd && exec pcscd -f -d -c "$0/conf"`, p.dir)
	p.pcscd.Stdout, p.pcscd.Stderr = logf, logf
	require.NoError(t, p.pcscd.Start())
	deadline := time.Now().Add(15 * time.Second)
	for {
		out, err := cardmodChild(p.env(), "list", "-json").Output()
		if err == nil && strings.Contains(string(out), p.reader) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("private pcscd does not list %q: %v %s\npcscd log:\n%s", p.reader, err, out, p.log(t))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// stop ends pcscd with sig (SIGTERM, as a service manager restarting it
// does; SIGKILL, as a crash) and waits for it.
func (p *privatePCSCD) stop(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if p.pcscd == nil {
		return
	}
	_ = p.pcscd.Process.Signal(sig)
	done := make(chan struct{})
	go func() { _ = p.pcscd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = p.pcscd.Process.Kill()
		<-done
		t.Errorf("pcscd did not stop on %v", sig)
	}
	p.pcscd = nil
}

// log returns the end of the last pcscd run's log.
func (p *privatePCSCD) log(t *testing.T) string {
	b, err := os.ReadFile(filepath.Join(p.dir, fmt.Sprintf("pcscd-%d.log", p.runs)))
	if err != nil {
		return err.Error()
	}
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// cardPresent waits until `cardmod list` through this pcscd reads the card
// in the reader.
func (p *privatePCSCD) cardPresent(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, err := cardmodChild(p.env(), "-reader", p.reader, "list", "-json").Output()
		var l listing
		if err == nil && json.Unmarshal(out, &l) == nil && len(l.Readers) == 1 &&
			l.Readers[0].Card != nil && l.Readers[0].Card.Error == "" && l.Readers[0].Card.Plugin == "PIV" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the card is not read in %q: %v %s\npcscd log:\n%s", p.reader, err, out, p.log(t))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// cardmodChild runs the command (this test binary, as TestMain runs main
// with envRunMain set) with env.
func cardmodChild(env []string, args ...string) *exec.Cmd {
	exe, _ := os.Executable()
	cmd := exec.Command(exe, args...)
	cmd.Env = env
	return cmd
}

// readLine reads one line from r within d.
func readLine(r io.Reader, d time.Duration) (string, error) {
	got := make(chan string, 1)
	failed := make(chan error, 1)
	go func() {
		line, err := bufio.NewReader(r).ReadString('\n')
		if err != nil {
			failed <- err
			return
		}
		got <- strings.TrimSuffix(line, "\n")
	}()
	select {
	case l := <-got:
		return l, nil
	case err := <-failed:
		return "", err
	case <-time.After(d):
		return "", errors.New("no line in time")
	}
}

// stopChild ends a child with SIGTERM and waits for it; it reports the
// exit status.
func stopChild(t *testing.T, cmd *exec.Cmd) error {
	t.Helper()
	_ = cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(time.Minute):
		_ = cmd.Process.Kill()
		<-done
		return errors.New("did not stop on SIGTERM")
	}
}

// serveChild runs `cardmod -sim sim serve` into p's vpcd reader (the
// card joins pcscd's network namespace, where vpcd listens) until t ends,
// and returns once serve says pcscd reports the card.
func (p *privatePCSCD) serveChild(t *testing.T, sim string) {
	t.Helper()
	exe, err := os.Executable()
	require.NoError(t, err)
	var log syncBuffer
	serve := p.inNetns(exe, "-sim", sim, "serve", "-addr", p.addr, "-vpcd-reader", p.reader)
	serve.Env = p.env()
	out, err := serve.StdoutPipe()
	require.NoError(t, err)
	serve.Stderr = &log
	require.NoError(t, serve.Start())
	t.Cleanup(func() { assert.NoError(t, stopChild(t, serve), "serve: %s", log.String()) })
	line, err := readLine(out, 30*time.Second)
	require.NoError(t, err, "serve: %s", log.String())
	require.Equal(t, p.reader, line, "serve prints the reader once pcscd reports the card")
	go func() { _, _ = io.Copy(io.Discard, out) }()
}

// agentChild is `cardmod -pin-stdin agent -D` run as a process of its own
// over p.
type agentChild struct {
	cmd  *exec.Cmd
	sock string
	log  syncBuffer
	env  []string // of the OpenSSH tools
}

// startAgentChild starts the agent with the PINs of stdin and returns once
// it listens; it is stopped when t ends (or by stop).
func (p *privatePCSCD) startAgentChild(t *testing.T, stdin string) *agentChild {
	t.Helper()
	dir, err := os.MkdirTemp("", "cmagent")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	require.NoError(t, os.Chmod(dir, 0o700))
	a := &agentChild{sock: filepath.Join(dir, "agent.sock")}
	a.cmd = cardmodChild(p.env(), "-pin-stdin", "agent", "-D", "-a", a.sock)
	a.cmd.Stdin = strings.NewReader(stdin)
	out, err := a.cmd.StdoutPipe()
	require.NoError(t, err)
	a.cmd.Stderr = &a.log
	require.NoError(t, a.cmd.Start())
	t.Cleanup(func() { a.stop(t) })
	line, err := readLine(out, 30*time.Second)
	require.NoError(t, err, "agent: %s", a.log.String())
	require.Equal(t, "SSH_AUTH_SOCK="+a.sock+"; export SSH_AUTH_SOCK;", line)
	go func() { _, _ = io.Copy(io.Discard, out) }()
	a.env = sshEnv(t, a.sock)
	return a
}

// stop ends the agent (SIGTERM) and requires a clean exit; once.
func (a *agentChild) stop(t *testing.T) {
	t.Helper()
	if a.cmd == nil {
		return
	}
	assert.NoError(t, stopChild(t, a.cmd), "agent: %s", a.log.String())
	a.cmd = nil
}

// keys waits until ssh-add -l lists the 3 keys of the provisioned card
// and returns its output.
func (a *agentChild) keys(t *testing.T, p *privatePCSCD, what string) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		cmd := exec.Command("ssh-add", "-l")
		cmd.Env = a.env
		out, _ := cmd.CombinedOutput()
		if strings.Count(string(out), "SHA256:") == 3 {
			return string(out)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: ssh-add -l: %s\nagent log:\n%s\npcscd log:\n%s", what, out, a.log.String(), p.log(t))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// signer signs a file with the agent's first key through ssh-keygen -Y
// sign and checks it with -Y verify.
func (a *agentChild) signer(t *testing.T) func() {
	t.Helper()
	first := strings.SplitN(runTool(t, a.env, "", "ssh-add", "-L"), "\n", 2)[0]
	dir := t.TempDir()
	msg := filepath.Join(dir, "msg")
	pub := filepath.Join(dir, "k.pub")
	allowed := filepath.Join(dir, "allowed")
	require.NoError(t, os.WriteFile(msg, []byte("signed by a card\n"), 0o600))
	require.NoError(t, os.WriteFile(pub, []byte(first+"\n"), 0o600))
	f := strings.Fields(first)
	require.NoError(t, os.WriteFile(allowed, []byte("alice@example "+f[0]+" "+f[1]+"\n"), 0o600))
	return func() {
		t.Helper()
		_ = os.Remove(msg + ".sig")
		runTool(t, a.env, "", "ssh-keygen", "-Y", "sign", "-f", pub, "-n", "file", msg)
		out := runTool(t, a.env, "signed by a card\n", "ssh-keygen", "-Y", "verify", "-f", allowed, "-I", "alice@example", "-n", "file", "-s", msg+".sig")
		assert.Contains(t, out, `Good "file" signature for alice@example`)
	}
}

// TestAgentSurvivesPCSCDRestart: the agent, as a process of its own, over
// a real pcscd (a private one, see privatePCSCD) with the card served by
// `cardmod serve` through vpcd: ssh-add lists the keys and a signature
// works; pcscd is stopped (SIGTERM, as a restart; SIGKILL, as a crash)
// and started again, serve presents the card to the new pcscd (it
// reconnects to vpcd by itself), and the same agent lists the same keys
// and signs again (asking for the PIN again: the new provider has none
// cached, and the card was powered down).
func TestAgentSurvivesPCSCDRestart(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL} {
		t.Run(sig.String(), func(t *testing.T) {
			pcscdtest.Require(t)
			needTool(t, "ssh-add")
			needTool(t, "ssh-keygen")
			sim := provisioned(t)
			p := startPrivatePCSCD(t)
			p.serveChild(t, sim)
			a := p.startAgentChild(t, "123456\n123456\n")

			before := a.keys(t, p, "before the restart")
			assert.Contains(t, before, "Alice [ec256] PIV 10000001 in "+p.reader+" (ECDSA)")
			sign := a.signer(t)
			sign()

			// Every handle the agent held is gone; serve's vpcd connection
			// drops and it dials the new pcscd's vpcd until it answers.
			p.stop(t, sig)
			p.start(t)
			p.cardPresent(t)
			assert.Equal(t, before, a.keys(t, p, "after the restart"), "the same keys, by the same names")
			sign()
			assert.NotContains(t, a.log.String(), "123456", "no PIN in the log")
			t.Logf("agent log:\n%s", a.log.String())
		})
	}
}

// unpowered counts pcscd's reports, in the log of its current run, of
// powering the card down (pcsc-lite's eventhandler.c logs each change of
// the reader's power state; a card no client holds goes from
// POWER_STATE_GRACE_PERIOD to POWER_STATE_UNPOWERED within a second or so).
func (p *privatePCSCD) unpowered(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(p.dir, fmt.Sprintf("pcscd-%d.log", p.runs)))
	require.NoError(t, err)
	return strings.Count(string(b), "POWER_STATE_UNPOWERED")
}

// agentIdle is how long TestAgentKeepsCardPowered leaves the card idle:
// several of pcscd's polls (about 400 ms each) past its grace period.
const agentIdle = 4 * time.Second

// TestAgentKeepsCardPowered: while the agent runs, the card idle in its
// reader stays powered (pcscd powers a card down soon after its last
// client disconnects, which wipes the card's own PIN state) and the next
// signature after the idle period needs no new PIN (standard input holds
// one PIN only); once the agent is gone, pcscd powers the idle card down,
// which is what the first half shows does not happen.
func TestAgentKeepsCardPowered(t *testing.T) {
	pcscdtest.Require(t)
	needTool(t, "ssh-add")
	needTool(t, "ssh-keygen")
	sim := provisioned(t)
	p := startPrivatePCSCD(t)
	p.serveChild(t, sim)
	a := p.startAgentChild(t, "123456\n")
	a.keys(t, p, "agent started")
	sign := a.signer(t)
	sign()

	down := p.unpowered(t)
	time.Sleep(agentIdle)
	assert.Equal(t, down, p.unpowered(t), "pcscd powered the card down while the agent held it:\n%s", p.log(t))
	sign() // the PIN cached: none is left on standard input
	assert.Equal(t, down, p.unpowered(t))

	a.stop(t)
	time.Sleep(agentIdle)
	assert.Greater(t, p.unpowered(t), down, "without the agent pcscd powers the idle card down:\n%s", p.log(t))
}

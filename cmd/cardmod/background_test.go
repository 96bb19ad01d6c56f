package main

import (
	"context"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// envRunMain makes the test binary run the command instead of the tests:
// the background agent starts os.Executable() again, which in a test is
// the test binary.
const envRunMain = "CARDMOD_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(envRunMain) == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

// TestAgentBackground: `eval $(cardmod agent)` prints the ssh-agent lines
// and leaves the agent running in the background; `cardmod agent -k`
// stops it.
func TestAgentBackground(t *testing.T) {
	needTool(t, "ssh-add")
	sim := provisioned(t)
	t.Setenv(envRunMain, "1")
	t.Setenv("TMPDIR", t.TempDir())
	pe, peLog := fakePinentry(t, `D 123456\nOK`)
	r := ok(t, runCmd(t, "", "-sim", sim, "-pinentry", pe, "agent"))
	m := regexp.MustCompile(`^SSH_AUTH_SOCK=(\S+); export SSH_AUTH_SOCK;\nSSH_AGENT_PID=(\d+); export SSH_AGENT_PID;\necho Agent pid (\d+);\n$`).FindStringSubmatch(r.out)
	require.NotNil(t, m, "%q", r.out)
	sock, pid := m[1], m[2]
	assert.Equal(t, pid, m[3])
	p, err := strconv.Atoi(pid)
	require.NoError(t, err)
	t.Cleanup(func() { _ = syscall.Kill(p, syscall.SIGKILL) })

	cmd := exec.Command("ssh-add", "-l")
	cmd.Env = append(os.Environ(), "SSH_AUTH_SOCK="+sock)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Contains(t, string(out), "Alice [ec256]")

	// The background agent asks for the PIN with the pinentry program.
	conn, err := net.Dial("unix", sock)
	require.NoError(t, err)
	ag := agent.NewClient(conn)
	keys, err := ag.List()
	require.NoError(t, err)
	require.NotEmpty(t, keys)
	sig, err := ag.Sign(keys[0], []byte("data"))
	require.NoError(t, err)
	pub, err := ssh.ParsePublicKey(keys[0].Blob)
	require.NoError(t, err)
	require.NoError(t, pub.Verify([]byte("data"), sig))
	conn.Close()
	log, err := os.ReadFile(peLog)
	require.NoError(t, err)
	assert.Contains(t, string(log), "GETPIN")

	env := map[string]string{"SSH_AGENT_PID": pid}
	r = runIO(t, &stdio{getenv: func(k string) string { return env[k] }}, "", "agent", "-k")
	require.Equal(t, exitOK, r.code, r.err)
	assert.Contains(t, r.out, "unset SSH_AUTH_SOCK;")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// The agent is a child of this test process (a shell's agent is
	// reparented when `cardmod agent` exits): reap it.
	for {
		var ws syscall.WaitStatus
		got, err := syscall.Wait4(p, &ws, syscall.WNOHANG, nil)
		if got == p || err != nil {
			break
		}
		require.NoError(t, ctx.Err(), "agent %d still running", p)
		time.Sleep(10 * time.Millisecond)
	}
	_, err = os.Stat(sock)
	assert.True(t, os.IsNotExist(err), "socket removed: %v", err)
}

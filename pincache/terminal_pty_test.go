//go:build linux

package pincache

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// openPTY returns the two ends of a new pseudo-terminal.
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	require.NoError(t, err)
	t.Cleanup(func() { m.Close() })
	fd := int(m.Fd())
	require.NoError(t, unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0))
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	require.NoError(t, err)
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return m, s
}

// TestTerminalRealPTY drives the real no-echo path (term.ReadPassword) on
// a pseudo-terminal: the PIN typed on the master side is read, and the
// terminal echoes none of it back.
func TestTerminalRealPTY(t *testing.T) {
	master, slave := openPTY(t)
	var out safeBuffer
	term := &Terminal{In: slave, Out: &out}

	type result struct {
		s   *Secret
		err error
	}
	done := make(chan result, 1)
	go func() {
		s, err := term.PIN(context.Background(), userRequest(normal))
		done <- result{s, err}
	}()

	// Type only once echo is off, as a user would after seeing the
	// question; a bounded wait, not a timing assertion.
	echoOff := false
	for range 10000 {
		tio, err := unix.IoctlGetTermios(int(slave.Fd()), unix.TCGETS)
		require.NoError(t, err)
		if tio.Lflag&unix.ECHO == 0 {
			echoOff = true
			break
		}
		time.Sleep(time.Millisecond)
	}
	require.True(t, echoOff, "echo turned off before reading")
	_, err := master.WriteString(testPIN + "\n")
	require.NoError(t, err)

	var res result
	select {
	case res = <-done:
	case <-time.After(time.Minute): // never hang the suite
		t.Fatal("the terminal prompt did not return")
	}
	require.NoError(t, res.err)
	assert.Equal(t, testPIN, string(res.s.Bytes()))
	res.s.Wipe()
	assert.Equal(t, userRequest(normal).Question()+"\n", out.String())

	tio, err := unix.IoctlGetTermios(int(slave.Fd()), unix.TCGETS)
	require.NoError(t, err)
	assert.NotZero(t, tio.Lflag&unix.ECHO, "echo restored")

	// Everything the terminal showed before the marker is its echo.
	_ = master.SetReadDeadline(time.Now().Add(time.Minute)) // never hang
	_, err = slave.WriteString("MARKER\n")
	require.NoError(t, err)
	r := bufio.NewReader(master)
	var shown strings.Builder
	for !strings.Contains(shown.String(), "MARKER") {
		line, err := r.ReadString('\n')
		shown.WriteString(line)
		require.NoError(t, err)
	}
	assert.NotContains(t, shown.String(), testPIN, "the PIN was not echoed")
}

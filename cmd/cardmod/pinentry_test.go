package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/cardmod/cardmod/pincache"
)

// fakePinentry writes a shell script speaking the pinentry side of Assuan:
// it logs the commands it gets to log and answers GETPIN with getpin (the
// lines after the command, e.g. "D 123456\nOK").
func fakePinentry(t *testing.T, getpin string) (path, log string) {
	t.Helper()
	dir := t.TempDir()
	path, log = filepath.Join(dir, "pinentry"), filepath.Join(dir, "log")
	script := fmt.Sprintf(`#!/bin/sh
echo "OK Pleased to meet you"
while IFS= read -r line; do
  printf '%%s\n' "$line" >> %q
  case "$line" in
    GETPIN) printf '%%b\n' %q ;;
    BYE) echo "OK closing connection"; exit 0 ;;
    *) echo OK ;;
  esac
done
`, log, getpin)
	require.NoError(t, os.WriteFile(path, []byte(script), 0o700))
	return path, log
}

func TestPinentryProtocol(t *testing.T) {
	tests := []struct {
		name    string
		getpin  string
		want    string // the PIN; "" for an error
		wantErr error
		errText string
	}{
		{"plain", `D 123456\nOK`, "123456", nil, ""},
		{"percent-escaped", `D 12%25%0A34\nOK`, "12%\n34", nil, ""},
		{"status and comments first", `S PASSWORD_FROM_CACHE\n# hello\nD 999999\nOK`, "999999", nil, ""},
		{"cancelled", `ERR 83886179 Operation cancelled <Pinentry>`, "", pincache.ErrCancelled, ""},
		{"empty PIN cancels", `OK`, "", pincache.ErrCancelled, ""},
		{"bad escape", `D 12%zz\nOK`, "", errPinentry, "escape"},
		{"too long", `D ` + strings.Repeat("1", 300) + `\nOK`, "", errPinentry, "longer than"},
		{"line too long", `D ` + strings.Repeat("1", 1200) + `\nOK`, "", errPinentry, "line longer"},
		{"garbage", `HELLO`, "", errPinentry, "unexpected"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path, log := fakePinentry(t, tt.getpin)
			pe := &pinentry{path: path, ttyname: "/dev/pts/99", ttytype: "xterm"}
			s, err := pe.ask(context.Background(), question{desc: "Enter the PIN of card 100%\nsure", prompt: "PIN:", errText: "Wrong PIN"})
			if tt.want != "" {
				require.NoError(t, err)
				assert.Equal(t, tt.want, string(s.Bytes()))
				s.Wipe()
				got, err := os.ReadFile(log)
				require.NoError(t, err)
				assert.Equal(t, "OPTION ttyname=/dev/pts/99\nOPTION ttytype=xterm\nSETTITLE cardmod\n"+
					"SETDESC Enter the PIN of card 100%25%0Asure\nSETPROMPT PIN:\nSETERROR Wrong PIN\nGETPIN\nBYE\n", string(got))
				return
			}
			require.Error(t, err)
			assert.Nil(t, s)
			assert.ErrorIs(t, err, tt.wantErr)
			if tt.errText != "" {
				assert.Contains(t, err.Error(), tt.errText)
			}
			assert.NotContains(t, err.Error(), "111111", "no PIN bytes in errors")
		})
	}
}

// TestPinentryCommand runs commands with -pinentry and $CARDMOD_PINENTRY.
func TestPinentryCommand(t *testing.T) {
	path, log := fakePinentry(t, `D 123456\nOK`)
	sim := simFile(t)
	ok(t, runCmd(t, "", "-sim", sim, "-pinentry", path, "generate", "k"))
	got, err := os.ReadFile(log)
	require.NoError(t, err)
	assert.Contains(t, string(got), "SETDESC ")
	assert.Contains(t, string(got), "PIN")

	env := map[string]string{"CARDMOD_PINENTRY": path}
	r := runIO(t, &stdio{getenv: func(k string) string { return env[k] }}, "", "-sim", sim, "sign", "-in", "/dev/null", "k")
	assert.Equal(t, exitOK, r.code, r.err)

	cancel, _ := fakePinentry(t, `ERR 83886179 Operation cancelled <Pinentry>`)
	r = runCmd(t, "", "-sim", sim, "-pinentry", cancel, "sign", "-in", "/dev/null", "k")
	assert.Equal(t, exitPIN, r.code)
	assert.Contains(t, r.err, "PIN entry cancelled")
}

// openPTY returns the two ends of a new pseudo-terminal.
func openPTY(t *testing.T) (master, slave *os.File, name string) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	require.NoError(t, err)
	t.Cleanup(func() { m.Close() })
	fd := int(m.Fd())
	require.NoError(t, unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0))
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	require.NoError(t, err)
	name = fmt.Sprintf("/dev/pts/%d", n)
	s, err := os.OpenFile(name, os.O_RDWR|syscall.O_NOCTTY, 0)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return m, s, name
}

// ptyOutput collects what the terminal shows (the master side); the pty
// master does not take read deadlines, so a goroutine reads it until the
// test closes it.
func ptyOutput(master *os.File) *syncBuffer {
	var seen syncBuffer
	go func() {
		buf := make([]byte, 256)
		for {
			n, err := master.Read(buf)
			seen.Write(buf[:n])
			if err != nil {
				return
			}
		}
	}()
	return &seen
}

// waitShown waits until the terminal has shown want (a bounded wait, not a
// timing assertion).
func waitShown(t *testing.T, seen *syncBuffer, want string) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(seen.String(), want) {
		require.True(t, time.Now().Before(deadline), "never saw %q, got %q", want, seen.String())
		time.Sleep(5 * time.Millisecond)
	}
	return seen.String()
}

// TestPinentryTTYThroughPTY drives Debian's pinentry-tty on a
// pseudo-terminal through our Assuan client: it shows the description on
// the terminal and returns what is typed there, without echo.
func TestPinentryTTYThroughPTY(t *testing.T) {
	bin := needTool(t, "pinentry-tty")
	master, _, name := openPTY(t)
	pe := &pinentry{path: bin, ttyname: name, ttytype: "dumb"}
	type res struct {
		s   *pincache.Secret
		err error
	}
	done := make(chan res, 1)
	go func() {
		s, err := pe.ask(context.Background(), question{desc: "Enter the PIN for card 42", prompt: "PIN:"})
		done <- res{s, err}
	}()
	seen := ptyOutput(master)
	shown := waitShown(t, seen, "PIN:")
	assert.Contains(t, shown, "Enter the PIN for card 42")
	_, err := master.Write([]byte("246813\r"))
	require.NoError(t, err)
	var r res
	select {
	case r = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("pinentry-tty did not answer")
	}
	require.NoError(t, r.err)
	assert.Equal(t, "246813", string(r.s.Bytes()))
	r.s.Wipe()
	assert.NotContains(t, seen.String(), "246813", "no echo")
}

// TestTerminalPrompt reads a PIN from a real pseudo-terminal with echo off
// through the command (generate on the simulated card).
func TestTerminalPrompt(t *testing.T) {
	master, slave, _ := openPTY(t)
	sim := simFile(t)
	seen := ptyOutput(master)
	var out, errb syncBuffer
	io := &stdio{in: slave, out: &out, err: &errb, getenv: func(string) string { return "" }}
	done := make(chan int, 1)
	go func() { done <- run(context.Background(), []string{"-sim", sim, "generate", "k"}, io) }()
	// The question goes to stderr; type once echo is off.
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(errb.String(), "PIN") {
		require.True(t, time.Now().Before(deadline), "no question: %q", errb.String())
		time.Sleep(10 * time.Millisecond)
	}
	for {
		tio, err := unix.IoctlGetTermios(int(slave.Fd()), unix.TCGETS)
		require.NoError(t, err)
		if tio.Lflag&unix.ECHO == 0 {
			break
		}
		require.True(t, time.Now().Before(deadline), "echo never turned off")
		time.Sleep(5 * time.Millisecond)
	}
	_, err := master.Write([]byte("123456\n"))
	require.NoError(t, err)
	select {
	case code := <-done:
		require.Equal(t, exitOK, code, errb.String())
	case <-time.After(30 * time.Second):
		t.Fatal("generate did not finish")
	}
	assert.Contains(t, out.String(), "BEGIN PUBLIC KEY")
	assert.NotContains(t, seen.String(), "123456", "no echo")
}

// TestProgressOnTerminalOnly: key generation shows progress when standard
// error is a terminal, and nothing when it is not.
func TestProgressOnTerminalOnly(t *testing.T) {
	master, slave, _ := openPTY(t)
	seen := ptyOutput(master)
	sim := simFile(t)
	var out syncBuffer
	io := &stdio{in: strings.NewReader("123456\n"), out: &out, err: slave, getenv: func(string) string { return "" }}
	code := run(context.Background(), []string{"-sim", sim, "-pin-stdin", "generate", "-alg", "rsa2048", "k"}, io)
	require.Equal(t, exitOK, code)
	waitShown(t, seen, "generating a rsa2048 key on the card: done in")

	r := ok(t, runCmd(t, "123456\n", "-sim", sim, "-pin-stdin", "generate", "-alg", "rsa2048", "k2"))
	assert.Empty(t, r.err, "nothing when standard error is not a terminal")
	assert.Contains(t, r.out, "BEGIN PUBLIC KEY")
}

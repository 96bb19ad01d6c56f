//go:build linux

package pcsclite

import (
	"context"
	"net"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/cardmod/cardmod/scrm"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fullQueue listens on a UNIX socket with a backlog of 0, never accepting,
// and connects to it until the kernel refuses with EAGAIN: the state
// pcscd's socket (backlog 1) is in when clients connect at the same moment.
// It returns the listening descriptor and the socket's path.
func fullQueue(t *testing.T) (int, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "pcscd.comm")
	fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	require.NoError(t, err)
	t.Cleanup(func() { _ = syscall.Close(fd) })
	require.NoError(t, syscall.Bind(fd, &syscall.SockaddrUnix{Name: path}))
	require.NoError(t, syscall.Listen(fd, 0))
	for n := 0; ; n++ {
		require.Less(t, n, 16, "the listen queue never filled")
		c, err := net.Dial("unix", path)
		if err != nil {
			require.ErrorIs(t, err, syscall.EAGAIN)
			return fd, path
		}
		t.Cleanup(func() { _ = c.Close() })
	}
}

// TestDialWaitsForRoomInTheQueue: a connect that finds pcscd's listen queue
// full waits for room, as pcsc-lite's blocking connect does, instead of
// failing with "resource temporarily unavailable".
func TestDialWaitsForRoomInTheQueue(t *testing.T) {
	fd, path := fullQueue(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		c, err := dial(ctx, path)
		if c != nil {
			_ = c.Close()
		}
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("dial returned while the queue was full: %v", err)
	case <-time.After(100 * time.Millisecond):
	}
	nfd, _, err := syscall.Accept(fd) // makes room
	require.NoError(t, err)
	defer syscall.Close(nfd)
	assert.NoError(t, <-done)
}

// TestDialFullQueueEndsWithContext: the wait for room ends with ctx, as no
// service.
func TestDialFullQueueEndsWithContext(t *testing.T) {
	_, path := fullQueue(t)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	c, err := dial(ctx, path)
	if c != nil {
		_ = c.Close()
	}
	require.Error(t, err)
	assert.ErrorIs(t, err, scrm.ErrNoService)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Less(t, time.Since(start), 5*time.Second)
}

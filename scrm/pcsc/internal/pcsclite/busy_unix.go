//go:build unix

package pcsclite

import (
	"errors"
	"syscall"
)

// queueFull reports whether err is a connect to a UNIX socket whose listen
// queue is full (EAGAIN from a non-blocking connect, unix(7)).
func queueFull(err error) bool { return errors.Is(err, syscall.EAGAIN) }

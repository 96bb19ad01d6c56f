//go:build linux

package vpcd

import (
	"net"
	"syscall"
)

// quickAck re-arms TCP_QUICKACK on c so that the kernel acknowledges the next
// segment at once instead of delaying the ACK. Debian's vpcd writes the
// length prefix and the APDU in two send() calls; with a delayed ACK on our
// side, Nagle's algorithm on vpcd's side holds the second write back for
// about 40 ms. Linux clears the flag again after some exchanges, so it is
// set before every read. Errors are ignored: the flag only affects latency.
func quickAck(c net.Conn) {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return
	}
	raw, err := tc.SyscallConn()
	if err != nil {
		return
	}
	_ = raw.Control(func(fd uintptr) {
		_ = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_QUICKACK, 1)
	})
}

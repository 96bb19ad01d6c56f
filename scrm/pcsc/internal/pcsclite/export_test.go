package pcsclite

import (
	"context"
	"net"
)

// EstablishConn is Establish over an existing connection (fuzzing).
func EstablishConn(ctx context.Context, conn net.Conn, cfg Config) (*Context, error) {
	return establishOn(ctx, conn, "", cfg)
}

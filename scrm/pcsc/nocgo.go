//go:build !cgo && !windows

package pcsc

import (
	"context"
	"fmt"

	"github.com/cardmod/cardmod/scrm"
)

var _ scrm.Backend = (*Backend)(nil)

// Backend is the PC/SC backend. In this build (no cgo) it cannot reach the
// resource manager: New always fails with an error wrapping scrm.ErrNoCGO.
type Backend struct{}

// New fails with an error wrapping scrm.ErrNoCGO: this build has no cgo,
// which the PC/SC library needs on this platform.
func New(ctx context.Context) (*Backend, error) {
	return nil, errNoCGO()
}

func errNoCGO() error { return fmt.Errorf("pcsc: %w", scrm.ErrNoCGO) }

// ListReaders fails with an error wrapping scrm.ErrNoCGO.
func (b *Backend) ListReaders(ctx context.Context) ([]string, error) {
	return []string{}, errNoCGO()
}

// GetStatusChange fails with an error wrapping scrm.ErrNoCGO.
func (b *Backend) GetStatusChange(ctx context.Context, states []scrm.ReaderState) error {
	return errNoCGO()
}

// Connect fails with an error wrapping scrm.ErrNoCGO.
func (b *Backend) Connect(ctx context.Context, reader string, share scrm.ShareMode, proto scrm.Protocol) (scrm.Conn, error) {
	return nil, errNoCGO()
}

// Release does nothing.
func (b *Backend) Release() error { return nil }

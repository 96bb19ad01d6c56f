package pcsc

import (
	"context"

	"github.com/cardmod/cardmod/scrm/pcsc/internal/pcsclite"
)

// ActiveWaits returns how many GetStatusChange calls are registered on b.
func ActiveWaits(b *Backend) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.waits)
}

// NewPureGo returns a Backend over the pure-Go client whatever the build,
// with cfg (a fake pcscd's socket, a protocol version to offer).
func NewPureGo(ctx context.Context, cfg pcsclite.Config) (*Backend, error) {
	return newBackend(ctx, liteClient{cfg: cfg})
}

// ClientName names the default client of this build.
const ClientName = clientName

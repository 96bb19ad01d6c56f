//go:build !windows && !cgo && (darwin || cardmod_scard)

package pcsc

import (
	"fmt"

	"github.com/cardmod/cardmod/scrm"
)

// defaultClient fails: on macOS, and on Linux with the cardmod_scard tag,
// the PC/SC client is github.com/ebfe/scard, which needs cgo.
func defaultClient() (client, error) {
	return nil, fmt.Errorf("pcsc: %w", scrm.ErrNoCGO)
}

// clientName names the default client in documentation and tests.
const clientName = "none (no cgo)"

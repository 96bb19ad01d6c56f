//go:build cgo || windows

package pcsc

// ActiveWaits returns how many GetStatusChange calls are registered on b.
func ActiveWaits(b *Backend) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.waits)
}

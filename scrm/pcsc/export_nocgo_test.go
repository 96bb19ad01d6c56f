//go:build !cgo && !windows

package pcsc

// ActiveWaits returns 0: this build makes no waits.
func ActiveWaits(*Backend) int { return 0 }

package gids

import "testing"

// SetDebugPanics makes Transmit re-raise panics for the duration of a test.
func SetDebugPanics(tb testing.TB, on bool) {
	old := debugPanics
	debugPanics = on
	tb.Cleanup(func() { debugPanics = old })
}

package piv

// SetDebugPanics makes Transmit re-raise panics (for the fuzz tests).
func SetDebugPanics(on bool) { debugPanics = on }

package pincache

import (
	"crypto/subtle"
	"fmt"
	"log/slog"
)

// redacted is what every printed form of a Secret shows.
const redacted = "[REDACTED]"

// Secret holds the bytes of a PIN. Wipe zeroes them; after Wipe the Secret
// is empty. A Secret never prints its bytes: String, GoString, Format and
// LogValue all give "[REDACTED]".
//
// A nil *Secret is an empty, wiped secret. A Secret belongs to one
// goroutine at a time.
type Secret struct {
	b []byte
}

// NewSecret returns a Secret holding a copy of pin. The caller still owns
// pin and should wipe it (clear(pin)) when done.
func NewSecret(pin []byte) *Secret {
	return &Secret{b: append(make([]byte, 0, len(pin)), pin...)}
}

// takeSecret returns a Secret that owns b without copying it.
func takeSecret(b []byte) *Secret { return &Secret{b: b} }

// Bytes returns the PIN bytes themselves, not a copy: they are valid until
// Wipe, which zeroes them, and whatever they are passed to must not keep
// them. Bytes of a wiped Secret is nil.
func (s *Secret) Bytes() []byte {
	if s == nil {
		return nil
	}
	return s.b
}

// Len returns the number of PIN bytes.
func (s *Secret) Len() int {
	if s == nil {
		return 0
	}
	return len(s.b)
}

// Wiped reports whether the Secret has been wiped (or was never set).
func (s *Secret) Wiped() bool { return s == nil || s.b == nil }

// Clone returns an independent copy; nil for a nil Secret.
func (s *Secret) Clone() *Secret {
	if s == nil {
		return nil
	}
	if s.b == nil {
		return &Secret{}
	}
	return NewSecret(s.b)
}

// Equal reports whether s and t hold the same bytes, in time that depends
// only on the lengths. Wiped secrets are equal to nothing, not even to
// each other.
func (s *Secret) Equal(t *Secret) bool {
	if s.Wiped() || t.Wiped() {
		return false
	}
	return subtle.ConstantTimeCompare(s.b, t.b) == 1
}

// Wipe zeroes the PIN bytes and forgets them. It is safe to call more than
// once and on nil.
func (s *Secret) Wipe() {
	if s == nil {
		return
	}
	clear(s.b)
	s.b = nil
}

// The printing methods have value receivers so that a Secret value, not
// only a pointer, prints redacted.

// String returns "[REDACTED]".
func (Secret) String() string { return redacted }

// GoString returns "[REDACTED]".
func (Secret) GoString() string { return redacted }

// Format prints "[REDACTED]" whatever the verb and flags.
func (Secret) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(redacted)) }

// LogValue keeps the PIN out of log/slog output.
func (*Secret) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalText keeps the PIN out of encodings (JSON, XML, YAML).
func (Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }

var (
	_ fmt.Stringer   = (*Secret)(nil)
	_ fmt.GoStringer = (*Secret)(nil)
	_ fmt.Formatter  = (*Secret)(nil)
	_ slog.LogValuer = (*Secret)(nil)
)

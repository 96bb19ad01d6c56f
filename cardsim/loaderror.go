package cardsim

import (
	"errors"
	"strings"
)

// LoadError reports a saved card state that cannot be loaded. Loading
// never changes an existing card: a simulator's Load makes a new card or
// none.
type LoadError struct {
	// Card names the simulator, for example "piv".
	Card string
	// Path is the file, for LoadFile.
	Path string
	// Reason says what is wrong.
	Reason string
	// Err is the underlying error, if any.
	Err error
}

// Error implements error.
func (e *LoadError) Error() string {
	var b strings.Builder
	b.WriteString(e.Card)
	b.WriteString(": cannot load card state")
	if e.Path != "" {
		b.WriteString(" from ")
		b.WriteString(e.Path)
	}
	b.WriteString(": ")
	b.WriteString(e.Reason)
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the underlying error.
func (e *LoadError) Unwrap() error { return e.Err }

// ErrUnsupportedStateVersion is wrapped by the LoadError of a state whose
// version the simulator does not know.
var ErrUnsupportedStateVersion = errors.New("unsupported state version")

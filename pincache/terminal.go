package pincache

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"golang.org/x/term"
)

// DefaultMaxPINLen is the longest PIN a Terminal accepts when MaxLen is 0.
const DefaultMaxPINLen = 256

// Terminal is a Prompt that asks on a terminal with echo turned off
// (golang.org/x/term). It writes Request.Question to Out, reads one line
// from In without echo, then ends the line on Out. The question never
// holds the PIN.
//
// An empty line or end of input (Ctrl-D) cancels: PIN returns an error
// wrapping ErrCancelled. A line longer than MaxLen is refused. The read
// itself cannot be interrupted (x/term offers no way to): ctx is checked
// before the question and after the answer, and a PIN read after ctx ended
// is wiped and not returned.
//
// The zero Terminal reads the process's standard input and writes to its
// standard error. In must be a terminal unless ReadPassword is set; a
// Terminal never reads a PIN with echo on. Prompts are serialised; a
// Terminal must not be copied after first use.
type Terminal struct {
	// In is the terminal to read; nil means os.Stdin.
	In *os.File
	// Out receives the question; nil means os.Stderr.
	Out io.Writer
	// ReadPassword reads a line without echo from the file descriptor;
	// nil means term.ReadPassword. Tests set it to drive a Terminal
	// without a real terminal.
	ReadPassword func(fd int) ([]byte, error)
	// MaxLen is the longest PIN accepted; 0 means DefaultMaxPINLen.
	MaxLen int

	mu sync.Mutex // serialises prompts
}

// PIN asks for the PIN r wants.
func (t *Terminal) PIN(ctx context.Context, r Request) (*Secret, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("pincache: terminal prompt: %w", err)
	}
	in := t.In
	if in == nil {
		in = os.Stdin
	}
	var out io.Writer = os.Stderr
	if t.Out != nil {
		out = t.Out
	}
	read := t.ReadPassword
	if read == nil {
		if !term.IsTerminal(int(in.Fd())) {
			return nil, errors.New("pincache: terminal prompt: input is not a terminal")
		}
		read = term.ReadPassword
	}
	maxLen := t.MaxLen
	if maxLen <= 0 {
		maxLen = DefaultMaxPINLen
	}
	if _, err := io.WriteString(out, r.Question()); err != nil {
		return nil, fmt.Errorf("pincache: terminal prompt: %w", err)
	}
	line, err := read(int(in.Fd()))
	// Echo was off, so the user's newline was not shown.
	_, _ = io.WriteString(out, "\n")
	s := takeSecret(line)
	switch {
	case errors.Is(err, io.EOF) && s.Len() == 0:
		s.Wipe()
		return nil, fmt.Errorf("%w: end of input", ErrCancelled)
	case err != nil:
		s.Wipe()
		// The reader's error does not hold the line it read.
		return nil, fmt.Errorf("pincache: terminal prompt: %w", err)
	case s.Len() == 0:
		s.Wipe()
		return nil, fmt.Errorf("%w: empty PIN", ErrCancelled)
	case s.Len() > maxLen:
		s.Wipe()
		return nil, fmt.Errorf("pincache: terminal prompt: PIN longer than %d bytes", maxLen)
	}
	if err := ctx.Err(); err != nil {
		s.Wipe()
		return nil, fmt.Errorf("pincache: terminal prompt: %w", err)
	}
	return s, nil
}

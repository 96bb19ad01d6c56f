package cardsim

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/cardmod/cardmod/internal/atomicfile"
)

// MaxStateSize bounds a saved card state that ReadState accepts.
const MaxStateSize = 64 << 20

// ReadState reads a saved state of the card simulator named card, at most
// MaxStateSize bytes; errors are *LoadError.
func ReadState(r io.Reader, card string) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxStateSize+1))
	if err != nil {
		return nil, &LoadError{Card: card, Reason: "reading", Err: err}
	}
	if len(data) > MaxStateSize {
		return nil, &LoadError{Card: card, Reason: fmt.Sprintf("more than %d bytes", MaxStateSize)}
	}
	return data, nil
}

// LoadFile opens path and loads a card from it with load (a simulator's
// Load); a *LoadError it returns gets the path.
func LoadFile[C any](path, card string, load func(io.Reader) (C, error)) (C, error) {
	f, err := os.Open(path)
	if err != nil {
		var zero C
		return zero, &LoadError{Card: card, Path: path, Reason: "opening", Err: err}
	}
	defer f.Close()
	c, err := load(f)
	var le *LoadError
	if errors.As(err, &le) {
		le.Path = path
	}
	return c, err
}

// SaveFile writes what save writes to path atomically, with mode 0600: a
// crash leaves the old state or the new one, never half of one.
func SaveFile(path, card string, save func(io.Writer) error) error {
	var b bytes.Buffer
	if err := save(&b); err != nil {
		return err
	}
	if err := atomicfile.Write(path, b.Bytes(), 0o600); err != nil {
		return fmt.Errorf("%s: saving state: %w", card, err)
	}
	return nil
}

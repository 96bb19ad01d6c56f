package main

import (
	"context"
	"fmt"

	"github.com/cardmod/cardmod/scrm"
)

// oneReaderBackend is the backend seen with -reader: only that reader
// exists. Every command, the providers and the agent's watcher list,
// watch and connect through it, so a card in another reader is never
// opened, never asked for a PIN and never sent an APDU (and a card there
// that is identical to the chosen one cannot disturb the PIN cached for
// it).
type oneReaderBackend struct {
	scrm.Backend
	reader string
}

// ListReaders returns the reader when the backend has it; when it does
// not, an error wrapping scrm.ErrUnknownReader (or the backend's own
// error, such as scrm.ErrNoReadersAvailable).
func (b *oneReaderBackend) ListReaders(ctx context.Context) ([]string, error) {
	readers, err := b.Backend.ListReaders(ctx)
	if err != nil {
		return nil, err
	}
	for _, r := range readers {
		if r == b.reader {
			return []string{r}, nil
		}
	}
	return nil, fmt.Errorf("reader %q: %w", b.reader, scrm.ErrUnknownReader)
}

// GetStatusChange waits on the reader (and the PnP pseudo-reader); any
// other reader is unknown.
func (b *oneReaderBackend) GetStatusChange(ctx context.Context, states []scrm.ReaderState) error {
	for _, st := range states {
		if err := b.check(st.Reader); err != nil {
			return err
		}
	}
	return b.Backend.GetStatusChange(ctx, states)
}

// Connect connects to the card in the reader; any other reader is
// unknown.
func (b *oneReaderBackend) Connect(ctx context.Context, reader string, share scrm.ShareMode, proto scrm.Protocol) (scrm.Conn, error) {
	if err := b.check(reader); err != nil {
		return nil, err
	}
	return b.Backend.Connect(ctx, reader, share, proto)
}

func (b *oneReaderBackend) check(reader string) error {
	if reader == b.reader || reader == scrm.PnPNotification {
		return nil
	}
	return fmt.Errorf("reader %q is not -reader %q: %w", reader, b.reader, scrm.ErrUnknownReader)
}

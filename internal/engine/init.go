package engine

import (
	"context"
	"fmt"

	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/scrm"
)

// Initialize initializes the blank card in reader through its plug-in
// (minidriver.Initializer), in one transaction that ends with a reset so
// that nothing stays authenticated, and returns the card opened afresh.
// A card that opens already is handed to its plug-in all the same, which
// refuses it when it is initialized (minidriver.ErrFileExists); a
// plug-in that cannot initialize cards gives minidriver.ErrUnsupported.
func (e *Engine) Initialize(ctx context.Context, reader string, p minidriver.InitParams) (*Card, error) {
	if err := e.CheckOpen(); err != nil {
		return nil, err
	}
	if c, err := e.CardIn(ctx, reader); err == nil {
		err := c.Do(ctx, func(op *Op) error {
			return minidriver.Initialize(op.ctx, c.md, op.tx, p)
		})
		if err != nil {
			return nil, fmt.Errorf("engine: initialize: %w", err)
		}
		e.forget(c)
		return e.CardIn(ctx, reader)
	}
	opts := &scrm.ConnectOptions{}
	if e.cfg.Exclusive {
		opts.Share = scrm.ShareExclusive
	}
	conn, err := e.sc.Connect(ctx, reader, opts)
	if err != nil {
		return nil, fmt.Errorf("engine: %w", err)
	}
	defer func() { _ = conn.Close(scrm.LeaveCard) }()
	md, _, err := e.reg.Open(ctx, conn, minidriver.Env{Rand: e.cfg.rand()})
	if err != nil {
		return nil, fmt.Errorf("engine: %w", err)
	}
	defer func() { _ = md.Close() }()
	tx, err := conn.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("engine: %w", err)
	}
	err = md.Resume(ctx, tx)
	if err == nil {
		err = minidriver.Initialize(ctx, md, tx, p)
	}
	if endErr := tx.End(scrm.ResetCard); err == nil && endErr != nil {
		err = endErr
	}
	if err != nil {
		return nil, fmt.Errorf("engine: initialize: %w", err)
	}
	c, err := e.CardIn(ctx, reader)
	if err != nil {
		return nil, fmt.Errorf("engine: open the initialized card: %w", err)
	}
	return c, nil
}

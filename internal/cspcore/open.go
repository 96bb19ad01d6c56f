package cspcore

import (
	"errors"
	"fmt"

	"github.com/cardmod/cardmod/internal/engine"
	"github.com/cardmod/cardmod/keystore"
)

// Open builds a provider's engine and Core over the shared settings s
// (the provider's keystore.Config, which it does not modify): errors carry
// cfg.Prefix and wrap package keystore's sentinels. A nil s.Registry means
// cfg.Plugins(), the provider's default plug-in list.
func Open(s keystore.Config, cfg Config) (*Core, error) {
	if s.Backend == nil {
		return nil, fmt.Errorf("%s: Config.Backend is required", cfg.Prefix)
	}
	if cfg.Plugins == nil {
		return nil, fmt.Errorf("%s: cspcore: incomplete Config", cfg.Prefix)
	}
	if s.Registry == nil {
		s.Registry = cfg.Plugins()
	}
	e, err := engine.New(s)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", cfg.Prefix, err)
	}
	return &Core{e: e, cfg: cfg}, nil
}

// Close closes the engine (see engine.Engine.Close): every card, the
// cached PINs. A second Close returns keystore.ErrClosed; other
// errors carry the provider's prefix.
func (c *Core) Close() error {
	if err := c.e.Close(); err != nil {
		if errors.Is(err, keystore.ErrClosed) {
			return err
		}
		return c.Errorf("%w", err)
	}
	return nil
}

package ksp

import (
	"context"

	"github.com/cardmod/cardmod/cardfs"
	"github.com/cardmod/cardmod/internal/cspcore"
	"github.com/cardmod/cardmod/keystore"
	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/minidriver/plugins"
)

// Provider is the Smart Card KSP: keys by name on the cards of one
// backend. It is safe for concurrent use.
type Provider struct {
	core *cspcore.Core
}

// Open returns a provider over cfg.Backend. It does not touch any card
// yet.
func Open(cfg Config) (*Provider, error) {
	core, err := cspcore.Open(cfg, cspcore.Config{
		Prefix:                  "ksp",
		Plugins:                 plugins.NewRegistry,
		ErrUnsupportedAlgorithm: ErrUnsupportedAlgorithm,
	})
	if err != nil {
		return nil, err
	}
	return &Provider{core: core}, nil
}

// Close releases every card and wipes the cached PINs. Config.Backend
// belongs to the caller. It waits for running operations to end.
// Afterwards every method of the provider and of its keys and secrets
// fails with an error matching keystore.ErrClosed.
func (p *Provider) Close() error {
	return p.core.Close()
}

// OpenKey opens a key by a name of one of the four Windows forms (see
// ParseName), as NCryptOpenKey. A name found on no card is an error
// matching minidriver.ErrNoKeyContainer. The key's public part is read
// now; Public never touches the card afterwards.
func (p *Provider) OpenKey(ctx context.Context, name string) (*Key, error) {
	if err := p.core.CheckOpen(); err != nil {
		return nil, err
	}
	c, err := p.core.Open(ctx, name)
	if err != nil {
		return nil, err
	}
	return p.finalized(keyOf(c))
}

// OpenKeySpec opens the key of a legacy key spec (NCryptOpenKey's
// dwLegacyKeySpec) in the container name, for containers that hold two
// keys (made by the Base CSP).
func (p *Provider) OpenKeySpec(ctx context.Context, name string, spec minidriver.KeySpec) (*Key, error) {
	if err := p.core.CheckOpen(); err != nil {
		return nil, err
	}
	c, err := p.core.Open(ctx, name)
	if err != nil {
		return nil, err
	}
	return p.finalized(c.Key(spec))
}

// KeyEntry describes one key of a card (NCryptEnumKeys).
type KeyEntry struct {
	// Name is the key's (container's) name.
	Name string
	// Algorithm is the key's CNG algorithm.
	Algorithm Algorithm
	// KeySpec is the key's legacy spec (dwLegacyKeySpec).
	KeySpec minidriver.KeySpec
	// Bits is the key size.
	Bits int
	// Reader and CardID say where the key is.
	Reader string
	CardID cardfs.CardID
}

// FullName returns `\\.\Reader\Name`.
func (e KeyEntry) FullName() string { return keystore.FullName(e.Reader, e.Name) }

// Keys lists every key of every card present: one entry per key of each
// valid container (a container made by the Base CSP may hold two).
// Container information comes from the data cache while cardcf says it is
// fresh. A card that cannot be read (a blank or failing card), or a
// container whose keys cannot be read, does not hide the others: Keys
// returns every key it read and, as its error, a keystore.CardErrors naming what
// it could not read.
func (p *Provider) Keys(ctx context.Context) ([]KeyEntry, error) {
	if err := p.core.CheckOpen(); err != nil {
		return nil, err
	}
	list, err := p.core.List(ctx, true)
	var out []KeyEntry
	for _, e := range list {
		for _, s := range []struct {
			spec minidriver.KeySpec
			bits int
			ok   bool
		}{
			{e.Info.SignatureSpec, e.SignatureBits, e.Info.Signature != nil},
			{e.Info.KeyExchangeSpec, e.KeyExchangeBits, e.Info.KeyExchange != nil},
		} {
			if !s.ok {
				continue
			}
			bits := s.bits
			if cb := s.spec.CurveBits(); cb != 0 {
				bits = cb
			}
			out = append(out, KeyEntry{Name: e.Name, Algorithm: algorithmOf(s.spec), KeySpec: s.spec, Bits: bits,
				Reader: e.Reader, CardID: e.CardID})
		}
	}
	return out, err
}

// DeleteKey deletes a key (NCryptDeleteKey): its container, certificate
// files and container map record ("Smart Card Architecture": "Delete a
// container").
func (p *Provider) DeleteKey(ctx context.Context, name string) error {
	if err := p.core.CheckOpen(); err != nil {
		return err
	}
	c, err := p.core.Open(ctx, name)
	if err != nil {
		return err
	}
	return c.Delete(ctx)
}

// InitParams are the secrets and identity a blank card is initialized
// with (minidriver.InitParams): PIN is the user PIN, AdminKey the admin
// key, CardID the 16-byte cardid (nil: a random one). The sizes are the
// card's: for GIDS (minidriver/gids) a 4- to 16-byte PIN and a 24-byte
// 3DES or 16- or 32-byte AES admin key. The caller owns and wipes them.
type InitParams = minidriver.InitParams

// InitializeCard initializes the blank card in reader (one that Keys
// reports with a keystore.CardError matching minidriver.ErrNotInitialized: it has no
// file system yet, as a GIDS card leaves the factory) through its plug-in,
// and returns the new card's identity: the plug-in creates the card's file
// system, sets the user PIN and stores the admin key, in one transaction
// that ends with a card reset. A card that is initialized already is
// refused with an error matching minidriver.ErrFileExists, a card whose
// plug-in cannot initialize cards (PIV) with one matching
// minidriver.ErrUnsupported. reader is required.
func (p *Provider) InitializeCard(ctx context.Context, reader string, params InitParams) (cardfs.CardID, error) {
	ref, err := p.core.Initialize(ctx, reader, params)
	if err != nil {
		return cardfs.CardID{}, err
	}
	return ref.ID(), nil
}

package ksp

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/cardmod/cardmod/cardfs"
	"github.com/cardmod/cardmod/internal/cspcore"
	"github.com/cardmod/cardmod/internal/engine"
	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/minidriver/piv"
	"github.com/cardmod/cardmod/minidriver/plugins"
	"github.com/cardmod/cardmod/pincache"
	"github.com/cardmod/cardmod/scrm"
)

// AdminResponder answers a card's admin challenge (ROLE_ADMIN, spec
// CardGetChallenge and CardAuthenticateChallenge): it is
// minidriver.AdminResponder, a func(ctx, minidriver.AdminChallenge)
// ([]byte, error), and learns which card asks (plug-in, reader, card
// identity, serial, the key's algorithm) beside the challenge, so one
// provider can write to cards of several kinds and with different keys. The
// plug-in packages provide the responders of their cards' keys
// (minidriver/piv.ManagementKey, minidriver/gids.AdminKey) and
// minidriver.AdminResponders combines them:
//
//	AdminResponse: minidriver.AdminResponders(
//		piv.ManagementKey(pivKey), gids.AdminKey(gidsKey)),
type AdminResponder = cspcore.AdminResponder

// PIVManagementKey returns the AdminResponder of a PIV card's management
// key (3DES or AES), piv.ManagementKey: it answers PIV cards and declines
// the others (minidriver.ErrNoAdminKey). The key is copied.
func PIVManagementKey(key []byte) AdminResponder { return piv.ManagementKey(key) }

// Config configures a Provider; its fields mean what basecsp.Config's
// fields of the same names mean. Only Backend is required; the zero value
// of every other field is the documented default. Open does not modify
// it.
type Config struct {
	// Backend is where the cards are: scrm/pcsc for the system's readers,
	// scrm/virtual for simulated ones.
	Backend scrm.Backend
	// Registry lists the card plug-ins; nil means plugins.NewRegistry()
	// (package minidriver/plugins: PIV, then GIDS).
	Registry *minidriver.Registry
	// Prompt asks for PINs; nil means never prompt (as Silent).
	Prompt pincache.Prompt
	// Silent forbids any prompt (NCRYPT_SILENT_FLAG): an operation that
	// needs a PIN that is neither cached nor set through "SmartCardPin"
	// fails with an error wrapping pincache.ErrSilent.
	Silent bool
	// CacheDir, if not empty, keeps public card data on disk under it.
	CacheDir string
	// UseDiskCache, with CacheDir empty, keeps the disk cache under
	// os.UserCacheDir()/cardmod.
	UseDiskCache bool
	// NoCache turns the data cache off.
	NoCache bool
	// Exclusive connects to cards exclusively (see basecsp.Config).
	Exclusive bool
	// Rand is the source of randomness (key names, PSS salts, implicit
	// rejection); nil means crypto/rand.
	Rand io.Reader
	// Now is the clock of the PIN cache; nil means time.Now.
	Now func() time.Time
	// AdminResponse, if set, authenticates ROLE_ADMIN (on PIV the
	// management key) for every operation that writes to the card:
	// creating and deleting keys, writing certificates and msroots. The
	// responder learns which card asks (see AdminResponder); one that
	// declines a card (minidriver.ErrNoAdminKey) leaves that card's
	// writes to the user PIN.
	AdminResponse AdminResponder
}

// Provider is the Smart Card KSP: keys by name on the cards of one
// backend. It is safe for concurrent use.
type Provider struct {
	rand io.Reader
	e    *engine.Engine
	core *cspcore.Core
}

// Open returns a provider over cfg.Backend. It does not touch any card
// yet.
func Open(cfg Config) (*Provider, error) {
	core, e, r, err := cspcore.Open(cspcore.Settings{
		Backend: cfg.Backend, Registry: cmp.Or(cfg.Registry, plugins.NewRegistry()), Prompt: cfg.Prompt, Silent: cfg.Silent,
		CacheDir: cfg.CacheDir, UseDiskCache: cfg.UseDiskCache, NoCache: cfg.NoCache,
		Exclusive: cfg.Exclusive, Rand: cfg.Rand, Now: cfg.Now, AdminResponse: cfg.AdminResponse,
	}, "ksp", cspcore.Sentinels{Exists: ErrExists, NoCertificate: ErrNoCertificate, BadName: ErrBadName, Closed: ErrClosed,
		UnsupportedAlgorithm: ErrUnsupportedAlgorithm})
	if err != nil {
		return nil, err
	}
	return &Provider{rand: r, e: e, core: core}, nil
}

// Close releases every card and wipes the cached PINs. Config.Backend
// belongs to the caller. It waits for running operations to end.
// Afterwards every method of the provider and of its keys and secrets
// fails with an error matching ErrClosed.
func (p *Provider) Close() error {
	if err := p.e.Close(); err != nil {
		if errors.Is(err, ErrClosed) {
			return err
		}
		return fmt.Errorf("ksp: %w", err)
	}
	return nil
}

// ParseName splits a key name of one of the four Windows forms (Microsoft's
// "Smart Card Architecture": "Container specification levels", which
// NCryptOpenKey takes too): `\\.\Reader\Key`, `\\.\Reader\` (the default
// key of the card in that reader), `Key` (on any card) and "" (the default
// key of any card). A backslash in the key part is an error matching
// ErrBadName.
func ParseName(name string) (reader, key string, err error) {
	return cspcore.ParseName(name, ErrBadName)
}

// keyOf picks the key a KSP name opens in a container: the key exchange
// slot's (RSA exchange, ECDH) when there is one, else the signature
// slot's.
func keyOf(c *cspcore.Container) (*cspcore.Key, error) {
	specs := c.KeySpecs()
	if len(specs) == 0 {
		return nil, fmt.Errorf("ksp: container %q holds no key: %w", c.Name, minidriver.ErrNoKeyContainer)
	}
	return c.Key(specs[len(specs)-1])
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
	k, err := keyOf(c)
	if err != nil {
		return nil, err
	}
	return finalizedKey(p, k), nil
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
	k, err := c.Key(spec)
	if err != nil {
		return nil, err
	}
	return finalizedKey(p, k), nil
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
func (e KeyEntry) FullName() string { return cspcore.FullName(e.Reader, e.Name) }

// Keys lists every key of every card present: one entry per key of each
// valid container (a container made by the Base CSP may hold two).
// Container information comes from the data cache while cardcf says it is
// fresh. A card that cannot be read (a blank or failing card), or a
// container whose keys cannot be read, does not hide the others: Keys
// returns every key it read and, as its error, a CardErrors naming what
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
// reports with a CardError matching minidriver.ErrNotInitialized: it has no
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

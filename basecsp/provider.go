package basecsp

import (
	"context"
	"errors"
	"fmt"

	"github.com/cardmod/cardmod/cardfs"
	"github.com/cardmod/cardmod/internal/cspcore"
	"github.com/cardmod/cardmod/internal/engine"
	"github.com/cardmod/cardmod/keystore"
	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/minidriver/plugins"
)

// Config configures a Provider: it is keystore.Config, the settings both
// providers share (package basecsp and package ksp take the same type, so
// one value opens either). Only Backend is required; the zero value of
// every other field is the documented default. Open does not modify it.
type Config = keystore.Config

// Provider is the Base CSP: containers by name on the cards of one
// backend, their keys, certificates and PINs. It is safe for concurrent
// use.
type Provider struct {
	core *cspcore.Core
}

// Open returns a provider over cfg.Backend. It does not touch any card
// yet.
func Open(cfg Config) (*Provider, error) {
	core, err := cspcore.Open(cfg, cspcore.Config{Prefix: "basecsp", Plugins: plugins.NewRegistry})
	if err != nil {
		return nil, err
	}
	return &Provider{core: core}, nil
}

// Close releases every card and wipes the cached PINs. Config.Backend
// belongs to the caller and stays usable by other providers: release it
// separately. It waits for running operations to end. Afterwards every
// method of the provider and of its cards, containers and keys fails
// with an error matching keystore.ErrClosed.
func (p *Provider) Close() error {
	return p.core.Close()
}

// ref is the shared core's card, which Card embeds: its methods ID,
// Reader, Stats, RootCertificates and SetRootCertificates are Card's.
type ref = cspcore.Ref

// Card is one card seen through the provider: its properties, PINs and
// root certificate store. It follows the card by its identity across
// removal and re-insertion. It is safe for concurrent use.
//
// Beside the methods below, a Card has those of the shared core:
//
//	ID() cardfs.CardID       // its identity (cardid, PP_SMARTCARD_GUID)
//	Reader() string          // the reader it was last seen in (PP_SMARTCARD_READER)
//	Stats() scrm.Stats       // APDUs and bytes exchanged on this provider's connection (zero when not connected; a card found again after removal starts from zero)
//	RootCertificates(ctx context.Context) ([]*x509.Certificate, error)   // the root store, mscp/msroots (PP_ROOT_CERTSTORE); none without the file
//	SetRootCertificates(ctx context.Context, certs []*x509.Certificate) error // replaces it, creating the file; writing needs what Config.AdminResponse describes
type Card struct {
	*ref
}

// Cards returns the cards present in every reader that a plug-in takes.
// A card a plug-in takes but that cannot be opened (a blank card, a card
// that fails) does not hide the others: Cards returns every card it
// opened and, as its error, a keystore.CardErrors naming each reader whose card it
// could not open, and why.
func (p *Provider) Cards(ctx context.Context) ([]*Card, error) {
	if err := p.core.CheckOpen(); err != nil {
		return nil, err
	}
	refs, err := p.core.Cards(ctx)
	if refs == nil {
		return nil, err
	}
	out := make([]*Card, len(refs))
	for i, r := range refs {
		out[i] = &Card{ref: r}
	}
	return out, err
}

// Card returns the card in reader; reader "" means the first card present
// that could be opened.
func (p *Provider) Card(ctx context.Context, reader string) (*Card, error) {
	if err := p.core.CheckOpen(); err != nil {
		return nil, err
	}
	cards, _, err := p.core.CardsFor(ctx, reader)
	if err != nil {
		return nil, err
	}
	return &Card{ref: p.core.NewRef(cards[0])}, nil
}

// CardInfo holds a card's properties.
type CardInfo struct {
	// Reader is the reader the card is in.
	Reader string
	// ID is the card identifier (cardid, CP_CARD_GUID).
	ID cardfs.CardID
	// Serial is the card's serial number, if it has one.
	Serial []byte
	// Plugin names the plug-in that took the card.
	Plugin string
	// ReadOnly: the card cannot be written.
	ReadOnly bool
	// MaxContainers is the size of the container table.
	MaxContainers int
	// FreeSpace is CardQueryFreeSpace.
	FreeSpace minidriver.FreeSpace
	// KeySizes lists the sizes of each key spec the card supports.
	KeySizes map[minidriver.KeySpec]minidriver.KeySizes
}

// Info reads the card's properties, free space and key sizes.
func (c *Card) Info(ctx context.Context) (CardInfo, error) {
	var info CardInfo
	if err := cspcore.CoreOf(c.ref).CheckOpen(); err != nil {
		return info, err
	}
	err := cspcore.Do(ctx, c.ref, func(ec *engine.Card, op *engine.Op) (err error) {
		info, err = cardInfo(ec, op)
		return err
	})
	return info, err
}

// CardInfo is the Info of the card in reader (reader "" is the first card
// present that can be opened), in one transaction: a card the provider has
// not opened yet is opened in it, so a new process saves the transaction
// Card and Info would each begin (on a YubiKey, a SELECT).
func (p *Provider) CardInfo(ctx context.Context, reader string) (CardInfo, error) {
	if err := p.core.CheckOpen(); err != nil {
		return CardInfo{}, err
	}
	var info CardInfo
	// The first card opened is the one: stop after it, whatever its
	// operation gave.
	_, opErrs, _, err := p.core.CardsDo(ctx, reader, func(ec *engine.Card, op *engine.Op) (err error) {
		info, err = cardInfo(ec, op)
		return err
	}, func(error) bool { return true })
	if err != nil {
		return CardInfo{}, err
	}
	for _, err := range opErrs {
		if err != nil {
			return CardInfo{}, err
		}
	}
	return info, nil
}

// cardInfo is a card's information, read in op.
func cardInfo(ec *engine.Card, op *engine.Op) (CardInfo, error) {
	// Whether the card can be written, asked of the plug-in where its
	// properties cannot say yet (a YubiKey whose CHUID its issuer
	// signed: minidriver.WriteChecker).
	if err := op.CheckWritable(); err != nil && !errors.Is(err, minidriver.ErrReadOnly) {
		return CardInfo{}, fmt.Errorf("basecsp: %w", err)
	}
	props := ec.Properties()
	info := CardInfo{Reader: ec.Reader(), ID: ec.ID(), Serial: props.Serial, Plugin: ec.Plugin(),
		ReadOnly: props.ReadOnly, MaxContainers: props.MaxContainers,
		KeySizes: make(map[minidriver.KeySpec]minidriver.KeySizes)}
	fs, err := op.Card().FreeSpace(op.Context(), op.Tx())
	if err != nil {
		return CardInfo{}, fmt.Errorf("basecsp: free space: %w", err)
	}
	info.FreeSpace = fs
	for spec := minidriver.KeyExchange; spec <= minidriver.ECDHP521; spec++ {
		ks, err := op.Card().KeySizes(op.Context(), op.Tx(), spec)
		switch {
		case err == nil:
			info.KeySizes[spec] = ks
		case errors.Is(err, minidriver.ErrUnsupported):
		default:
			return CardInfo{}, fmt.Errorf("basecsp: key sizes of %v: %w", spec, err)
		}
	}
	return info, nil
}

// ChangePIN changes PIN id from old to new (spec
// CardChangeAuthenticatorEx). cardcf's PIN counter is bumped first, so
// every provider drops its cached copy of the PIN; this provider's cache
// forgets it too and the next operation asks again. Bumping cardcf is a
// write: see Config.AdminResponse.
func (c *Card) ChangePIN(ctx context.Context, id minidriver.PinID, old, new []byte) error {
	core := cspcore.CoreOf(c.ref)
	if err := core.CheckOpen(); err != nil {
		return err
	}
	if err := checkPINArgs(id, old, new, false); err != nil {
		return fmt.Errorf("basecsp: change PIN: %w", err)
	}
	return cspcore.Do(ctx, c.ref, func(_ *engine.Card, op *engine.Op) error {
		if core.HasAdmin() && op.CheckWritable() == nil {
			// A read-only card's files are not written (its PIN is
			// the holder's: SP 800-73-4 part 2, 3.2.2 and 3.2.3 need
			// no management key), so no admin key is asked for.
			if err := core.WriteAuth(op, "change PIN"); err != nil {
				return err
			}
		}
		if err := op.NotePINsChanged(); err != nil {
			return fmt.Errorf("basecsp: change PIN: %w", err)
		}
		err := op.ChangeAuthenticator(minidriver.ChangeRequest{
			Mode: minidriver.ChangePIN, AuthPIN: id, AuthData: old, Target: id, NewData: new, Flags: core.AuthFlags()})
		if err != nil {
			return fmt.Errorf("basecsp: change PIN %d: %w", id, err)
		}
		return nil
	})
}

// UnblockPIN unblocks PIN target and sets it to newPIN, authenticated by
// PIN auth (a PUK, or the admin PIN) with authData (spec
// CardChangeAuthenticatorEx, PIN_CHANGE_FLAG_UNBLOCK): auth must
// be in target's unblock permission. When auth is a challenge-response PIN
// (the GIDS admin key) and authData is empty, the response to the card's
// challenge is computed with Config.AdminResponse. cardcf's PIN counter is
// bumped first; on a card where only the admin key may write,
// Config.AdminResponse is needed.
func (c *Card) UnblockPIN(ctx context.Context, target, auth minidriver.PinID, authData, newPIN []byte) error {
	core := cspcore.CoreOf(c.ref)
	if err := core.CheckOpen(); err != nil {
		return err
	}
	// Empty authData is allowed here: with a challenge-response auth PIN
	// it asks for the response from Config.AdminResponse (checked below).
	if err := checkPINArgs(target, authData, newPIN, len(authData) == 0); err != nil {
		return fmt.Errorf("basecsp: unblock PIN: %w", err)
	}
	if !auth.Valid() || auth == minidriver.RoleEveryone {
		return fmt.Errorf("basecsp: unblock PIN with PIN %d: %w", auth, minidriver.ErrInvalidParameter)
	}
	return cspcore.Do(ctx, c.ref, func(_ *engine.Card, op *engine.Op) error {
		info, err := op.PINInfo(target)
		if err != nil {
			return fmt.Errorf("basecsp: unblock PIN %d: %w", target, err)
		}
		if auth == target || !info.UnblockPermission.Has(auth) {
			return fmt.Errorf("basecsp: PIN %d may not unblock PIN %d: %w", auth, target, minidriver.ErrInvalidParameter)
		}
		if len(authData) == 0 {
			// Only a challenge-response PIN is answered for the caller.
			ai, err := op.PINInfo(auth)
			if err != nil {
				return fmt.Errorf("basecsp: unblock PIN %d: %w", target, err)
			}
			if ai.Type != minidriver.ChallengeResponsePIN {
				return fmt.Errorf("basecsp: unblock PIN %d: a secret of 0 bytes for PIN %d: %w", target, auth, minidriver.ErrInvalidParameter)
			}
		}
		if core.HasAdmin() && op.CheckWritable() == nil {
			// A read-only card's files are not written (its PIN is
			// the holder's: SP 800-73-4 part 2, 3.2.2 and 3.2.3 need
			// no management key), so no admin key is asked for.
			if err := core.WriteAuth(op, "unblock PIN"); err != nil {
				return err
			}
		}
		if err := op.NotePINsChanged(); err != nil {
			return fmt.Errorf("basecsp: unblock PIN: %w", err)
		}
		authInfo, err := op.PINInfo(auth)
		if err != nil {
			return fmt.Errorf("basecsp: unblock PIN %d: %w", target, err)
		}
		if authInfo.Type == minidriver.ChallengeResponsePIN && len(authData) == 0 {
			ch, err := minidriver.Challenge(op.Context(), op.Card(), op.Tx(), auth)
			if err != nil {
				return fmt.Errorf("basecsp: unblock PIN %d: %w", target, err)
			}
			resp, err := core.AdminRespond(op, auth, ch)
			if err != nil {
				return err
			}
			defer clear(resp)
			authData = resp
		}
		err = op.ChangeAuthenticator(minidriver.ChangeRequest{
			Mode: minidriver.Unblock, AuthPIN: auth, AuthData: authData, Target: target, NewData: newPIN, Flags: core.AuthFlags()})
		if err != nil {
			return fmt.Errorf("basecsp: unblock PIN %d: %w", target, err)
		}
		return nil
	})
}

// maxSecretLen bounds a PIN, PUK or challenge response from the caller:
// what one short command carries (no card's secret comes near it).
const maxSecretLen = 255

// checkPINArgs checks a PIN change's arguments before the card is asked
// (and before cardcf is bumped for it): a PIN that can be changed, and
// secrets of 1 to maxSecretLen bytes (auth may be empty when emptyAuth
// says so: an unblock whose challenge-response PIN is answered by
// Config.AdminResponse). The plug-in checks its card's own rules.
func checkPINArgs(id minidriver.PinID, auth, new []byte, emptyAuth bool) error {
	if !id.Valid() || id == minidriver.RoleEveryone {
		return fmt.Errorf("PIN %d: %w", id, minidriver.ErrInvalidParameter)
	}
	for i, b := range [][]byte{auth, new} {
		if i == 0 && emptyAuth && len(b) == 0 {
			continue
		}
		if len(b) == 0 || len(b) > maxSecretLen {
			return fmt.Errorf("a secret of %d bytes (1 to %d): %w", len(b), maxSecretLen, minidriver.ErrInvalidParameter)
		}
	}
	return nil
}

// InitParams are the secrets and identity a blank card is initialized
// with (minidriver.InitParams): PIN is the user PIN, AdminKey the admin
// key, CardID the 16-byte cardid (nil: a random one). The sizes are the
// card's: for GIDS (minidriver/gids) a 4- to 16-byte PIN and a 24-byte
// 3DES or 16- or 32-byte AES admin key. The caller owns and wipes them.
type InitParams = minidriver.InitParams

// InitializeCard initializes the blank card in reader (one that Cards
// reports with a keystore.CardError matching minidriver.ErrNotInitialized: it has no
// file system yet, as a GIDS card leaves the factory) through its plug-in,
// and returns it: the plug-in creates the card's file system (cardid,
// cardcf, cardapps, an empty container map), sets the user PIN and stores
// the admin key. The work is one transaction that ends with a card reset,
// so nothing stays authenticated. A card that is initialized already is
// refused with an error matching minidriver.ErrFileExists, a card whose
// plug-in cannot initialize cards (PIV) with one matching
// minidriver.ErrUnsupported. reader is required.
func (p *Provider) InitializeCard(ctx context.Context, reader string, params InitParams) (*Card, error) {
	ref, err := p.core.Initialize(ctx, reader, params)
	if err != nil {
		return nil, err
	}
	return &Card{ref: ref}, nil
}

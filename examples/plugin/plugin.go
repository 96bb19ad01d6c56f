package plugin

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	cryptorand "crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/cardmod/cardmod/cardfs"
	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/scrm"
)

// AID is the Example Token's application identifier (see package
// examples/plugin/token for the card's command reference).
var AID = []byte{0xF0, 'C', 'A', 'R', 'D', 'M', 'O', 'D'}

// atr is the Example Token's answer to reset, matched exactly.
var atr = []byte{0x3B, 0x8B, 0x80, 0x01, 0x80, 0x73, 0xC0, 0x21, 0x80, 0x55, 'E', 'X', 'T', 'O', 'K', 0x80}

// Slots is the number of key slots on the token: containers 0 to Slots-1.
const Slots = 4

// Plugin is the Example Token plug-in. The zero value is ready to use;
// list it in a minidriver.Registry.
type Plugin struct{}

var _ minidriver.Plugin = Plugin{}

// Name implements minidriver.Plugin.
func (Plugin) Name() string { return "Example Token" }

// ATRs implements minidriver.Plugin: the token's ATR, exactly.
func (Plugin) ATRs() []scrm.ATRMask {
	return []scrm.ATRMask{{ATR: bytes.Clone(atr), Mask: bytes.Repeat([]byte{0xFF}, len(atr))}}
}

// Probe implements minidriver.Plugin: a card that selects the token's
// application is a token, whatever its ATR.
func (Plugin) Probe(ctx context.Context, tx *scrm.Tx) (bool, error) {
	_, err := selectApp(ctx, tx)
	var se *scrm.StatusError
	if errors.As(err, &se) {
		return false, nil // a status word is an answer: not ours
	}
	return err == nil, err
}

// Open implements minidriver.Plugin: it selects the application and reads
// the file store.
func (Plugin) Open(ctx context.Context, tx *scrm.Tx, env minidriver.Env) (minidriver.Card, error) {
	sel, err := selectApp(ctx, tx)
	if err != nil {
		return nil, err
	}
	c := &Card{serial: sel.serial, capacity: sel.capacity}
	if err := c.load(ctx, tx, sel.counter); err != nil {
		return nil, err
	}
	return c, nil
}

// selection is what SELECT answers.
type selection struct {
	serial   [8]byte
	counter  uint32 // incremented by the card on every PUT DATA of the file store
	capacity int    // of the file store
}

func selectApp(ctx context.Context, tx *scrm.Tx) (selection, error) {
	var s selection
	resp, err := tx.Do(ctx, scrm.Command{INS: 0xA4, P1: 0x04, Data: AID, Ne: 256})
	if err != nil {
		return s, fmt.Errorf("example: select: %w", err)
	}
	if len(resp.Data) != 14 {
		return s, fmt.Errorf("%w: example: select answered %d bytes, want 14", minidriver.ErrUnexpected, len(resp.Data))
	}
	copy(s.serial[:], resp.Data)
	s.counter = binary.BigEndian.Uint32(resp.Data[8:])
	s.capacity = int(binary.BigEndian.Uint16(resp.Data[12:]))
	return s, nil
}

// Card is an Example Token opened by the plug-in. Its card file system
// lives in the token's file store as a cardfs snapshot: the plug-in keeps
// a copy, re-read when the token's store counter says another context has
// written it, and writes the whole store back after every change. The
// token enforces the PIN for writes and keys; the copy's access
// conditions are checked here with the roles logged in.
type Card struct {
	serial   [8]byte
	capacity int
	counter  uint32 // the store counter fs was read or written at
	fs       *cardfs.MemFS
	user     bool // the user PIN is verified in the current transaction
}

var (
	_ minidriver.Card             = (*Card)(nil)
	_ minidriver.FileWriter       = (*Card)(nil)
	_ minidriver.ContainerManager = (*Card)(nil)
)

// load reads the file store; an empty one (a token not initialized yet)
// is an empty file system, in which cardid is then missing.
func (c *Card) load(ctx context.Context, tx *scrm.Tx, counter uint32) error {
	resp, err := tx.Do(ctx, scrm.Command{INS: 0xCA, P1: 0x01, Ne: 256})
	if err != nil {
		return fmt.Errorf("example: read the file store: %w", err)
	}
	fs := cardfs.NewMemFS(cardfs.MemFSConfig{})
	if len(resp.Data) > 0 {
		if err := fs.Restore(resp.Data); err != nil {
			return fmt.Errorf("%w: example: file store: %w", minidriver.ErrCommDataLost, err)
		}
	}
	c.fs, c.counter = fs, counter
	return nil
}

// Close implements minidriver.Card. The plug-in holds no secret.
func (c *Card) Close() error { return nil }

// Resume implements minidriver.Card: SELECT (one APDU), and the file store
// again only when its counter moved.
func (c *Card) Resume(ctx context.Context, tx *scrm.Tx) error {
	c.user = false // a login lasts one transaction
	sel, err := selectApp(ctx, tx)
	if err != nil {
		return err
	}
	if sel.serial != c.serial {
		return fmt.Errorf("%w: example: another token in the reader", minidriver.ErrUnexpected)
	}
	c.capacity = sel.capacity
	if sel.counter != c.counter {
		return c.load(ctx, tx, sel.counter)
	}
	return nil
}

// Capabilities implements minidriver.Card: the token generates keys; the
// caller compresses certificates.
func (c *Card) Capabilities() minidriver.Capabilities {
	return minidriver.Capabilities{KeyGen: true}
}

// Properties implements minidriver.Card.
func (c *Card) Properties(ctx context.Context, tx *scrm.Tx) (minidriver.CardProperties, error) {
	b, err := c.fs.ReadFile(cardfs.RolesNone, cardfs.RootDir, cardfs.CardIDFile)
	if err != nil {
		return minidriver.CardProperties{}, fmt.Errorf("example: %w", err)
	}
	id, err := cardfs.ParseCardID(b)
	if err != nil {
		return minidriver.CardProperties{}, fmt.Errorf("%w: example: %w", minidriver.ErrCommDataLost, err)
	}
	return minidriver.CardProperties{
		GUID:                   id,
		Serial:                 bytes.Clone(c.serial[:]),
		CacheMode:              minidriver.CacheGlobal,
		SupportsX509Enrollment: true,
		PINs:                   minidriver.NewPinSet(minidriver.RoleUser),
		MaxContainers:          Slots,
	}, nil
}

// PINInfo implements minidriver.Card: the token has one PIN, the user's.
func (c *Card) PINInfo(ctx context.Context, tx *scrm.Tx, id minidriver.PinID) (minidriver.PINInfo, error) {
	if id != minidriver.RoleUser {
		return minidriver.PINInfo{}, fmt.Errorf("%w: example: no PIN %d", minidriver.ErrInvalidParameter, id)
	}
	return minidriver.PINInfo{Type: minidriver.AlphanumericPIN, Purpose: minidriver.PrimaryCardPIN}, nil
}

func (c *Card) roles() cardfs.Roles {
	if c.user {
		return cardfs.RoleSet(cardfs.RoleUser)
	}
	return cardfs.RolesNone
}

// ReadFile implements minidriver.Card.
func (c *Card) ReadFile(ctx context.Context, tx *scrm.Tx, dir, name string) ([]byte, error) {
	return c.fs.ReadFile(c.roles(), dir, name)
}

// ListFiles implements minidriver.Card.
func (c *Card) ListFiles(ctx context.Context, tx *scrm.Tx, dir string) ([]string, error) {
	return c.fs.ListFiles(c.roles(), dir)
}

// FileInfo implements minidriver.Card.
func (c *Card) FileInfo(ctx context.Context, tx *scrm.Tx, dir, name string) (minidriver.FileInfo, error) {
	fi, err := c.fs.FileInfo(c.roles(), dir, name)
	return minidriver.FileInfo{Size: fi.Size, AccessCondition: fi.AccessCondition}, err
}

// FreeSpace implements minidriver.Card: the store's free bytes, and the
// empty slots (one READ KEY each).
func (c *Card) FreeSpace(ctx context.Context, tx *scrm.Tx) (minidriver.FreeSpace, error) {
	free := 0
	for i := range Slots {
		if _, err := c.readKey(ctx, tx, i); errors.Is(err, minidriver.ErrNoKeyContainer) {
			free++
		} else if err != nil {
			return minidriver.FreeSpace{}, err
		}
	}
	return minidriver.FreeSpace{
		BytesAvailable:      max(0, c.capacity-len(c.fs.Snapshot())),
		ContainersAvailable: free,
		MaxContainers:       Slots,
	}, nil
}

// KeySizes implements minidriver.Card: P-256 ECDSA only.
func (c *Card) KeySizes(ctx context.Context, tx *scrm.Tx, spec minidriver.KeySpec) (minidriver.KeySizes, error) {
	if err := checkSpec(spec); err != nil {
		return minidriver.KeySizes{}, err
	}
	return minidriver.KeySizes{Min: 256, Default: 256, Max: 256, Increment: 1}, nil
}

// checkSpec accepts the one key spec the token has.
func checkSpec(spec minidriver.KeySpec) error {
	switch {
	case !spec.Valid():
		return fmt.Errorf("%w: example: key spec %d", minidriver.ErrInvalidParameter, spec)
	case spec != minidriver.ECDSAP256:
		return fmt.Errorf("%w: example: %v keys", minidriver.ErrUnsupported, spec)
	}
	return nil
}

func checkIndex(idx int) error {
	if idx < 0 || idx >= Slots {
		return fmt.Errorf("%w: example: container %d, the token has %d", minidriver.ErrInvalidParameter, idx, Slots)
	}
	return nil
}

// keyErr adds the contract's meaning to a key command's status error: the
// token's 6A88 (referenced data not found) is an empty container. Other
// status words need nothing added: their scrm sentinels are the
// contract's (6982 is minidriver.ErrSecurityViolation).
func keyErr(what string, idx int, err error) error {
	if errors.Is(err, scrm.ErrNotFound) {
		return fmt.Errorf("example: %s %d: %w: %w", what, idx, minidriver.ErrNoKeyContainer, err)
	}
	return fmt.Errorf("example: %s %d: %w", what, idx, err)
}

func (c *Card) readKey(ctx context.Context, tx *scrm.Tx, idx int) (*ecdsa.PublicKey, error) {
	resp, err := tx.Do(ctx, scrm.Command{CLA: 0x80, INS: 0xCA, P2: byte(idx), Ne: 256})
	if err != nil {
		return nil, keyErr("read key", idx, err)
	}
	return parsePoint(resp.Data)
}

func parsePoint(b []byte) (*ecdsa.PublicKey, error) {
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), b)
	if err != nil {
		return nil, fmt.Errorf("%w: example: public key: %w", minidriver.ErrUnexpected, err)
	}
	return pub, nil
}

// ContainerInfo implements minidriver.Card: container i is key slot i.
func (c *Card) ContainerInfo(ctx context.Context, tx *scrm.Tx, idx int) (minidriver.ContainerInfo, error) {
	if err := checkIndex(idx); err != nil {
		return minidriver.ContainerInfo{}, err
	}
	pub, err := c.readKey(ctx, tx, idx)
	if err != nil {
		return minidriver.ContainerInfo{}, err
	}
	return minidriver.ContainerInfo{Signature: pub, SignatureSpec: minidriver.ECDSAP256}, nil
}

// ContainerPIN implements minidriver.Card: the user PIN guards every key.
func (c *Card) ContainerPIN(ctx context.Context, tx *scrm.Tx, idx int) (minidriver.PinID, error) {
	if err := checkIndex(idx); err != nil {
		return 0, err
	}
	return minidriver.RoleUser, nil
}

// Authenticate implements minidriver.Card with VERIFY. Session PINs are
// not supported.
func (c *Card) Authenticate(ctx context.Context, tx *scrm.Tx, id minidriver.PinID, secret []byte, flags minidriver.AuthFlags) ([]byte, error) {
	if err := flags.Validate(); err != nil {
		return nil, err
	}
	switch {
	case id != minidriver.RoleUser:
		return nil, fmt.Errorf("%w: example: no PIN %d", minidriver.ErrInvalidParameter, id)
	case flags&(minidriver.GenerateSessionPIN|minidriver.UseSessionPIN) != 0:
		return nil, fmt.Errorf("%w: example: session PINs", minidriver.ErrUnsupported)
	case len(secret) < 4 || len(secret) > 8:
		return nil, fmt.Errorf("%w: example: a PIN has 4 to 8 bytes", minidriver.ErrInvalidParameter)
	}
	c.user = false
	if _, err := tx.Do(ctx, scrm.Command{INS: 0x20, P2: 0x81, Data: secret}); err != nil {
		return nil, pinErr(id, err)
	}
	c.user = true
	return nil, nil
}

// pinErr turns a refused VERIFY into a *minidriver.PINError: 63Cx says
// the tries left (63C0: now blocked), 6983 that the PIN is blocked.
func pinErr(id minidriver.PinID, err error) error {
	var se *scrm.StatusError
	if errors.As(err, &se) {
		if errors.Is(err, scrm.ErrBlocked) {
			return &minidriver.PINError{PIN: id, Blocked: true, Err: err}
		}
		if n, ok := se.RetriesLeft(); ok {
			return &minidriver.PINError{PIN: id, AttemptsLeft: n, Blocked: n == 0, Err: err}
		}
	}
	return fmt.Errorf("example: verify: %w", err)
}

// Deauthenticate implements minidriver.Card with VERIFY P1 = FF.
func (c *Card) Deauthenticate(ctx context.Context, tx *scrm.Tx, set minidriver.PinSet) error {
	if !set.Has(minidriver.RoleUser) {
		return nil
	}
	c.user = false
	if _, err := tx.Do(ctx, scrm.Command{INS: 0x20, P1: 0xFF, P2: 0x81}); err != nil {
		return fmt.Errorf("example: log out: %w", err)
	}
	return nil
}

// SignData implements minidriver.Card: the token signs the digest with
// ECDSA and answers ASN.1 DER, the contract's form.
func (c *Card) SignData(ctx context.Context, tx *scrm.Tx, req minidriver.SignRequest) ([]byte, error) {
	switch {
	case !req.KeySpec.Valid():
		return nil, fmt.Errorf("%w: example: key spec %d", minidriver.ErrInvalidParameter, req.KeySpec)
	case req.KeySpec != minidriver.ECDSAP256 || checkIndex(req.Container) != nil:
		return nil, fmt.Errorf("%w: example: no %v key in container %d", minidriver.ErrNoKeyContainer, req.KeySpec, req.Container)
	case len(req.Digest) == 0 || len(req.Digest) > 64:
		return nil, fmt.Errorf("%w: example: %d-byte digest", minidriver.ErrInvalidParameter, len(req.Digest))
	}
	resp, err := tx.Do(ctx, scrm.Command{INS: 0x2A, P1: 0x9E, P2: byte(req.Container), Data: req.Digest, Ne: 256})
	if err != nil {
		return nil, keyErr("sign with key", req.Container, err)
	}
	return resp.Data, nil
}

// CreateContainer implements minidriver.ContainerManager: GENERATE KEY in
// the container's slot. The token imports no keys.
func (c *Card) CreateContainer(ctx context.Context, tx *scrm.Tx, req minidriver.CreateContainerRequest) error {
	if err := checkSpec(req.KeySpec); err != nil {
		return err
	}
	switch {
	case req.Key != nil:
		return fmt.Errorf("%w: example: key import", minidriver.ErrUnsupported)
	case req.PIN != 0 && req.PIN != minidriver.RoleUser:
		return fmt.Errorf("%w: example: PIN %d cannot protect a key", minidriver.ErrInvalidParameter, req.PIN)
	}
	if err := checkIndex(req.Index); err != nil {
		return err
	}
	resp, err := tx.Do(ctx, scrm.Command{INS: 0x46, P2: byte(req.Index), Ne: 256})
	if err != nil {
		return keyErr("generate key", req.Index, err)
	}
	_, err = parsePoint(resp.Data)
	return err
}

// DeleteContainer implements minidriver.ContainerManager.
func (c *Card) DeleteContainer(ctx context.Context, tx *scrm.Tx, idx int) error {
	if err := checkIndex(idx); err != nil {
		return err
	}
	if _, err := tx.Do(ctx, scrm.Command{CLA: 0x80, INS: 0xE4, P2: byte(idx)}); err != nil {
		return keyErr("delete key", idx, err)
	}
	return nil
}

// change applies fn to the file system and writes the store back; when
// the write fails the file system is as it was.
func (c *Card) change(ctx context.Context, tx *scrm.Tx, fn func(fs *cardfs.MemFS) error) error {
	before := c.fs.Snapshot()
	if err := fn(c.fs); err != nil {
		return err
	}
	counter, err := writeStore(ctx, tx, c.fs.Snapshot())
	if err != nil {
		if rerr := c.fs.Restore(before); rerr != nil {
			return errors.Join(err, rerr)
		}
		return err
	}
	c.counter = counter
	return nil
}

// writeStore replaces the token's file store and returns its new counter.
func writeStore(ctx context.Context, tx *scrm.Tx, snapshot []byte) (uint32, error) {
	resp, err := tx.Do(ctx, scrm.Command{INS: 0xDA, P1: 0x01, Data: snapshot, Ne: 256})
	if err != nil {
		return 0, fmt.Errorf("example: write the file store: %w", err)
	}
	if len(resp.Data) != 4 {
		return 0, fmt.Errorf("%w: example: PUT DATA answered %d bytes, want 4", minidriver.ErrUnexpected, len(resp.Data))
	}
	return binary.BigEndian.Uint32(resp.Data), nil
}

// CreateDirectory implements minidriver.FileWriter.
func (c *Card) CreateDirectory(ctx context.Context, tx *scrm.Tx, name string, ac cardfs.DirectoryAccessCondition) error {
	return c.change(ctx, tx, func(fs *cardfs.MemFS) error { return fs.CreateDirectory(c.roles(), name, ac) })
}

// DeleteDirectory implements minidriver.FileWriter.
func (c *Card) DeleteDirectory(ctx context.Context, tx *scrm.Tx, name string) error {
	return c.change(ctx, tx, func(fs *cardfs.MemFS) error { return fs.DeleteDirectory(c.roles(), name) })
}

// CreateFile implements minidriver.FileWriter.
func (c *Card) CreateFile(ctx context.Context, tx *scrm.Tx, dir, name string, ac cardfs.FileAccessCondition) error {
	return c.change(ctx, tx, func(fs *cardfs.MemFS) error { return fs.CreateFile(c.roles(), dir, name, 0, ac) })
}

// WriteFile implements minidriver.FileWriter.
func (c *Card) WriteFile(ctx context.Context, tx *scrm.Tx, dir, name string, data []byte) error {
	return c.change(ctx, tx, func(fs *cardfs.MemFS) error { return fs.WriteFile(c.roles(), dir, name, data) })
}

// DeleteFile implements minidriver.FileWriter.
func (c *Card) DeleteFile(ctx context.Context, tx *scrm.Tx, dir, name string) error {
	return c.change(ctx, tx, func(fs *cardfs.MemFS) error { return fs.DeleteFile(c.roles(), dir, name) })
}

// Initialize creates the card file system on a token whose file store is
// empty, as a vendor's personalisation does: cardid (from rand; nil means
// crypto/rand), cardcf, cardapps and mscp/cmapfile. It needs the user
// PIN, runs in one transaction of its own and ends it with a reset, so no
// login survives. A token already initialized is cardfs.ErrCardCreated.
func Initialize(ctx context.Context, card *scrm.Card, pin []byte, rand io.Reader) (err error) {
	tx, err := card.Begin(ctx)
	if err != nil {
		return fmt.Errorf("example: initialize: %w", err)
	}
	defer func() {
		if eerr := tx.End(scrm.ResetCard); err == nil && eerr != nil {
			err = fmt.Errorf("example: initialize: %w", eerr)
		}
	}()
	if _, err := selectApp(ctx, tx); err != nil {
		return err
	}
	resp, err := tx.Do(ctx, scrm.Command{INS: 0xCA, P1: 0x01, Ne: 256})
	if err != nil {
		return fmt.Errorf("example: read the file store: %w", err)
	}
	if len(resp.Data) > 0 {
		return fmt.Errorf("example: initialize: %w", cardfs.ErrCardCreated)
	}
	if _, err := tx.Do(ctx, scrm.Command{INS: 0x20, P2: 0x81, Data: pin}); err != nil {
		return pinErr(minidriver.RoleUser, err)
	}
	fs := cardfs.NewMemFS(cardfs.MemFSConfig{})
	if rand == nil {
		rand = cryptorand.Reader
	}
	if _, err := cardfs.Format(fs, rand); err != nil {
		return fmt.Errorf("example: initialize: %w", err)
	}
	_, err = writeStore(ctx, tx, fs.Snapshot())
	return err
}

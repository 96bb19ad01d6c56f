package refcard

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"math/big"
	"sync"

	"github.com/cardmod/cardmod/cardfs"
	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/scrm"
)

// Plugin is the reference plug-in. It knows the chips made with NewChip
// and finds the one in a reader by the name its SELECT answer carries.
type Plugin struct {
	mu    sync.Mutex
	chips map[[8]byte]*Chip // guarded by mu
}

// NewPlugin returns a plug-in that knows no chip yet.
func NewPlugin() *Plugin { return &Plugin{chips: map[[8]byte]*Chip{}} }

// NewChip makes a chip (see the package function) the plug-in can open.
func (p *Plugin) NewChip(cfg Config) (*Chip, error) {
	c, err := NewChip(cfg)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.chips[c.id] = c
	return c, nil
}

// Name implements minidriver.Plugin.
func (p *Plugin) Name() string { return "refcard" }

// ATRs implements minidriver.Plugin: the chip is found by probing.
func (p *Plugin) ATRs() []scrm.ATRMask { return nil }

// selectApp selects the chip's application and returns the chip's name;
// ok is false when the card has no such application.
func selectApp(ctx context.Context, tx *scrm.Tx) (id [8]byte, ok bool, err error) {
	resp, err := tx.Do(ctx, scrm.Command{INS: 0xA4, P1: 0x04, Data: AID(), Ne: 256})
	if err != nil {
		var se *scrm.StatusError
		if errors.As(err, &se) {
			return id, false, nil
		}
		return id, false, fmt.Errorf("refcard: select: %w", err)
	}
	if len(resp.Data) != len(id) {
		return id, false, fmt.Errorf("%w: refcard: select answered %d bytes", minidriver.ErrUnexpected, len(resp.Data))
	}
	copy(id[:], resp.Data)
	return id, true, nil
}

// Probe implements minidriver.Plugin.
func (p *Plugin) Probe(ctx context.Context, tx *scrm.Tx) (bool, error) {
	_, ok, err := selectApp(ctx, tx)
	return ok, err
}

// Open implements minidriver.Plugin.
func (p *Plugin) Open(ctx context.Context, tx *scrm.Tx, env minidriver.Env) (minidriver.Card, error) {
	id, ok, err := selectApp(ctx, tx)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%w: refcard: no application", minidriver.ErrUnknownCard)
	}
	p.mu.Lock()
	chip := p.chips[id]
	p.mu.Unlock()
	if chip == nil {
		return nil, fmt.Errorf("%w: refcard: unknown chip", minidriver.ErrUnknownCard)
	}
	r := env.Rand
	if r == nil {
		r = rand.Reader
	}
	c := &card{chip: chip, rand: r}
	if chip.cfg.ReadOnly {
		return readOnlyCard{Card: c, Decrypter: c, KeyAgreer: c, ChallengeResponder: c}, nil
	}
	return c, nil
}

// readOnlyCard hides the interfaces that change the card.
type readOnlyCard struct {
	minidriver.Card
	minidriver.Decrypter
	minidriver.KeyAgreer
	minidriver.ChallengeResponder
}

// card is the plug-in's view of one chip.
type card struct {
	chip       *Chip
	rand       io.Reader
	agreements minidriver.Agreements
}

var (
	_ minidriver.Card                 = (*card)(nil)
	_ minidriver.FileWriter           = (*card)(nil)
	_ minidriver.ContainerManager     = (*card)(nil)
	_ minidriver.Decrypter            = (*card)(nil)
	_ minidriver.KeyAgreer            = (*card)(nil)
	_ minidriver.ChallengeResponder   = (*card)(nil)
	_ minidriver.AuthenticatorChanger = (*card)(nil)
	_ minidriver.PropertySetter       = (*card)(nil)
)

// lock takes the chip's lock and returns its unlock.
func (c *card) lock() func() {
	c.chip.mu.Lock()
	return c.chip.mu.Unlock
}

// roles are the file-system roles logged in. c.chip.mu is held.
func (c *card) roles() cardfs.Roles {
	if c.chip.cfg.Fault == FaultIgnoreFileACL {
		return cardfs.RolesAll
	}
	return cardfs.Roles(c.chip.login)
}

// Close implements minidriver.Card: it wipes the ECDH agreements.
func (c *card) Close() error {
	c.agreements.DestroyAll()
	return nil
}

// Resume implements minidriver.Card: it selects the application and checks the chip is the one opened.
func (c *card) Resume(ctx context.Context, tx *scrm.Tx) error {
	id, ok, err := selectApp(ctx, tx)
	if err != nil {
		return err
	}
	if !ok || id != c.chip.id {
		return fmt.Errorf("%w: refcard: another card in the reader", minidriver.ErrUnexpected)
	}
	return nil
}

// Capabilities implements minidriver.Card: the caller compresses certificates; a writable chip generates keys.
func (c *card) Capabilities() minidriver.Capabilities {
	return minidriver.Capabilities{CertificateCompression: false, KeyGen: !c.chip.cfg.ReadOnly}
}

// Properties implements minidriver.Card.
func (c *card) Properties(ctx context.Context, tx *scrm.Tx) (minidriver.CardProperties, error) {
	defer c.lock()()
	b, err := c.chip.fs.ReadFile(cardfs.RolesNone, cardfs.RootDir, cardfs.CardIDFile)
	if err != nil {
		return minidriver.CardProperties{}, err
	}
	id, err := cardfs.ParseCardID(b)
	if err != nil {
		return minidriver.CardProperties{}, fmt.Errorf("%w: refcard: %w", minidriver.ErrCommDataLost, err)
	}
	ro := c.chip.cfg.ReadOnly
	mode := minidriver.CacheGlobal
	if ro {
		mode = minidriver.CacheSessionOnly
	}
	var pins minidriver.PinSet
	for id := range c.chip.pins {
		pins |= minidriver.NewPinSet(id)
	}
	return minidriver.CardProperties{
		GUID: id, Serial: bytes.Clone(c.chip.id[:]), ReadOnly: ro, CacheMode: mode,
		SupportsX509Enrollment: !ro, PINs: pins, KeyImport: !ro, MaxContainers: MaxContainers,
	}, nil
}

// PINInfo implements minidriver.Card.
func (c *card) PINInfo(ctx context.Context, tx *scrm.Tx, id minidriver.PinID) (minidriver.PINInfo, error) {
	defer c.lock()()
	p, ok := c.chip.pins[id]
	if !ok {
		return minidriver.PINInfo{}, fmt.Errorf("%w: refcard: no PIN %d", minidriver.ErrInvalidParameter, id)
	}
	return p.info, nil
}

// ReadFile implements minidriver.Card with the access conditions of the logged-in roles.
func (c *card) ReadFile(ctx context.Context, tx *scrm.Tx, dir, name string) ([]byte, error) {
	defer c.lock()()
	return c.chip.fs.ReadFile(c.roles(), dir, name)
}

// ListFiles implements minidriver.Card.
func (c *card) ListFiles(ctx context.Context, tx *scrm.Tx, dir string) ([]string, error) {
	defer c.lock()()
	return c.chip.fs.ListFiles(c.roles(), dir)
}

// FileInfo implements minidriver.Card.
func (c *card) FileInfo(ctx context.Context, tx *scrm.Tx, dir, name string) (minidriver.FileInfo, error) {
	defer c.lock()()
	fi, err := c.chip.fs.FileInfo(c.roles(), dir, name)
	return minidriver.FileInfo{Size: fi.Size, AccessCondition: fi.AccessCondition}, err
}

// FreeSpace implements minidriver.Card; a read-only card has no space.
func (c *card) FreeSpace(ctx context.Context, tx *scrm.Tx) (minidriver.FreeSpace, error) {
	defer c.lock()()
	if c.chip.cfg.ReadOnly {
		return minidriver.FreeSpace{MaxContainers: MaxContainers}, nil
	}
	return minidriver.FreeSpace{
		BytesAvailable:      c.chip.fs.FreeSpace().Available,
		ContainersAvailable: MaxContainers - len(c.chip.containers),
		MaxContainers:       MaxContainers,
	}, nil
}

// KeySizes implements minidriver.Card: RSA 1024 to 4096, P-256 and P-384.
func (c *card) KeySizes(ctx context.Context, tx *scrm.Tx, spec minidriver.KeySpec) (minidriver.KeySizes, error) {
	return keySizes(spec)
}

// ContainerInfo implements minidriver.Card.
func (c *card) ContainerInfo(ctx context.Context, tx *scrm.Tx, idx int) (minidriver.ContainerInfo, error) {
	defer c.lock()()
	ct, ok := c.chip.containers[idx]
	if !ok && c.chip.cfg.Fault == FaultEmptyContainerInfo {
		return minidriver.ContainerInfo{}, nil
	}
	if !ok {
		return minidriver.ContainerInfo{}, fmt.Errorf("%w: refcard: container %d", minidriver.ErrNoKeyContainer, idx)
	}
	var info minidriver.ContainerInfo
	if ct.sig != nil {
		info.Signature, info.SignatureSpec = public(ct.sig), ct.sigSpec
	}
	if ct.kx != nil {
		info.KeyExchange, info.KeyExchangeSpec = public(ct.kx), ct.kxSpec
	}
	return info, nil
}

func public(priv crypto.PrivateKey) crypto.PublicKey {
	switch k := priv.(type) {
	case *rsa.PrivateKey:
		return &k.PublicKey
	case *ecdsa.PrivateKey:
		return &k.PublicKey
	case *ecdh.PrivateKey:
		return k.PublicKey()
	}
	return nil
}

// ContainerPIN implements minidriver.Card.
func (c *card) ContainerPIN(ctx context.Context, tx *scrm.Tx, idx int) (minidriver.PinID, error) {
	defer c.lock()()
	ct, ok := c.chip.containers[idx]
	if !ok {
		return 0, fmt.Errorf("%w: refcard: container %d", minidriver.ErrNoKeyContainer, idx)
	}
	return ct.pin, nil
}

// Authenticate implements minidriver.Card. Session PINs are not supported; the unblock-only PIN cannot log in.
func (c *card) Authenticate(ctx context.Context, tx *scrm.Tx, id minidriver.PinID, secret []byte, flags minidriver.AuthFlags) ([]byte, error) {
	if err := flags.Validate(); err != nil {
		return nil, err
	}
	defer c.lock()()
	p, ok := c.chip.pins[id]
	switch {
	case !ok:
		return nil, fmt.Errorf("%w: refcard: no PIN %d", minidriver.ErrInvalidParameter, id)
	case p.info.Purpose == minidriver.UnblockOnlyPIN:
		return nil, fmt.Errorf("%w: refcard: PIN %d only unblocks", minidriver.ErrInvalidParameter, id)
	case flags&(minidriver.GenerateSessionPIN|minidriver.UseSessionPIN) != 0:
		return nil, fmt.Errorf("%w: refcard: session PINs", minidriver.ErrUnsupported)
	}
	if err := c.verify(id, secret); err != nil {
		return nil, err
	}
	c.chip.login |= minidriver.NewPinSet(id)
	return nil, nil
}

// verify checks secret against PIN id, counting tries. c.chip.mu is held.
func (c *card) verify(id minidriver.PinID, secret []byte) error {
	p := c.chip.pins[id]
	if p.tries == 0 {
		return &minidriver.PINError{PIN: id, Blocked: true}
	}
	want := p.secret
	if p.info.Type == minidriver.ChallengeResponsePIN {
		want = nil
		if c.chip.challenge != nil {
			want = AdminResponse(c.chip.adminKey, c.chip.challenge)
		}
		c.chip.challenge = nil // a challenge answers once
	}
	if want == nil || subtle.ConstantTimeCompare(want, secret) != 1 {
		if c.chip.cfg.Fault != FaultNoRetryCounter {
			p.tries--
		}
		if p.tries == 0 {
			return &minidriver.PINError{PIN: id, Blocked: true}
		}
		return &minidriver.PINError{PIN: id, AttemptsLeft: p.tries}
	}
	p.tries = c.chip.cfg.Tries
	return nil
}

// Deauthenticate implements minidriver.Card.
func (c *card) Deauthenticate(ctx context.Context, tx *scrm.Tx, set minidriver.PinSet) error {
	defer c.lock()()
	if c.chip.cfg.NoDeauthenticate && c.chip.login&set != 0 {
		return fmt.Errorf("%w: refcard: logging out; reset the card", minidriver.ErrUnsupported)
	}
	if c.chip.cfg.Fault == FaultDeauthenticateNoop {
		return nil
	}
	c.chip.login &^= set
	return nil
}

// keyFor returns container idx's key of spec and checks the PIN
// protecting it is logged in. c.chip.mu is held.
func (c *card) keyFor(idx int, spec minidriver.KeySpec) (crypto.PrivateKey, error) {
	ct, ok := c.chip.containers[idx]
	var key crypto.PrivateKey
	if ok {
		if spec.InSignatureSlot() && ct.sigSpec == spec {
			key = ct.sig
		} else if !spec.InSignatureSlot() && ct.kxSpec == spec {
			key = ct.kx
		}
	}
	if key == nil {
		return nil, fmt.Errorf("%w: refcard: no %s key in container %d", minidriver.ErrNoKeyContainer, spec, idx)
	}
	if ct.pin != minidriver.RoleEveryone && !c.chip.login.Has(ct.pin) && c.chip.cfg.Fault != FaultNoPINCheck {
		return nil, fmt.Errorf("%w: refcard: PIN %d not verified", minidriver.ErrSecurityViolation, ct.pin)
	}
	return key, nil
}

// SignData implements minidriver.Card: RSA pads on the host side (minidriver.PadSignature) and signs raw; ECDSA signs ASN.1.
func (c *card) SignData(ctx context.Context, tx *scrm.Tx, req minidriver.SignRequest) ([]byte, error) {
	defer c.lock()()
	key, err := c.keyFor(req.Container, req.KeySpec)
	if err != nil {
		return nil, err
	}
	if c.chip.cfg.Fault == FaultWrongSignature && len(req.Digest) > 0 {
		req.Digest = bytes.Clone(req.Digest)
		req.Digest[len(req.Digest)-1] ^= 1
	}
	switch k := key.(type) {
	case *rsa.PrivateKey:
		block, err := minidriver.PadSignature(req, k.N.BitLen())
		if err != nil {
			return nil, err
		}
		return rawRSA(k, block)
	case *ecdsa.PrivateKey:
		return ecdsa.SignASN1(c.rand, k, req.Digest)
	}
	return nil, fmt.Errorf("%w: refcard: %s keys do not sign", minidriver.ErrInvalidParameter, req.KeySpec)
}

// rawRSA is the RSA private-key operation on a modulus-sized block. It is
// a simulator's: plain math/big, not constant time.
func rawRSA(k *rsa.PrivateKey, block []byte) ([]byte, error) {
	m := new(big.Int).SetBytes(block)
	if m.Cmp(k.N) >= 0 {
		return nil, fmt.Errorf("%w: refcard: block not below the modulus", minidriver.ErrInvalidParameter)
	}
	return m.Exp(m, k.D, k.N).FillBytes(make([]byte, k.Size())), nil
}

// RSADecrypt implements minidriver.Decrypter: the raw block, or OAEP unpadded; PKCS #1 v1.5 unpadding is left to the caller.
func (c *card) RSADecrypt(ctx context.Context, tx *scrm.Tx, req minidriver.DecryptRequest) ([]byte, error) {
	defer c.lock()()
	key, err := c.keyFor(req.Container, req.KeySpec)
	if err != nil {
		return nil, err
	}
	k, ok := key.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%w: refcard: %s keys do not decrypt", minidriver.ErrInvalidParameter, req.KeySpec)
	}
	switch {
	case len(req.Ciphertext) < k.Size():
		return nil, fmt.Errorf("%w: refcard: %d-byte block for a %d-byte key", minidriver.ErrInsufficientBuffer, len(req.Ciphertext), k.Size())
	case len(req.Ciphertext) > k.Size():
		return nil, fmt.Errorf("%w: refcard: %d-byte block for a %d-byte key", minidriver.ErrInvalidParameter, len(req.Ciphertext), k.Size())
	}
	switch req.Padding {
	case minidriver.PaddingNone:
		return rawRSA(k, req.Ciphertext)
	case minidriver.PaddingOAEP:
		if !req.OAEPHash.Available() {
			return nil, fmt.Errorf("%w: refcard: OAEP hash %v", minidriver.ErrInvalidParameter, req.OAEPHash)
		}
		pt, err := rsa.DecryptOAEP(req.OAEPHash.New(), nil, k, req.Ciphertext, req.Label)
		if err != nil {
			return nil, fmt.Errorf("%w: refcard: OAEP: %w", minidriver.ErrInvalidParameter, err)
		}
		return pt, nil
	case minidriver.PaddingPKCS1:
		return nil, fmt.Errorf("%w: refcard: PKCS #1 unpadding is the caller's", minidriver.ErrUnsupported)
	}
	return nil, fmt.Errorf("%w: refcard: padding %#x", minidriver.ErrInvalidParameter, req.Padding)
}

// Agree implements minidriver.KeyAgreer.
func (c *card) Agree(ctx context.Context, tx *scrm.Tx, idx int, peer *ecdh.PublicKey) (int, error) {
	c.chip.mu.Lock()
	ct := c.chip.containers[idx]
	var spec minidriver.KeySpec
	if ct != nil {
		spec = ct.kxSpec
	}
	if !spec.IsECDH() {
		c.chip.mu.Unlock()
		return 0, fmt.Errorf("%w: refcard: no ECDH key in container %d", minidriver.ErrNoKeyContainer, idx)
	}
	key, err := c.keyFor(idx, spec)
	c.chip.mu.Unlock()
	if err != nil {
		return 0, err
	}
	k := key.(*ecdh.PrivateKey)
	if peer == nil || peer.Curve() != k.Curve() {
		return 0, fmt.Errorf("%w: refcard: peer key not on the key's curve", minidriver.ErrInvalidParameter)
	}
	z, err := k.ECDH(peer)
	if err != nil {
		return 0, fmt.Errorf("%w: refcard: %w", minidriver.ErrInvalidParameter, err)
	}
	if c.chip.cfg.Fault == FaultWrongAgreement {
		z[0] ^= 1
	}
	return c.agreements.Put(z)
}

// DeriveKey implements minidriver.KeyAgreer.
func (c *card) DeriveKey(idx int, kdf minidriver.KDF) ([]byte, error) {
	return c.agreements.Derive(idx, kdf)
}

// DestroyAgreement implements minidriver.KeyAgreer.
func (c *card) DestroyAgreement(idx int) error { return c.agreements.Destroy(idx) }

// Challenge implements minidriver.ChallengeResponder: 8 random bytes for the 3DES admin key.
func (c *card) Challenge(ctx context.Context, tx *scrm.Tx, id minidriver.PinID) ([]byte, error) {
	defer c.lock()()
	p, ok := c.chip.pins[id]
	if !ok || p.info.Type != minidriver.ChallengeResponsePIN {
		return nil, fmt.Errorf("%w: refcard: PIN %d takes no challenge", minidriver.ErrInvalidParameter, id)
	}
	ch := make([]byte, 8)
	if _, err := io.ReadFull(c.chip.cfg.Rand, ch); err != nil {
		return nil, fmt.Errorf("refcard: challenge: %w", err)
	}
	c.chip.challenge = ch
	return bytes.Clone(ch), nil
}

// ChangeAuthenticator implements minidriver.AuthenticatorChanger.
func (c *card) ChangeAuthenticator(ctx context.Context, tx *scrm.Tx, req minidriver.ChangeRequest) error {
	if err := req.Flags.Validate(); err != nil {
		return err
	}
	defer c.lock()()
	target, ok1 := c.chip.pins[req.Target]
	_, ok2 := c.chip.pins[req.AuthPIN]
	if !ok1 || !ok2 {
		return fmt.Errorf("%w: refcard: PIN %d or %d", minidriver.ErrInvalidParameter, req.AuthPIN, req.Target)
	}
	switch req.Mode {
	case minidriver.ChangePIN:
		if req.AuthPIN != req.Target || !target.info.ChangePermission.Has(req.AuthPIN) {
			return fmt.Errorf("%w: refcard: PIN %d may not change PIN %d", minidriver.ErrInvalidParameter, req.AuthPIN, req.Target)
		}
	case minidriver.Unblock:
		if req.AuthPIN == req.Target || !target.info.UnblockPermission.Has(req.AuthPIN) {
			return fmt.Errorf("%w: refcard: PIN %d may not unblock PIN %d", minidriver.ErrInvalidParameter, req.AuthPIN, req.Target)
		}
	default:
		return fmt.Errorf("%w: refcard: change mode %#x", minidriver.ErrInvalidParameter, req.Mode)
	}
	newSecret := bytes.Clone(req.NewData)
	if target.info.Type == minidriver.ChallengeResponsePIN {
		if len(newSecret) != 24 {
			return fmt.Errorf("%w: refcard: admin key of %d bytes", minidriver.ErrInvalidParameter, len(newSecret))
		}
	} else if err := checkPIN(newSecret); err != nil {
		return err
	}
	if err := c.verify(req.AuthPIN, req.AuthData); err != nil {
		return err
	}
	if target.info.Type == minidriver.ChallengeResponsePIN {
		c.chip.adminKey = newSecret
	} else {
		target.secret = newSecret
	}
	target.tries = c.chip.cfg.Tries
	return nil
}

// SetContainerPIN implements minidriver.PropertySetter.
func (c *card) SetContainerPIN(ctx context.Context, tx *scrm.Tx, idx int, id minidriver.PinID) error {
	defer c.lock()()
	ct, ok := c.chip.containers[idx]
	switch {
	case !c.chip.login.Has(minidriver.RoleUser) && !c.chip.login.Has(minidriver.RoleAdmin):
		return fmt.Errorf("%w: refcard: not logged in", minidriver.ErrSecurityViolation)
	case !ok:
		return fmt.Errorf("%w: refcard: container %d", minidriver.ErrNoKeyContainer, idx)
	}
	if p, ok := c.chip.pins[id]; !ok || p.info.Purpose == minidriver.UnblockOnlyPIN {
		return fmt.Errorf("%w: refcard: PIN %d cannot protect a key", minidriver.ErrInvalidParameter, id)
	}
	ct.pin = id
	return nil
}

// SetPINInfo implements minidriver.PropertySetter; it needs the admin.
func (c *card) SetPINInfo(ctx context.Context, tx *scrm.Tx, id minidriver.PinID, info minidriver.PINInfo) error {
	if err := info.Validate(); err != nil {
		return err
	}
	defer c.lock()()
	p, ok := c.chip.pins[id]
	switch {
	case !c.chip.login.Has(minidriver.RoleAdmin):
		return fmt.Errorf("%w: refcard: admin not logged in", minidriver.ErrSecurityViolation)
	case !ok:
		return fmt.Errorf("%w: refcard: no PIN %d", minidriver.ErrInvalidParameter, id)
	}
	p.info = info
	return nil
}

// CreateDirectory implements minidriver.FileWriter.
func (c *card) CreateDirectory(ctx context.Context, tx *scrm.Tx, name string, ac cardfs.DirectoryAccessCondition) error {
	defer c.lock()()
	return c.chip.fs.CreateDirectory(c.roles(), name, ac)
}

// DeleteDirectory implements minidriver.FileWriter.
func (c *card) DeleteDirectory(ctx context.Context, tx *scrm.Tx, name string) error {
	defer c.lock()()
	return c.chip.fs.DeleteDirectory(c.roles(), name)
}

// CreateFile implements minidriver.FileWriter.
func (c *card) CreateFile(ctx context.Context, tx *scrm.Tx, dir, name string, ac cardfs.FileAccessCondition) error {
	defer c.lock()()
	return c.chip.fs.CreateFile(c.roles(), dir, name, 0, ac)
}

// WriteFile implements minidriver.FileWriter.
func (c *card) WriteFile(ctx context.Context, tx *scrm.Tx, dir, name string, data []byte) error {
	defer c.lock()()
	return c.chip.fs.WriteFile(c.roles(), dir, name, data)
}

// DeleteFile implements minidriver.FileWriter.
func (c *card) DeleteFile(ctx context.Context, tx *scrm.Tx, dir, name string) error {
	defer c.lock()()
	return c.chip.fs.DeleteFile(c.roles(), dir, name)
}

// CreateContainer implements minidriver.ContainerManager; it needs the user or the admin logged in.
func (c *card) CreateContainer(ctx context.Context, tx *scrm.Tx, req minidriver.CreateContainerRequest) error {
	defer c.lock()()
	if !c.chip.login.Has(minidriver.RoleUser) && !c.chip.login.Has(minidriver.RoleAdmin) {
		return fmt.Errorf("%w: refcard: not logged in", minidriver.ErrSecurityViolation)
	}
	if _, err := keySizes(req.KeySpec); err != nil {
		return err
	}
	pin := req.PIN
	if pin == 0 {
		pin = minidriver.RoleUser
	}
	if p, ok := c.chip.pins[pin]; !ok || p.info.Purpose == minidriver.UnblockOnlyPIN {
		return fmt.Errorf("%w: refcard: PIN %d cannot protect a key", minidriver.ErrInvalidParameter, pin)
	}
	key := req.Key
	if key == nil {
		var err error
		if key, err = c.chip.generate(req.KeySpec, req.Bits); err != nil {
			return fmt.Errorf("refcard: generate: %w", err)
		}
	}
	return c.chip.putKey(req.Index, req.KeySpec, key, pin)
}

// DeleteContainer implements minidriver.ContainerManager.
func (c *card) DeleteContainer(ctx context.Context, tx *scrm.Tx, idx int) error {
	defer c.lock()()
	if !c.chip.login.Has(minidriver.RoleUser) && !c.chip.login.Has(minidriver.RoleAdmin) {
		return fmt.Errorf("%w: refcard: not logged in", minidriver.ErrSecurityViolation)
	}
	if _, ok := c.chip.containers[idx]; !ok {
		return fmt.Errorf("%w: refcard: container %d", minidriver.ErrNoKeyContainer, idx)
	}
	delete(c.chip.containers, idx)
	return nil
}

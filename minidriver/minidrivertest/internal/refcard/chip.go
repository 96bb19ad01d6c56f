// Package refcard is the reference plug-in the conformance suite of
// package minidrivertest is validated with: a simulated card (Chip) whose
// file system is a cardfs.MemFS and whose keys are software keys, and a
// plug-in (Plugin) that presents it through the minidriver contract.
//
// The chip answers one APDU, a SELECT of its application, whose answer
// names the chip; the plug-in finds the chip's state by that name and
// works on it directly rather than through APDUs. What matters to the
// suite is kept honest: a card reset (cardsim.Card.Reset) logs every PIN
// out, PIN retry counters and keys live on the chip, and the plug-in's
// only state is its ECDH agreement table.
//
// Concurrency: a Chip and a Plugin are safe for concurrent use; a Card is
// used by one goroutine at a time, as the contract says.
package refcard

import (
	"bytes"
	"crypto"
	"crypto/des"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"io"
	"sync"

	"github.com/cardmod/cardmod/cardfs"
	"github.com/cardmod/cardmod/minidriver"
)

// AID returns the application identifier the chip answers SELECT for.
func AID() []byte { return []byte{0xA0, 0x00, 0x00, 0x05, 0x27, 0x4D, 0x44, 0x54} }

// PUK is the PIN ID of the chip's unblock-only PIN.
const PUK minidriver.PinID = 3

// MaxContainers is the size of the chip's container table.
const MaxContainers = 8

// Config configures a Chip.
type Config struct {
	// UserPIN and PUKValue are the initial PIN and PUK (4 to 16 bytes).
	UserPIN, PUKValue []byte
	// AdminKey is the 24-byte 3DES admin key of the challenge-response
	// admin PIN.
	AdminKey []byte
	// Tries is the retry counter of every PIN; zero means 3.
	Tries int
	// ReadOnly makes a read-only card: the plug-in offers no FileWriter,
	// ContainerManager, AuthenticatorChanger or PropertySetter, and keys
	// come from Provision.
	ReadOnly bool
	// Fault makes the chip or the plug-in misbehave in one way, so that
	// tests can check the conformance suite notices; empty for none.
	Fault Fault
	// NoDeauthenticate makes Deauthenticate fail, as on cards that
	// cannot log a PIN out: only a reset does.
	NoDeauthenticate bool
	// KeySource generates keys on the chip; nil generates them with
	// crypto/rand.
	KeySource func(spec minidriver.KeySpec, bits int) (crypto.PrivateKey, error)
	// Rand is the chip's randomness (card ID, challenges); nil means
	// crypto/rand.
	Rand io.Reader
}

// Fault is a misbehaviour to inject (Config.Fault).
type Fault string

// Faults the reference card can have.
const (
	FaultDeauthenticateNoop Fault = "deauthenticate-noop"  // Deauthenticate logs nobody out
	FaultResetKeepsLogin    Fault = "reset-keeps-login"    // a card reset keeps the PINs logged in
	FaultNoRetryCounter     Fault = "no-retry-counter"     // wrong PINs are not counted
	FaultNoPINCheck         Fault = "no-pin-check"         // private keys work without their PIN
	FaultIgnoreFileACL      Fault = "ignore-file-acl"      // files are written without authentication
	FaultWrongSignature     Fault = "wrong-signature"      // signatures cover another digest
	FaultWrongAgreement     Fault = "wrong-agreement"      // ECDH keeps a wrong shared secret
	FaultEmptyContainerInfo Fault = "empty-container-info" // an empty container has no error
)

// Faults lists every Fault.
func Faults() []Fault {
	return []Fault{FaultDeauthenticateNoop, FaultResetKeepsLogin, FaultNoRetryCounter, FaultNoPINCheck,
		FaultIgnoreFileACL, FaultWrongSignature, FaultWrongAgreement, FaultEmptyContainerInfo}
}

// pinState is one PIN of the chip.
type pinState struct {
	info   minidriver.PINInfo
	secret []byte
	tries  int
}

// container holds the keys of one container and the PIN protecting them.
type container struct {
	sig, kx         crypto.PrivateKey
	sigSpec, kxSpec minidriver.KeySpec
	pin             minidriver.PinID
}

// Chip is the simulated card: a cardsim.Card to insert in a virtual
// reader, holding the card's state.
type Chip struct {
	id  [8]byte
	cfg Config
	fs  *cardfs.MemFS

	mu         sync.Mutex
	pins       map[minidriver.PinID]*pinState // guarded by mu
	adminKey   []byte                         // guarded by mu
	challenge  []byte                         // guarded by mu
	login      minidriver.PinSet              // guarded by mu
	containers map[int]*container             // guarded by mu
}

// NewChip returns a chip in its factory state: the card file system
// created (cardfs.Format), the PINs of cfg, no keys.
func NewChip(cfg Config) (*Chip, error) {
	if cfg.Tries == 0 {
		cfg.Tries = 3
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	if err := checkPIN(cfg.UserPIN); err != nil {
		return nil, err
	}
	if err := checkPIN(cfg.PUKValue); err != nil {
		return nil, err
	}
	if len(cfg.AdminKey) != 24 {
		return nil, fmt.Errorf("%w: refcard: admin key of %d bytes", minidriver.ErrInvalidParameter, len(cfg.AdminKey))
	}
	c := &Chip{cfg: cfg, fs: cardfs.NewMemFS(cardfs.MemFSConfig{}), containers: map[int]*container{}, adminKey: bytes.Clone(cfg.AdminKey)}
	if _, err := io.ReadFull(cfg.Rand, c.id[:]); err != nil {
		return nil, fmt.Errorf("refcard: chip id: %w", err)
	}
	if _, err := cardfs.Format(c.fs, cfg.Rand); err != nil {
		return nil, err
	}
	normal := minidriver.PINCachePolicy{Type: minidriver.PINCacheNormal}
	c.pins = map[minidriver.PinID]*pinState{
		minidriver.RoleUser: {secret: bytes.Clone(cfg.UserPIN), tries: cfg.Tries, info: minidriver.PINInfo{
			Type: minidriver.AlphanumericPIN, Purpose: minidriver.PrimaryCardPIN, CachePolicy: normal,
			ChangePermission:  minidriver.NewPinSet(minidriver.RoleUser),
			UnblockPermission: minidriver.NewPinSet(minidriver.RoleAdmin, PUK)}},
		minidriver.RoleAdmin: {tries: cfg.Tries, info: minidriver.PINInfo{
			Type: minidriver.ChallengeResponsePIN, Purpose: minidriver.AdministratorPIN,
			CachePolicy: minidriver.PINCachePolicy{Type: minidriver.PINCacheNone}, ChangePermission: minidriver.NewPinSet(minidriver.RoleAdmin)}},
		PUK: {secret: bytes.Clone(cfg.PUKValue), tries: cfg.Tries, info: minidriver.PINInfo{
			Type: minidriver.AlphanumericPIN, Purpose: minidriver.UnblockOnlyPIN,
			CachePolicy: minidriver.PINCachePolicy{Type: minidriver.PINCacheNone}, ChangePermission: minidriver.NewPinSet(PUK)}},
	}
	return c, nil
}

func checkPIN(pin []byte) error {
	if len(pin) < 4 || len(pin) > 16 {
		return fmt.Errorf("%w: refcard: PIN of %d bytes (4 to 16)", minidriver.ErrInvalidParameter, len(pin))
	}
	return nil
}

// ATR implements cardsim.Card.
func (c *Chip) ATR() []byte { return []byte{0x3B, 0x80, 0x80, 0x01, 0x01} }

// Reset implements cardsim.Card: every PIN is logged out and any
// challenge forgotten.
func (c *Chip) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cfg.Fault != FaultResetKeepsLogin {
		c.login = 0
	}
	c.challenge = nil
}

// Transmit implements cardsim.Card: SELECT of the application answers the
// chip's name; anything else is "instruction not supported".
func (c *Chip) Transmit(apdu []byte) []byte {
	aid := AID()
	if len(apdu) >= 5+len(aid) && apdu[1] == 0xA4 && apdu[2] == 0x04 && int(apdu[4]) == len(aid) &&
		bytes.Equal(apdu[5:5+len(aid)], aid) {
		return append(c.id[:], 0x90, 0x00)
	}
	if len(apdu) >= 2 && apdu[1] == 0xA4 {
		return []byte{0x6A, 0x82}
	}
	return []byte{0x6D, 0x00}
}

// Provision puts priv on the chip as container idx's key of spec,
// protected by the user PIN, and records it in the container map as
// name, as a card issuer would: for read-only cards, whose keys come from
// elsewhere.
func (c *Chip) Provision(idx int, spec minidriver.KeySpec, priv crypto.PrivateKey, name string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.putKey(idx, spec, priv, minidriver.RoleUser); err != nil {
		return err
	}
	b, err := c.fs.ReadFile(cardfs.RolesAll, cardfs.MSCPDir, cardfs.ContainerMapFile)
	if err != nil {
		return err
	}
	m, err := cardfs.ParseContainerMap(b)
	if err != nil {
		return err
	}
	rec, ok := m.Find(name)
	if !ok {
		i, err := m.Add(cardfs.ContainerMapRecord{Name: name}, MaxContainers)
		if err != nil {
			return err
		}
		if i != idx {
			return fmt.Errorf("%w: refcard: container map slot %d for container %d", minidriver.ErrInvalidParameter, i, idx)
		}
		rec.Index = i
	}
	bits, err := keyBits(priv)
	if err != nil {
		return err
	}
	sig, kx := uint16(0), uint16(bits)
	if spec.InSignatureSlot() {
		sig, kx = kx, sig
	}
	old, _ := m.Record(rec.Index)
	if sig == 0 {
		sig = old.SigKeySizeBits
	}
	if kx == 0 {
		kx = old.KeyExchangeKeySizeBits
	}
	if err := m.SetKeySizes(rec.Index, sig, kx); err != nil {
		return err
	}
	return c.fs.WriteFile(cardfs.RolesAll, cardfs.MSCPDir, cardfs.ContainerMapFile, m.Marshal())
}

// putKey stores priv in container idx after checking it fits spec.
// c.mu is held.
func (c *Chip) putKey(idx int, spec minidriver.KeySpec, priv crypto.PrivateKey, pin minidriver.PinID) error {
	if idx < 0 || idx >= MaxContainers {
		return fmt.Errorf("%w: refcard: container %d", minidriver.ErrInvalidParameter, idx)
	}
	if err := keyFits(spec, priv); err != nil {
		return err
	}
	ct := c.containers[idx]
	if ct == nil {
		ct = &container{pin: pin}
		c.containers[idx] = ct
	}
	ct.pin = pin
	if spec.InSignatureSlot() {
		ct.sig, ct.sigSpec = priv, spec
	} else {
		ct.kx, ct.kxSpec = priv, spec
	}
	return nil
}

// keyFits checks that priv is a key of spec's kind and a supported size.
func keyFits(spec minidriver.KeySpec, priv crypto.PrivateKey) error {
	bits, err := keyBits(priv)
	if err != nil {
		return err
	}
	sizes, err := keySizes(spec)
	if err != nil {
		return err
	}
	var ok bool
	switch priv.(type) {
	case *rsa.PrivateKey:
		ok = spec.IsRSA()
	case *ecdsa.PrivateKey:
		ok = spec.IsECDSA()
	case *ecdh.PrivateKey:
		ok = spec.IsECDH()
	}
	if !ok || !sizes.Supports(bits) {
		return fmt.Errorf("%w: refcard: %T of %d bits for %s", minidriver.ErrInvalidParameter, priv, bits, spec)
	}
	return nil
}

// keyBits returns the size of a software key.
func keyBits(priv crypto.PrivateKey) (int, error) {
	switch k := priv.(type) {
	case *rsa.PrivateKey:
		return k.N.BitLen(), nil
	case *ecdsa.PrivateKey:
		return k.Curve.Params().BitSize, nil
	case *ecdh.PrivateKey:
		switch k.Curve() {
		case ecdh.P256():
			return 256, nil
		case ecdh.P384():
			return 384, nil
		}
	}
	return 0, fmt.Errorf("%w: refcard: key %T", minidriver.ErrInvalidParameter, priv)
}

// keySizes are the sizes the chip supports for spec.
func keySizes(spec minidriver.KeySpec) (minidriver.KeySizes, error) {
	switch {
	case !spec.Valid():
		return minidriver.KeySizes{}, fmt.Errorf("%w: refcard: key spec %d", minidriver.ErrInvalidParameter, spec)
	case spec.IsRSA():
		return minidriver.KeySizes{Min: 1024, Default: 2048, Max: 4096, Increment: 1024}, nil
	case spec.CurveBits() == 521:
		return minidriver.KeySizes{}, fmt.Errorf("%w: refcard: %s", minidriver.ErrUnsupported, spec)
	}
	b := spec.CurveBits()
	return minidriver.KeySizes{Min: b, Default: b, Max: b, Increment: 1}, nil
}

// generate makes a new key for spec.
func (c *Chip) generate(spec minidriver.KeySpec, bits int) (crypto.PrivateKey, error) {
	if c.cfg.KeySource != nil {
		return c.cfg.KeySource(spec, bits)
	}
	switch {
	case spec.IsRSA():
		if bits == 0 {
			bits = 2048
		}
		return rsa.GenerateKey(rand.Reader, bits)
	case spec.IsECDSA():
		curve := elliptic.P256()
		if spec.CurveBits() == 384 {
			curve = elliptic.P384()
		}
		return ecdsa.GenerateKey(curve, rand.Reader)
	}
	curve := ecdh.P256()
	if spec.CurveBits() == 384 {
		curve = ecdh.P384()
	}
	return curve.GenerateKey(rand.Reader)
}

// AdminResponse returns the response to an admin challenge: the 3DES-EDE
// encryption of each 8-byte block of challenge under key (ECB, which for the
// usual single block is also CBC with a zero IV; spec "Developer Guidelines:
// Challenge/Response Method of Unblocking Smart Card PIN").
func AdminResponse(key, challenge []byte) []byte {
	b, err := des.NewTripleDESCipher(key)
	if err != nil || len(challenge)%des.BlockSize != 0 {
		return nil
	}
	out := make([]byte, len(challenge))
	for i := 0; i < len(challenge); i += des.BlockSize {
		b.Encrypt(out[i:], challenge[i:])
	}
	return out
}

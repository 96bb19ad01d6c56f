package piv

import (
	"bytes"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/cardmod/cardmod/cardsim"
	"github.com/cardmod/cardmod/cardsim/internal/tlv"

	"github.com/cardmod/cardmod/scrm"
)

// Factory defaults of a YubiKey's PIV application.
const (
	DefaultPIN = "123456"
	DefaultPUK = "12345678"
	// DefaultTries is the number of PIN and PUK tries of a fresh card.
	DefaultTries = 3
	// DefaultSerial is the serial number of a card whose Config leaves it 0.
	DefaultSerial uint32 = 10000001
	// DefaultFormFactor is USB-A keychain (YubiKey 5 NFC), as reported in
	// the attestation extension 1.3.6.1.4.1.41482.3.9.
	DefaultFormFactor byte = 0x01
	// DefaultMaxObjectSize is the largest data object a YubiKey 5 stores
	// (the value inside tag 53): "3,052 bytes" (YubiKey 5 PIV technical
	// manual; yubico-piv-tool's CB_OBJ_MAX is of the same order).
	DefaultMaxObjectSize = 3052
	// totalObjectStorage is the PIV data storage of a YubiKey 5 (51,200
	// bytes, YubiKey 5 technical manual); PUT DATA past it answers 6A84.
	totalObjectStorage = 51200
	// maxCommandData bounds a chained or extended command's data field.
	maxCommandData = 0x10000
)

// DefaultManagementKey is the factory management key
// (010203040506070801020304050607080102030405060708). It is a 3DES key on
// firmware before 5.7 and an AES-192 key from 5.7 on (Yubico .NET SDK,
// "InitializeAuthenticateManagementKeyCommand": "Upon manufacture of a
// YubiKey, the management key is either a Triple-DES key (firmware prior to
// 5.7) or an AES-192 key (firmware 5.7 and later)").
var DefaultManagementKey = []byte{
	1, 2, 3, 4, 5, 6, 7, 8,
	1, 2, 3, 4, 5, 6, 7, 8,
	1, 2, 3, 4, 5, 6, 7, 8,
}

// ATRYubiKey5NFC is the answer to reset of a YubiKey 5 NFC over USB CCID:
// historical bytes 80 73 C0 21 C0 57 "YubiKey" (compact TLV; OpenSC's PIV
// driver recognises a YubiKey by the tag-5 "YubiKey" entry and then sends
// GET VERSION).
var ATRYubiKey5NFC = []byte{
	0x3B, 0xFD, 0x13, 0x00, 0x00, 0x81, 0x31, 0xFE, 0x15, 0x80, 0x73, 0xC0,
	0x21, 0xC0, 0x57, 0x59, 0x75, 0x62, 0x69, 0x4B, 0x65, 0x79, 0x40,
}

// AID is the full PIV application identifier (SP 800-73-4 part 1, 2.2):
// RID A0 00 00 03 08, PIX 00 00 10 00 01 00.
var AID = []byte{0xA0, 0x00, 0x00, 0x03, 0x08, 0x00, 0x00, 0x10, 0x00, 0x01, 0x00}

// otpAID is Yubico's OTP application, selected with or without its
// version byte (libykpiv sends A0 00 00 05 27 20 01 01).
var otpAID = []byte{0xA0, 0x00, 0x00, 0x05, 0x27, 0x20, 0x01}

// Version is a YubiKey firmware version, as GET VERSION reports it.
type Version struct {
	Major, Minor, Patch uint8
}

// DefaultVersion is the firmware a card reports when its Config leaves
// Version zero.
var DefaultVersion = Version{5, 7, 1}

func (v Version) String() string { return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch) }

// AtLeast reports whether v is major.minor.patch or later.
func (v Version) AtLeast(major, minor, patch uint8) bool {
	if v.Major != major {
		return v.Major > major
	}
	if v.Minor != minor {
		return v.Minor > minor
	}
	return v.Patch >= patch
}

// Config sets up a new card. Its zero value gives a fresh YubiKey 5 with
// firmware DefaultVersion, PIN 123456, PUK 12345678, the default management
// key and 3 tries for PIN and PUK.
type Config struct {
	// PIN and PUK are the initial values (6 to 8 bytes); empty means the
	// defaults.
	PIN, PUK string
	// PINRetries and PUKRetries are the tries allowed (1 to 255); 0 means 3.
	PINRetries, PUKRetries int
	// ManagementKey is the initial management key; nil means
	// DefaultManagementKey.
	ManagementKey []byte
	// ManagementKeyAlgorithm is AlgTDES, AlgAES128, AlgAES192 or AlgAES256;
	// 0 means the firmware's default (3DES before 5.7, AES-192 from 5.7).
	ManagementKeyAlgorithm byte
	// Profile is the card family the card behaves as (see Profiles). Its
	// zero value means the YubiKey of Version (YubiKey(Version)).
	Profile Profile
	// Version is the YubiKey firmware version when Profile is zero; zero
	// means DefaultVersion. It selects behaviour: GET SERIAL needs 5.0,
	// GET METADATA 5.3, AES management keys 5.4, RSA-3072/4096, Ed25519,
	// X25519 and MOVE KEY 5.7. With a Profile it must be zero or the
	// profile's version.
	Version Version
	// Serial is the serial number; 0 means DefaultSerial.
	Serial uint32
	// FormFactor is reported in attestations; 0 means DefaultFormFactor.
	FormFactor byte
	// ATR is the answer to reset; nil means the profile's.
	ATR []byte
	// Rand is the source of every random value the card draws (key
	// generation, challenges, certificate serial numbers). nil means
	// crypto/rand. A deterministic reader makes keys and challenges
	// reproducible; signatures stay randomised by the Go runtime.
	Rand io.Reader
	// Touch is asked for a touch whenever a key's touch policy (or the
	// management key's) demands one; it returns whether the user touched.
	// It runs with the card locked, so a test can hold it to keep an
	// operation pending. nil means the touch happens at once.
	Touch func(slot byte) bool
	// Now is the clock for the 15 s touch cache; nil means time.Now.
	Now func() time.Time
	// MaxObjectSize bounds one data object; 0 means the profile's.
	MaxObjectSize int
}

// hooks are the parts of a Config that are not card state.
type hooks struct {
	atr           []byte
	rand          io.Reader
	touch         func(slot byte) bool
	now           func() time.Time
	maxObjectSize int
}

func (cfg Config) hooks(p *Profile) hooks {
	h := hooks{atr: p.ATR, rand: rand.Reader, touch: cfg.Touch, now: time.Now, maxObjectSize: p.MaxObjectSize}
	if cfg.ATR != nil {
		h.atr = append([]byte(nil), cfg.ATR...)
	}
	if cfg.Rand != nil {
		h.rand = cfg.Rand
	}
	if cfg.Now != nil {
		h.now = cfg.Now
	}
	if cfg.MaxObjectSize > 0 {
		h.maxObjectSize = cfg.MaxObjectSize
	}
	return h
}

// Card is a simulated YubiKey PIV application. It implements cardsim.Card
// and is safe for concurrent use: one mutex serialises every command.
type Card struct {
	mu   sync.Mutex
	h    hooks
	st   *state
	sess session
	// tr is the ISO 7816-4 transport: chaining and GET RESPONSE.
	tr cardsim.Transport
}

var _ cardsim.Card = (*Card)(nil)

// New makes a fresh card. It generates the simulated attestation root and
// the slot F9 attestation key and certificate from cfg.Rand.
func New(cfg Config) (*Card, error) {
	r := cfg.Rand
	if r == nil {
		r = rand.Reader
	}
	st, err := newState(cfg, r)
	if err != nil {
		return nil, err
	}
	return &Card{h: cfg.hooks(&st.prof), st: st, tr: newTransport()}, nil
}

// Profile returns the profile the card behaves as.
func (c *Card) Profile() Profile {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.st.prof
	p.Algorithms = append([]byte(nil), p.Algorithms...)
	p.ATR = append([]byte(nil), p.ATR...)
	return p
}

// ATR implements cardsim.Card.
func (c *Card) ATR() []byte { return c.h.atr }

// Reset implements cardsim.Card: the PIV application is deselected and every
// security status (PIN verified, management key authenticated, touch cache)
// is lost; keys, objects and retry counters stay.
func (c *Card) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sess = session{}
	c.tr.Reset()
}

// Version returns the firmware version the card reports.
func (c *Card) Version() Version {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.st.fw
}

// Serial returns the card's serial number.
func (c *Card) Serial() uint32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.st.serial
}

// AttestationRoot returns the simulated attestation root CA, the issuer of
// the slot F9 certificate (object 5FFF01). Attestations chain to it as
// YubiKey attestations chain to Yubico's PIV root CA.
func (c *Card) AttestationRoot() *x509.Certificate {
	c.mu.Lock()
	der := c.st.rootDER
	c.mu.Unlock()
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil
	}
	return cert
}

// Transmit implements cardsim.Card.
func (c *Card) Transmit(apdu []byte) (out []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	defer func() {
		// A bug must not take the reader down: answer 6F00 instead.
		if r := recover(); r != nil {
			if debugPanics {
				panic(r)
			}
			c.tr.Reset()
			out = []byte{0x6F, 0x00}
		}
	}()
	return c.transmit(apdu)
}

// transmit runs apdu through the transport (chaining, 61xx and GET
// RESPONSE) to the application.
func (c *Card) transmit(apdu []byte) []byte {
	return c.tr.Transmit(apdu, checkClass, func(cmd scrm.Command) cardsim.Reply {
		r := c.dispatch(command{cla: cmd.CLA, ins: cmd.INS, p1: cmd.P1, p2: cmd.P2, data: cmd.Data})
		return cardsim.Reply{Data: r.data, SW: r.sw}
	})
}

// newTransport is a YubiKey's transport: it answers commands without Le
// over T=1, with at most 256 bytes (65536 after an extended APDU) per
// response, and sends data with warning status words.
func newTransport() cardsim.Transport {
	return cardsim.Transport{MaxCommandData: maxCommandData, AnswerWithoutLe: true}
}

// checkClass accepts CLA 00 (10 within a chain): no secure messaging and
// no logical channels (the YubiKey's ATR announces none).
func checkClass(cla byte) uint16 {
	if cla != 0 {
		return swClaNotSupported
	}
	return 0
}

// dispatch runs one complete command.
func (c *Card) dispatch(cmd command) reply {
	if cmd.ins == 0xA4 {
		return c.cmdSelect(cmd)
	}
	if c.sess.otp {
		// Yubico's OTP application: its serial number command only.
		if cmd.ins == 0x01 && cmd.p1 == 0x10 {
			s := c.st.serial
			return ok([]byte{byte(s >> 24), byte(s >> 16), byte(s >> 8), byte(s)})
		}
		return status(swInsNotSupported)
	}
	// With the PIV application not selected (after power-on, or after a
	// SELECT of an AID the card lacks) a YubiKey answers 6D00 to PIV
	// instructions (OpenSC PR 1243: "If some non existent AID was selected
	// last ... it will respond 6D00"); OpenSC relies on that to notice that
	// it must SELECT again.
	if !c.sess.selected {
		return status(swInsNotSupported)
	}
	p := &c.st.prof
	switch cmd.ins {
	case 0xCB:
		return c.cmdGetData(cmd)
	case 0xDB:
		return c.cmdPutData(cmd)
	case 0x20:
		return c.cmdVerify(cmd)
	case 0x24:
		return c.cmdChangeReference(cmd)
	case 0x2C:
		return c.cmdResetRetry(cmd)
	case 0x87:
		return c.cmdGeneralAuthenticate(cmd)
	case 0x47:
		return c.cmdGenerate(cmd)
	case 0xFD:
		if p.Version != (Version{}) {
			return c.cmdGetVersion(cmd)
		}
	case 0xF8:
		if p.Serial {
			return c.cmdGetSerial(cmd)
		}
	case 0xFE:
		if p.Import {
			return c.cmdImport(cmd)
		}
	case 0xFF:
		if p.SetManagementKey {
			return c.cmdSetManagementKey(cmd)
		}
	case 0xFB:
		if p.ResetApp {
			return c.cmdReset(cmd)
		}
	case 0xFA:
		if p.ResetApp {
			return c.cmdSetPINRetries(cmd)
		}
	case 0xF9:
		if p.Attestation {
			return c.cmdAttest(cmd)
		}
	case 0xF7:
		if p.Metadata {
			return c.cmdGetMetadata(cmd)
		}
	case 0xF6:
		if p.MoveKey {
			return c.cmdMoveKey(cmd)
		}
	}
	return status(swInsNotSupported)
}

// cmdSelect answers SELECT (SP 800-73-4 part 2, 3.1.1).
func (c *Card) cmdSelect(cmd command) reply {
	if cmd.p1 != 0x04 {
		return status(swIncorrectP1P2)
	}
	if cmd.p2 != 0x00 && cmd.p2 != 0x0C {
		return status(swIncorrectP1P2)
	}
	// Selection by full AID or by a right-truncated one ("partial DF name",
	// which the YubiKey's ATR announces); the RID must be whole.
	if len(cmd.data) >= 5 && len(cmd.data) <= len(AID) && bytes.Equal(cmd.data, AID[:len(cmd.data)]) {
		if !c.sess.selected {
			c.sess = session{selected: true}
		}
		// Re-selecting the selected PIV application keeps every security
		// status (SP 800-73-4 part 2, 3.1.1).
		if cmd.p2 == 0x0C {
			return ok(nil)
		}
		return ok(c.applicationPropertyTemplate())
	}
	if c.st.prof.OTPSerial && bytes.HasPrefix(cmd.data, otpAID) && len(cmd.data) <= len(otpAID)+1 {
		c.sess = session{otp: true}
		return ok(nil)
	}
	// The card has no other application. Like a YubiKey, a SELECT of an
	// unknown AID leaves no application selected.
	c.sess = session{}
	return status(swNotFound)
}

// applicationPropertyTemplate is the SELECT response (SP 800-73-4 part 2,
// table 3). A YubiKey answers 61 11 4F 06 <PIX> 79 07 4F 05 <RID>, 19
// bytes (Profile.ShortTemplate, cited in YubiKey). The other profiles add
// the AC template listing the card's algorithms as SP 800-73-4 asks. AC
// holds no secure-messaging cipher suite (27/2E), so OpenSC keeps treating
// such a card as one without secure messaging rather than an SM-capable
// 800-73-4 card.
func (c *Card) applicationPropertyTemplate() []byte {
	if c.st.prof.ShortTemplate {
		return tlv.Encode(0x61, tlv.Join(
			tlv.Encode(0x4F, AID[5:]),
			tlv.Encode(0x79, tlv.Encode(0x4F, AID[:5])),
		))
	}
	var algs []byte
	for _, a := range []byte{AlgTDES, AlgAES128, AlgAES192, AlgAES256} {
		algs = append(algs, tlv.Encode(0x80, []byte{a})...)
	}
	for _, a := range algOrder {
		if c.algSupported(a) {
			algs = append(algs, tlv.Encode(0x80, []byte{a})...)
		}
	}
	algs = append(algs, tlv.Encode(0x06, []byte{0x00})...)
	return tlv.Encode(0x61, tlv.Join(
		tlv.Encode(0x4F, AID[5:]),
		tlv.Encode(0x79, tlv.Encode(0x4F, AID[:5])),
		tlv.Encode(0xAC, algs),
	))
}

// cmdGetVersion answers the Yubico GET VERSION (00 FD 00 00).
func (c *Card) cmdGetVersion(cmd command) reply {
	fw := c.st.fw
	return ok([]byte{fw.Major, fw.Minor, fw.Patch})
}

// cmdGetSerial answers the Yubico GET SERIAL (00 F8 00 00), four bytes big
// endian.
func (c *Card) cmdGetSerial(cmd command) reply {
	s := c.st.serial
	return ok([]byte{byte(s >> 24), byte(s >> 16), byte(s >> 8), byte(s)})
}

// readRand fills b from the card's random source.
func (c *Card) readRand(b []byte) error {
	_, err := io.ReadFull(c.h.rand, b)
	return err
}

// debugPanics makes Transmit re-raise panics instead of answering 6F00;
// the fuzz tests set it so that a panic is a failure.
var debugPanics bool

// errRand reports a failing random source; the command answers 6F00.
var errRand = errors.New("piv: random source failed")

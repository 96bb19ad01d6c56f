package gids

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/cardmod/cardmod/cardsim"
	"github.com/cardmod/cardmod/cardsim/internal/tlv"
	"github.com/cardmod/cardmod/scrm"
)

// Defaults of a card whose Config leaves the fields zero.
const (
	// DefaultPIN is the user PIN an initialized card (Config.Initialized)
	// starts with.
	DefaultPIN = "123456"
	// DefaultPINTries is the number of PIN tries.
	DefaultPINTries = 3
	// DefaultCapacity is the number of bytes the data objects of all files
	// may hold together; PUT DATA past it answers 6A84.
	DefaultCapacity = 128 * 1024
	// MinPINLength and MaxPINLength bound a user PIN (GIDS v2.0 and
	// OpenSC's gids-tool: 4 to 16 characters).
	MinPINLength = 4
	MaxPINLength = 16
	// maxCommandData bounds a chained or extended command's data field.
	maxCommandData = 0x10000
)

// DefaultAdminKey is the 3DES admin key a card starts with when its Config
// leaves AdminKey nil: 0102030405060708 three times, the well-known
// default of Windows virtual smart cards and the template value OpenSC's
// GIDS driver writes before copying the real key over it.
var DefaultAdminKey = []byte{
	1, 2, 3, 4, 5, 6, 7, 8,
	1, 2, 3, 4, 5, 6, 7, 8,
	1, 2, 3, 4, 5, 6, 7, 8,
}

// AID is the GIDS application identifier with its version 2.0 tail
// (RID A0 00 00 03 97, PIX 42 54 46 59 02 01), as the FCI reports it.
// SELECT accepts the first 9 bytes ("A0 00 00 03 97 42 54 46 59", what
// OpenSC sends), the 10-byte forms with version byte 01 or 02, or all 11.
var AID = []byte{0xA0, 0x00, 0x00, 0x03, 0x97, 0x42, 0x54, 0x46, 0x59, 0x02, 0x01}

// DefaultATR is the answer to reset of a simulated GIDS card: T=1, with
// compact-TLV historical bytes 80 31 80 65 "GIDSS" (card service data:
// selection by full DF name; pre-issuing data naming the simulator). No
// OpenSC driver knows this ATR, so `opensc-tool -n` finds the card the way
// OpenSC finds every GIDS card: its GIDS driver SELECTs the GIDS AID and
// reads the FCI.
var DefaultATR = []byte{
	0x3B, 0x89, 0x80, 0x01, 0x80, 0x31, 0x80, 0x65,
	0x47, 0x49, 0x44, 0x53, 0x53, 0x16,
}

// LifeCycle is the life cycle state of the application or of a file (GIDS
// v2.0, life cycle status byte; ISO/IEC 7816-4 table 13).
type LifeCycle byte

// Life cycle states.
const (
	// LifeCycleCreation: a blank card, or a file just created. The
	// application checks no access condition in this state; a file in it
	// accepts only ACTIVATE FILE.
	LifeCycleCreation LifeCycle = 0x01
	// LifeCycleOperational: activated; access conditions apply.
	LifeCycleOperational LifeCycle = 0x05
	// LifeCycleTerminated: TERMINATE DF was run; every command but SELECT
	// answers 6985.
	LifeCycleTerminated LifeCycle = 0x0F
)

func (l LifeCycle) String() string {
	switch l {
	case LifeCycleCreation:
		return "creation"
	case LifeCycleOperational:
		return "operational"
	case LifeCycleTerminated:
		return "terminated"
	}
	return fmt.Sprintf("LifeCycle(%#x)", byte(l))
}

// Config sets up a new card. Its zero value is a blank card in the
// creation state, as it leaves the factory: no files, no PIN, no admin key;
// every access is allowed until the application is activated, which is
// what `gids-tool --initialize` and the minidriver's card initialization
// do. With Initialized set the card comes already initialized the way
// gids-tool leaves it.
type Config struct {
	// Initialized runs the initialization of OpenSC's gids-tool when the
	// card is made: user PIN, the six access-rule DO files A000, A010 to
	// A014, the admin key file B080, the master file, cardapps, cardcf, an
	// empty cmapfile, cardid, then ACTIVATE FILE of the application.
	Initialized bool
	// PIN is the user PIN of an initialized card (4 to 16 bytes); empty
	// means DefaultPIN.
	PIN string
	// PINTries is the number of PIN tries (1 to 15); 0 means
	// DefaultPINTries.
	PINTries int
	// AdminKey is the admin key: 24 bytes (3DES) or 16 or 32 bytes (AES);
	// nil means DefaultAdminKey. An initialized card holds it in its admin
	// key file B080. A blank card holds it as its transport key: GENERAL
	// AUTHENTICATE with key reference 80 uses it while the application is
	// in the creation state and has no file B080, so that a minidriver
	// that authenticates as admin before initializing a card can (GIDS
	// itself needs no authentication in that state).
	AdminKey []byte
	// CardID is the 16-byte cardid of an initialized card; nil means 16
	// bytes from Rand.
	CardID []byte
	// Profile is the card family the card behaves as (see Profiles); its
	// zero value is ProfileRSAEC with MaxRSABits applied.
	Profile Profile
	// ATR is the answer to reset; nil means DefaultATR.
	ATR []byte
	// Rand is the source of every random value the card draws (key
	// generation, challenges). nil means crypto/rand. A deterministic
	// reader makes keys and challenges reproducible.
	Rand io.Reader
	// Capacity bounds the bytes of all data objects; 0 means
	// DefaultCapacity.
	Capacity int
	// MaxRSABits is the largest RSA key the card generates or imports
	// (1024, 2048, 3072 or 4096); 0 means 4096. Larger ones answer 6A81,
	// as a card whose chip stops at 2048 bits does (many Java Cards
	// running GidsApplet).
	MaxRSABits int
}

// hooks are the parts of a Config that are not card state.
type hooks struct {
	atr        []byte
	rand       io.Reader
	capacity   int
	maxRSABits int
	prof       Profile
}

func (cfg Config) hooks() hooks {
	h := hooks{atr: DefaultATR, rand: rand.Reader, capacity: DefaultCapacity, maxRSABits: 4096, prof: resolveProfile(cfg)}
	if cfg.ATR != nil {
		h.atr = append([]byte(nil), cfg.ATR...)
	}
	if cfg.Rand != nil {
		h.rand = cfg.Rand
	}
	if cfg.Capacity > 0 {
		h.capacity = cfg.Capacity
	}
	if cfg.MaxRSABits > 0 {
		h.maxRSABits = cfg.MaxRSABits
	}
	return h
}

// Card is a simulated GIDS card. It implements cardsim.Card and is safe for
// concurrent use: one mutex serialises every command.
type Card struct {
	mu   sync.Mutex
	h    hooks
	st   *state
	sess session
	// tr is the ISO 7816-4 transport: chaining and GET RESPONSE.
	tr cardsim.Transport
}

var _ cardsim.Card = (*Card)(nil)

// command is one complete command APDU after chaining.
type command struct {
	cla, ins, p1, p2 byte
	data             []byte
}

// New makes a card as cfg describes.
func New(cfg Config) (*Card, error) {
	if cfg.PINTries < 0 || cfg.PINTries > 15 {
		return nil, fmt.Errorf("gids: PINTries %d out of range 1 to 15", cfg.PINTries)
	}
	tries := cfg.PINTries
	if tries == 0 {
		tries = DefaultPINTries
	}
	c := &Card{h: cfg.hooks(), st: newState(tries), tr: newTransport()}
	key := cfg.AdminKey
	if key == nil {
		key = DefaultAdminKey
	}
	transport, err := newSymmetricKey(key)
	if err != nil {
		return nil, err
	}
	c.st.transport = transport
	if !cfg.Initialized {
		return c, nil
	}
	pin := cfg.PIN
	if pin == "" {
		pin = DefaultPIN
	}
	if len(pin) < MinPINLength || len(pin) > MaxPINLength {
		return nil, errors.New("gids: PIN must be 4 to 16 bytes")
	}
	id := cfg.CardID
	if id == nil {
		id = make([]byte, 16)
		if _, err := io.ReadFull(c.h.rand, id); err != nil {
			return nil, fmt.Errorf("gids: drawing the cardid: %w", err)
		}
	}
	if len(id) != 16 {
		return nil, errors.New("gids: CardID must be 16 bytes")
	}
	if err := c.initialize([]byte(pin), key, id); err != nil {
		return nil, err
	}
	return c, nil
}

// ATR implements cardsim.Card.
func (c *Card) ATR() []byte { return c.h.atr }

// Reset implements cardsim.Card: the application is deselected, every
// security status (PIN verified, admin authenticated, security
// environment, authentication in progress) is lost; files, keys and retry
// counters stay.
func (c *Card) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sess = session{}
	c.tr.Reset()
}

// LifeCycle returns the life cycle state of the application.
func (c *Card) LifeCycle() LifeCycle {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.st.life
}

// PINTriesLeft returns the tries left of the user PIN.
func (c *Card) PINTriesLeft() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.st.pin.left
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

// newTransport is the card's transport: a command without Le gets no
// response data (ISO/IEC 7816-4 cases 1 and 3; OpenSC sends GENERATE
// ASYMMETRIC KEY PAIR so and reads the public key afterwards with GET DATA,
// and answering 61xx there would make it fetch and discard it), and error
// status words carry no data.
func newTransport() cardsim.Transport {
	return cardsim.Transport{MaxCommandData: maxCommandData, DropDataOnError: true}
}

// transmit runs apdu through the transport (chaining, 61xx and GET
// RESPONSE) to the application.
func (c *Card) transmit(apdu []byte) []byte {
	return c.tr.Transmit(apdu, checkClass, func(cmd scrm.Command) cardsim.Reply {
		r := c.dispatch(command{cla: cmd.CLA, ins: cmd.INS, p1: cmd.P1, p2: cmd.P2, data: cmd.Data})
		return cardsim.Reply{Data: r.data, SW: r.sw}
	})
}

// checkClass accepts CLA 00 (10 within a chain). Secure messaging (bits
// 0C) answers 6882, as GidsApplet does; logical channels and proprietary
// classes 6E00.
func checkClass(cla byte) uint16 {
	switch {
	case cla&0x0C != 0 && cla&0xE0 == 0:
		return swSecureMessagingNot
	case cla != 0:
		return swClaNotSupported
	}
	return 0
}

// dispatch runs one complete command.
func (c *Card) dispatch(cmd command) reply {
	if cmd.ins == 0xA4 {
		return c.cmdSelect(cmd)
	}
	// With the GIDS application not selected (after power-on, or after a
	// SELECT of an AID the card lacks) the card has nothing to answer
	// with: 6D00, as a card with no application selected answers.
	if !c.sess.selected {
		return status(swInsNotSupported)
	}
	if c.st.life == LifeCycleTerminated {
		return status(swConditionsNotMet)
	}
	switch cmd.ins {
	case 0xCB:
		return c.cmdGetData(cmd)
	case 0xDB:
		return c.cmdPutData(cmd)
	case 0xE0:
		return c.cmdCreateFile(cmd)
	case 0xE4:
		return c.cmdDeleteFile(cmd)
	case 0x44:
		return c.cmdActivateFile(cmd)
	case 0xE6:
		return c.cmdTerminateDF(cmd)
	case 0x20:
		return c.cmdVerify(cmd)
	case 0x24:
		return c.cmdChangeReference(cmd)
	case 0x2C:
		return c.cmdResetRetry(cmd)
	case 0x22:
		return c.cmdMSE(cmd)
	case 0x2A:
		return c.cmdPSO(cmd)
	case 0x87:
		return c.cmdGeneralAuthenticate(cmd)
	case 0x47:
		return c.cmdGenerate(cmd)
	}
	return status(swInsNotSupported)
}

// Application file control data (GIDS v2.0 section 8; the values GidsApplet
// and Windows GIDS cards answer).
var (
	// fciTemplate is the answer to SELECT with P2 00: 61 { 4F AID, 73 {
	// 40 01 C0 } } (discretionary data: cryptographic mechanisms C0).
	// OpenSC's gids_match_card looks for 4F in 61 and compares the first
	// 10 bytes with the version 01 and 02 AIDs, requiring more than 10:
	// the 11-byte AID here makes it a GIDS v2 card.
	fciTemplate = tlv.Encode(0x61, tlv.Join(tlv.Encode(0x4F, AID), tlv.Encode(0x73, tlv.Encode(0x40, []byte{0xC0}))))
	// appFCP is the answer to SELECT with P2 04: file descriptor 38
	// (DF) and the compact security attributes of the application:
	// CREATE FILE (EF) and DELETE FILE (child) need the user PIN or the
	// admin key (30).
	appFCP = tlv.Encode(0x62, tlv.Join(tlv.Encode(0x82, []byte{0x38}), tlv.Encode(0x8C, appSecurity)))
	// appSecurity is the application's compact security attribute.
	appSecurity = []byte{0x03, 0x30, 0x30}
)

// appFID is the file identifier of the GIDS application (DF).
const appFID = 0x3FFF

// cmdSelect answers SELECT by DF name (P1 04) and by file identifier
// (P1 00).
func (c *Card) cmdSelect(cmd command) reply {
	if cmd.p2 != 0x00 && cmd.p2 != 0x04 && cmd.p2 != 0x0C {
		return status(swIncorrectP1P2)
	}
	switch cmd.p1 {
	case 0x04:
		if !matchAID(cmd.data) {
			// The card has no other application: nothing is selected.
			c.sess = session{}
			return status(swFileNotFound)
		}
		// Selecting the application (again) starts a fresh session, as
		// a Java Card applet is deselected and selected again: the PIN
		// and admin authentication are forgotten.
		c.sess = session{selected: true, current: appFID}
		return c.selectAnswer(cmd.p2, appFID)
	case 0x00:
		if !c.sess.selected {
			return status(swInsNotSupported)
		}
		if len(cmd.data) == 0 {
			c.sess.current = appFID
			return c.selectAnswer(cmd.p2, appFID)
		}
		if len(cmd.data) != 2 {
			return status(swWrongLength)
		}
		fid := uint16(cmd.data[0])<<8 | uint16(cmd.data[1])
		if fid == appFID || fid == 0x3F00 {
			c.sess.current = appFID
			return c.selectAnswer(cmd.p2, appFID)
		}
		if c.st.files[fid] == nil {
			return status(swFileNotFound)
		}
		c.sess.current = fid
		return c.selectAnswer(cmd.p2, fid)
	}
	return status(swIncorrectP1P2)
}

// selectAnswer is the SELECT response for P2: FCI (00), FCP (04) or none.
func (c *Card) selectAnswer(p2 byte, fid uint16) reply {
	if p2 == 0x0C {
		return ok(nil)
	}
	if fid == appFID {
		if p2 == 0x04 {
			return ok(appFCP)
		}
		return ok(fciTemplate)
	}
	return ok(c.st.files[fid].fcp)
}

// matchAID reports whether data names the GIDS application.
func matchAID(data []byte) bool {
	switch len(data) {
	case 9, 11:
		return bytes.Equal(data, AID[:len(data)])
	case 10:
		return bytes.Equal(data[:9], AID[:9]) && (data[9] == 0x01 || data[9] == 0x02)
	}
	return false
}

// readRand fills b from the card's random source.
func (c *Card) readRand(b []byte) error {
	_, err := io.ReadFull(c.h.rand, b)
	return err
}

// debugPanics makes Transmit re-raise panics instead of answering 6F00;
// the fuzz tests set it so that a panic is a failure.
var debugPanics bool

// Package token simulates the Example Token, the made-up card of the
// plug-in template in package examples/plugin. It is the vendor's side of
// the template: a card that answers APDUs, written from the card's own
// command reference (here the table below, which a vendor replaces with
// its card's documentation), never from the plug-in.
//
// A Token is a virtual.Card (and a vpcd.Card): insert it in a virtual
// reader (package scrm/virtual) or serve it to pcscd (package scrm/vpcd).
// The ISO/IEC 7816-4 transport (short and extended APDUs, command chaining,
// 61xx and GET RESPONSE) is cardsim.Transport; the application answers
// complete commands.
//
// # Commands
//
// The Example Token has one application, a user PIN, four P-256 key slots
// and one data object, the file store, that the plug-in keeps its card file
// system in. Its status words are those of ISO/IEC 7816-4 §5.1.3.
//
//	SELECT        00 A4 04 00 AID        serial (8) ‖ store counter (4, big-endian) ‖ store capacity (2)
//	VERIFY        00 20 00 81 PIN        9000, 63Cx (x tries left), 6983 (blocked), 6A80 (PIN not 4..8 bytes)
//	VERIFY        00 20 00 81 (no data)  9000 when verified, else 63Cx or 6983
//	VERIFY        00 20 FF 81 (no data)  logs the PIN out (P1 = FF, as PIV's VERIFY: SP 800-73-4 Part 2 §3.2.1)
//	GENERATE KEY  00 46 00 slot          04 ‖ X ‖ Y of the new key; needs the PIN (6982)
//	READ KEY      80 CA 00 slot          04 ‖ X ‖ Y, or 6A88 for an empty slot
//	SIGN          00 2A 9E slot digest   ECDSA signature, ASN.1 DER; needs the PIN; 6A88 for an empty slot
//	DELETE KEY    80 E4 00 slot          needs the PIN; 6A88 for an empty slot
//	GET DATA      00 CA 01 00            the file store
//	PUT DATA      00 DA 01 00 content    replaces the file store (chained when long); needs the PIN;
//	                                     6A84 when longer than the capacity; answers the new counter (4)
//
// Slots are 0 to 3 (6A86 otherwise). Every command but SELECT needs the
// application selected (6985). A reset logs the PIN out and deselects the
// application; keys, the file store and the retry counter are kept.
//
// Concurrency: a Token is safe for concurrent use.
package token

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/subtle"
	"encoding/binary"
	"fmt"
	"io"
	"sync"

	"github.com/cardmod/cardmod/cardsim"
	"github.com/cardmod/cardmod/scrm"
)

// AID is the application identifier of the Example Token. It is in the
// range ISO/IEC 7816-5 leaves unregistered (first byte F), as a made-up
// card's must be.
var AID = []byte{0xF0, 'C', 'A', 'R', 'D', 'M', 'O', 'D'}

// ATR is the answer to reset: T=0 and T=1 offered, historical bytes with
// card capabilities (command chaining, no extended length) and the card
// issuer's data "EXTOK" (ISO/IEC 7816-4 §8.1.1).
var ATR = []byte{0x3B, 0x8B, 0x80, 0x01, 0x80, 0x73, 0xC0, 0x21, 0x80, 0x55, 'E', 'X', 'T', 'O', 'K', 0x80}

// Slots is the number of key slots.
const Slots = 4

// DefaultPIN is the user PIN of a Token made with a zero Config.PIN.
const DefaultPIN = "123456"

// DefaultStoreCapacity is the size of the file store when
// Config.StoreCapacity is zero.
const DefaultStoreCapacity = 8192

// Status words the application answers (ISO/IEC 7816-4 §5.1.3).
const (
	swOK             = 0x9000
	swWrongLength    = 0x6700
	swSecurity       = 0x6982
	swBlocked        = 0x6983
	swConditions     = 0x6985
	swWrongData      = 0x6A80
	swNotFound       = 0x6A82
	swNoSpace        = 0x6A84
	swWrongP1P2      = 0x6A86
	swRefNotFound    = 0x6A88
	swINSUnsupported = 0x6D00
	swCLAUnsupported = 0x6E00
	swCardError      = 0x6F00
)

// Config configures a Token. The zero value is a token with PIN
// DefaultPIN, 3 tries, DefaultStoreCapacity and a random serial number.
type Config struct {
	// PIN is the user PIN, 4 to 8 bytes; empty means DefaultPIN.
	PIN []byte
	// Tries is the PIN retry counter; zero means 3, at most 15.
	Tries int
	// Serial is the serial number; zero means random.
	Serial [8]byte
	// StoreCapacity is the size of the file store in bytes, at most
	// 65535; zero means DefaultStoreCapacity.
	StoreCapacity int
	// Rand is the source of keys, signatures and a random serial; nil
	// means crypto/rand.
	Rand io.Reader
}

// Token is a simulated Example Token.
type Token struct {
	mu       sync.Mutex
	tr       cardsim.Transport
	rand     io.Reader
	serial   [8]byte
	pin      []byte
	maxTries int
	tries    int
	capacity int

	selected bool
	verified bool
	keys     [Slots]*ecdsa.PrivateKey
	store    []byte
	counter  uint32
}

// New returns a Token in its factory state: no keys, an empty file store.
func New(cfg Config) (*Token, error) {
	t := &Token{rand: cfg.Rand, serial: cfg.Serial, pin: bytes.Clone(cfg.PIN), maxTries: cfg.Tries, capacity: cfg.StoreCapacity}
	if t.rand == nil {
		t.rand = rand.Reader
	}
	if len(t.pin) == 0 {
		t.pin = []byte(DefaultPIN)
	}
	if len(t.pin) < 4 || len(t.pin) > 8 {
		return nil, fmt.Errorf("token: a PIN has 4 to 8 bytes, not %d", len(t.pin))
	}
	if t.maxTries == 0 {
		t.maxTries = 3
	}
	if t.maxTries < 1 || t.maxTries > 15 {
		return nil, fmt.Errorf("token: %d PIN tries, want 1 to 15", t.maxTries)
	}
	if t.capacity == 0 {
		t.capacity = DefaultStoreCapacity
	}
	if t.capacity < 0 || t.capacity > 0xFFFF {
		return nil, fmt.Errorf("token: store capacity %d, want 1 to 65535", t.capacity)
	}
	if t.serial == [8]byte{} {
		if _, err := io.ReadFull(t.rand, t.serial[:]); err != nil {
			return nil, fmt.Errorf("token: serial: %w", err)
		}
	}
	t.tries = t.maxTries
	return t, nil
}

// ATR implements virtual.Card.
func (t *Token) ATR() []byte { return ATR }

// Reset implements virtual.Card: the PIN is logged out and the application
// deselected.
func (t *Token) Reset() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.tr.Reset()
	t.selected, t.verified = false, false
}

// Transmit implements virtual.Card.
func (t *Token) Transmit(apdu []byte) (out []byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	defer func() {
		// A bug must not take the reader down: answer 6F00 instead.
		if r := recover(); r != nil {
			t.tr.Reset()
			out = []byte{byte(swCardError >> 8), byte(swCardError & 0xFF)}
		}
	}()
	return t.tr.Transmit(apdu, checkClass, t.dispatch)
}

func checkClass(cla byte) uint16 {
	if cla != 0x00 && cla != 0x80 {
		return swCLAUnsupported
	}
	return 0
}

func reply(sw uint16) cardsim.Reply { return cardsim.Reply{SW: sw} }

func (t *Token) dispatch(cmd scrm.Command) cardsim.Reply {
	if cmd.INS == 0xA4 {
		return t.selectApp(cmd)
	}
	if !t.selected {
		return reply(swConditions)
	}
	switch {
	case cmd.CLA == 0x00 && cmd.INS == 0x20:
		return t.verify(cmd)
	case cmd.CLA == 0x00 && cmd.INS == 0x46 && cmd.P1 == 0x00:
		return t.generate(cmd)
	case cmd.CLA == 0x80 && cmd.INS == 0xCA && cmd.P1 == 0x00:
		return t.readKey(cmd)
	case cmd.CLA == 0x00 && cmd.INS == 0x2A && cmd.P1 == 0x9E:
		return t.sign(cmd)
	case cmd.CLA == 0x80 && cmd.INS == 0xE4 && cmd.P1 == 0x00:
		return t.deleteKey(cmd)
	case cmd.CLA == 0x00 && cmd.INS == 0xCA && cmd.P1 == 0x01 && cmd.P2 == 0x00:
		return cardsim.Reply{Data: bytes.Clone(t.store), SW: swOK}
	case cmd.CLA == 0x00 && cmd.INS == 0xDA && cmd.P1 == 0x01 && cmd.P2 == 0x00:
		return t.putData(cmd)
	}
	return reply(swINSUnsupported)
}

func (t *Token) selectApp(cmd scrm.Command) cardsim.Reply {
	if cmd.CLA != 0x00 || cmd.P1 != 0x04 || cmd.P2 != 0x00 {
		return reply(swWrongP1P2)
	}
	if !bytes.Equal(cmd.Data, AID) {
		t.selected, t.verified = false, false
		return reply(swNotFound)
	}
	t.selected = true
	out := append(t.serial[:0:0], t.serial[:]...)
	out = binary.BigEndian.AppendUint32(out, t.counter)
	out = binary.BigEndian.AppendUint16(out, uint16(t.capacity))
	return cardsim.Reply{Data: out, SW: swOK}
}

func (t *Token) triesSW() uint16 {
	if t.tries == 0 {
		return swBlocked
	}
	return 0x63C0 | uint16(t.tries)
}

func (t *Token) verify(cmd scrm.Command) cardsim.Reply {
	if cmd.P2 != 0x81 || (cmd.P1 != 0x00 && cmd.P1 != 0xFF) {
		return reply(swWrongP1P2)
	}
	switch {
	case cmd.P1 == 0xFF:
		if len(cmd.Data) != 0 {
			return reply(swWrongLength)
		}
		t.verified = false
		return reply(swOK)
	case len(cmd.Data) == 0:
		if t.verified {
			return reply(swOK)
		}
		return reply(t.triesSW())
	case t.tries == 0:
		return reply(swBlocked)
	case len(cmd.Data) < 4 || len(cmd.Data) > 8:
		return reply(swWrongData)
	}
	if subtle.ConstantTimeCompare(cmd.Data, t.pin) != 1 {
		t.verified = false
		t.tries--
		return reply(t.triesSW())
	}
	t.tries = t.maxTries
	t.verified = true
	return reply(swOK)
}

// slot returns the key slot P2 names, checking in the card's order: the
// slot exists (6A86), the PIN is verified when the command needs it
// (6982), the slot holds a key when the command needs one (6A88). A
// refusal is the status word, with slot -1.
func (t *Token) slot(cmd scrm.Command, needPIN, needKey bool) (int, uint16) {
	switch i := int(cmd.P2); {
	case i >= Slots:
		return -1, swWrongP1P2
	case needPIN && !t.verified:
		return -1, swSecurity
	case needKey && t.keys[i] == nil:
		return -1, swRefNotFound
	default:
		return i, 0
	}
}

func point(k *ecdsa.PrivateKey) []byte {
	pub, err := k.PublicKey.ECDH()
	if err != nil {
		return nil
	}
	return pub.Bytes()
}

func (t *Token) generate(cmd scrm.Command) cardsim.Reply {
	i, sw := t.slot(cmd, true, false)
	if sw != 0 {
		return reply(sw)
	}
	k, err := ecdh.P256().GenerateKey(t.rand)
	if err != nil {
		return reply(swCardError)
	}
	key, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), k.Bytes())
	if err != nil {
		return reply(swCardError)
	}
	t.keys[i] = key
	return cardsim.Reply{Data: point(key), SW: swOK}
}

func (t *Token) readKey(cmd scrm.Command) cardsim.Reply {
	i, sw := t.slot(cmd, false, true)
	if sw != 0 {
		return reply(sw)
	}
	return cardsim.Reply{Data: point(t.keys[i]), SW: swOK}
}

func (t *Token) sign(cmd scrm.Command) cardsim.Reply {
	i, sw := t.slot(cmd, true, true)
	switch {
	case sw != 0:
		return reply(sw)
	case len(cmd.Data) == 0 || len(cmd.Data) > 64:
		return reply(swWrongData)
	}
	sig, err := ecdsa.SignASN1(t.rand, t.keys[i], cmd.Data)
	if err != nil {
		return reply(swCardError)
	}
	return cardsim.Reply{Data: sig, SW: swOK}
}

func (t *Token) deleteKey(cmd scrm.Command) cardsim.Reply {
	i, sw := t.slot(cmd, true, true)
	if sw != 0 {
		return reply(sw)
	}
	t.keys[i] = nil
	return reply(swOK)
}

func (t *Token) putData(cmd scrm.Command) cardsim.Reply {
	switch {
	case !t.verified:
		return reply(swSecurity)
	case len(cmd.Data) > t.capacity:
		return reply(swNoSpace)
	}
	t.store = bytes.Clone(cmd.Data)
	t.counter++
	return cardsim.Reply{Data: binary.BigEndian.AppendUint32(nil, t.counter), SW: swOK}
}

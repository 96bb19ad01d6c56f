package piv

import (
	"bytes"
	"context"
	"crypto"
	"errors"
	"fmt"

	"github.com/cardmod/cardmod/cardfs"
	"github.com/cardmod/cardmod/internal/bertlv"
	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/scrm"
)

// PIN IDs of a PIV card (docs/piv-mapping.md).
const (
	// PINUser is ROLE_USER, the PIV Card Application PIN (key reference
	// 80).
	PINUser = minidriver.RoleUser
	// PINAdmin is ROLE_ADMIN, the card management key (9B), authenticated
	// by challenge and response.
	PINAdmin = minidriver.RoleAdmin
	// PINPUK is the PIN Unblocking Key (81): it only unblocks PINUser.
	PINPUK minidriver.PinID = 3
	// PINSignature verifies the same PIV PIN as PINUser, with the
	// always-prompt cache policy: it protects slot 9C, whose key needs the
	// PIN before every signature.
	PINSignature minidriver.PinID = 4
)

// slotTable lists the key slots in container order for cards without a
// stored container map: index i is slotTable[i].
var slotTable = [...]byte{
	0x9A, 0x9C, 0x9D, 0x9E,
	0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8A, 0x8B,
	0x8C, 0x8D, 0x8E, 0x8F, 0x90, 0x91, 0x92, 0x93, 0x94, 0x95,
}

// maxContainers is the number of key slots, one container each.
const maxContainers = len(slotTable)

// Card is a PIV card opened by Plugin.Open. It implements minidriver.Card
// and the optional FileWriter, ContainerManager, Decrypter, KeyAgreer,
// ChallengeResponder, AuthenticatorChanger and ContainerAddresser (its
// containers' key slots, Slot).
//
// A Card is used by one goroutine at a time, inside the caller's
// transaction (the caller's per-card lock serialises it); only its
// agreement table is safe for concurrent use.
type Card struct {
	env minidriver.Env
	// fw is the firmware version, once known (fwKnown); q the quirks from
	// it (plugin.go, firmware).
	fw       version
	fwKnown  bool
	q        quirks
	serial   []byte
	guid     cardfs.CardID
	stableID bool
	readOnly bool
	// issuerKnown: the CHUID was read, so readOnly says whether its
	// issuer signed it (readCHUID).
	issuerKnown, issuerSigned bool
	// useProtected: Plugin.ProtectedManagementKey.
	useProtected bool

	agreements minidriver.Agreements

	// algs caches the algorithm of each slot's key for the Card's
	// lifetime; a GENERAL AUTHENTICATE refused with 6A80/6A86 drops the
	// entry and the algorithm is read again.
	algs map[byte]byte
	// specs holds the key spec the last CreateContainer asked for, by
	// slot: it says what a key is for (an ECDSA key in a slot whose default
	// is ECDH, say) until the container map records it.
	specs map[byte]minidriver.KeySpec
	// pubs holds the public key of each key this Card created, for cards
	// without GET METADATA, until the slot has a certificate.
	pubs map[byte]crypto.PublicKey
	// mgmtAlg is the management key's algorithm, 0 until known;
	// mgmtGuessed: the last Challenge's algorithm was a guess the card
	// took (challengeAlgorithms), for Authenticate to keep once it is
	// proved.
	mgmtAlg     byte
	mgmtGuessed bool
	// metaSeen: the card answered a GET METADATA (data, or a slot
	// without a key) in this Card's lifetime, or the caller's cache holds
	// such an answer; until then GET METADATA is only assumed on a
	// YubiKey 5 (yubiKey5Quirks), and settleMetadata asks before a write
	// relies on it.
	metaSeen bool
	// store and mapStore: what is known of the card's room for the file
	// store (5FFF20) and the container map (5FFF10); lacking: key slots
	// the card said it does not have. All three hold for the Card's
	// lifetime (probe.go).
	store, mapStore storeState
	lacking         map[byte]bool
	// openStore is store as Open found it; vendorATR: the ATR is a
	// YubiKey's. Together they decide the cache mode.
	openStore storeState
	vendorATR bool
	// memMap holds the names and key specs of containers written to
	// cmapfile on a card that cannot store the map, by slot, for the
	// Card's lifetime.
	memNames map[byte]string
	// mapFresh is the container map kept across transactions under
	// cardcf.
	mapFresh freshMap
	// lastStore is the file store object (5FFF20, which holds cardcf) as
	// the last transaction that read or wrote it saw it on the card;
	// lastStoreOK: it was there. Resume asks for it in place of the
	// SELECT (probeStore). Only values the PIV application gave (read
	// after a SELECT or a matching probe) or took (PUT DATA) get here.
	lastStore   []byte
	lastStoreOK bool
	// cfAbsent: the last cardcf read found no file store object on a card
	// that may hold one (CardCFAbsent).
	cfAbsent bool

	// Per-transaction state, valid while tx is the caller's current
	// transaction: objects read (nil value = absent), PINs verified, the
	// pending management-key challenge.
	tx        *scrm.Tx
	objs      map[uint32][]byte
	roles     minidriver.PinSet
	challenge []byte
	// made: the algorithm and public key of each key generated in this
	// transaction, from GENERATE's answer (SP 800-73-4 part 2, 3.3.2),
	// so that ContainerInfo reads nothing back.
	made map[byte]keyInfo
	// protectedTried: the PIN-protected management key was looked for.
	protectedTried bool
	// hiddenAdmin: the management key was authenticated with the
	// PIN-protected key, which only a card reset logs out.
	hiddenAdmin bool
	// assumeFresh: the caller checks this transaction's outcome and
	// reads no cardcf first (AssumeFresh); mapAssumed: the container map
	// of this transaction is the kept one, taken on that assumption.
	assumeFresh, mapAssumed bool
}

var (
	_ minidriver.Card                 = (*Card)(nil)
	_ minidriver.FileWriter           = (*Card)(nil)
	_ minidriver.ContainerManager     = (*Card)(nil)
	_ minidriver.Decrypter            = (*Card)(nil)
	_ minidriver.KeyAgreer            = (*Card)(nil)
	_ minidriver.ChallengeResponder   = (*Card)(nil)
	_ minidriver.AuthenticatorChanger = (*Card)(nil)
)

// begin binds the per-transaction state to tx, dropping it when tx is a
// new transaction.
func (c *Card) begin(tx *scrm.Tx) {
	if c.tx != tx {
		c.noteStore()
		c.tx = tx
		clear(c.objs) // kept for the next transaction: no map made per operation
		c.roles = 0
		c.challenge = nil
		c.made = nil
		c.protectedTried = false
		c.hiddenAdmin = false
		c.assumeFresh, c.mapAssumed = false, false
	}
}

// Close wipes the ECDH agreements.
func (c *Card) Close() error {
	c.agreements.DestroyAll()
	c.tx, c.objs = nil, nil
	return nil
}

// noteStore keeps the file store object of the transaction ending (if it
// read or wrote it) as lastStore.
func (c *Card) noteStore() {
	if c.tx == nil {
		return
	}
	if v, read := c.objs[objFileStore]; read {
		c.lastStore, c.lastStoreOK = v, v != nil
	}
}

// Resume starts a new transaction's state (nothing read, nothing
// authenticated) and makes sure the PIV application is selected, in one
// APDU: the SELECT (on a YubiKey by the RID alone, reselectYubiKey), or,
// on a card whose file store object the last transaction saw, GET DATA of
// that object when it answers with it unchanged (probeStore).
func (c *Card) Resume(ctx context.Context, tx *scrm.Tx) error {
	c.noteStore()
	c.tx = nil
	c.begin(tx)
	if c.probeStore(ctx, tx) {
		return nil
	}
	if c.vendorATR && c.q.yubiKey && reselectYubiKey(ctx, tx) {
		return nil
	}
	if _, err := selectPIV(ctx, tx); err != nil {
		return fmt.Errorf("piv: select: %w", err)
	}
	return nil
}

// probeStore sends GET DATA 5FFF20 (SP 800-73-4 part 2, 3.1.2; Yubico's
// object, which holds cardmod's file store and cardcf) as the
// transaction's first command, in place of SELECT, when the last
// transaction saw that object on the card and the card was not reset
// since. It reports whether the answer proves two things at once: 9000
// with the object byte for byte as last seen.
//
//   - The PIV application is still the card's current application: a
//     selection lasts on the basic channel until another SELECT or a reset
//     (ISO/IEC 7816-4, 7.1.1 SELECT, on the current application of a
//     logical channel; Java Card RE specification, chapter 4: "Once
//     selected, an applet instance receives all subsequent APDUs
//     dispatched to that logical channel, until the applet instance
//     becomes deselected"), and no other
//     application answers GET DATA CB 3FFF 5C 03 5FFF20 with exactly the
//     object the PIV application gave (it holds cardcf's counters, which
//     start at random values: initialStore). A card with no application
//     selected answers 6D00 (as a YubiKey does), another application
//     whatever it answers; either way the SELECT follows, so that the PIN
//     never follows a command whose answer does not prove PIV selected.
//     Nothing is lost by not selecting again: re-selecting the selected
//     PIV application leaves its security status unchanged (SP 800-73-4
//     part 2, 3.1.1), and in shared mode no login is left from an earlier
//     transaction anyway. 5FFF20 is readable without a PIN: the proof
//     rests on no application on the card being written to answer with a
//     copy of it, which needs an application installed for that (a
//     YubiKey takes none; a Java Card takes one only with the issuer's
//     card-management keys).
//   - cardcf, and with it everything cardmod guards, is as the last
//     transaction saw it: the object counts as read in this transaction,
//     so that the caller's cardcf read costs no second APDU and the
//     freshness rules run as after a SELECT.
//
// Any other outcome (another status word, other bytes, no answer) is not
// kept: the SELECT follows, and the object is read again behind it. Where
// the exchange failed because the card is gone or was reset, the SELECT
// fails the same way (scrm.Tx keeps the error); a lost answer makes the
// transaction end with a card reset (scrm.Tx.ResetRequired), as for any
// command.
func (c *Card) probeStore(ctx context.Context, tx *scrm.Tx) bool {
	if !c.lastStoreOK || c.store != storeYes || tx.WasReset() {
		return false
	}
	rsp, err := tx.Do(ctx, scrm.Command{INS: 0xCB, P1: 0x3F, P2: 0xFF, Data: tagList(objFileStore), Ne: c.probeNe()})
	if err != nil {
		return false
	}
	v, err := bertlv.Single(rsp.Data, 0x53)
	if err != nil || !bytes.Equal(v, c.lastStore) {
		return false
	}
	c.remember(objFileStore, append([]byte{}, v...))
	return true
}

// probeNe is the Ne of probeStore's GET DATA. The answer that counts is
// the object as last seen, 53 L value, at most 4 bytes more than the
// value: where that fits in 256 bytes the command is a short APDU with Le
// 00 (ISO/IEC 7816-4, 5.1), 3 bytes shorter than an extended one, as
// authNe does for GENERAL AUTHENTICATE. An object that has grown past it
// since comes in 61xx parts that scrm fetches with GET RESPONSE, or is
// refused; either way its bytes are not the ones last seen, and the
// SELECT follows.
func (c *Card) probeNe() int {
	if len(c.lastStore)+4 <= scrm.MaxShortNe {
		return scrm.MaxShortNe
	}
	return c.maxNe()
}

// Capabilities: the plug-in stores certificates as DER in the PIV
// certificate objects, so callers pass raw DER (CertificateCompression);
// keys are generated on the card unless the card is read-only.
func (c *Card) Capabilities() minidriver.Capabilities {
	return minidriver.Capabilities{CertificateCompression: true, KeyGen: !c.readOnly}
}

// Properties reports the card properties; it sends nothing.
func (c *Card) Properties(ctx context.Context, tx *scrm.Tx) (minidriver.CardProperties, error) {
	p := minidriver.CardProperties{
		GUID:                   c.guid,
		Serial:                 append([]byte(nil), c.serial...),
		ReadOnly:               c.readOnly,
		CacheMode:              minidriver.CacheGlobal,
		SupportsX509Enrollment: !c.readOnly,
		PINs:                   minidriver.NewPinSet(minidriver.RoleEveryone, PINUser, PINAdmin, PINPUK, PINSignature),
		KeyImport:              c.q.importKey && !c.readOnly,
		MaxContainers:          maxContainers,
	}
	switch {
	case c.issuerSigned && c.stableID:
		// An issuer's card: its issuer signed the CHUID and holds the
		// management key, so nothing on this host writes it and it
		// changes only at its issuer ("CP_CACHE_MODE_SESSION_ONLY: for
		// read-only cards changed only elsewhere", minidriver spec,
		// CP_CARD_CACHE_MODE). What a process read of it is kept until
		// the card leaves the reader, as OpenSC's PIV driver keeps the
		// objects it read for the card handle's life (card-piv.c's
		// object cache).
		p.CacheMode = minidriver.CacheSessionOnly
	case c.readOnly || !c.stableID || (!c.vendorATR && c.openStore != storeYes):
		// cardcf cannot be written, keys can change elsewhere (spec
		// "Smart Card Minidriver Overview" on read-only cards,
		// CP_CARD_CACHE_MODE), or a card of another make than Yubico held
		// no cardcf when it was opened: it may turn out to have no room
		// for it and then never signal a change, so nothing of it is
		// cached (docs/piv-mapping.md, "Caching").
		p.CacheMode = minidriver.CacheNone
	}
	return p, nil
}

// PINInfo describes the four PINs of docs/piv-mapping.md, and ROLE_EVERYONE
// as an empty PIN (the PIN of keys that need none).
func (c *Card) PINInfo(ctx context.Context, tx *scrm.Tx, id minidriver.PinID) (minidriver.PINInfo, error) {
	switch id {
	case minidriver.RoleEveryone:
		// The PIN of keys whose PIN policy is "never" (slot 9E by
		// default): nothing to enter.
		return minidriver.PINInfo{Type: minidriver.EmptyPIN, Purpose: minidriver.AuthenticationPIN}, nil
	case PINUser:
		return minidriver.PINInfo{Type: minidriver.AlphanumericPIN, Purpose: minidriver.PrimaryCardPIN,
			ChangePermission: minidriver.NewPinSet(PINUser), UnblockPermission: minidriver.NewPinSet(PINPUK)}, nil
	case PINAdmin:
		return minidriver.PINInfo{Type: minidriver.ChallengeResponsePIN, Purpose: minidriver.AdministratorPIN,
			ChangePermission: minidriver.NewPinSet(PINAdmin), CachePolicy: minidriver.PINCachePolicy{Type: minidriver.PINCacheNone}}, nil
	case PINPUK:
		return minidriver.PINInfo{Type: minidriver.AlphanumericPIN, Purpose: minidriver.UnblockOnlyPIN,
			ChangePermission: minidriver.NewPinSet(PINPUK), CachePolicy: minidriver.PINCachePolicy{Type: minidriver.PINCacheNone}}, nil
	case PINSignature:
		return minidriver.PINInfo{Type: minidriver.AlphanumericPIN, Purpose: minidriver.DigitalSignaturePIN,
			ChangePermission: minidriver.NewPinSet(PINSignature), UnblockPermission: minidriver.NewPinSet(PINPUK),
			CachePolicy: minidriver.PINCachePolicy{Type: minidriver.PINCacheAlwaysPrompt}}, nil
	}
	return minidriver.PINInfo{}, fmt.Errorf("%w: PIN %d", minidriver.ErrInvalidParameter, id)
}

// maxNe is what a command asks for when the answer's length is unknown.
func (c *Card) maxNe() int {
	if c.q.extended {
		return scrm.MaxNe
	}
	return scrm.MaxShortNe
}

// getData reads a data object's value (GET DATA, SP 800-73-4 part 2,
// 3.1.2), once per transaction. An absent object is an error matching
// scrm.ErrNotFound.
func (c *Card) getData(ctx context.Context, tx *scrm.Tx, tag uint32) ([]byte, error) {
	c.begin(tx)
	_, read := c.objs[tag]
	if read || c.hostLookup(tx, tag) {
		v := c.objs[tag]
		if v == nil {
			return nil, absentError(tag)
		}
		return v, nil
	}
	rsp, err := tx.Do(ctx, scrm.Command{INS: 0xCB, P1: 0x3F, P2: 0xFF, Data: tagList(tag), Ne: c.maxNe()})
	if err != nil {
		if errors.Is(err, scrm.ErrNotFound) {
			c.remember(tag, nil)
			c.hostAdd(tx, tag, nil)
		}
		return nil, fmt.Errorf("piv: get data %06X: %w", tag, err)
	}
	v, err := bertlv.Single(rsp.Data, 0x53)
	if err != nil {
		return nil, fmt.Errorf("piv: object %06X: %w: %w", tag, minidriver.ErrCommDataLost, err)
	}
	v = append([]byte{}, v...)
	c.remember(tag, v)
	c.hostAdd(tx, tag, v)
	return v, nil
}

// absentError is the error of an object the card said it does not hold
// (6A82), answered again from what the transaction read: the same text
// and sentinel as a fmt.Errorf wrap, without formatting on every use (a
// warm operation on a card without cardmod's objects asks for them on
// each one).
type absentError uint32

func (e absentError) Error() string {
	return fmt.Sprintf("piv: object %06X: %v", uint32(e), scrm.ErrNotFound)
}

func (e absentError) Unwrap() error { return scrm.ErrNotFound }

func (c *Card) remember(tag uint32, v []byte) {
	if c.objs == nil {
		c.objs = make(map[uint32][]byte)
	}
	c.objs[tag] = v
}

// putData writes a data object (PUT DATA, SP 800-73-4 part 2, 3.3.1) in
// one command; an empty value deletes it. The card asks for the
// management key. Before the first write of a transaction the file store
// is made sure of (ensureStore).
func (c *Card) putData(ctx context.Context, tx *scrm.Tx, tag uint32, val []byte) error {
	c.begin(tx)
	if err := c.issuerChecked(ctx, tx, fmt.Sprintf("object %06X", tag)); err != nil {
		return err
	}
	if len(val) > c.q.maxObject {
		return fmt.Errorf("piv: object %06X of %d bytes (card takes %d): %w", tag, len(val), c.q.maxObject, minidriver.ErrNoSpace)
	}
	if tag != objFileStore {
		if err := c.ensureStore(ctx, tx); err != nil {
			return err
		}
	}
	if err := c.putObject(ctx, tx, tag, val); err != nil {
		if tag == objMSCMAP && lacksObject(err, true) {
			c.mapStore = storeNo
		}
		if tag == objFileStore && c.store == storeUnknown && lacksObject(err, true) {
			c.store = storeNo
		}
		return cardErr(fmt.Sprintf("put data %06X", tag), err)
	}
	return nil
}

// putObject sends the PUT DATA of putData and remembers the new value; the
// card's refusal is returned as scrm gives it.
func (c *Card) putObject(ctx context.Context, tx *scrm.Tx, tag uint32, val []byte) error {
	// The container map kept under the file store stays true across this
	// Card's own write of the store (a cardcf bump, or a file) when it was
	// true under the store it replaces: nothing else reached the card in
	// between, within the transaction.
	keptMap, keep := []byte(nil), false
	if tag == objFileStore {
		keptMap, keep = c.mapFresh.readUnder(c.objs)
	}
	if tag == objMSCMAP || tag == objFileStore {
		c.mapFresh.valid = false
	}
	data := bertlv.Append(tagList(tag), 0x53, val)
	if _, err := c.adminDo(ctx, tx, scrm.Command{INS: 0xDB, P1: 0x3F, P2: 0xFF, Data: data}); err != nil {
		return err
	}
	if len(val) == 0 {
		c.remember(tag, nil)
	} else {
		c.remember(tag, append([]byte{}, val...))
	}
	if keep {
		c.mapFresh.store(c.objs, keptMap)
	}
	// The caller bumped cardcf before this write: the new value is fresh
	// under the cardcf it now holds.
	c.hostAdd(tx, tag, c.objs[tag])
	return nil
}

// tagList is the tag list 5C naming a data object.
func tagList(tag uint32) []byte {
	switch {
	case tag <= 0xFF:
		return []byte{0x5C, 1, byte(tag)}
	case tag <= 0xFFFF:
		return []byte{0x5C, 2, byte(tag >> 8), byte(tag)}
	}
	return []byte{0x5C, 3, byte(tag >> 16), byte(tag >> 8), byte(tag)}
}

// cardErr maps a card's refusal to the contract's errors; transport
// errors pass through.
func cardErr(what string, err error) error {
	var sentinel error
	switch {
	case errors.Is(err, scrm.ErrSecurityStatus):
		sentinel = minidriver.ErrSecurityViolation
	case errors.Is(err, scrm.ErrNoSpace):
		sentinel = minidriver.ErrNoSpace
	case errors.Is(err, scrm.ErrUnsupported):
		sentinel = minidriver.ErrUnsupported
	case errors.Is(err, scrm.ErrWrongData), errors.Is(err, scrm.ErrWrongParameters), errors.Is(err, scrm.ErrWrongLength):
		sentinel = minidriver.ErrInvalidParameter
	case errors.Is(err, scrm.ErrConditionsNotSatisfied):
		sentinel = minidriver.ErrSecurityViolation
	case isStatus(err):
		sentinel = minidriver.ErrUnexpected
	default:
		return fmt.Errorf("piv: %s: %w", what, err)
	}
	return fmt.Errorf("piv: %s: %w: %w", what, sentinel, err)
}

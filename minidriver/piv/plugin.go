package piv

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/cardmod/cardmod/internal/bertlv"
	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/scrm"
)

// aid is the PIV application identifier, right-truncated to the RID and
// PIX version (SP 800-73-4 part 1, 2.2): A0 00 00 03 08 00 00 10 00.
var aid = []byte{0xA0, 0x00, 0x00, 0x03, 0x08, 0x00, 0x00, 0x10, 0x00}

// Plugin is the PIV plug-in. Its zero value is ready to use; it is
// immutable and safe for concurrent use.
type Plugin struct {
	// ReadOnly presents every card read-only (CP_CARD_READ_ONLY), even a
	// YubiKey that could store the container map and files.
	ReadOnly bool
	// ProtectedManagementKey lets the plug-in use a YubiKey's
	// PIN-protected management key (see Card.WriteFile) when the caller
	// has verified the PIN but not authenticated ROLE_ADMIN. It is off by
	// default: the key then leaves the card (in a GET DATA answer, which
	// the plug-in keeps from the connection's tracer) and the login it
	// makes ends only with a card reset.
	ProtectedManagementKey bool
}

var _ minidriver.Plugin = Plugin{}

// Name returns "PIV".
func (Plugin) Name() string { return "PIV" }

// knownATRs are the YubiKey NEO, 4 and 5 answers to reset (USB CCID and
// NFC), with a mask where the last byte varies. five marks the YubiKey 5
// series' ATRs (historical bytes "YubiKey", where the NEO and the 4 say
// "Yubikey"): on them Open asks GET SERIAL first (openSelected), which
// decides by the card's answer, not by the ATR, what the card can do.
// Other PIV cards are found by Probe.
var knownATRs = [...]struct {
	atr, mask string
	five      bool
}{
	// YubiKey NEO over USB (historical bytes "YubikeyNEOr3").
	{"3B FC 13 00 00 81 31 FE 15 59 75 62 69 6B 65 79 4E 45 4F 72 33 E1", "", false},
	// YubiKey 4 (historical bytes "Yubikey4").
	{"3B F8 13 00 00 81 31 FE 15 59 75 62 69 6B 65 79 34 D4", "", false},
	// YubiKey 5 series over USB: compact TLV with "YubiKey" and a last
	// byte that varies with the model.
	{"3B FD 13 00 00 81 31 FE 15 80 73 C0 21 C0 57 59 75 62 69 4B 65 79 40", "FF FF FF FF FF FF FF FF FF FF FF FF FF FF FF FF FF FF FF FF FF FF 00", true},
	// YubiKey 5 NFC over NFC.
	{"3B 8D 80 01 80 73 C0 21 C0 57 59 75 62 69 4B 65 79 F9", "", true},
}

// ATRs returns the YubiKey NEO, 4 and 5 ATR/mask pairs.
func (Plugin) ATRs() []scrm.ATRMask { return atrMasks(false) }

// yubiKey5ATRs returns the YubiKey 5 series' ATR/mask pairs.
func yubiKey5ATRs() []scrm.ATRMask { return atrMasks(true) }

func atrMasks(fiveOnly bool) []scrm.ATRMask {
	out := make([]scrm.ATRMask, 0, len(knownATRs))
	for _, a := range knownATRs {
		if fiveOnly && !a.five {
			continue
		}
		m, err := scrm.ParseATRMask(a.atr, a.mask)
		if err == nil {
			out = append(out, m)
		}
	}
	return out
}

// Probe selects the PIV application: the card is a PIV card when the
// SELECT succeeds.
func (Plugin) Probe(ctx context.Context, tx *scrm.Tx) (bool, error) {
	_, err := selectPIV(ctx, tx)
	if err == nil {
		return true, nil
	}
	var se *scrm.StatusError
	if errors.As(err, &se) {
		return false, nil
	}
	return false, err
}

// selectPIV is SELECT of the PIV application (SP 800-73-4 part 2, 3.1.1)
// by the AID right-truncated to the RID and PIX version, as OpenSC's
// card-piv.c selects it on every PIV card, with Le. Open and Probe send
// it: it has to work on any PIV card.
func selectPIV(ctx context.Context, tx *scrm.Tx) (scrm.Response, error) {
	return tx.Do(ctx, scrm.Command{INS: 0xA4, P1: 0x04, Data: aid, Ne: scrm.MaxShortNe})
}

// reselectYubiKey is Resume's SELECT on a YubiKey (known by its ATR and
// its GET VERSION): the 5-byte RID A0 00 00 03 08 alone and no Le, 10
// bytes where selectPIV sends 15, as libykpiv selects the application
// (yubico-piv-tool lib/ykpiv.c, which piv-go's aidPIV cites; piv-go's
// ykSelectApplication sends no Le either). ISO/IEC 7816-4 (7.1.1,
// SELECT by DF name) lets a right-truncated name select the application
// it begins, and a YubiKey answers with its application property template
// all the same, over T=1 (Yubico's yubikit-android tests expect 61 11 4F
// 06 00 00 10 00 01 00 79 07 4F 05 A0 00 00 03 08 for it; scrm keeps data
// that comes without Le, and follows 61xx with GET RESPONSE as for any
// command). It reports whether the answer proves the PIV application
// selected: 9000 with a template 61 whose 4F is the PIV PIX (00 00 10 00
// 01 00 or its right-truncated form, SP 800-73-4 part 2, table 3), not
// merely some application under NIST's RID. Any other answer is not
// kept: the caller sends selectPIV.
func reselectYubiKey(ctx context.Context, tx *scrm.Tx) bool {
	rsp, err := tx.Do(ctx, scrm.Command{INS: 0xA4, P1: 0x04, Data: aid[:5]})
	return err == nil && isPIVTemplate(rsp.Data)
}

// isPIVTemplate reports whether b is an application property template (61,
// SP 800-73-4 part 2, table 3) whose application identifier (4F) is the
// PIV PIX, or the PIV AID, in full or right-truncated to at least the PIX
// version (00 00 10 00). It allocates nothing.
func isPIVTemplate(b []byte) bool {
	tag, v, rest, err := bertlv.Parse(b)
	if err != nil || tag != 0x61 || len(rest) != 0 {
		return false
	}
	for len(v) > 0 {
		var val []byte
		if tag, val, v, err = bertlv.Parse(v); err != nil {
			return false
		}
		if tag != 0x4F {
			continue
		}
		if len(val) >= 5 && bytes.Equal(val[:5], aid[:5]) {
			val = val[5:] // the whole AID: RID, then PIX
		}
		return len(val) >= 4 && len(val) <= len(pivPIX) && bytes.Equal(val, pivPIX[:len(val)])
	}
	return false
}

// pivPIX is the PIX of the PIV application, version 01 00 (SP 800-73-4
// part 1, 2.2).
var pivPIX = []byte{0x00, 0x00, 0x10, 0x00, 0x01, 0x00}

// version is a YubiKey firmware version.
type version struct{ Major, Minor, Patch uint8 }

func (v version) atLeast(major, minor, patch uint8) bool {
	if v.Major != major {
		return v.Major > major
	}
	if v.Minor != minor {
		return v.Minor > minor
	}
	return v.Patch >= patch
}

// quirks are the differences between PIV cards the plug-in cares about,
// decided once per card from its model and firmware (see quirksFor).
type quirks struct {
	yubiKey     bool // Yubico extensions (GET VERSION answered)
	extended    bool // extended-length APDUs
	serial      bool // GET SERIAL (F8)
	metadata    bool // GET METADATA (F7)
	importKey   bool // IMPORT ASYMMETRIC KEY (FE)
	setMgmtKey  bool // SET MANAGEMENT KEY (FF)
	aesMgmt     bool // AES management keys
	moveKey     bool // MOVE/DELETE KEY (F6)
	resetVerify bool // VERIFY P1=FF resets the PIN status
	p384        bool // ECC P-384
	rsaMax      int  // largest RSA modulus
	defaultMgmt byte // factory management key algorithm
	maxObject   int  // largest data object value
	_           [0]int
}

// quirksFor is the quirks table, keyed by model and firmware as OpenSC's
// PIV driver keeps it. Sources: Yubico PIV documentation (GET SERIAL 5.0,
// GET METADATA 5.3, AES management keys 5.4, RSA-3072/4096 and MOVE KEY
// 5.7, AES-192 default management key 5.7); extended APDUs from YubiKey 4
// (OpenSC's card-piv.c treats YubiKey 4 and later as extended-capable);
// VERIFY P1=FF on 5.x is an assumption the simulator confirms (SP 800-73-4
// adds it; see docs/piv-mapping.md).
func quirksFor(yk bool, v version) quirks {
	if !yk {
		return quirks{rsaMax: 2048, defaultMgmt: algTDES, maxObject: 2048}
	}
	q := quirks{
		yubiKey:     true,
		extended:    v.atLeast(4, 0, 0),
		serial:      v.atLeast(5, 0, 0),
		metadata:    v.atLeast(5, 3, 0),
		importKey:   true,
		setMgmtKey:  true,
		aesMgmt:     v.atLeast(5, 4, 0),
		moveKey:     v.atLeast(5, 7, 0),
		resetVerify: v.atLeast(5, 0, 0),
		p384:        v.atLeast(4, 0, 0),
		rsaMax:      2048,
		defaultMgmt: algTDES,
		maxObject:   3052,
	}
	if !v.atLeast(4, 0, 0) {
		// YubiKey NEO: libykpiv's object limit for it is 2048 - 9.
		q.maxObject = 2039
	}
	if v.atLeast(5, 7, 0) {
		q.rsaMax = 4096
		q.defaultMgmt = algAES192
	}
	return q
}

// Open reads what the plug-in keeps for the card's lifetime and sets the
// card's limits. A YubiKey 5 (its ATR, then a four-byte GET SERIAL
// answer) costs two APDUs, SELECT and GET SERIAL: its serial number is
// its identity, and what depends on its firmware or its CHUID is read
// when an operation needs it (Card.firmware, Card.issuerChecked). Any
// other card costs SELECT, GET VERSION (answered by Yubico's
// implementations only), GET SERIAL where the version has it, and GET
// DATA of the CHUID.
func (p Plugin) Open(ctx context.Context, tx *scrm.Tx, env minidriver.Env) (minidriver.Card, error) {
	if _, err := selectPIV(ctx, tx); err != nil {
		return nil, fmt.Errorf("piv: select: %w", err)
	}
	return p.openSelected(ctx, tx, env)
}

var _ minidriver.ProbeOpener = Plugin{}

// ProbeOpen is Probe then Open without a second SELECT: a PIV card found
// by probing is selected once (minidriver.ProbeOpener).
func (p Plugin) ProbeOpen(ctx context.Context, tx *scrm.Tx, env minidriver.Env) (minidriver.Card, bool, error) {
	if _, err := selectPIV(ctx, tx); err != nil {
		if isStatus(err) {
			return nil, false, nil
		}
		return nil, false, err
	}
	c, err := p.openSelected(ctx, tx, env)
	return c, true, err
}

// openSelected is Open once the PIV application is selected.
func (p Plugin) openSelected(ctx context.Context, tx *scrm.Tx, env minidriver.Env) (minidriver.Card, error) {
	c := &Card{env: env, useProtected: p.ProtectedManagementKey, readOnly: p.ReadOnly}
	tx.Card().AddRedaction(redactSecrets)
	atr := tx.Card().ATR()
	// A YubiKey, known by its ATR, stores objects under every tag from
	// 5F0000 to 5FFFFF ("On a YubiKey, any number between 0x005F0000 and
	// 0x005FFFFF (inclusive) can be a valid DataTag", Yubico, PIV data
	// objects): cardmod's file store can be made at the first write. Of
	// any other card, answering GET VERSION or not, nothing is assumed:
	// whether it holds the store (and with it cardcf) is asked here, and
	// a card without it is presented with a cardcf of zeros and no
	// caching (CacheNone) for this Card's lifetime, since it may turn out
	// to have no room for it; the first write gives it a store if it can
	// (probe.go).
	c.vendorATR = matchesAny(p.ATRs(), atr)
	serialAsked := false
	if c.vendorATR && matchesAny(yubiKey5ATRs(), atr) {
		ok, err := c.readSerial(ctx, tx)
		if err != nil {
			return nil, err
		}
		if ok {
			c.q = yubiKey5Quirks()
			c.useLimits(tx)
			c.setIdentity(chuid{}, atr)
			c.openStore = c.store
			c.tx = nil
			return c, nil
		}
		serialAsked = true
	}
	if err := c.readFirmware(ctx, tx); err != nil {
		return nil, err
	}
	c.useLimits(tx)
	if c.q.serial && !serialAsked {
		if _, err := c.readSerial(ctx, tx); err != nil {
			return nil, err
		}
	}
	if !c.vendorATR {
		if _, _, err := c.readStore(ctx, tx); err != nil && !isStatus(err) {
			return nil, err
		}
	}
	ch, err := c.readCHUID(ctx, tx)
	if err != nil {
		return nil, err
	}
	if len(ch.GUID) == 0 && len(ch.FASCN) == 0 && len(c.serial) == 0 && c.q.yubiKey && !c.q.serial {
		// A YubiKey 4 or NEO without a CHUID: its serial number is the
		// one identity it has, and the one its caches can be keyed by.
		if err := c.readOTPSerial(ctx, tx); err != nil {
			return nil, err
		}
	}
	c.setIdentity(ch, atr)
	c.openStore = c.store
	c.tx = nil
	return c, nil
}

// readFirmware asks the card for its firmware version (Yubico's GET
// VERSION, 00 FD) and sets the quirks from it; a card that answers with a
// status word is not a YubiKey (quirksFor). Only a transport error fails.
func (c *Card) readFirmware(ctx context.Context, tx *scrm.Tx) error {
	rsp, err := tx.Do(ctx, scrm.Command{INS: 0xFD, Ne: scrm.MaxShortNe})
	switch {
	case err == nil && len(rsp.Data) == 3:
		c.fw = version{rsp.Data[0], rsp.Data[1], rsp.Data[2]}
		c.q = quirksFor(true, c.fw)
	case err == nil || isStatus(err):
		c.q = quirksFor(false, version{})
	default:
		return fmt.Errorf("piv: get version: %w", err)
	}
	c.fwKnown = true
	return nil
}

// firmware makes sure the quirks that depend on the firmware release
// within YubiKey 5 (AES management keys from 5.4, MOVE KEY, RSA-4096 and
// the AES-192 factory management key from 5.7) are known: on a card
// opened without GET VERSION (a YubiKey 5, by its GET SERIAL answer) it
// sends GET VERSION once for the Card's lifetime. What a probe found out
// meanwhile (GET METADATA answered 6D00) is kept. Only a transport error
// fails; a card that does not answer keeps the 5.0 features.
func (c *Card) firmware(ctx context.Context, tx *scrm.Tx) error {
	if c.fwKnown {
		return nil
	}
	rsp, err := tx.Do(ctx, scrm.Command{INS: 0xFD, Ne: scrm.MaxShortNe})
	switch {
	case err == nil && len(rsp.Data) == 3 && rsp.Data[0] >= 5:
		c.fw = version{rsp.Data[0], rsp.Data[1], rsp.Data[2]}
		q := quirksFor(true, c.fw)
		q.metadata = q.metadata && c.q.metadata
		c.q = q
	case err == nil || isStatus(err):
		c.q.defaultMgmt = algTDES
	default:
		return fmt.Errorf("piv: get version: %w", err)
	}
	c.fwKnown = true
	return nil
}

// yubiKey5Quirks are the quirks of a YubiKey that answered GET SERIAL,
// an instruction of firmware 5.0 and later (Yubico, "PIV commands: Get
// serial"; libykpiv reads the serial of older keys from the OTP
// application instead): those of 5.0, with GET METADATA (5.3) assumed
// and probed (a card without it answers 6D00 and is not asked again,
// slotMetadata), and no factory management key algorithm until the card
// says (the management key's metadata, or GET VERSION: firmware).
func yubiKey5Quirks() quirks {
	q := quirksFor(true, version{5, 0, 0})
	q.metadata = true
	q.defaultMgmt = 0
	return q
}

// useLimits turns on extended-length APDUs where the quirks have them.
func (c *Card) useLimits(tx *scrm.Tx) {
	if c.q.extended {
		l := tx.Card().Limits()
		l.Extended = true
		tx.Card().SetLimits(l)
	}
}

// readSerial asks for the card's serial number (Yubico's GET SERIAL, 00
// F8): ok when the card gave four bytes, which c.serial then holds. A
// status word is data (the card has no such instruction, or hides its
// serial); only a transport error fails.
func (c *Card) readSerial(ctx context.Context, tx *scrm.Tx) (bool, error) {
	rsp, err := tx.Do(ctx, scrm.Command{INS: 0xF8, Ne: scrm.MaxShortNe})
	if err != nil && !isStatus(err) {
		return false, fmt.Errorf("piv: get serial: %w", err)
	}
	if err != nil || len(rsp.Data) != 4 || allZero(rsp.Data) {
		return false, nil
	}
	c.serial = append([]byte(nil), rsp.Data...)
	return true, nil
}

// readCHUID reads the CHUID (absent: the zero chuid; unparsable: the zero
// chuid too, as if absent) and notes what it says of the card's issuer:
// an issuer-signed CHUID (a non-empty issuer asymmetric signature, tag
// 3E; SP 800-73-4 part 1, 3.1.2) marks a card personalised by an issuer,
// whose management key its holder does not have (OpenSC's PIV driver and
// Windows' PIV minidriver treat such cards as read-only): the card is
// then presented read-only, and a write is refused before any login.
// yubico-piv-tool, ykman and piv-go write CHUIDs with an empty signature
// (3E 00).
func (c *Card) readCHUID(ctx context.Context, tx *scrm.Tx) (chuid, error) {
	raw, err := c.getData(ctx, tx, objCHUID)
	var ch chuid
	switch {
	case err == nil:
		if ch, err = parseCHUID(raw); err != nil {
			ch = chuid{}
		}
	case errors.Is(err, scrm.ErrNotFound):
	default:
		return chuid{}, err
	}
	c.readOnly = c.readOnly || ch.Signed
	c.issuerSigned = ch.Signed
	c.issuerKnown = true
	return ch, nil
}

// issuerLocked fails with minidriver.ErrReadOnly on a card whose CHUID
// its issuer signed (reading it first where Open did not, as
// issuerChecked): its management key is the issuer's, so a login with it
// is refused before the holder is asked for one.
func (c *Card) issuerLocked(ctx context.Context, tx *scrm.Tx) error {
	if !c.issuerKnown && c.store != storeYes {
		if _, err := c.readCHUID(ctx, tx); err != nil {
			return err
		}
	}
	if c.issuerSigned {
		return fmt.Errorf("piv: management key: the card's CHUID is signed by its issuer: %w", minidriver.ErrReadOnly)
	}
	return nil
}

var _ minidriver.WriteChecker = (*Card)(nil)

// CheckWritable fails with minidriver.ErrReadOnly when the card cannot be
// written (minidriver.WriteChecker): a card opened read-only, or one whose
// CHUID its issuer signed, which a YubiKey opened by its serial alone
// learns here (issuerChecked: one GET DATA of the CHUID, once per Card, and
// none on a card holding cardmod's file store). Properties then report
// ReadOnly.
func (c *Card) CheckWritable(ctx context.Context, tx *scrm.Tx) error {
	c.begin(tx)
	return c.issuerChecked(ctx, tx, "write")
}

// issuerChecked fails with minidriver.ErrReadOnly when the card is
// read-only, reading the CHUID first where Open did not (a YubiKey 5):
// every write, and every management key login, asks it first, so that an
// issuer-signed card refuses them before anything authenticates. The
// CHUID is read once for the Card's lifetime, and not at all on a card
// that holds cardmod's file store: a cardmod process wrote it with the
// card's management key, so the card is not one whose holder lacks that
// key, which is what the issuer's signature stands for.
func (c *Card) issuerChecked(ctx context.Context, tx *scrm.Tx, what string) error {
	if !c.issuerKnown && c.store != storeYes {
		if _, err := c.readCHUID(ctx, tx); err != nil {
			return err
		}
	}
	if c.readOnly {
		return fmt.Errorf("piv: %s: %w", what, minidriver.ErrReadOnly)
	}
	return nil
}

// setIdentity sets the card's identifier: the CHUID's GUID where it has
// one (not all zeros), else a hash of its FASC-N and serial number, else
// (nothing identifies the card) one from the ATR, and then stableID is
// false: nothing is cached above (CacheNone).
func (c *Card) setIdentity(ch chuid, atr []byte) {
	c.stableID = true
	switch {
	case len(ch.GUID) == 16 && !allZero(ch.GUID):
		copy(c.guid[:], ch.GUID)
	case len(ch.FASCN) > 0 || len(c.serial) > 0:
		h := sha256.New()
		h.Write([]byte("cardmod piv cardid\x00"))
		h.Write(binary.BigEndian.AppendUint16(nil, uint16(len(ch.FASCN))))
		h.Write(ch.FASCN)
		h.Write(c.serial)
		copy(c.guid[:], h.Sum(nil))
	default:
		h := sha256.Sum256(append([]byte("cardmod piv atr\x00"), atr...))
		copy(c.guid[:], h[:])
		c.stableID = false
	}
}

// otpAID is Yubico's OTP application (AID A0 00 00 05 27 20 01, with its
// version byte 01 as libykpiv selects it).
var otpAID = []byte{0xA0, 0x00, 0x00, 0x05, 0x27, 0x20, 0x01, 0x01}

// readOTPSerial reads the serial number of a YubiKey that has no GET
// SERIAL (firmware below 5.0: YubiKey 4 and NEO) where libykpiv reads it:
// from Yubico's OTP application, SELECT then 00 01 10 00 ("get serial
// from neo/yk4 devices using the otp applet", yubico-piv-tool lib/ykpiv.c;
// the OTP command "Get serial number", slot 0x10, in Yubico's .NET SDK
// documentation), four bytes big endian. The PIV application is then
// selected again: after the OTP application's SELECT it is not. A card
// that has no OTP application, that answers with another length, or
// that refuses the read (the serial can be hidden by the key's
// configuration) keeps no serial: an answer that is a status word is
// data, not an error. Only a transport error or a PIV application that
// cannot be selected again fails the open. Three APDUs, on those cards
// only, once per process; they make the card cacheable.
func (c *Card) readOTPSerial(ctx context.Context, tx *scrm.Tx) error {
	if _, err := tx.Do(ctx, scrm.Command{INS: 0xA4, P1: 0x04, Data: otpAID, Ne: scrm.MaxShortNe}); err == nil {
		rsp, err := tx.Do(ctx, scrm.Command{INS: 0x01, P1: 0x10, Ne: scrm.MaxShortNe})
		switch {
		case err == nil && len(rsp.Data) == 4 && !allZero(rsp.Data):
			c.serial = append([]byte(nil), rsp.Data...)
		case err != nil && !isStatus(err):
			return fmt.Errorf("piv: serial from the OTP application: %w", err)
		}
	} else if !isStatus(err) {
		return fmt.Errorf("piv: select the OTP application: %w", err)
	}
	if _, err := selectPIV(ctx, tx); err != nil {
		return fmt.Errorf("piv: select again after the OTP application: %w", err)
	}
	return nil
}

// matchesAny reports whether atr matches one of the ATR/mask pairs.
func matchesAny(ms []scrm.ATRMask, atr []byte) bool {
	for _, m := range ms {
		if m.Match(atr) {
			return true
		}
	}
	return false
}

// isStatus reports whether err is a status word (the card answered).
func isStatus(err error) bool {
	var se *scrm.StatusError
	return errors.As(err, &se)
}

// redactSecrets keeps the objects that hold the PIN-protected management
// key (read or written) from the connection's tracer: GET DATA and PUT DATA
// of the printed information object 5FC109.
func redactSecrets(cmd scrm.Command) (command, response bool) {
	if cmd.P1 != 0x3F || cmd.P2 != 0xFF || !bytes.HasPrefix(cmd.Data, tagList(objPrinted)) {
		return false, false
	}
	switch cmd.INS {
	case 0xCB:
		return false, true
	case 0xDB:
		return true, false
	}
	return false, false
}

package piv

import (
	"fmt"
	"slices"
)

// Profile is the behaviour of a family of real PIV cards: which
// instructions the card has, which algorithms, key slots and data objects,
// what it answers to what it lacks, and how it leaves the factory (or the
// issuer). A Config's Profile selects one; its zero value means the
// YubiKey of Config.Version (YubiKey).
//
// Profiles are values: Profiles lists the documented ones, ProfileByName
// finds one by its Name (the name the state file and examples/vcard's
// -profile flag use). Each documented profile cites, in its constructor's
// doc, the sources of every behaviour it models. A Profile is safe to copy;
// its slices are not shared with the card.
type Profile struct {
	// Name identifies the profile in state files and on command lines.
	Name string
	// Description says in a line which cards the profile models.
	Description string
	// Version is what the Yubico GET VERSION (00 FD) answers. Zero means
	// the card has no GET VERSION: it answers 6D00, as a card without
	// Yubico's extensions does.
	Version Version
	// ATR is the card's answer to reset (Config.ATR overrides it).
	ATR []byte
	// Serial: the Yubico GET SERIAL (F8) is answered.
	Serial bool
	// OTPSerial: the card has Yubico's OTP application (AID A0 00 00 05
	// 27 20 01) answering its serial number to 00 01 10 00, where
	// libykpiv reads the serial of a NEO or YubiKey 4 ("get serial from
	// neo/yk4 devices using the otp applet", yubico-piv-tool lib/ykpiv.c)
	// before selecting the PIV application again.
	OTPSerial bool
	// Metadata: the Yubico GET METADATA (F7) is answered.
	Metadata bool
	// Import: the Yubico IMPORT ASYMMETRIC KEY (FE) is answered.
	Import bool
	// SetManagementKey: the Yubico SET MANAGEMENT KEY (FF) is answered.
	SetManagementKey bool
	// ResetApp: the Yubico RESET (FB) and SET PIN RETRIES (FA) are
	// answered.
	ResetApp bool
	// Attestation: the card leaves the factory with an attestation key in
	// F9 and its certificate in 5FFF01, and answers ATTEST (F9).
	Attestation bool
	// MoveKey: the Yubico MOVE/DELETE KEY (F6) is answered.
	MoveKey bool
	// AESManagementKey: the management key may be AES (08, 0A, 0C);
	// otherwise it is 3DES only.
	AESManagementKey bool
	// DefaultManagementAlgorithm is the factory management key's algorithm
	// (AlgTDES or AlgAES192).
	DefaultManagementAlgorithm byte
	// Algorithms are the asymmetric algorithms GENERATE and IMPORT accept
	// (AlgRSA1024 ... AlgX25519).
	Algorithms []byte
	// RetiredSlots is how many retired key management slots the card has,
	// from 82 on (0 to 20): 82 to 82+RetiredSlots-1. A slot beyond answers
	// 6A86 (incorrect P1-P2) to every command that names it.
	RetiredSlots int
	// VendorObjects: the card stores objects under every tag from 5F0000
	// to 5FFFFF, as a YubiKey does. Otherwise only the SP 800-73-4 objects
	// (5FC101 to 5FC123, 7E, 7F61) exist: GET DATA of another tag answers
	// 6A82 and PUT DATA 6A81.
	VendorObjects bool
	// MaxObjectSize bounds one data object (0: DefaultMaxObjectSize);
	// Config.MaxObjectSize overrides it.
	MaxObjectSize int
	// Issued: the card leaves the issuer personalised and read-only for
	// its holder: CHUID (with an issuer signature), CCC, Key History,
	// keys and certificates in 9A, 9C, 9D, 9E and in the retired slots the
	// Key History describes; the management key is the issuer's (random,
	// known to nobody here), so every write is refused (6982).
	Issued bool
	// IssuedRetired is how many retired slots (from 82) an Issued card's
	// Key History describes as holding keys with on-card certificates.
	IssuedRetired int
	// ShortTemplate: SELECT answers a YubiKey's 19-byte application
	// property template, 61 11 4F 06 00 00 10 00 01 00 79 07 4F 05 A0 00
	// 00 03 08 (the PIX and the RID only), instead of the SP 800-73-4 one
	// with the AC list of algorithms (see the Card's SELECT).
	ShortTemplate bool
}

// profileNames lists the documented profiles in order.
var profileNames = [...]string{
	"yubikey-5.7", "yubikey-5.4", "yubikey-5.0", "yubikey-4", "yubikey-neo",
	"piv-issued", "piv-applet",
}

// Profiles returns the documented profiles: ProfileYubiKey57,
// ProfileYubiKey54, ProfileYubiKey50, ProfileYubiKey4, ProfileYubiKeyNEO,
// ProfileIssued and ProfileApplet, in that order.
func Profiles() []Profile {
	out := make([]Profile, 0, len(profileNames))
	for _, n := range profileNames {
		p, _ := ProfileByName(n)
		out = append(out, p)
	}
	return out
}

// ProfileByName returns the documented profile called name.
func ProfileByName(name string) (Profile, bool) {
	switch name {
	case "yubikey-5.7":
		return ProfileYubiKey57(), true
	case "yubikey-5.4":
		return ProfileYubiKey54(), true
	case "yubikey-5.0":
		return ProfileYubiKey50(), true
	case "yubikey-4":
		return ProfileYubiKey4(), true
	case "yubikey-neo":
		return ProfileYubiKeyNEO(), true
	case "piv-issued":
		return ProfileIssued(), true
	case "piv-applet":
		return ProfileApplet(), true
	}
	return Profile{}, false
}

// YubiKey returns the profile of a YubiKey with firmware v, from the
// version history of Yubico's PIV documentation:
//
//   - GET SERIAL from 5.0 ("Get the serial number ... YubiKey 5 and
//     later", Yubico .NET SDK user's manual, PIV commands);
//   - GET METADATA from 5.3 ("The Get Metadata command is available on
//     YubiKey version 5.3 and later", GetMetadataCommand);
//   - AES management keys from 5.4, and an AES-192 factory management key
//     from 5.7 ("the management key is either a Triple-DES key (firmware
//     prior to 5.7) or an AES-192 key (firmware 5.7 and later)",
//     InitializeAuthenticateManagementKeyCommand);
//   - RSA-3072/4096, Ed25519, X25519 and MOVE/DELETE KEY from 5.7
//     (Yubico, "PIV" 5.7 release notes; OpenSC card-piv.c sets CI_RSA_4096
//     and CI_25519 for 5.7);
//   - P-384 from YubiKey 4 (OpenSC card-piv.c: the NEO has CI_NO_EC384);
//   - attestation (F9) from 4.3 (Yubico, "PIV attestation": "introduced
//     in YubiKey 4.3");
//   - the 20 retired key management slots 82-95 from YubiKey 4 (Yubico,
//     "PIV certificate slots": "only available on the YubiKey 4 and 5");
//   - the largest data object: 3,052 bytes (YubiKey 5 PIV technical
//     manual); 2,048 - 9 on the NEO (libykpiv's object limit for it);
//   - the SELECT answer, 61 11 4F 06 00 00 10 00 01 00 79 07 4F 05 A0 00
//     00 03 08 (ShortTemplate): the answer Yubico's own SDK tests expect
//     of a YubiKey to SELECT 00 A4 04 00 05 A0 00 00 03 08 (yubikit-android,
//     yubikit/src/test/java/com/yubico/yubikit/transport/usb/UsbSessionTest.java,
//     executeCommand, with the NEO's ATR), without the AC algorithm list
//     SP 800-73-4 part 2, table 3 adds.
//
// The ATR is the YubiKey 5 NFC's over USB from 5.0, the YubiKey 4's
// ("Yubikey4") on 4.x and the NEO's ("YubikeyNEOr3") before.
func YubiKey(v Version) Profile {
	p := Profile{
		Name:                       "yubikey-" + v.String(),
		Description:                "YubiKey, firmware " + v.String(),
		Version:                    v,
		ATR:                        ATRYubiKey5NFC,
		Serial:                     v.AtLeast(5, 0, 0),
		OTPSerial:                  !v.AtLeast(5, 0, 0),
		Metadata:                   v.AtLeast(5, 3, 0),
		Import:                     true,
		SetManagementKey:           true,
		ResetApp:                   true,
		Attestation:                v.AtLeast(4, 3, 0),
		MoveKey:                    v.AtLeast(5, 7, 0),
		AESManagementKey:           v.AtLeast(5, 4, 0),
		DefaultManagementAlgorithm: AlgTDES,
		Algorithms:                 []byte{AlgRSA1024, AlgRSA2048, AlgECCP256},
		RetiredSlots:               20,
		VendorObjects:              true,
		MaxObjectSize:              DefaultMaxObjectSize,
		ShortTemplate:              true,
	}
	if v.AtLeast(4, 0, 0) {
		p.Algorithms = append(p.Algorithms, AlgECCP384)
	} else {
		p.RetiredSlots = 0
		p.MaxObjectSize = 2048 - 9
	}
	if v.AtLeast(5, 7, 0) {
		p.DefaultManagementAlgorithm = AlgAES192
		p.Algorithms = append(p.Algorithms, AlgRSA3072, AlgRSA4096, AlgEd25519, AlgX25519)
	}
	switch {
	case !v.AtLeast(4, 0, 0):
		p.ATR = ATRYubiKeyNEO
	case !v.AtLeast(5, 0, 0):
		p.ATR = ATRYubiKey4
	}
	return p
}

// ProfileYubiKey57 is a YubiKey 5 with firmware 5.7.1: AES-192 factory
// management key, RSA up to 4096, Ed25519/X25519, MOVE/DELETE KEY, GET
// METADATA (see YubiKey for the sources).
func ProfileYubiKey57() Profile {
	return named(YubiKey(Version{5, 7, 1}), "yubikey-5.7", "YubiKey 5, firmware 5.7")
}

// ProfileYubiKey54 is a YubiKey 5 with firmware 5.4.3 (5.4 to 5.6 behave
// alike for PIV): GET METADATA, AES management keys, a 3DES factory key,
// RSA up to 2048, no key deletion.
func ProfileYubiKey54() Profile {
	return named(YubiKey(Version{5, 4, 3}), "yubikey-5.4", "YubiKey 5, firmware 5.4 to 5.6")
}

// ProfileYubiKey50 is a YubiKey 5 with firmware 5.2.7 (5.0 to 5.2): GET
// SERIAL but no GET METADATA (which came with 5.3), 3DES management key
// only.
func ProfileYubiKey50() Profile {
	return named(YubiKey(Version{5, 2, 7}), "yubikey-5.0", "YubiKey 5, firmware 5.0 to 5.2 (no GET METADATA)")
}

// ProfileYubiKey4 is a YubiKey 4 with firmware 4.3.5: no GET SERIAL and no
// GET METADATA, attestation, P-384, the 20 retired slots, the YubiKey 4
// ATR (OpenSC card-piv.c recognises it and sends GET VERSION).
func ProfileYubiKey4() Profile {
	return named(YubiKey(Version{4, 3, 5}), "yubikey-4", "YubiKey 4, firmware 4.3")
}

// ProfileYubiKeyNEO is a YubiKey NEO's PIV applet, version 1.0.4: no
// P-384 (OpenSC card-piv.c: CI_NO_EC384 for SC_CARD_TYPE_PIV_II_NEO), no
// attestation (4.3 and later), no retired slots (YubiKey 4 and later),
// 2,039-byte objects, the NEO ATR.
func ProfileYubiKeyNEO() Profile {
	return named(YubiKey(Version{1, 0, 4}), "yubikey-neo", "YubiKey NEO (PIV applet 1.0)")
}

// ProfileIssued is a standard PIV card (NIST SP 800-73-4) issued to its
// holder, with none of Yubico's instructions: GET VERSION, GET SERIAL and
// GET METADATA answer 6D00 (ISO/IEC 7816-4: instruction not supported),
// only the SP 800-73-4 data objects exist (no 5FFFxx), and the card holds
// what an issuer puts there (SP 800-73-4 part 1, 3.1 and 3.3): a CHUID
// with FASC-N, GUID, expiration date and issuer signature, the Card
// Capability Container, the Discovery object, the Key History object
// (keysWithOnCardCerts = 2: retired slots 82 and 83, SP 800-73-4 part 1,
// 3.3.2), and P-256 keys with certificates in 9A, 9C, 9D, 9E, 82 and 83.
// 9C's key is PIN-always (SP 800-73-4 part 1, 3.2.2: the digital
// signature key "requires PIN Always"). The management key is the
// issuer's, so GENERATE, PUT DATA and every other write answer 6982 to
// the holder. 3DES management key, RSA-1024/2048 and P-256/P-384, 20
// retired slots (SP 800-78-4), objects of up to 2,048 bytes here.
func ProfileIssued() Profile {
	return Profile{
		Name:                       "piv-issued",
		Description:                "standard PIV card (SP 800-73-4), issued read-only for its holder",
		ATR:                        ATRStandardPIV,
		DefaultManagementAlgorithm: AlgTDES,
		Algorithms:                 []byte{AlgRSA1024, AlgRSA2048, AlgECCP256, AlgECCP384},
		RetiredSlots:               20,
		MaxObjectSize:              2048,
		Issued:                     true,
		IssuedRetired:              2,
	}
}

// ProfileApplet is a PIV applet of another vendor on a Java Card that
// implements Yubico's GET VERSION (answering 5.3.0) and GET METADATA and
// Yubico's IMPORT, but stores only the SP 800-73-4 objects (none of
// 5FFF10-5FFF20: PUT DATA of them answers 6A81) and has 11 retired slots,
// 82 to 8C (8D to 95 answer 6A86), as the independent applet of issue 15
// does. No GET SERIAL, no attestation, no MOVE KEY, 3DES management key
// (the factory default key), RSA-1024/2048 and P-256/P-384, 2,048-byte
// objects.
func ProfileApplet() Profile {
	return Profile{
		Name:                       "piv-applet",
		Description:                "PIV applet with Yubico's GET VERSION/GET METADATA, no 5FFFxx objects, retired slots 82-8C",
		Version:                    Version{5, 3, 0},
		ATR:                        ATRJavaCardApplet,
		Metadata:                   true,
		Import:                     true,
		SetManagementKey:           true,
		DefaultManagementAlgorithm: AlgTDES,
		Algorithms:                 []byte{AlgRSA1024, AlgRSA2048, AlgECCP256, AlgECCP384},
		RetiredSlots:               11,
		MaxObjectSize:              2048,
	}
}

func named(p Profile, name, desc string) Profile {
	p.Name, p.Description = name, desc
	return p
}

// withTCK appends the check byte (XOR of T0 to the last historical byte,
// ISO/IEC 7816-3 8.2.5) to an ATR that announces T=1.
func withTCK(atr ...byte) []byte {
	var x byte
	for _, b := range atr[1:] {
		x ^= b
	}
	return append(atr, x)
}

// ATRYubiKey4 is a YubiKey 4's answer to reset over USB: historical bytes
// "Yubikey4" (the ATR OpenSC and cardmod's PIV plug-in list for it).
var ATRYubiKey4 = []byte{0x3B, 0xF8, 0x13, 0x00, 0x00, 0x81, 0x31, 0xFE, 0x15, 0x59, 0x75, 0x62, 0x69, 0x6B, 0x65, 0x79, 0x34, 0xD4}

// ATRYubiKeyNEO is a YubiKey NEO's answer to reset over USB: historical
// bytes "YubikeyNEOr3".
var ATRYubiKeyNEO = withTCK(0x3B, 0xFC, 0x13, 0x00, 0x00, 0x81, 0x31, 0xFE, 0x15,
	'Y', 'u', 'b', 'i', 'k', 'e', 'y', 'N', 'E', 'O', 'r', '3')

// ATRStandardPIV is the answer to reset of the simulated standard PIV
// card: T=1, historical bytes "cardsim PIV" with nothing a plug-in could
// take for a known model, so that the card is found by probing (SELECT).
var ATRStandardPIV = withTCK(0x3B, 0x8B, 0x80, 0x01, 'c', 'a', 'r', 'd', 's', 'i', 'm', ' ', 'P', 'I', 'V')

// ATRJavaCardApplet is the answer to reset of the simulated Java Card
// holding ProfileApplet: T=1, historical bytes "cardsim JC".
var ATRJavaCardApplet = withTCK(0x3B, 0x8A, 0x80, 0x01, 'c', 'a', 'r', 'd', 's', 'i', 'm', ' ', 'J', 'C')

// resolveProfile returns the profile a Config selects.
func resolveProfile(cfg Config) (Profile, error) {
	p := cfg.Profile
	if p.Name == "" {
		v := cfg.Version
		if v == (Version{}) {
			v = DefaultVersion
		}
		p = YubiKey(v)
		if v == DefaultVersion {
			p.Name, p.Description = "yubikey-5.7", "YubiKey 5, firmware 5.7"
		}
	} else if cfg.Version != (Version{}) && cfg.Version != p.Version {
		return Profile{}, fmt.Errorf("piv: Config.Version %v contradicts profile %s (%v)", cfg.Version, p.Name, p.Version)
	}
	if p.RetiredSlots < 0 || p.RetiredSlots > 20 || p.IssuedRetired < 0 || p.IssuedRetired > p.RetiredSlots {
		return Profile{}, fmt.Errorf("piv: profile %s: retired slots out of range", p.Name)
	}
	if p.DefaultManagementAlgorithm == 0 {
		p.DefaultManagementAlgorithm = AlgTDES
	}
	if p.MaxObjectSize == 0 {
		p.MaxObjectSize = DefaultMaxObjectSize
	}
	p.Algorithms = slices.Clone(p.Algorithms)
	p.ATR = slices.Clone(p.ATR)
	return p, nil
}

// hasSlot reports whether the card has key slot ref: 9A, 9C, 9D, 9E, F9
// when it has an attestation key, and its retired slots.
func (p *Profile) hasSlot(ref byte) bool {
	switch {
	case ref == 0x9A, ref == 0x9C, ref == 0x9D, ref == 0x9E:
		return true
	case ref == SlotAttestation:
		return p.Attestation
	case ref >= 0x82 && ref <= 0x95:
		return int(ref-0x82) < p.RetiredSlots
	}
	return false
}

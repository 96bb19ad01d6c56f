// Package piv is a simulated PIV card (NIST SP 800-73-4 parts 1 and 2) with
// the public YubiKey PIV extensions, behaving as a YubiKey 5 does so that
// OpenSC, yubico-piv-tool, ykman and piv-go accept it. A *Card implements
// cardsim.Card: put it in a virtual reader (package scrm/virtual) or behind
// the vpcd bridge.
//
//	card, err := piv.New(piv.Config{}) // a fresh YubiKey 5, firmware 5.7.1
//	card, err := piv.New(piv.Config{Profile: piv.ProfileApplet()})
//
// # Profiles
//
// A Profile is a real card family the card behaves as; Profiles lists the
// documented ones, each citing its sources in its constructor's doc:
// YubiKey 5.7, 5.4 to 5.6, 5.0 to 5.2 (no GET METADATA), YubiKey 4 and the
// NEO (ProfileYubiKey57 ... ProfileYubiKeyNEO, or YubiKey for any
// firmware); a standard SP 800-73-4 card issued read-only for its holder
// (ProfileIssued: no Yubico instruction, 6D00; no 5FFFxx objects; CHUID,
// CCC, Discovery and Key History; certificates in 9A, 9C, 9D, 9E, 82 and
// 83; every write refused); and a PIV applet of another vendor with
// Yubico's GET VERSION and GET METADATA but no 5FFF10-5FFF20 and retired
// slots 82-8C only (ProfileApplet; 6A86 for 8D-95, 6A81 to PUT DATA of
// 5FFFxx). The rest of this comment describes the YubiKey 5.7; the
// profiles say where a card differs. The state file keeps the profile's
// name.
//
// # Transport
//
// Short and extended APDUs of cases 1 to 4 are accepted; any other length
// answers 6700. CLA 00 and 10 (command chaining, ISO/IEC 7816-4 5.1.1) are
// accepted, any other class answers 6E00, an unknown instruction 6D00. An
// answer longer than Ne (Le, or 256 for a short APDU without Le, as a
// YubiKey answers over T=1) comes in parts: the first Ne bytes with 61xx,
// the rest through GET RESPONSE (00 C0 00 00 Le). A short Le such as 08
// gets the first 8 bytes and 61xx. Until the PIV application is selected,
// and after a SELECT of an AID the card lacks, every other instruction
// answers 6D00, as a YubiKey does with no application selected (OpenSC
// pull request 1243); OpenSC's first GET DATA of the Discovery object then
// fails and it selects the application.
//
// # Application
//
// SELECT takes the PIV AID A0 00 00 03 08 00 00 10 00 01 00 or any
// right-truncated form of at least the 5-byte RID, with or without Le, and
// answers the application property template. The YubiKey profiles answer
// a YubiKey's 19 bytes, 61 { 4F PIX, 79 { 4F RID } } (Profile.ShortTemplate,
// from Yubico's SDK tests); the standard card and the applet answer
// SP 800-73-4's, 61 { 4F PIX, 79 { 4F RID }, AC { 80 alg ..., 06 00 } },
// without any secure-messaging cipher suite. Selecting the selected
// application again keeps the security status.
//
// Data objects (GET DATA / PUT DATA 3F FF with tag list 5C) are every tag
// from 5F0000 to 5FFFFF, the Discovery object 7E (fixed: AID and PIN usage
// policy 40 00) and the BIT group template 7F61, as on a YubiKey. A fresh
// card holds no CHUID, no CCC and no certificates (as a YubiKey leaves the
// factory), only the attestation certificate 5FFF01. Writing needs the
// management key; an empty object deletes; an object over 3052 bytes, or
// past the 51,200 bytes of storage, answers 6A84. Fingerprints, facial
// image, printed information and iris need the PIN, which the card asks
// for (6982) before telling whether the object exists.
//
// # PIN, PUK, management key
//
// VERIFY (80 PIN; 81 without data for the PUK status; P1 FF to forget the
// PIN; no data for the status), CHANGE REFERENCE DATA (80, 81) and RESET
// RETRY COUNTER behave as SP 800-73-4 describes: 63Cx with the tries left,
// 6983 once blocked. Values are 8 bytes padded with FF; a new value must be
// 6 to 8 bytes. Comparisons are constant time and the retry counter is
// decremented before the comparison, then restored on success.
//
// GENERAL AUTHENTICATE with key 9B runs single (81 challenge, 82 response)
// or mutual (80 witness, then 80 + 81, answered with 82) authentication
// with 3DES (03) or AES (08, 0A, 0C). The factory key
// 010203040506070801020304050607080102030405060708 is 3DES before firmware
// 5.7 and AES-192 from 5.7; clients learn which from GET METADATA 9B (piv-go
// reads the algorithm at a fixed offset, so tag 01 comes first).
//
// # Keys
//
// Slots 9A, 9C, 9D, 9E, the retired 82 to 95 and F9 hold RSA-1024/2048/
// 3072/4096 (06, 07, 05, 16), ECC P-256/P-384 (11, 14), Ed25519 (E0) and
// X25519 (E1). GENERATE ASYMMETRIC KEY PAIR answers 7F49 with 81/82 or 86;
// the Yubico IMPORT takes RSA CRT parts (01-05, e = 65537), an EC scalar
// (06), an Ed25519 seed (07) or an X25519 scalar (08). GENERAL AUTHENTICATE
// computes raw RSA on a modulus-sized block, ECDSA over the hash given
// (DER signature), ECDH and X25519 (85, shared secret) and Ed25519 over the
// message. Default PIN policies: 9C always (a VERIFY just before each use),
// 9E and F9 never, the others once per session; touch never. The PIN and
// touch policies AA/AB of GENERATE and IMPORT override them; a touch is
// asked of Config.Touch (cached touches last 15 s) and a refused one answers
// 6982.
//
// # Yubico extensions
//
// GET VERSION (FD), GET SERIAL (F8, firmware 5), GET METADATA (F7, 5.3),
// SET MANAGEMENT KEY (FF; P2 FE requires touch), RESET (FB, once PIN and PUK
// are blocked; keeps the attestation key and certificate), SET PIN RETRIES
// (FA, management key and PIN; resets PIN and PUK to their defaults),
// ATTEST (F9) and MOVE/DELETE KEY (F6, 5.7). An attestation is an X.509
// certificate for the slot's key, signed with SHA-256 by the F9 key: random
// 16-byte serial, issuer and validity from the F9 certificate, subject
// "YubiKey PIV Attestation 9a", extensions 1.3.6.1.4.1.41482.3.3
// (firmware), .3.7 (serial), .3.8 (PIN and touch policy) and .3.9 (form
// factor). Imported keys and empty slots are not attested (6A80). The F9
// certificate is issued by a simulated root CA made when the card is
// created (Card.AttestationRoot), standing in for Yubico's PIV root CA.
//
// # State
//
// Save, Load, SaveFile and LoadFile keep the whole persistent state (keys as
// PKCS#8, objects, secrets and counters, identity) in a versioned JSON
// document (StateVersion). SaveFile writes atomically; a document that
// cannot be loaded gives a *LoadError and changes nothing.
//
// A Card is safe for concurrent use (one mutex) and never panics, whatever
// it is sent.
package piv

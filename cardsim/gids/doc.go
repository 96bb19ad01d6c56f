// Package gids is a simulated GIDS card: the Generic Identity Device
// Specification v2.0 application that the Windows inbox GIDS minidriver
// and OpenSC's GIDS driver speak. A *Card implements cardsim.Card: put it
// in a virtual reader (package scrm/virtual) or behind the vpcd bridge.
//
//	card, err := gids.New(gids.Config{})                  // blank, as from the factory
//	card, err := gids.New(gids.Config{Initialized: true}) // as gids-tool --initialize leaves it
//
// Config.Profile selects a card family (Profiles): RSA and ECC
// (ProfileRSAEC, the default), RSA-1024/2048 only (ProfileRSA), or RSA
// only without saying so (ProfileRSAQuiet); a listed profile names its
// algorithms in EF.ATR (tag AC), an algorithm a card lacks answers 6A81.
//
// Where the GIDS text is ambiguous the card does what OpenSC's GIDS driver
// and GidsApplet (the Java Card GIDS implementation OpenSC is tested with)
// do; the comments say where. TestInteropOpenSC checks it through pcscd and
// vpcd against OpenSC 0.23: opensc-tool -n names it a GIDS card (found by
// the AID probe, as no driver knows DefaultATR), gids-tool initializes it,
// unblocks the PIN and changes the admin key, pkcs11-tool generates RSA
// keys, signs, decrypts, stores a certificate, changes the PIN and deletes
// a key.
//
// # Transport
//
// Short and extended APDUs of cases 1 to 4 are accepted (scrm.ParseCommand
// decodes them); any other length answers 6700. CLA 00 and 10 (command
// chaining) are accepted; secure messaging answers 6882, any other class
// 6E00, an unknown instruction 6D00. An answer longer than Ne comes in
// parts: the first Ne bytes with 61xx, the rest through GET RESPONSE
// (00 C0 00 00 Le). A command without Le gets no response data (ISO cases
// 1 and 3): OpenSC sends GENERATE ASYMMETRIC KEY PAIR so and reads the
// public key afterwards. Until the application is selected, and after a
// SELECT of an AID the card lacks, every other instruction answers 6D00.
//
// # Application and file system
//
// SELECT (P1 04) takes the GIDS AID A0 00 00 03 97 42 54 46 59 (9 bytes,
// what OpenSC sends), with a version byte 01 or 02, or the full 11-byte
// AID, and answers the FCI 61 { 4F A0 00 00 03 97 42 54 46 59 02 01, 73 {
// 40 01 C0 } } (P2 00), the FCP (P2 04) or nothing (P2 0C). Selecting the
// application starts a fresh session. SELECT P1 00 selects a file by
// identifier (3FFF is the application) for ACTIVATE FILE and DELETE FILE.
//
// The application holds EFs: DO files (descriptor 39), whose data objects
// are read with GET DATA (00 CB FID 5C tag; the answer is the whole object)
// and written with PUT DATA (00 DB FID objects; an empty object is stored
// empty, an empty object over an empty one deletes it), and key files
// (descriptor 18, identifiers B0xx for key reference xx). CREATE FILE
// (62 { 82, 83, 8C compact security attribute, A5 CRTs }) makes a file in
// the creation state, where it accepts only ACTIVATE FILE; DELETE FILE
// removes one. The minidriver's file system lives in these files: the
// master file DF1F and key map DF20 in A000, cardapps DF21, cardcf DF22
// and cmapfile DF23 in A010, cardid DF20 in A012 (the File and DO
// constants). The card stores them as opaque data objects; only the host
// interprets the master file.
// GET DATA 2F01 5C 00 answers EF.ATR (card service data and card
// capabilities: command chaining and extended lengths).
//
// Access conditions are the compact security attributes of ISO/IEC 7816-4:
// an access mode byte and a condition byte per operation, 00 always, FF
// never, 10 the user PIN, 20 the admin key, 30 either (90/A0/B0: all of
// them). The application itself lets the PIN or the admin key create and
// delete files.
//
// # Life cycle
//
// A blank card (the zero Config) is in the creation state: no files and no
// PIN, and no access condition is checked, so an initialization tool can
// build the file system. Its admin key (Config.AdminKey, DefaultAdminKey
// by default) is a transport key: GENERAL AUTHENTICATE with key reference
// 80 accepts it until the admin key file B080 is created. gids-tool --initialize
// sets the PIN (CHANGE REFERENCE DATA 01 80), creates the DO files A000
// and A010 to A014 and the admin key file B080, stores the admin key (PUT
// DATA 3FFF 70 { 84 80, A5 { 87 key } }), the master file, cardapps,
// cardcf, an empty cmapfile and cardid, then SELECTs 3FFF and runs
// ACTIVATE FILE: the application is operational from then on.
// Config.Initialized makes a card that has been through exactly these
// steps, with Config.PIN (DefaultPIN), Config.AdminKey (DefaultAdminKey)
// and Config.CardID. TERMINATE DF ends the card's life: every command but
// SELECT then answers 6985.
//
// # PIN and admin key
//
// VERIFY 00 20 00 80 checks the user PIN (4 to 16 bytes, unpadded); no
// data asks for the status; VERIFY 00 20 00 82 deauthenticates everything
// (OpenSC's logout). Wrong PINs answer 63Cx, a blocked PIN 6983; the try
// is spent before the constant-time comparison and given back on success.
// CHANGE REFERENCE DATA 00 24 00 80 takes the current and the new PIN
// back to back; 00 24 01 80 the new PIN alone (free in the creation state,
// after VERIFY otherwise). GET DATA 3FFF 5C 7F71 answers 7F71 { 97 tries
// left, 93 try limit }. RESET RETRY COUNTER 00 2C 02 80 new PIN needs the
// admin key and deauthenticates afterwards.
//
// The admin key (3DES, 24 bytes; AES with 16 or 32 bytes) is authenticated
// by GENERAL AUTHENTICATE after MSE SET 00 22 C1 A4 83 01 80: mutual
// authentication (7C { 81 R1 } answered by 7C { 81 R2 }, then 7C { 82
// E(R2 || R1 || Z1) } answered by 7C { 82 E(R1 || R2 || Z2) }, CBC with a
// zero IV, Z ending in 80) or external authentication (7C { 81 } answered
// by a one-block challenge, then 7C { 82 E(challenge) }).
//
// # Keys
//
// GENERATE ASYMMETRIC KEY PAIR (00 47 00 00 AC { 80 alg, 83 ref }) makes
// an RSA-1024/2048/3072/4096 (06 to 09) or ECC P-256/P-384/P-521 (0C to
// 0E) key in a key file and answers 7F49 { 81 n, 82 e } or 7F49 { 86
// point }; GET DATA 3FFF 70 { 84 ref, A5 { 7F49 } } reads it again. PUT
// DATA 3FFF 70 { 84 ref, A5 { 87 value } } imports an RSA key (PKCS#1
// RSAPrivateKey), an EC key (SEC 1) or a symmetric key. MSE SET 41 B6/B8/A4
// { 80 algorithm reference, 84 ref } chooses the key and mechanism; PSO
// COMPUTE DIGITAL SIGNATURE (2A 9E 9A) signs (RSA with PKCS#1 v1.5 padding
// by the card or off card; ECDSA answering r || s), PSO DECIPHER (2A 80
// 86; the cryptogram with or without the padding indicator 00 before it:
// OpenSC 0.23 sends none) decrypts (raw, PKCS#1 v1.5 or OAEP
// SHA-1), GENERAL AUTHENTICATE 7C { 85 point } agrees an ECDH secret
// (answer 7C { 82 secret }). The key file's condition for MSE (the user PIN
// on files OpenSC and the minidriver create) is checked again by each
// operation.
//
// # State
//
// Save, Load, SaveFile and LoadFile keep the whole persistent state (life
// cycle, PIN, files with their control parameters, data objects and keys)
// in a versioned JSON document (StateVersion). SaveFile writes atomically
// with mode 0600; a document that cannot be loaded gives a *LoadError and
// changes nothing.
//
// A Card is safe for concurrent use: one mutex serialises every command,
// Reset and Save. It never panics, whatever it is sent.
package gids

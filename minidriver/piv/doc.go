// Package piv is the minidriver plug-in for PIV cards (NIST SP 800-73-4),
// with the YubiKey 4 and 5 extensions. It presents a PIV card as the
// uniform card file system and key containers of package minidriver:
//
//   - cardid comes from a hash of a YubiKey 5's serial number, else from
//     the CHUID's GUID (or a hash of the FASC-N and serial number when the
//     GUID is empty; the serial of a YubiKey 4 or NEO comes from its OTP
//     application); cardapps is "mscp".
//   - Each key slot (9A, 9C, 9D, 9E, 82-95) is one key container. On a
//     YubiKey the container map is kept in Yubico's object 5FFF10, in the
//     107-byte record format of libykpiv and Yubico's Windows minidriver,
//     so a card enrolled there shows its containers here and the other way
//     round; a card without that object gets one container per slot
//     holding a key, in a fixed order, with stable names.
//   - Certificates kscNN/kxcNN are the slots' certificate objects (gzip
//     compressed ones included); msroots is split over 5FFF11-5FFF15 as
//     libykpiv does; cardcf and every other file live in a file store
//     object, 5FFF20 (docs/piv-mapping.md has the format).
//   - ROLE_USER is the PIV PIN, ROLE_ADMIN the management key (3DES or AES
//     challenge and response, see ManagementKeyResponse), PINPUK the PUK
//     (unblock only) and PINSignature the PIV PIN again with the
//     always-prompt cache policy, for slot 9C.
//   - RSA keys sign and decrypt raw: padding is added (minidriver.PadSignature)
//     and removed (minidriver.UnpadPKCS1v15, UnpadOAEP) on the host. ECDSA
//     signatures are ASN.1 DER. ECDH runs on the card; the shared secret is
//     kept in the Card's agreement table for the KDFs.
//
// Writes go to the card with PUT DATA, which a YubiKey allows only once the
// management key is authenticated: file writes, like key generation and
// import, need ROLE_ADMIN, unless Plugin.ProtectedManagementKey lets the
// plug-in use a PIN-protected management key after the PIN (Deauthenticate
// then asks for a card reset). A card whose CHUID its issuer signed is
// presented read-only (CP_CARD_READ_ONLY) with cache mode session only
// (its issuer alone changes it), any card read-only with cache mode none
// when Plugin.ReadOnly is set, and a card of another make than Yubico
// without room for cardmod's file store with cache mode none
// (docs/piv-mapping.md, "Caching").
//
// APDUs: Open sends two on a YubiKey 5 (SELECT, GET SERIAL: the firmware
// version, the management key's algorithm and the CHUID's issuer signature
// are asked when an operation needs them), four on other cards (SELECT,
// GET VERSION, GET SERIAL where the version has it, GET DATA of the CHUID;
// on a YubiKey 4 or NEO, which has no GET SERIAL, without a CHUID, three
// more that read the serial from Yubico's OTP application as libykpiv
// does), Resume one (SELECT, on a YubiKey by the 5-byte RID alone
// without Le as libykpiv does, or GET DATA of the file store object holding
// cardcf when it answers as the last transaction saw it, which proves the
// PIV application still selected and is the transaction's cardcf read:
// Card.Resume). Within one transaction no object is read
// twice; the algorithm of each slot's key and the management key's are
// kept for the Card's lifetime and re-read when the card refuses them; the
// container map is kept across transactions while cardcf, read by the
// caller at the start of each, has not changed. A signature is then one
// GENERAL AUTHENTICATE.
// Extended-length APDUs are used on YubiKey 4 and later, where a command
// or its answer needs them (a GENERAL AUTHENTICATE with an EC or RSA-1024
// key stays short).
//
// Concurrency: a Plugin is immutable and safe for concurrent use. A Card is
// used by one goroutine at a time, inside the caller's transaction: the
// caller's per-card lock serialises it, and it never begins, ends or keeps
// a transaction itself. Its ECDH agreement table is safe for concurrent
// use.
package piv

// Package gids is the minidriver plug-in for GIDS cards (Microsoft's
// Generic Identity Device Specification v2.0, the card edge of the Windows
// inbox GIDS minidriver, of GidsApplet and of Windows virtual smart cards).
// Unlike PIV, a GIDS card stores the minidriver file system itself, and the
// plug-in reads and writes it where the Windows minidriver and OpenSC's
// GIDS driver do (docs/gids-mapping.md has the details):
//
//   - Files are data objects in six DO files whose identifiers give their
//     access rule (A000, A010 to A014). The master file (DO DF1F in A000)
//     maps each directory/file name to its DO file and tag: ReadFile is one
//     GET DATA, WriteFile one PUT DATA; CreateFile and DeleteFile change the
//     master file too. The access condition of a file is the one of its DO
//     file.
//   - Container i is the key in key file B0xx, xx = 81 + i; the key map (DO
//     DF20 in A000) records each container's algorithm, key type and key
//     file. Public keys are read with GET DATA 3FFF 70 { 84 ref, A5 { 7F49
//     } }.
//   - ROLE_USER is the user PIN (key reference 80); ROLE_ADMIN the admin key
//     (key file B080), authenticated by the GIDS mutual authentication:
//     Challenge returns R2 || R1, AdminKeyResponse computes the response.
//   - RSA keys sign and decrypt raw: padding is added (minidriver.PadSignature)
//     and removed (minidriver.UnpadPKCS1v15, UnpadOAEP) on the host. ECDSA
//     signatures are ASN.1 DER. ECDH runs on the card (GENERAL
//     AUTHENTICATE); the shared secret stays in the Card's agreement table.
//   - Card.Initialize turns a blank card into a minidriver card (user PIN,
//     admin key, DO files, cardid, cardcf, cardapps, mscp/cmapfile).
//
// APDUs: Open sends two (SELECT with the FCI, GET DATA of EF.ATR, whose
// card capabilities set extended lengths and chaining), Resume one
// (SELECT, or GET DATA of cardcf when it answers as the last transaction
// saw it, which proves the application still selected and is the
// transaction's cardcf read: Card.Resume). The master file and the key
// map are read at most once per
// transaction and kept across transactions while cardcf, which the caller
// reads first in each, is unchanged (every writer bumps it first). A
// signature is then MSE SET and PSO COMPUTE DIGITAL SIGNATURE.
//
// Open adds a redaction rule to the connection so that imported keys, the
// admin key and the content of user- or admin-only files never reach a
// tracer.
//
// Concurrency: a Plugin is immutable and safe for concurrent use. A Card is
// used by one goroutine at a time, inside the caller's transaction: the
// caller's per-card lock serialises it, and it never begins, ends or keeps
// a transaction itself. Its ECDH agreement table is safe for concurrent
// use.
package gids

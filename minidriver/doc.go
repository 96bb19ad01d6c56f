// Package minidriver is the card plug-in contract of cardmod: the semantics
// of the Windows smart card minidriver specification v7, in Go types. A
// plug-in (package minidriver/piv for PIV cards, ...) presents its card as
// one uniform card file system (cardid, cardcf, cardapps, mscp/cmapfile,
// certificate files; see package cardfs) with key containers, PINs and
// properties, so that the providers above (packages basecsp and ksp) need no
// card-specific code.
//
// The contract is the Card interface (the mandatory entry points) and small
// optional interfaces (FileWriter, ContainerManager, Decrypter, KeyAgreer,
// ChallengeResponder, AuthenticatorChanger, PropertySetter); the functions
// of the same names in this package find them by type assertion and answer
// ErrUnsupported for a card that lacks them. Errors map to the SCARD_*
// codes of the specification (SCardCode) and are tested with errors.Is:
// ErrUnsupported, ErrWrongPIN (a *PINError with the attempts left),
// ErrPINBlocked, ErrNoKeyContainer, ErrFileNotFound, ErrSecurityViolation,
// and so on. There is one sentinel per meaning: those a card reports with a
// status word are package scrm's values under the contract's names
// (ErrWrongPIN is scrm.ErrWrongPIN, ErrUnsupported is scrm.ErrUnsupported),
// the file system's are package cardfs's, so errors.Is matches either name;
// docs/errors.md has the table from status word to scrm error to minidriver
// error to SCARD_* code.
//
// A Registry lists plug-ins explicitly and finds the one for a card by
// ATR/mask and, where no ATR matches, by probing (a SELECT of the plug-in's
// application), reporting which plug-in took the card and why.
//
// Transactions and login state belong to the caller, as in the
// specification: every Card method but Close receives the caller's
// *scrm.Tx, a plug-in never begins, ends or keeps a transaction, and an
// authentication lasts until Deauthenticate or the end of the caller's
// transaction. At the start of each transaction the caller calls Resume so
// that the plug-in re-establishes its application cheaply.
//
// Byte strings are big-endian throughout (digests, signatures, RSA blocks):
// the CAPI little-endian convention of the C interface is not carried over.
// Public keys are crypto.PublicKey values (*rsa.PublicKey,
// *ecdsa.PublicKey, *ecdh.PublicKey).
//
// Package minidriver/minidrivertest is the conformance suite every plug-in
// runs against its simulated card.
//
// Concurrency: a Registry is safe for concurrent use. A Card is used by one
// goroutine at a time (the caller's lock and transaction serialise it);
// Agreements is safe for concurrent use.
package minidriver

// Package ksp is cardmod's Smart Card Key Storage Provider: CNG's view of
// smart cards (as Microsoft's Smart Card KSP; docs/design.md), over the
// same engine and shared provider logic as the Base CSP (package basecsp),
// so that a key made through one is a key of the other.
//
// A Provider opens the cards of one scrm backend and gives:
//
//   - keys by the four Windows name forms (keystore.ParseName): `\\.\Reader\Key`,
//     `\\.\Reader\`, `Key` and "" (the default key of any card); opening
//     (OpenKey), listing (Keys: name, algorithm, key spec, reader, card),
//     deleting (DeleteKey);
//   - keys found by what their user knows (FindKey with a KeyQuery): the
//     certificate's subject or fingerprint, the public key, the key name,
//     or the plug-in's own address such as a PIV slot
//     (minidriver/piv.SlotAuthentication is slot 9A) or a GIDS key
//     reference (minidriver/gids.KeyRef); a key found nowhere is an error
//     matching minidriver.ErrNoKeyContainer; every key of every card with
//     its card (reader, identity, plug-in), container, address, algorithm
//     and size, public key, certificate and PIN (Provider.ListKeys);
//   - creation in two steps as NCryptCreatePersistedKey and
//     NCryptFinalizeKey: CreatePersistedKey returns a Key whose "Length",
//     "Key Usage" and "SmartCardPinId" may be set, then Finalize generates
//     it on the card or FinalizeImport imports a Go private key. The card
//     is asked which algorithms and sizes it has (an error matching
//     ErrUnsupportedAlgorithm otherwise); a name already taken is refused
//     with keystore.ErrExists;
//   - keys that are crypto.Signer (RSA PKCS #1 v1.5 with or without a
//     DigestInfo, PSS; ECDSA in ASN.1) and crypto.Decrypter (PKCS #1 v1.5
//     with implicit rejection, OAEP with a label, raw with
//     RawDecryptOptions); ECDH keys give the raw shared secret (Key.ECDH)
//     or a Secret (Key.SecretAgreement) kept by the card's plug-in, from
//     which Secret.Derive derives key material with the KDFs of package
//     minidriver/kdf (HASH, HMAC, TLS_PRF, SP800_56A_CONCAT,
//     SP800_108_CTR_HMAC; Secret.DeriveNamed takes a KDF name and
//     BCryptBuffer list, checked with the rules of spec CARD_DERIVE_KEY
//     by kdf.Parse) and which Secret.Close wipes; deriving and wiping
//     happen in the plug-in's memory and send no APDU;
//   - a key's card, certificate and PIN as typed methods (Key.Reader,
//     Key.CardID, Key.Certificate, Key.SetCertificate, Key.PIN,
//     Key.PINInfo, Key.VerifyPIN), which the CNG properties below map
//     onto; Provider.SetCertificate finds the key a certificate is for
//     and stores it in one transaction;
//   - public keys as Go values (Key.Public, which never touches the card)
//     and as BCRYPT_RSAKEY_BLOB / BCRYPT_ECCKEY_BLOB public blobs
//     (Key.PublicBlob, MarshalPublicBlob, ParsePublicBlob);
//   - properties by their CNG names with typed values (Key.Property,
//     Key.SetProperty);
//   - initialization of a blank card through its plug-in
//     (Provider.InitializeCard: GIDS).
//
// # Windows vocabulary
//
// What is CNG's lives in files named for it: cng_names.go (which key of a
// container a key name opens; the Windows name forms themselves are
// keystore.ParseName's, shared with package basecsp), cng_algorithms.go
// (algorithm identifiers, key usage and export policy flags),
// cng_create.go (the two-step creation of NCryptCreatePersistedKey and
// NCryptFinalizeKey), cng_properties.go (properties by name), cng_blob.go
// (BCRYPT public key blobs) and cng_kdf.go (key derivation by CNG's KDF
// names, Secret.DeriveNamed). The settings are keystore.Config, shared
// with package basecsp.
//
// # Properties
//
// Property returns, and SetProperty takes, exactly these Go types; any
// other value type is a *PropertyError matching ErrPropertyType, and an
// unknown name one matching ErrUnknownProperty.
//
//	Name                       Go type               Get  Set
//	"SmartCardPin"             string or []byte      -    verifies the key's PIN now, caches it per policy
//	"SmartCardReader"          string                yes  -
//	"SmartCardGuid"            cardfs.CardID         yes  -
//	"SmartCardKeyCertificate"  *x509.Certificate     yes  yes: writes the key's kscNN/kxcNN file (nil deletes)
//	"SmartCardPinId"           minidriver.PinID      yes  before Finalize
//	"SmartCardPinInfo"         minidriver.PINInfo    yes  -
//	"SmartCardUserCertStore"   []keystore.CertEntry       yes  -
//	"SmartcardRootCertStore"   []*x509.Certificate   yes  yes: writes mscp/msroots
//	"Algorithm Group"          string ("RSA", "ECDSA", "ECDH")  yes  -
//	"Algorithm Name"           ksp.Algorithm         yes  -
//	"Length"                   int (bits)            yes  before Finalize (RSA; ECC only its curve size)
//	"Key Usage"                ksp.KeyUsage          yes  before Finalize
//	"Unique Name"              string                yes  -
//	"Export Policy"            ksp.ExportPolicy      yes (always 0)  only 0; else ErrNotExportable
//
// The card properties of a key not finalized yet are those of the card
// its name selects (the first card present when it names no reader).
//
// A card that cannot be read never hides the others: Keys, Certificates
// and the "SmartCardUserCertStore" property return everything they read
// on every readable card and, as their error, a keystore.CardErrors naming each
// card (reader, cause) or object they could not read; errors.As finds it.
//
// Every operation is one PC/SC transaction run by the engine: re-select
// the card's application, check cardcf, authenticate the PIN the operation
// needs (cached, set through "SmartCardPin", prompted by Config.Prompt, or
// an error wrapping pincache.ErrSilent in silent mode), work, log out.
// Writing to a PIV card needs its management key: set
// Config.AdminResponse (piv.ManagementKey).
// The responder learns which card asks (minidriver.AdminChallenge:
// plug-in, reader, identity, serial, algorithm), so one provider writes
// to cards of several kinds, e.g. with
// minidriver.AdminResponders(piv.ManagementKey(k1), gids.AdminKey(k2)).
//
// # Concurrency
//
// Provider, Key and Secret methods are safe for concurrent use by any
// number of goroutines. Operations on one card are serialised (one
// transaction at a time); operations on different cards run in parallel.
// A finalized Key is fixed (name, public key); only the card connection
// behind it changes, and the card is found again by its identity after
// removal. A Key's properties set before Finalize are guarded by the
// Key's lock; Finalize happens once.
//
// No login outlives an operation: when the outcome of an authentication
// is unknown (a lost or malformed answer, a transport error, a deadline),
// when a logout fails, or when a Prompt, admin responder or tracer panics
// while a login may be active, the operation's transaction ends with a
// card reset; a panic releases the card before it goes on. A reset made
// by another application is no failure: the operation reconnects,
// re-selects and goes on (it starts over, with the PIN already entered,
// when the reset came before it wrote anything). Close waits for running
// operations; afterwards every method that returns an error returns one
// matching keystore.ErrClosed, without touching a card or asking for a PIN.
//
// Errors are prefixed "ksp: ", wrap the card's errors with %w (test them
// with errors.Is against this package's, minidriver's, scrm's and
// pincache's sentinels) and never carry PINs, secrets or key material.
// Caller input (keys to import, digests, sizes, options, PINs, peer keys)
// is checked before the card is asked, as in package basecsp: no panic
// where crypto/rsa and crypto/ecdsa would return an error.
// The package keeps no package-level mutable state and never logs.
package ksp

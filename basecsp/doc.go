// Package basecsp is cardmod's Base CSP: the CAPI view of smart cards
// (as Microsoft's Base Smart Card CSP; docs/design.md). A Provider opens
// the cards of one scrm backend through the card plug-ins (package
// minidriver) and the shared engine, and gives:
//
//   - key containers by the four Windows name forms (keystore.ParseName):
//     `\\.\Reader\Container`, `\\.\Reader\`, `Container` and "" (the
//     default container of any card); enumeration (Provider.Containers),
//     creation with a generated or imported key, name collisions refused
//     with keystore.ErrExists (Provider.CreateContainer), deletion, the default
//     container;
//   - keys found by what their user knows (Provider.FindKey with a
//     KeyQuery): the certificate's subject or fingerprint, the public key,
//     the container name, or the plug-in's own address such as a PIV slot
//     (minidriver/piv.SlotAuthentication is slot 9A) or a GIDS key
//     reference (minidriver/gids.KeyRef); a key found nowhere is an error
//     matching minidriver.ErrNoKeyContainer; every key of every card with
//     its card (reader, identity, plug-in), container, address, algorithm
//     and size, public key, certificate and PIN (Provider.ListKeys);
//   - keys (Container.Key) that are honest crypto.Signer and
//     crypto.Decrypter values: RSA PKCS #1 v1.5 (every hash with a
//     DigestInfo, no DigestInfo, MD5+SHA1) and PSS signatures, ECDSA
//     signatures in ASN.1, PKCS #1 v1.5 decryption with implicit rejection
//     and OAEP decryption, padding added and removed on the host in
//     constant time; Public never touches the card;
//   - the PIN that protects each key (Key.PIN, Key.PINInfo);
//   - the certificate of each key (Key.Certificate, Key.SetCertificate;
//     Provider.SetCertificate finds the key a certificate is for and
//     stores it in one transaction), the user certificate store
//     (Provider.Certificates) and the card's root store in mscp/msroots
//     (Card.RootCertificates);
//   - card properties (Card.Info, or Provider.CardInfo in the transaction
//     that opens the card), PIN change and unblock (Card); initialization of
//     a blank card through its plug-in (Provider.InitializeCard: GIDS);
//   - hashing objects (NewHash) signed on the card, and symmetric session
//     keys (AES-128/192/256, 3DES; Provider.GenerateSessionKey) in host
//     memory, exported as SIMPLEBLOBs wrapped under a card RSA key and
//     imported by unwrapping on the card (Key.ImportSessionKey), with CBC
//     (PKCS #7 padding) and AES-GCM encryption.
//
// What is CAPI's lives in a file named for it: capi_session.go (hashing
// objects, session keys and SIMPLEBLOBs). The Windows name forms are
// package keystore's (keystore.ParseName, keystore.FullName), shared with
// package ksp. The settings are keystore.Config, shared with package
// ksp; Key, Container and Card embed the shared core's types, whose
// methods (listed in each type's doc) are theirs.
//
// Every operation is one PC/SC transaction: the engine re-selects the
// card's application, checks cardcf and drops stale cached data,
// authenticates the PIN the operation needs (from the PIN cache, or the
// Config.Prompt, or fails with an error wrapping pincache.ErrSilent in
// silent mode), does the work and logs out. Writes bump cardcf before the
// data they guard. Writing to a PIV card needs its management key: set
// Config.AdminResponse (piv.ManagementKey).
// The responder learns which card asks (minidriver.AdminChallenge:
// plug-in, reader, identity, serial, algorithm), so one provider writes
// to cards of several kinds, e.g. with
// minidriver.AdminResponders(piv.ManagementKey(k1), gids.AdminKey(k2)).
//
// A card that cannot be read never hides the others: the listings
// (Provider.Cards, Containers, Certificates) return everything they read
// on every readable card and, as their error, a keystore.CardErrors naming each
// card (reader, cause) or object (a corrupt certificate: its container
// and key spec) they could not read; errors.As finds it.
//
// Containers and cards are followed by their card identity (cardid): a
// card removed and inserted again, in any reader, is found again by the
// next operation.
//
// # Concurrency
//
// Provider, Card, Container and Key methods are safe for concurrent use
// by any number of goroutines. Operations on one card are serialised (one
// transaction at a time, the card lock of the engine); operations on
// different cards run in parallel. A Container and its Keys are values
// fixed when the container is opened (name, public keys); only the card
// connection behind them changes.
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
// Errors are prefixed "basecsp: ", wrap the card's errors with %w (test
// them with errors.Is against the minidriver, scrm and pincache sentinels)
// and never carry PINs or key material. What a caller passes (keys to
// import, digests, sizes, hash and padding options, PIN arguments,
// certificates) is checked before the card is asked or a PIN is prompted
// for: where crypto/rsa and crypto/ecdsa return an error (or would
// panic), the provider returns one matching minidriver.ErrInvalidParameter
// (minidriver.ErrDecryption for a session key that cannot fit the
// padding, as rsa.DecryptPKCS1v15SessionKey). ECDSA digests longer than
// the curve are cut to its size, as ECDSA itself reads them. A card that
// another application holds (or shares, in exclusive mode) gives an
// error matching scrm.ErrSharingViolation, not "no card present". The
// package keeps no package-level
// mutable state and never logs.
package basecsp

// Package minidriver is the card plug-in contract of cardmod: the semantics
// of the Windows smart card minidriver specification v7, in Go types.
// Comments in this module that cite "spec" mean Microsoft's Smart Card
// Minidriver Specification v7.07 and name the section by its title ("File
// System Requirements: Cache File") or by the function, structure or
// property it documents (CardAuthenticateEx, PIN_INFO, CP_CARD_CACHE_MODE);
// what the providers do above the minidriver (container names, card
// selection, the create and delete flows) cites Microsoft's "Smart Card
// Architecture" page by its headings ("Container specification levels"). A
// plug-in (package minidriver/piv for PIV cards, ...) presents its card as
// one uniform card file system (cardid, cardcf, cardapps, mscp/cmapfile,
// certificate files; see package cardfs) with key containers, PINs and
// properties, so that the providers above (packages basecsp and ksp) need no
// card-specific code.
//
// The contract is the Card interface (the mandatory entry points) and small
// optional interfaces (FileWriter, ContainerManager, Decrypter, KeyAgreer,
// ChallengeResponder, AuthenticatorChanger, PropertySetter,
// ContainerFinder, CertificateScanner, WriteChecker); the functions
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
// that the plug-in re-establishes its application cheaply. The caller may
// offer its data cache in Env.Cache (the specification's
// pfnCspCacheAddFile and pfnCspCacheLookupFile): a plug-in keeps there
// what it reads for itself, and gets it back only in a transaction in
// which the caller has validated the cache against cardcf.
//
// Byte strings are big-endian throughout (digests, signatures, RSA blocks):
// the CAPI little-endian convention of the C interface is not carried over.
// Public keys are crypto.PublicKey values (*rsa.PublicKey,
// *ecdsa.PublicKey, *ecdh.PublicKey).
//
// Package minidriver/minidrivertest is the conformance suite every plug-in
// runs against its simulated card; examples/plugin is a complete small
// plug-in, with its simulated card and conformance test, to copy.
//
// # Rules the conformance suite enforces
//
// Beyond the method docs, a plug-in passes minidrivertest only when it
// keeps these rules (each is checked there; the subtest names are in
// parentheses).
//
// Plug-in and opening (Registry, Open): Name is not empty; a Registry
// holding only the plug-in takes a fresh card, with a Match.Reason that
// says why (not empty), and after a probe match Probe says true again. Close succeeds after the card is gone. Two Cards
// opened on one connection see one card: what one writes the other reads
// in its next transaction, so nothing read from the card may be trusted
// across transactions without checking (Resume is the place). Capabilities
// does not change, and KeyGen is true exactly when CreateContainer
// generates keys; the one exception is a WriteChecker that finds the card
// read-only (below): its Properties and Capabilities say so from then on.
//
// Properties: GUID is the content of the cardid file, not all zero, the
// same in every open and transaction, and different on another card.
// Properties answers alike twice in one transaction. PINs lists RoleUser
// and every PIN the caller may verify. CacheMode is one of the three
// modes. MaxContainers is 1 to cardfs.MaxContainers and above every
// container index in use. KeyImport is true when keys can be imported. A
// ReadOnly card does not support X.509 enrollment, generates and imports
// no keys, and its FreeSpace reports 0 bytes and 0 containers.
//
// PINInfo: a PIN not listed in Properties.PINs (and any ID from MaxPins
// up) is ErrInvalidParameter; the info passes PINInfo.Validate; change and
// unblock permissions name listed PINs only; a PIN entered as bytes is
// AlphanumericPIN; the user PIN is not UnblockOnlyPIN.
//
// KeySizes: a key spec the card lacks is ErrUnsupported, an unknown one (0,
// above ECDHP521) ErrInvalidParameter; 0 < Min <= Default <= Max and
// Supports(Default); an ECC spec reports its curve size as Min, Default and
// Max with Increment 1 (not 0). The spec and size of every key a test
// harness puts on the card are among its KeySizes. FreeSpace fields are >= 0 or Unknown, and
// ContainersAvailable <= MaxContainers.
//
// Files (FileSystem, WriteFiles): cardid (cardfs.CardIDSize bytes,
// readable by everyone, not writable by the user), cardcf, cardapps
// (listing mscp) and mscp/cmapfile exist and parse with the cardfs codecs;
// a key present on a fresh card has its cmapfile record with its size.
// ListFiles lists files only, never directories: every name it returns is
// a valid file name (cardfs.ValidateName) with a FileInfo whose Size is
// the length ReadFile returns and whose access condition is not
// cardfs.InvalidAc. File and directory names are case-insensitive ("CardID"
// reads cardid; creating "MDTEST" beside "mdtest" is ErrFileExists). A
// missing file is ErrFileNotFound, a missing directory ErrDirNotFound, for
// reads, FileInfo, listing, writes and deletes; creating what exists is
// ErrFileExists; a file just created has FileInfo Size 0 and the access
// condition it was created with; a bad name is SCARD_E_INVALID_PARAMETER; deleting a
// directory with files is ErrDirNotEmpty. Access conditions hold: without
// the login the card's writes need (normally ROLE_USER), creating, writing
// and deleting files and directories is ErrSecurityViolation (or
// cardfs.ErrAccessDenied, which matches it), a file readable by the user
// only cannot be read, and after Deauthenticate writes are refused again.
// Written content lasts beyond the transaction, is seen by another
// context, and may shrink to nothing. Certificate files hold what the
// caller wrote: compressed by the caller (cardfs.CompressCert) unless
// Capabilities.CertificateCompression.
//
// Containers: ContainerInfo of an empty container is ErrNoKeyContainer, of
// an index out of range ErrNoKeyContainer or ErrInvalidParameter.
// CreateContainer without the login is ErrSecurityViolation and leaves the
// container empty; key spec 0 is ErrInvalidParameter. A created key is in
// the slot of its spec (ContainerInfo.Key, with SignatureSpec or
// KeyExchangeSpec set and the other slot nil), is an *rsa.PublicKey of the
// requested size, an *ecdsa.PublicKey or an *ecdh.PublicKey on the spec's
// curve, an imported key's public key is the one imported, another
// context sees it, and generating again replaces it. DeleteContainer
// without the login is ErrSecurityViolation, and twice ErrNoKeyContainer;
// on a card that cannot delete keys (minidrivertest.Features.KeepsKeys) it
// is ErrUnsupported and the key stays.
// ContainerPIN names RoleEveryone or a listed PIN that is not
// UnblockOnlyPIN. A ContainerFinder's FindContainer gives, for every valid
// container's name and for "" (the default), the record cmapfile holds,
// and ErrNoKeyContainer for a name the card does not have. A
// CertificateScanner's ScanCertificates gives (unless ErrUnsupported) a
// valid record for each valid container of cmapfile that has a
// certificate file and for no other, with cmapfile's index and name and a
// key size in a slot that has the certificate. A WriteChecker's
// CheckWritable is ErrReadOnly on a card whose Properties say ReadOnly,
// and where it says ErrReadOnly, CreateContainer is refused with
// ErrReadOnly and Properties say ReadOnly afterwards.
//
// PINs (Authenticate, Unblock, ChangePIN, Admin): a wrong PIN is a
// *PINError for that PIN matching ErrWrongPIN, not Blocked, whose text
// names the PIN by its role ("user PIN", not its id) and does not carry
// the PIN, with AttemptsLeft one less after each wrong PIN
// (or -1 when the card does not say) and back to full after the right PIN.
// A blocked PIN is a *PINError with Blocked, AttemptsLeft 0, matching
// ErrPINBlocked (SCARD_W_CHV_BLOCKED), for the right PIN too and in
// another context. An unknown flag is ErrInvalidParameter (AuthFlags.Validate),
// as are GenerateSessionPIN with UseSessionPIN and a PIN not listed; a
// known flag the card cannot honour (session PINs) is ErrUnsupported; none
// of these counts as a wrong PIN. A session PIN, where supported, is not
// the PIN and authenticates with UseSessionPIN. With ChangeAuthenticator:
// a wrong current PIN is ErrWrongPIN, an unknown mode ErrInvalidParameter,
// UnblockPermission of the user PIN is not empty, a wrong unblocking
// secret is a *PINError of the unblocking PIN and leaves the user PIN
// blocked, and the old PIN is wrong afterwards. A challenge-response admin
// PIN needs a ChallengeResponder: challenges are not empty and differ, a
// wrong response is ErrWrongPIN, and a response answers one challenge
// only.
//
// Logins end (Deauthenticate): after Deauthenticate of the PIN, after a
// card reset, and in the caller's next transaction, a private-key operation
// is ErrSecurityViolation. A Deauthenticate that cannot log out returns an
// error, and the caller resets the card.
//
// Keys at work (Sign, Decrypt, ECDH): RSA signatures are modulus-sized and
// verify for PKCS #1 v1.5 with SHA-1, SHA-256, SHA-384, SHA-512,
// crypto.MD5SHA1 and no DigestInfo (Hash 0), PSS with the given salt
// length, and PaddingNone on a block the caller padded; a digest of the
// wrong size for Hash is ErrInvalidParameter. ECDSA signatures are ASN.1
// DER and verify for SHA-1, SHA-256 and SHA-384 digests. Without the
// container's PIN a private-key operation is ErrSecurityViolation; an
// empty container, or the empty slot of a container, is ErrNoKeyContainer.
// A card with RSA key-exchange keys is a Decrypter: PaddingNone returns the
// modulus-sized block, PKCS #1 and OAEP return the plaintext or
// ErrUnsupported (the caller then unpads), a ciphertext shorter than the
// modulus is ErrInsufficientBuffer. A card with ECDH keys is a KeyAgreer:
// a peer key on another curve is ErrInvalidParameter, DeriveKey gives what
// the KDF gives on the peer's shared secret, a destroyed agreement is
// ErrInvalidParameter for DeriveKey and DestroyAgreement, and so is a bad
// KDF (nil, TLS_PRF without a seed).
//
// Optional interfaces (OptionalInterfaces): a Harness feature comes with
// its interface (WriteFiles with FileWriter, Generate or Import with
// ContainerManager, ChangePIN with AuthenticatorChanger); for an interface
// the card lacks, the package functions answer ErrUnsupported. A
// ContainerAddresser gives, for the container of every Harness key, either
// ErrNoKeyContainer or a non-nil address of a comparable type with a
// non-empty String, the same when asked again and different for different
// containers; an index no container has (-1) is ErrNoKeyContainer.
//
// Concurrency: a Registry is safe for concurrent use. A Card is used by one
// goroutine at a time (the caller's lock and transaction serialise it);
// Agreements is safe for concurrent use.
package minidriver

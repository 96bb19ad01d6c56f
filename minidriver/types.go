package minidriver

import (
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/rsa"
	"fmt"
	"strconv"

	"github.com/cardmod/cardmod/cardfs"
)

// KeySpec is the role and algorithm of a key in a container (the AT_* values
// of cardmod.h; spec CardQueryKeySizes).
type KeySpec uint32

// Key specs. AT_KEYEXCHANGE and AT_SIGNATURE are RSA keys; the ECDSA specs
// live in a container's signature slot, the ECDH specs in its key-exchange
// slot.
const (
	KeyExchange KeySpec = 1 // AT_KEYEXCHANGE
	Signature   KeySpec = 2 // AT_SIGNATURE
	ECDSAP256   KeySpec = 3 // AT_ECDSA_P256
	ECDSAP384   KeySpec = 4 // AT_ECDSA_P384
	ECDSAP521   KeySpec = 5 // AT_ECDSA_P521
	ECDHP256    KeySpec = 6 // AT_ECDHE_P256
	ECDHP384    KeySpec = 7 // AT_ECDHE_P384
	ECDHP521    KeySpec = 8 // AT_ECDHE_P521
)

// Valid reports whether s is one of the defined key specs.
func (s KeySpec) Valid() bool { return s >= KeyExchange && s <= ECDHP521 }

// IsRSA reports whether s is an RSA key spec.
func (s KeySpec) IsRSA() bool { return s == KeyExchange || s == Signature }

// IsECDSA reports whether s is an ECDSA key spec.
func (s KeySpec) IsECDSA() bool { return s >= ECDSAP256 && s <= ECDSAP521 }

// IsECDH reports whether s is an ECDH key spec.
func (s KeySpec) IsECDH() bool { return s >= ECDHP256 && s <= ECDHP521 }

// InSignatureSlot reports whether keys of spec s occupy a container's
// signature slot (AT_SIGNATURE and ECDSA) rather than its key-exchange slot.
func (s KeySpec) InSignatureSlot() bool { return s == Signature || s.IsECDSA() }

// Slot returns the container slot of keys of spec s, as the container map
// and the certificate file names know it.
func (s KeySpec) Slot() cardfs.KeySpec {
	if s.InSignatureSlot() {
		return cardfs.KeySpecSignature
	}
	return cardfs.KeySpecKeyExchange
}

// SpecOfSize returns the key spec of a key of bits in container slot
// kind, as a container map record gives its key sizes (cardfs
// ContainerMapRecord): 256, 384 and 521 bits are the ECC curves, ECDSA in
// the signature slot and ECDH in the key exchange slot; any other size is
// RSA (Signature, KeyExchange); 0 bits is no key (0).
func SpecOfSize(kind cardfs.KeySpec, bits uint16) KeySpec {
	sig := kind == cardfs.KeySpecSignature
	var ecdsa, ecdh KeySpec
	switch bits {
	case 0:
		return 0
	case 256:
		ecdsa, ecdh = ECDSAP256, ECDHP256
	case 384:
		ecdsa, ecdh = ECDSAP384, ECDHP384
	case 521:
		ecdsa, ecdh = ECDSAP521, ECDHP521
	default:
		if sig {
			return Signature
		}
		return KeyExchange
	}
	if sig {
		return ecdsa
	}
	return ecdh
}

// PublicKeyBits returns the size in bits of a public key as a container
// map records it: an RSA key's modulus, an ECDSA key's curve, an ECDH
// key's curve (P-256, P-384, P-521); 0 for anything else.
func PublicKeyBits(pub crypto.PublicKey) int {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if k.N != nil {
			return k.N.BitLen()
		}
	case *ecdsa.PublicKey:
		if k.Curve != nil {
			return k.Curve.Params().BitSize
		}
	case *ecdh.PublicKey:
		for s := ECDHP256; s <= ECDHP521; s++ {
			if k.Curve() == s.Curve() {
				return s.CurveBits()
			}
		}
	}
	return 0
}

// CurveBits returns the curve size of an ECC key spec, 0 for RSA.
func (s KeySpec) CurveBits() int {
	switch s {
	case ECDSAP256, ECDHP256:
		return 256
	case ECDSAP384, ECDHP384:
		return 384
	case ECDSAP521, ECDHP521:
		return 521
	}
	return 0
}

// Curve returns the crypto/ecdh curve of an ECC key spec (ECDSA or ECDH),
// nil for RSA and unknown specs. For ECDSA keys, ecdsa.PublicKey.ECDH and
// ecdsa.ParseRawPrivateKey bridge to crypto/ecdsa.
func (s KeySpec) Curve() ecdh.Curve {
	switch s.CurveBits() {
	case 256:
		return ecdh.P256()
	case 384:
		return ecdh.P384()
	case 521:
		return ecdh.P521()
	}
	return nil
}

func (s KeySpec) String() string {
	switch s {
	case KeyExchange:
		return "AT_KEYEXCHANGE"
	case Signature:
		return "AT_SIGNATURE"
	case ECDSAP256:
		return "AT_ECDSA_P256"
	case ECDSAP384:
		return "AT_ECDSA_P384"
	case ECDSAP521:
		return "AT_ECDSA_P521"
	case ECDHP256:
		return "AT_ECDHE_P256"
	case ECDHP384:
		return "AT_ECDHE_P384"
	case ECDHP521:
		return "AT_ECDHE_P521"
	}
	return "KeySpec(" + strconv.Itoa(int(s)) + ")"
}

// PinID identifies one of the card's eight PINs (spec "Developer
// Guidelines: Enhanced PIN Support").
type PinID uint8

// Well-known PIN IDs; 3 to 7 are card-defined and protect containers only.
const (
	RoleEveryone PinID = 0
	RoleUser     PinID = 1
	RoleAdmin    PinID = 2
	// MaxPins is the number of PIN IDs.
	MaxPins = 8
)

// Valid reports whether id is 0..7.
func (id PinID) Valid() bool { return id < MaxPins }

// PinSet is a set of PIN IDs, bit n standing for PIN n.
type PinSet uint8

// NewPinSet returns the set of ids.
func NewPinSet(ids ...PinID) PinSet {
	var s PinSet
	for _, id := range ids {
		if id.Valid() {
			s |= 1 << id
		}
	}
	return s
}

// Has reports whether id is in s.
func (s PinSet) Has(id PinID) bool { return id.Valid() && s&(1<<id) != 0 }

// IDs lists the members of s in order.
func (s PinSet) IDs() []PinID {
	var ids []PinID
	for id := PinID(0); id < MaxPins; id++ {
		if s.Has(id) {
			ids = append(ids, id)
		}
	}
	return ids
}

// PINType is how a PIN is entered (SECRET_TYPE).
type PINType uint32

// PIN types.
const (
	AlphanumericPIN      PINType = 0 // the caller prompts and passes the bytes
	ExternalPIN          PINType = 1 // a PIN pad or biometric: no PIN data
	ChallengeResponsePIN PINType = 2 // Challenge, then Authenticate with the response
	EmptyPIN             PINType = 3 // never asked for: unconditional access
)

// PINPurpose is what a PIN is for (SECRET_PURPOSE); it drives prompt text.
type PINPurpose uint32

// PIN purposes.
const (
	AuthenticationPIN   PINPurpose = 0
	DigitalSignaturePIN PINPurpose = 1
	EncryptionPIN       PINPurpose = 2
	NonRepudiationPIN   PINPurpose = 3
	AdministratorPIN    PINPurpose = 4
	PrimaryCardPIN      PINPurpose = 5
	UnblockOnlyPIN      PINPurpose = 6 // a PUK: only unblocks the user PIN
)

// PINCachePolicyType says how the caller may cache a PIN (spec
// PIN_CACHE_POLICY).
type PINCachePolicyType uint32

// Cache policies.
const (
	PINCacheNormal       PINCachePolicyType = 0 // cache for the session
	PINCacheTimed        PINCachePolicyType = 1 // cache for Info seconds
	PINCacheNone         PINCachePolicyType = 2 // never cache
	PINCacheAlwaysPrompt PINCachePolicyType = 3 // prompt before every use
)

// PINCachePolicy is a PIN's cache policy.
type PINCachePolicy struct {
	Type PINCachePolicyType
	// Info is the lifetime in seconds for PINCacheTimed.
	Info uint32
}

// PINInfo describes one PIN (PIN_INFO).
type PINInfo struct {
	Type    PINType
	Purpose PINPurpose
	// ChangePermission and UnblockPermission are the PINs allowed to
	// change and to unblock this one.
	ChangePermission  PinSet
	UnblockPermission PinSet
	CachePolicy       PINCachePolicy
	// RequireSecureEntry asks for PIN entry on a secure desktop.
	RequireSecureEntry bool
}

// Validate checks the enumerations of i.
func (i PINInfo) Validate() error {
	if i.Type > EmptyPIN || i.Purpose > UnblockOnlyPIN || i.CachePolicy.Type > PINCacheAlwaysPrompt {
		return fmt.Errorf("%w: PIN info out of range", ErrInvalidParameter)
	}
	return nil
}

// Capabilities are what CardQueryCapabilities reports.
type Capabilities struct {
	// CertificateCompression: the plug-in compresses certificate files
	// itself; callers read and write raw DER. When false the caller
	// compresses (cardfs.CompressCert).
	CertificateCompression bool
	// KeyGen: the card generates keys.
	KeyGen bool
}

// Unknown is the value of a FreeSpace field the card cannot tell
// (CARD_DATA_VALUE_UNKNOWN).
const Unknown = -1

// FreeSpace is what CardQueryFreeSpace reports.
type FreeSpace struct {
	BytesAvailable      int
	ContainersAvailable int
	MaxContainers       int
}

// KeySizes are the key sizes in bits a card supports for a key spec.
type KeySizes struct {
	Min, Default, Max, Increment int
}

// Supports reports whether bits is one of the sizes.
func (k KeySizes) Supports(bits int) bool {
	if bits < k.Min || bits > k.Max {
		return false
	}
	if k.Increment <= 0 {
		return bits == k.Min
	}
	return (bits-k.Min)%k.Increment == 0
}

// ContainerInfo holds the public keys of a container; a missing key is nil.
// RSA keys are *rsa.PublicKey, ECDSA keys *ecdsa.PublicKey, ECDH keys
// *ecdh.PublicKey.
type ContainerInfo struct {
	Signature   crypto.PublicKey
	KeyExchange crypto.PublicKey
	// SignatureSpec and KeyExchangeSpec are the key specs of the two
	// keys (0 when absent).
	SignatureSpec, KeyExchangeSpec KeySpec
}

// Key returns the public key of spec's slot, or nil.
func (c ContainerInfo) Key(spec KeySpec) crypto.PublicKey {
	if spec.InSignatureSlot() {
		return c.Signature
	}
	return c.KeyExchange
}

// AuthFlags modify Authenticate (CardAuthenticateEx flags).
type AuthFlags uint32

// Authentication flags.
const (
	// GenerateSessionPIN verifies the PIN without leaving the card
	// unlocked and returns a session PIN.
	GenerateSessionPIN AuthFlags = 0x10000000
	// UseSessionPIN says the data is a session PIN.
	UseSessionPIN AuthFlags = 0x20000000
	// Silent forbids any user interface.
	Silent AuthFlags = 0x00000040

	knownAuthFlags = GenerateSessionPIN | UseSessionPIN | Silent
)

// Padding is a signature or decryption padding (CARD_PADDING_*).
type Padding uint32

// Paddings.
const (
	// PaddingNone is raw RSA on a modulus-sized block.
	PaddingNone Padding = 0x1
	// PaddingPKCS1 is PKCS #1 v1.5 (type 1 for signatures, type 2 for
	// decryption).
	PaddingPKCS1 Padding = 0x2
	// PaddingPSS is RSASSA-PSS with MGF1 over the same hash.
	PaddingPSS Padding = 0x4
	// PaddingOAEP is RSAES-OAEP (decryption only).
	PaddingOAEP Padding = 0x8
)

// CacheMode is a card's data cache mode (spec CP_CARD_CACHE_MODE).
type CacheMode uint32

// Cache modes.
const (
	CacheGlobal      CacheMode = 1 // cache across processes, validated by cardcf
	CacheSessionOnly CacheMode = 2 // cache per process until removal
	CacheNone        CacheMode = 3 // cache nothing
)

// PINStrength is the PIN forms a card accepts (CARD_PIN_STRENGTH_*).
type PINStrength uint32

// PIN strengths.
const (
	PINStrengthPlaintext  PINStrength = 1
	PINStrengthSessionPIN PINStrength = 2
)

// CardProperties are the read-only card properties (CP_*) an engine needs.
type CardProperties struct {
	// GUID is the card identifier (CP_CARD_GUID, the cardid file).
	GUID [16]byte
	// Serial is the card's serial number (CP_CARD_SERIAL_NO), if known.
	Serial []byte
	// ReadOnly: the caller must not write (CP_CARD_READ_ONLY).
	ReadOnly bool
	// CacheMode is CP_CARD_CACHE_MODE.
	CacheMode CacheMode
	// SupportsX509Enrollment is CP_SUPPORTS_WIN_X509_ENROLLMENT.
	SupportsX509Enrollment bool
	// PINs is CP_CARD_LIST_PINS: the PINs that exist.
	PINs PinSet
	// KeyImport says the card takes plaintext key import
	// (CP_KEY_IMPORT_SUPPORT PLAIN_TEXT).
	KeyImport bool
	// MaxContainers is the size of the container table.
	MaxContainers int
}

// Validate rejects unknown flag bits and the contradiction of generating
// and using a session PIN at once (CardAuthenticateEx rules).
func (f AuthFlags) Validate() error {
	if f&^knownAuthFlags != 0 || (f&GenerateSessionPIN != 0 && f&UseSessionPIN != 0) {
		return fmt.Errorf("%w: authentication flags %#x", ErrInvalidParameter, uint32(f))
	}
	return nil
}

package ksp

import "github.com/cardmod/cardmod/minidriver"

// Algorithm is a CNG algorithm identifier (BCRYPT_*_ALGORITHM).
type Algorithm string

// The algorithms of the provider's keys.
const (
	RSA       Algorithm = "RSA"
	ECDSAP256 Algorithm = "ECDSA_P256"
	ECDSAP384 Algorithm = "ECDSA_P384"
	ECDSAP521 Algorithm = "ECDSA_P521"
	ECDHP256  Algorithm = "ECDH_P256"
	ECDHP384  Algorithm = "ECDH_P384"
	ECDHP521  Algorithm = "ECDH_P521"
)

// spec returns the key spec of a with usage: RSA keys go to the key
// exchange slot unless their usage is signing only (a CNG key has no key
// spec, and Microsoft documents no rule for the Smart Card KSP's choice).
func (a Algorithm) spec(usage KeyUsage) (minidriver.KeySpec, bool) {
	switch a {
	case RSA:
		if usage&^AllowSigning == 0 && usage != 0 {
			return minidriver.Signature, true
		}
		return minidriver.KeyExchange, true
	case ECDSAP256:
		return minidriver.ECDSAP256, true
	case ECDSAP384:
		return minidriver.ECDSAP384, true
	case ECDSAP521:
		return minidriver.ECDSAP521, true
	case ECDHP256:
		return minidriver.ECDHP256, true
	case ECDHP384:
		return minidriver.ECDHP384, true
	case ECDHP521:
		return minidriver.ECDHP521, true
	}
	return 0, false
}

// Group returns the algorithm group (NCRYPT_ALGORITHM_GROUP_PROPERTY):
// "RSA", "ECDSA" or "ECDH".
func (a Algorithm) Group() string {
	switch a {
	case ECDSAP256, ECDSAP384, ECDSAP521:
		return "ECDSA"
	case ECDHP256, ECDHP384, ECDHP521:
		return "ECDH"
	}
	return string(a)
}

// algorithmOf returns the CNG algorithm of a key of spec.
func algorithmOf(spec minidriver.KeySpec) Algorithm {
	switch spec {
	case minidriver.ECDSAP256:
		return ECDSAP256
	case minidriver.ECDSAP384:
		return ECDSAP384
	case minidriver.ECDSAP521:
		return ECDSAP521
	case minidriver.ECDHP256:
		return ECDHP256
	case minidriver.ECDHP384:
		return ECDHP384
	case minidriver.ECDHP521:
		return ECDHP521
	}
	return RSA
}

// KeyUsage is the "Key Usage" property (NCRYPT_KEY_USAGE_PROPERTY).
type KeyUsage uint32

// Key usage flags.
const (
	AllowDecrypt      KeyUsage = 0x1        // NCRYPT_ALLOW_DECRYPT_FLAG
	AllowSigning      KeyUsage = 0x2        // NCRYPT_ALLOW_SIGNING_FLAG
	AllowKeyAgreement KeyUsage = 0x4        // NCRYPT_ALLOW_KEY_AGREEMENT_FLAG
	AllowAllUsages    KeyUsage = 0x00ffffff // NCRYPT_ALLOW_ALL_USAGES
)

// ExportPolicy is the "Export Policy" property
// (NCRYPT_EXPORT_POLICY_PROPERTY). Keys on a card always have 0.
type ExportPolicy uint32

// Export policy flags; none can be set on a card key.
const (
	AllowExport             ExportPolicy = 0x1 // NCRYPT_ALLOW_EXPORT_FLAG
	AllowPlaintextExport    ExportPolicy = 0x2 // NCRYPT_ALLOW_PLAINTEXT_EXPORT_FLAG
	AllowArchiving          ExportPolicy = 0x4 // NCRYPT_ALLOW_ARCHIVING_FLAG
	AllowPlaintextArchiving ExportPolicy = 0x8 // NCRYPT_ALLOW_PLAINTEXT_ARCHIVING_FLAG
)

// usageOf returns the "Key Usage" of a key of spec.
func usageOf(spec minidriver.KeySpec) KeyUsage {
	switch {
	case spec.IsECDH():
		return AllowKeyAgreement
	case spec.IsECDSA(), spec == minidriver.Signature:
		return AllowSigning
	}
	return AllowDecrypt | AllowSigning
}

// usageOfAlg returns the default "Key Usage" of a new key of alg.
func usageOfAlg(alg Algorithm) KeyUsage {
	spec, _ := alg.spec(0)
	return usageOf(spec)
}

// specBits returns the curve size of an ECC alg, 0 for RSA.
func specBits(alg Algorithm) int {
	spec, _ := alg.spec(0)
	return spec.CurveBits()
}

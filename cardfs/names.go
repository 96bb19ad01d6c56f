package cardfs

import (
	"fmt"
	"strconv"
	"strings"
)

// Well-known directories and files of the card file system (spec "File System
// Requirements: Logical Data Layout"). The
// root directory is written as RootDir ("").
const (
	// RootDir names the root directory (the minidriver interface accepts
	// NULL or "").
	RootDir = ""
	// CardIDFile holds the 16-byte card identifier (root, access condition
	// EveryoneReadAdminWriteAc).
	CardIDFile = "cardid"
	// CardCFFile holds the cache freshness counters (root,
	// EveryoneReadUserWriteAc).
	CardCFFile = "cardcf"
	// CardAppsFile lists the applications, 8 bytes each (root,
	// EveryoneReadAdminWriteAc).
	CardAppsFile = "cardapps"
	// MSCPDir is the application directory of the Base CSP and KSP,
	// created with UserCreateDeleteDirAc. It is always reserved.
	MSCPDir = "mscp"
	// ContainerMapFile is the container map in MSCPDir
	// (EveryoneReadUserWriteAc).
	ContainerMapFile = "cmapfile"
	// MSRootsFile holds enterprise root certificates as a certificates-only
	// PKCS#7 SignedData, in MSCPDir (EveryoneReadUserWriteAc).
	MSRootsFile = "msroots"
	// MSCertsDir is the rarely used directory of intermediate CA
	// certificates.
	MSCertsDir = "mscerts"
)

// Limits of the card file system.
const (
	// MaxNameLen is the longest file or directory name, in characters.
	MaxNameLen = 8
	// MaxContainers is the hard limit on key containers: the container
	// index is a BYTE in every minidriver call (spec CONTAINER_MAP_RECORD).
	MaxContainers = 255
	// MaxContainerNameLen is the longest container name in UTF-16 code
	// units (MAX_CONTAINER_NAME_LEN).
	MaxContainerNameLen = 39
)

// Certificate file name prefixes (spec "File System Requirements: Logical
// Data Layout"): key exchange and signature
// certificates of a container.
const (
	KeyExchangeCertPrefix = "kxc"
	SignatureCertPrefix   = "ksc"
)

// KeySpec selects a container's key slot: AT_KEYEXCHANGE or AT_SIGNATURE.
// Elliptic-curve keys use the same two slots: ECDH keys (AT_ECDHE_*) the key
// exchange slot and ECDSA keys (AT_ECDSA_*) the signature slot, as the key
// size fields of the container map record do.
type KeySpec uint32

// Key specs with the numeric values of wincrypt.h.
const (
	KeySpecKeyExchange KeySpec = 1 // AT_KEYEXCHANGE
	KeySpecSignature   KeySpec = 2 // AT_SIGNATURE
)

// String returns "keyexchange", "signature" or the number.
func (k KeySpec) String() string {
	switch k {
	case KeySpecKeyExchange:
		return "keyexchange"
	case KeySpecSignature:
		return "signature"
	}
	return "KeySpec(" + strconv.FormatUint(uint64(k), 10) + ")"
}

// illegalNameChars are the characters Windows forbids in file names.
const illegalNameChars = `\/:*?"<>|`

// ValidateName reports whether name is a legal file or directory name: 1 to
// MaxNameLen characters, printable ASCII without the characters Windows
// forbids in file names (\ / : * ? " < > |), without spaces, and not "." or
// "..". Case is not checked: names are case-insensitive (see NormalizeName).
// The error matches ErrInvalidName.
func ValidateName(name string) error {
	if name == "" {
		return fmt.Errorf("%w: empty", ErrInvalidName)
	}
	if len(name) > MaxNameLen {
		return fmt.Errorf("%w: longer than %d characters", ErrInvalidName, MaxNameLen)
	}
	if name == "." || name == ".." {
		return fmt.Errorf("%w: %q", ErrInvalidName, name)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c <= ' ' || c > '~' || strings.IndexByte(illegalNameChars, c) >= 0 {
			return fmt.Errorf("%w: illegal character %q", ErrInvalidName, c)
		}
	}
	return nil
}

// NormalizeName validates name (see ValidateName) and returns it in lower
// case, the form under which files are stored: names are case-insensitive
// and modules lower-case them (spec "File System Requirements: File
// Naming Requirements").
func NormalizeName(name string) (string, error) {
	if err := ValidateName(name); err != nil {
		return "", err
	}
	return strings.ToLower(name), nil
}

// normalizeDir is NormalizeName that also accepts RootDir.
func normalizeDir(dir string) (string, error) {
	if dir == RootDir {
		return RootDir, nil
	}
	return NormalizeName(dir)
}

func certPrefix(ks KeySpec) (string, bool) {
	switch ks {
	case KeySpecKeyExchange:
		return KeyExchangeCertPrefix, true
	case KeySpecSignature:
		return SignatureCertPrefix, true
	}
	return "", false
}

// CertFileName returns the name of the certificate file of container index
// for the key spec: the prefix and the index as two lower-case hexadecimal
// digits ("kxc00", "ksc0a"). Indexes run from 0 to MaxContainers-1. The file
// lives in MSCPDir.
func CertFileName(index int, keySpec KeySpec) (string, error) {
	p, ok := certPrefix(keySpec)
	if !ok {
		return "", fmt.Errorf("%w: key spec %v has no certificate file", ErrInvalidParameter, keySpec)
	}
	if index < 0 || index >= MaxContainers {
		return "", fmt.Errorf("%w: container index %d out of range", ErrInvalidParameter, index)
	}
	return fmt.Sprintf("%s%02x", p, index), nil
}

// CertFileNames returns the names under which the certificate of container
// index may be stored, in the order a reader should try them: the canonical
// lower-case hexadecimal name (CertFileName), then the upper-case hexadecimal
// one (OpenSC's GIDS driver) and the decimal one (OpenSC's minidriver) when
// they differ. Implementations disagree for indexes of 10 and more (spec
// "File System Requirements"); on a case-insensitive file system the
// upper-case name is the same file as the canonical one.
func CertFileNames(index int, keySpec KeySpec) ([]string, error) {
	name, err := CertFileName(index, keySpec)
	if err != nil {
		return nil, err
	}
	p, _ := certPrefix(keySpec)
	names := []string{name}
	if upper := fmt.Sprintf("%s%02X", p, index); upper != name {
		names = append(names, upper)
	}
	if dec := fmt.Sprintf("%s%02d", p, index); dec != name {
		names = append(names, dec)
	}
	return names, nil
}

// ParseCertFileName recognises a certificate file name and returns the
// container index and key spec. The prefix is matched case-insensitively.
// A two-character suffix is read as hexadecimal in either case ("kxc0a",
// "kxc0A", and "kxc10" is index 16, the canonical reading); a
// three-digit decimal suffix from 100 to 254 is read as decimal, as OpenSC's
// minidriver writes indexes of 100 and more. Names written in decimal for
// indexes 10 to 99 cannot be told apart from hexadecimal ones by their
// form: find those with CertFileNames.
func ParseCertFileName(name string) (index int, keySpec KeySpec, ok bool) {
	if len(name) != 5 && len(name) != 6 {
		return 0, 0, false
	}
	switch strings.ToLower(name[:3]) {
	case KeyExchangeCertPrefix:
		keySpec = KeySpecKeyExchange
	case SignatureCertPrefix:
		keySpec = KeySpecSignature
	default:
		return 0, 0, false
	}
	suffix := name[3:]
	if len(suffix) == 2 {
		hi, ok1 := hexDigit(suffix[0])
		lo, ok2 := hexDigit(suffix[1])
		if !ok1 || !ok2 {
			return 0, 0, false
		}
		index = hi<<4 | lo
	} else {
		index = 0
		for i := 0; i < 3; i++ {
			c := suffix[i]
			if c < '0' || c > '9' {
				return 0, 0, false
			}
			index = index*10 + int(c-'0')
		}
		if index < 100 {
			return 0, 0, false
		}
	}
	if index >= MaxContainers {
		return 0, 0, false
	}
	return index, keySpec, true
}

func hexDigit(c byte) (int, bool) {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0'), true
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10, true
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10, true
	}
	return 0, false
}

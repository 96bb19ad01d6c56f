package kdf

import (
	"crypto"
	"encoding/binary"
	"strings"
	"unicode/utf16"

	"github.com/cardmod/cardmod/minidriver"
)

// KDF names (pwszKDF of CardDeriveKey, the BCRYPT_KDF_* strings).
const (
	NameHash            = "HASH"
	NameHMAC            = "HMAC"
	NameTLSPRF          = "TLS_PRF"
	NameSP80056AConcat  = "SP800_56A_CONCAT"
	NameSP800108CTRHMAC = "SP800_108_CTR_HMAC"
)

// ParamType is the BufferType of a BCryptBuffer in a KDF parameter list.
type ParamType uint32

// Parameter types (KDF_* of bcrypt.h).
const (
	ParamHashAlgorithm  ParamType = 0x0  // KDF_HASH_ALGORITHM: UTF-16LE hash name
	ParamSecretPrepend  ParamType = 0x1  // KDF_SECRET_PREPEND (repeatable)
	ParamSecretAppend   ParamType = 0x2  // KDF_SECRET_APPEND (repeatable)
	ParamHMACKey        ParamType = 0x3  // KDF_HMAC_KEY
	ParamTLSPRFLabel    ParamType = 0x4  // KDF_TLS_PRF_LABEL: ANSI string
	ParamTLSPRFSeed     ParamType = 0x5  // KDF_TLS_PRF_SEED: 64 bytes
	ParamSecretHandle   ParamType = 0x6  // KDF_SECRET_HANDLE (not supported)
	ParamTLSPRFProtocol ParamType = 0x7  // KDF_TLS_PRF_PROTOCOL: little-endian DWORD
	ParamAlgorithmID    ParamType = 0x8  // KDF_ALGORITHMID
	ParamPartyUInfo     ParamType = 0x9  // KDF_PARTYUINFO
	ParamPartyVInfo     ParamType = 0xA  // KDF_PARTYVINFO
	ParamSuppPubInfo    ParamType = 0xB  // KDF_SUPPPUBINFO
	ParamSuppPrivInfo   ParamType = 0xC  // KDF_SUPPPRIVINFO
	ParamLabel          ParamType = 0xD  // KDF_LABEL
	ParamContext        ParamType = 0xE  // KDF_CONTEXT
	ParamSalt           ParamType = 0xF  // KDF_SALT (not supported)
	ParamIterationCount ParamType = 0x10 // KDF_ITERATION_COUNT (not supported)
)

// Param is one BCryptBuffer of a KDF parameter list.
type Param struct {
	Type  ParamType
	Value []byte
}

// Limits on a parameter list, which comes from the caller and is
// untrusted.
const (
	// MaxParams bounds the number of buffers in a list.
	MaxParams = 64
	// MaxParamSize bounds the size of one buffer.
	MaxParamSize = 1 << 16
)

// Options carry what CardDeriveKey passes beside the parameter list.
type Options struct {
	// UseSecretAsHMACKey is KDF_USE_SECRET_AS_HMAC_KEY_FLAG (HMAC only).
	UseSecretAsHMACKey bool
	// Length is the requested output length in bytes for
	// SP800_56A_CONCAT and SP800_108_CTR_HMAC; zero means the hash size.
	// The other KDFs have a fixed output size and ignore it.
	Length int
}

// params returns the parameter types KDF name takes and those it cannot
// do without (spec CardDeriveKey; CNG's tables for SP800_56A_CONCAT and
// SP800_108_CTR_HMAC); ok is false for an unknown name.
func params(name string) (allowed, required []ParamType, ok bool) {
	switch name {
	case NameHash:
		return []ParamType{ParamHashAlgorithm, ParamSecretPrepend, ParamSecretAppend}, nil, true
	case NameHMAC:
		return []ParamType{ParamHashAlgorithm, ParamSecretPrepend, ParamSecretAppend, ParamHMACKey}, nil, true
	case NameTLSPRF:
		return []ParamType{ParamHashAlgorithm, ParamTLSPRFLabel, ParamTLSPRFSeed, ParamTLSPRFProtocol},
			[]ParamType{ParamTLSPRFLabel, ParamTLSPRFSeed}, true
	case NameSP80056AConcat:
		return []ParamType{ParamHashAlgorithm, ParamAlgorithmID, ParamPartyUInfo, ParamPartyVInfo, ParamSuppPubInfo, ParamSuppPrivInfo},
			[]ParamType{ParamAlgorithmID, ParamPartyUInfo, ParamPartyVInfo}, true
	case NameSP800108CTRHMAC:
		return []ParamType{ParamHashAlgorithm, ParamLabel, ParamContext},
			[]ParamType{ParamHashAlgorithm, ParamLabel, ParamContext}, true
	}
	return nil, nil, false
}

// Parse maps a KDF name and its parameter list to a KDF, with default
// Options. See ParseOptions.
func Parse(name string, list []Param) (minidriver.KDF, error) {
	return ParseOptions(name, list, Options{})
}

// ParseOptions maps a KDF name ("HASH", "HMAC", "TLS_PRF",
// "SP800_56A_CONCAT", "SP800_108_CTR_HMAC") and its BCryptBuffer
// parameter list to one of this package's KDFs, checked with its Validate
// method. KDF_SECRET_PREPEND and KDF_SECRET_APPEND may repeat and keep
// their order; any other type may appear once. An unknown name, a
// parameter type the KDF does not take, a repeated or missing required
// parameter, or a malformed value gives an error wrapping
// minidriver.ErrInvalidParameter. The values are copied.
func ParseOptions(name string, list []Param, opts Options) (minidriver.KDF, error) {
	types, req, ok := params(name)
	if !ok {
		return nil, invalid("unknown KDF %q", name)
	}
	if len(list) > MaxParams {
		return nil, invalid("%d parameters, at most %d", len(list), MaxParams)
	}
	var (
		single  = map[ParamType][]byte{}
		prepend [][]byte
		appendB [][]byte
	)
	for _, p := range list {
		if !contains(types, p.Type) {
			return nil, invalid("%s does not take parameter type %#x", name, uint32(p.Type))
		}
		if len(p.Value) > MaxParamSize {
			return nil, invalid("parameter type %#x of %d bytes", uint32(p.Type), len(p.Value))
		}
		v := append([]byte{}, p.Value...)
		switch p.Type {
		case ParamSecretPrepend:
			prepend = append(prepend, v)
		case ParamSecretAppend:
			appendB = append(appendB, v)
		default:
			if _, dup := single[p.Type]; dup {
				return nil, invalid("parameter type %#x repeated", uint32(p.Type))
			}
			single[p.Type] = v
		}
	}
	for _, t := range req {
		if _, ok := single[t]; !ok {
			return nil, invalid("%s needs parameter type %#x", name, uint32(t))
		}
	}
	var h crypto.Hash
	if v, ok := single[ParamHashAlgorithm]; ok {
		var err error
		if h, err = ParseHashName(v); err != nil {
			return nil, err
		}
	}
	if opts.UseSecretAsHMACKey && name != NameHMAC {
		return nil, invalid("secret-as-HMAC-key flag with %s", name)
	}
	var k interface {
		minidriver.KDF
		Validate() error
	}
	switch name {
	case NameHash:
		k = Hash{Hash: h, Prepend: prepend, Append: appendB}
	case NameHMAC:
		k = HMAC{Hash: h, Key: single[ParamHMACKey], UseSecretAsKey: opts.UseSecretAsHMACKey, Prepend: prepend, Append: appendB}
	case NameTLSPRF:
		proto := TLS10
		if v, ok := single[ParamTLSPRFProtocol]; ok {
			if len(v) != 4 {
				return nil, invalid("TLS_PRF protocol of %d bytes, want a DWORD", len(v))
			}
			d := binary.LittleEndian.Uint32(v)
			if d > 0xFFFF {
				return nil, invalid("TLS_PRF: protocol %#x", d)
			}
			proto = uint16(d)
		}
		if proto == 0 {
			return nil, invalid("TLS_PRF: protocol 0")
		}
		label := single[ParamTLSPRFLabel]
		if n := len(label); n > 0 && label[n-1] == 0 {
			label = label[:n-1] // a C string's terminator
		}
		k = TLSPRF{Protocol: proto, Hash: h, Label: string(label), Seed: single[ParamTLSPRFSeed]}
	case NameSP80056AConcat:
		k = SP80056AConcat{Hash: h, AlgorithmID: single[ParamAlgorithmID], PartyUInfo: single[ParamPartyUInfo],
			PartyVInfo: single[ParamPartyVInfo], SuppPubInfo: single[ParamSuppPubInfo],
			SuppPrivInfo: single[ParamSuppPrivInfo], Length: opts.Length}
	case NameSP800108CTRHMAC:
		k = SP800108CTRHMAC{Hash: h, Label: single[ParamLabel], Context: single[ParamContext], Length: opts.Length}
	}
	if err := k.Validate(); err != nil {
		return nil, err
	}
	return k, nil
}

func contains(ts []ParamType, t ParamType) bool {
	for _, e := range ts {
		if e == t {
			return true
		}
	}
	return false
}

// ParseHashName decodes a KDF_HASH_ALGORITHM value: a UTF-16LE CNG hash
// name ("SHA1", "SHA256", "SHA384", "SHA512", "MD5"), with or without its
// NUL terminator, compared case-insensitively.
func ParseHashName(b []byte) (crypto.Hash, error) {
	if len(b)%2 != 0 || len(b) > 64 {
		return 0, invalid("hash algorithm name of %d bytes", len(b))
	}
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = binary.LittleEndian.Uint16(b[2*i:])
	}
	if n := len(u); n > 0 && u[n-1] == 0 {
		u = u[:n-1]
	}
	name := string(utf16.Decode(u))
	for _, e := range hashes() {
		if strings.EqualFold(name, e.name) {
			return e.h, nil
		}
	}
	return 0, invalid("unknown hash algorithm %q", name)
}

// HashParam returns the KDF_HASH_ALGORITHM parameter naming h: its CNG
// name in NUL-terminated UTF-16LE.
func HashParam(h crypto.Hash) (Param, error) {
	for _, e := range hashes() {
		if e.h == h {
			b := make([]byte, 0, 2*len(e.name)+2)
			for _, r := range e.name {
				b = binary.LittleEndian.AppendUint16(b, uint16(r))
			}
			return Param{Type: ParamHashAlgorithm, Value: append(b, 0, 0)}, nil
		}
	}
	return Param{}, invalid("hash %v has no KDF name", h)
}

// ProtocolParam returns the KDF_TLS_PRF_PROTOCOL parameter for version v
// (TLS10, TLS11 or TLS12).
func ProtocolParam(v uint16) Param {
	return Param{Type: ParamTLSPRFProtocol, Value: binary.LittleEndian.AppendUint32(nil, uint32(v))}
}

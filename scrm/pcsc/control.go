package pcsc

import (
	"context"
	"encoding/binary"
	"fmt"
	"runtime"

	"github.com/cardmod/cardmod/scrm"
)

// CtlCode returns SCARD_CTL_CODE(function) on this platform: 0x42000000 +
// function with pcsc-lite and the PCSC framework (reader.h), and
// CTL_CODE(FILE_DEVICE_SMARTCARD, function, METHOD_BUFFERED,
// FILE_ANY_ACCESS) on Windows (winsmcrd.h).
func CtlCode(function uint16) uint32 { return ctlCodeFor(runtime.GOOS, function) }

func ctlCodeFor(goos string, function uint16) uint32 {
	if goos == "windows" {
		return 0x31<<16 | uint32(function)<<2
	}
	return 0x42000000 + uint32(function)
}

// Feature is a PC/SC part 10 feature tag (FEATURE_*, reader.h).
type Feature byte

// PC/SC part 10 features (PC/SC Specifications part 10, v2.02.09, and
// pcsc-lite's reader.h).
const (
	FeatureVerifyPINStart       Feature = 0x01
	FeatureVerifyPINFinish      Feature = 0x02
	FeatureModifyPINStart       Feature = 0x03
	FeatureModifyPINFinish      Feature = 0x04
	FeatureGetKeyPressed        Feature = 0x05
	FeatureVerifyPINDirect      Feature = 0x06
	FeatureModifyPINDirect      Feature = 0x07
	FeatureMCTReaderDirect      Feature = 0x08
	FeatureMCTUniversal         Feature = 0x09
	FeatureIFDPINProperties     Feature = 0x0A
	FeatureAbort                Feature = 0x0B
	FeatureSetSPEMessage        Feature = 0x0C
	FeatureWriteDisplay         Feature = 0x0F
	FeatureGetKey               Feature = 0x10
	FeatureIFDDisplayProperties Feature = 0x11
	FeatureGetTLVProperties     Feature = 0x12
	FeatureCCIDEscCommand       Feature = 0x13
	FeatureExecutePACE          Feature = 0x20
)

// Property is a tag of FEATURE_GET_TLV_PROPERTIES
// (PCSCv2_PART10_PROPERTY_*, reader.h).
type Property byte

// TLV properties.
const (
	PropertyLcdLayout                Property = 1
	PropertyEntryValidationCondition Property = 2
	PropertyTimeOut2                 Property = 3
	PropertyLcdMaxCharacters         Property = 4
	PropertyLcdMaxLines              Property = 5
	PropertyMinPINSize               Property = 6
	PropertyMaxPINSize               Property = 7
	PropertyFirmwareID               Property = 8
	PropertyPPDUSupport              Property = 9
	PropertyMaxAPDUDataSize          Property = 10
	PropertyIDVendor                 Property = 11
	PropertyIDProduct                Property = 12
)

// Reader attributes for GetAttrib (SCARD_ATTR_*, reader.h).
const (
	AttrVendorName         uint32 = 0x00010100
	AttrVendorIFDType      uint32 = 0x00010101
	AttrVendorIFDVersion   uint32 = 0x00010102
	AttrVendorIFDSerialNo  uint32 = 0x00010103
	AttrChannelID          uint32 = 0x00020110
	AttrCurrentProtocol    uint32 = 0x00080201
	AttrICCPresence        uint32 = 0x00090300
	AttrATRString          uint32 = 0x00090303
	AttrMaxInput           uint32 = 0x0007A007
	AttrDeviceFriendlyName uint32 = 0x7FFF0003 // the ANSI name
)

// Control sends ioctl (a full control code: CtlCode(n), or one from
// Features) with in to the reader's driver (SCardControl) and returns its
// answer. ctx is checked before the call, which cannot be interrupted.
func (c *Conn) Control(ctx context.Context, ioctl uint32, in []byte) ([]byte, error) {
	const op = "control"
	if err := c.check(op); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, ctxErr(op, ctx, err)
	}
	out, err := c.card.control(ioctl, in)
	if err != nil {
		return nil, wrap(op, err)
	}
	return out, nil
}

// Features asks the reader which PC/SC part 10 features it has
// (CM_IOCTL_GET_FEATURE_REQUEST) and returns the control code of each. A
// driver without the request gives an error wrapping
// scrm.ErrUnsupportedFeature.
func (c *Conn) Features(ctx context.Context) (map[Feature]uint32, error) {
	out, err := c.Control(ctx, CtlCode(3400), nil)
	if err != nil {
		return nil, err
	}
	return ParseFeatures(out)
}

// ParseFeatures decodes the answer to CM_IOCTL_GET_FEATURE_REQUEST: a list
// of PCSC_TLV_STRUCTURE (tag, length 4, control code big-endian).
func ParseFeatures(b []byte) (map[Feature]uint32, error) {
	m := make(map[Feature]uint32)
	for len(b) > 0 {
		if len(b) < 2 || b[1] != 4 || len(b) < 6 {
			return nil, fmt.Errorf("pcsc: feature list: malformed entry % X: %w", b[:min(len(b), 6)], scrm.ErrInvalidValue)
		}
		m[Feature(b[0])] = binary.BigEndian.Uint32(b[2:6])
		b = b[6:]
	}
	return m, nil
}

// TLVProperties reads the reader's FEATURE_GET_TLV_PROPERTIES: each
// property's raw value (numbers are little-endian, PC/SC part 10 §2.6.14).
// A reader without the feature gives an error wrapping
// scrm.ErrUnsupportedFeature.
func (c *Conn) TLVProperties(ctx context.Context) (map[Property][]byte, error) {
	feats, err := c.Features(ctx)
	if err != nil {
		return nil, err
	}
	code, ok := feats[FeatureGetTLVProperties]
	if !ok {
		return nil, fmt.Errorf("pcsc: reader has no FEATURE_GET_TLV_PROPERTIES: %w", scrm.ErrUnsupportedFeature)
	}
	out, err := c.Control(ctx, code, nil)
	if err != nil {
		return nil, err
	}
	return ParseTLVProperties(out)
}

// ParseTLVProperties decodes a FEATURE_GET_TLV_PROPERTIES answer: tag,
// length, value.
func ParseTLVProperties(b []byte) (map[Property][]byte, error) {
	m := make(map[Property][]byte)
	for len(b) > 0 {
		if len(b) < 2 || len(b) < 2+int(b[1]) {
			return nil, fmt.Errorf("pcsc: TLV properties: truncated entry % X: %w", b, scrm.ErrInvalidValue)
		}
		n := int(b[1])
		m[Property(b[0])] = append([]byte(nil), b[2:2+n]...)
		b = b[2+n:]
	}
	return m, nil
}

// PropertyUint returns a numeric TLV property (1, 2 or 4 bytes,
// little-endian).
func PropertyUint(props map[Property][]byte, p Property) (uint32, bool) {
	v, ok := props[p]
	if !ok {
		return 0, false
	}
	switch len(v) {
	case 1:
		return uint32(v[0]), true
	case 2:
		return uint32(binary.LittleEndian.Uint16(v)), true
	case 4:
		return binary.LittleEndian.Uint32(v), true
	}
	return 0, false
}

// MaxAPDUSize returns the largest APDU data the reader takes
// (PCSCv2_PART10_PROPERTY_dwMaxAPDUDataSize): 0 for a reader limited to
// short APDUs. A reader that does not say gives an error wrapping
// scrm.ErrUnsupportedFeature.
func (c *Conn) MaxAPDUSize(ctx context.Context) (uint32, error) {
	props, err := c.TLVProperties(ctx)
	if err != nil {
		return 0, err
	}
	v, ok := PropertyUint(props, PropertyMaxAPDUDataSize)
	if !ok {
		return 0, fmt.Errorf("pcsc: reader does not report dwMaxAPDUDataSize: %w", scrm.ErrUnsupportedFeature)
	}
	return v, nil
}

// GetAttrib reads a reader attribute (SCardGetAttrib; AttrATRString,
// AttrDeviceFriendlyName, ...).
func (c *Conn) GetAttrib(id uint32) ([]byte, error) {
	const op = "get attribute"
	if err := c.check(op); err != nil {
		return nil, err
	}
	v, err := c.card.getAttrib(id)
	if err != nil {
		return nil, wrap(op, err)
	}
	return v, nil
}

// SetAttrib writes a reader attribute (SCardSetAttrib).
func (c *Conn) SetAttrib(id uint32, v []byte) error {
	const op = "set attribute"
	if err := c.check(op); err != nil {
		return err
	}
	if err := c.card.setAttrib(id, v); err != nil {
		return wrap(op, err)
	}
	return nil
}

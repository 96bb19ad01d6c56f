package piv

import "github.com/cardmod/cardmod/cardsim/internal/tlv"

// Data object tags (SP 800-73-4 part 1, table 3, and the Yubico vendor
// range 5FFF00-5FFFFF).
const (
	ObjCardCapabilityContainer uint32 = 0x5FC107
	ObjCHUID                   uint32 = 0x5FC102
	ObjCertAuthentication      uint32 = 0x5FC105 // slot 9A
	ObjFingerprints            uint32 = 0x5FC103
	ObjSecurityObject          uint32 = 0x5FC106
	ObjFacialImage             uint32 = 0x5FC108
	ObjPrintedInformation      uint32 = 0x5FC109
	ObjCertSignature           uint32 = 0x5FC10A // slot 9C
	ObjCertKeyManagement       uint32 = 0x5FC10B // slot 9D
	ObjCertCardAuthentication  uint32 = 0x5FC101 // slot 9E
	ObjKeyHistory              uint32 = 0x5FC10C
	ObjRetiredCert1            uint32 = 0x5FC10D // slot 82; ... 5FC120 is slot 95
	ObjIris                    uint32 = 0x5FC121
	ObjSMCertSigner            uint32 = 0x5FC122
	ObjPairingCodeRef          uint32 = 0x5FC123
	ObjDiscovery               uint32 = 0x7E
	ObjBITGroupTemplate        uint32 = 0x7F61
	ObjAdminData               uint32 = 0x5FFF00 // Yubico admin data
	objAttestationCert         uint32 = 0x5FFF01 // Yubico: slot F9 certificate
)

// ObjAttestationCert is the Yubico object holding the slot F9 certificate.
const ObjAttestationCert = objAttestationCert

// CertObject returns the data object holding the certificate of a key slot,
// or 0 for a slot without one.
func CertObject(slot byte) uint32 {
	switch {
	case slot == 0x9A:
		return ObjCertAuthentication
	case slot == 0x9C:
		return ObjCertSignature
	case slot == 0x9D:
		return ObjCertKeyManagement
	case slot == 0x9E:
		return ObjCertCardAuthentication
	case slot == 0xF9:
		return objAttestationCert
	case slot >= 0x82 && slot <= 0x95:
		return ObjRetiredCert1 + uint32(slot-0x82)
	}
	return 0
}

// discoveryObject is the fixed Discovery object (SP 800-73-4 part 1,
// 3.3.2): the PIV AID and a PIN usage policy of 40 00 (PIV Card
// Application PIN only, no global PIN), the value a YubiKey returns.
var discoveryObject = tlv.Encode(0x7E, tlv.Join(
	tlv.Encode(0x4F, AID),
	tlv.Encode(0x5F2F, []byte{0x40, 0x00}),
))

// pinProtectedObject reports whether reading tag needs the PIN: the
// fingerprints, facial image, printed information and iris objects
// (SP 800-73-4 part 1, table 3; Yubico "PIV data objects" table 1A).
func pinProtectedObject(tag uint32) bool {
	switch tag {
	case ObjFingerprints, ObjFacialImage, ObjPrintedInformation, ObjIris:
		return true
	}
	return false
}

// validObjectTag reports whether the card stores objects under tag: the
// Discovery object 7E, the BIT group template 7F61 and every tag from
// 5F0000 to 5FFFFF ("On a YubiKey, any number between 0x005F0000 and
// 0x005FFFFF (inclusive) can be a valid DataTag", Yubico PIV data objects).
func validObjectTag(tag uint32) bool {
	return tag == ObjDiscovery || tag == ObjBITGroupTemplate || (tag >= 0x5F0000 && tag <= 0x5FFFFF)
}

// standardObjectTag reports whether tag is one of the SP 800-73-4 data
// objects (part 1, table 3): 5FC101 to 5FC123, the Discovery object and
// the BIT group template.
func standardObjectTag(tag uint32) bool {
	return tag == ObjDiscovery || tag == ObjBITGroupTemplate || (tag >= 0x5FC101 && tag <= 0x5FC123)
}

// hasObjectTag reports whether this card stores objects under tag: every
// valid tag with Profile.VendorObjects, else the SP 800-73-4 ones.
func (c *Card) hasObjectTag(tag uint32) bool {
	if c.st.prof.VendorObjects {
		return validObjectTag(tag)
	}
	return standardObjectTag(tag)
}

// parseTagList reads the tag list 5C of GET DATA and PUT DATA: one tag of
// one (7E), two (7F61) or three (5FC1xx) bytes.
func parseTagList(v []byte) (uint32, bool) {
	if len(v) < 1 || len(v) > 3 {
		return 0, false
	}
	var tag uint32
	for _, b := range v {
		tag = tag<<8 | uint32(b)
	}
	return tag, true
}

// cmdGetData answers GET DATA (SP 800-73-4 part 2, 3.1.2).
func (c *Card) cmdGetData(cmd command) reply {
	if cmd.p1 != 0x3F || cmd.p2 != 0xFF {
		return status(swIncorrectP1P2)
	}
	v, err := tlv.ParseSingle(cmd.data, 0x5C)
	if err != nil {
		return status(swIncorrectData)
	}
	tag, okTag := parseTagList(v)
	if !okTag {
		return status(swIncorrectData)
	}
	if !c.hasObjectTag(tag) {
		return status(swNotFound)
	}
	// A YubiKey asks for the PIN before telling whether a protected object
	// exists (PivApplet issue 65: "the YubiKey returns that the security
	// status is not satisfied before checking/revealing that a Data Object
	// is not present").
	if pinProtectedObject(tag) && !c.sess.pinVerified {
		return status(swSecurityStatus)
	}
	if tag == ObjDiscovery {
		return ok(append([]byte(nil), discoveryObject...))
	}
	val, present := c.st.objects[tag]
	if !present || len(val) == 0 {
		return status(swNotFound)
	}
	if tag == ObjBITGroupTemplate {
		return ok(tlv.Encode(ObjBITGroupTemplate, val))
	}
	return ok(tlv.Encode(0x53, val))
}

// cmdPutData answers PUT DATA (SP 800-73-4 part 2, 3.3.1): 5C tag list
// then 53 (or 7F61 for the BIT group template) with the object; an empty
// object deletes it.
func (c *Card) cmdPutData(cmd command) reply {
	if cmd.p1 != 0x3F || cmd.p2 != 0xFF {
		return status(swIncorrectP1P2)
	}
	if !c.sess.mgmtAuth {
		return status(swSecurityStatus)
	}
	list, rest, err := tlv.Parse(cmd.data)
	if err != nil || list.Tag != 0x5C {
		return status(swIncorrectData)
	}
	tag, okTag := parseTagList(list.Value)
	if !okTag || !validObjectTag(tag) {
		return status(swIncorrectData)
	}
	if !c.hasObjectTag(tag) {
		// A tag outside the objects this card has (a Yubico 5FFFxx object
		// on a card without them): function not supported.
		return status(swFuncNotSupported)
	}
	if tag == ObjDiscovery {
		// The Discovery object is fixed.
		return status(swFuncNotSupported)
	}
	wrapper := uint32(0x53)
	if tag == ObjBITGroupTemplate && len(rest) > 0 && rest[0] == 0x7F {
		wrapper = ObjBITGroupTemplate
	}
	val, err := tlv.ParseSingle(rest, wrapper)
	if err != nil {
		return status(swIncorrectData)
	}
	if len(val) > c.h.maxObjectSize {
		return status(swNoSpace)
	}
	if len(val) == 0 {
		delete(c.st.objects, tag)
		return ok(nil)
	}
	if c.st.objectBytes()-len(c.st.objects[tag])+len(val) > totalObjectStorage {
		return status(swNoSpace)
	}
	c.st.objects[tag] = append([]byte(nil), val...)
	return ok(nil)
}

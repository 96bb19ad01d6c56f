package gids

import (
	"bytes"

	"github.com/cardmod/cardmod/cardsim/internal/tlv"
)

// efATR is the content of EF.ATR (ISO/IEC 7816-4 section 8.2.1.1):
// card service data 43 D4 (selection by full and partial DF name; data
// objects in EF.ATR, read by GET DATA), card capabilities 47 D0 01 C0
// (selection by DF name and file identifier; one-byte data units; command
// chaining and extended Lc/Le), and pre-issuing data 46 naming the
// simulator. GidsApplet answers the same three objects.
var efATR = tlv.Join(
	tlv.Encode(0x43, []byte{0xD4}),
	tlv.Encode(0x47, []byte{0xD0, 0x01, 0xC0}),
	tlv.Encode(0x46, []byte("cardmod GIDS")),
)

// maxObjects bounds the data objects of one sequence the card parses (a
// command's data field, the inside of a template): a longer sequence is
// malformed to the card.
const maxObjects = 256

// parseFCP decodes a CREATE FILE template 62 { 82 FDB, 83 FID, 8C
// security, A5 CRTs (key files) } into a new file in the creation state.
// The file identifier must not be the application's (3FFF), the MF's
// (3F00) or FFFF; key files take identifiers B0xx, xx being the key
// reference.
func parseFCP(fcp []byte) (*file, uint16) {
	outer, rest, err := tlv.Parse(fcp)
	if err != nil || len(rest) != 0 || outer.Tag != 0x62 {
		return nil, swIncorrectData
	}
	items, err := tlv.ParseAllMax(outer.Value, maxObjects)
	if err != nil {
		return nil, swIncorrectData
	}
	fd, okFD := tlv.Find(items, 0x82)
	id, okID := tlv.Find(items, 0x83)
	if !okFD || !okID || len(fd.Value) < 1 || len(id.Value) != 2 {
		return nil, swIncorrectData
	}
	f := &file{
		fid:  uint16(id.Value[0])<<8 | uint16(id.Value[1]),
		fcp:  append([]byte(nil), outer.Raw...),
		fdb:  fd.Value[0],
		life: LifeCycleCreation,
	}
	if f.fid == appFID || f.fid == 0x3F00 || f.fid == 0xFFFF || f.fid == 0 {
		return nil, swIncorrectData
	}
	if sc, found := tlv.Find(items, 0x8C); found {
		sec, okSec := parseSecurity(sc.Value)
		if !okSec {
			return nil, swIncorrectData
		}
		f.sec = sec
	}
	switch f.fdb {
	case fdbDOFile:
		f.dos = map[uint32][]byte{}
	case fdbKeyFile:
		if f.fid>>8 != 0xB0 {
			return nil, swIncorrectData
		}
		if a5, found := tlv.Find(items, 0xA5); found {
			tmpls, err := tlv.ParseAllMax(a5.Value, maxObjects)
			if err != nil {
				return nil, swIncorrectData
			}
			for _, t := range tmpls {
				if t.Tag != 0xA4 && t.Tag != 0xB6 && t.Tag != 0xB8 {
					continue
				}
				in, err := tlv.ParseAllMax(t.Value, maxObjects)
				if err != nil {
					return nil, swIncorrectData
				}
				if alg, found := tlv.Find(in, 0x80); found && len(alg.Value) == 1 {
					f.crts = append(f.crts, crt{tmpl: byte(t.Tag), alg: alg.Value[0]})
				}
			}
		}
	default:
		// Transparent and record EFs are not part of GIDS's data model.
		return nil, swFuncNotSupported
	}
	return f, swOK
}

// cmdCreateFile answers CREATE FILE (00 E0 00 00 FCP). The new file is
// selected and stays in the creation state until ACTIVATE FILE.
func (c *Card) cmdCreateFile(cmd command) reply {
	if cmd.p1 != 0 || cmd.p2 != 0 {
		return status(swIncorrectP1P2)
	}
	if sw := c.checkApp(opCreateEF); sw != swOK {
		return status(sw)
	}
	f, sw := parseFCP(cmd.data)
	if sw != swOK {
		return status(sw)
	}
	if c.st.files[f.fid] != nil {
		return status(swFileExists)
	}
	if len(c.st.files) >= maxFiles {
		return status(swNoSpace)
	}
	c.st.files[f.fid] = f
	c.sess.current = f.fid
	return ok(nil)
}

// maxFiles bounds the files of the application.
const maxFiles = 512

// targetFile is the file a DELETE/ACTIVATE/TERMINATE addresses: the one
// named in the data field (2-byte FID), else the current file.
func (c *Card) targetFile(data []byte) (uint16, uint16) {
	switch len(data) {
	case 0:
		if c.sess.current == 0 {
			return 0, swCommandNotAllowed
		}
		return c.sess.current, swOK
	case 2:
		fid := uint16(data[0])<<8 | uint16(data[1])
		if fid == appFID || c.st.files[fid] != nil {
			return fid, swOK
		}
		return 0, swFileNotFound
	}
	return 0, swWrongLength
}

// cmdDeleteFile answers DELETE FILE (00 E4 00 00 [FID]): the file's own
// delete condition and the application's delete-child condition must
// hold. The application cannot be deleted (6985).
func (c *Card) cmdDeleteFile(cmd command) reply {
	if cmd.p1 != 0 || cmd.p2 != 0 {
		return status(swIncorrectP1P2)
	}
	fid, sw := c.targetFile(cmd.data)
	if sw != swOK {
		return status(sw)
	}
	if fid == appFID {
		return status(swConditionsNotMet)
	}
	f := c.st.files[fid]
	if !c.allowed(f.sec.condition(opDelete)) {
		return status(swSecurityStatus)
	}
	if sw := c.checkApp(opDeleteDF); sw != swOK {
		return status(sw)
	}
	delete(c.st.files, fid)
	c.sess.current = appFID
	if c.sess.se.key == byte(fid) && fid>>8 == 0xB0 {
		c.sess.se = securityEnv{}
	}
	return ok(nil)
}

// cmdActivateFile answers ACTIVATE FILE (00 44 00 00 [FID]). Activating
// the application ends its creation state: from then on every access
// condition applies and the session starts unauthenticated.
func (c *Card) cmdActivateFile(cmd command) reply {
	if cmd.p1 != 0 || cmd.p2 != 0 {
		return status(swIncorrectP1P2)
	}
	fid, sw := c.targetFile(cmd.data)
	if sw != swOK {
		return status(sw)
	}
	if fid == appFID {
		if c.st.life == LifeCycleCreation {
			c.st.life = LifeCycleOperational
			c.sess.deauthenticate()
		}
		return ok(nil)
	}
	f := c.st.files[fid]
	if sw := c.checkFile(f, opActivate); sw != swOK {
		return status(sw)
	}
	f.life = LifeCycleOperational
	return ok(nil)
}

// cmdTerminateDF answers TERMINATE DF (00 E6 00 00): the application goes
// to the terminated state for good, if its condition allows (the
// application's compact attribute lists no terminate condition, so it is
// always allowed, as on GidsApplet).
func (c *Card) cmdTerminateDF(cmd command) reply {
	if cmd.p1 != 0 || cmd.p2 != 0 {
		return status(swIncorrectP1P2)
	}
	if sw := c.checkApp(opTerminate); sw != swOK {
		return status(sw)
	}
	c.st.life = LifeCycleTerminated
	c.sess.deauthenticate()
	return ok(nil)
}

// doFile finds the DO file with identifier P1P2.
func (c *Card) doFile(cmd command) (*file, uint16) {
	fid := uint16(cmd.p1)<<8 | uint16(cmd.p2)
	f := c.st.files[fid]
	if f == nil {
		return nil, swFileNotFound
	}
	if f.fdb != fdbDOFile {
		return nil, swCommandNotAllowed
	}
	return f, swOK
}

// cmdGetData answers GET DATA (00 CB P1P2 5C tag). P1P2 3FFF addresses
// the application (public keys, PIN status); any other P1P2 is the file
// identifier of a DO file, and the answer is the whole data object (tag,
// length, value), as OpenSC and the Windows minidriver parse it.
func (c *Card) cmdGetData(cmd command) reply {
	if cmd.p1 == 0x3F && cmd.p2 == 0xFF {
		return c.getAppData(cmd)
	}
	if cmd.p1 == 0x2F && cmd.p2 == 0x01 {
		// EF.ATR, which Windows reads with 00 CB 2F 01 02 5C 00.
		if !bytes.Equal(cmd.data, []byte{0x5C, 0x00}) {
			return status(swIncorrectData)
		}
		return ok(c.h.prof.efATRContent())
	}
	f, sw := c.doFile(cmd)
	if sw != swOK {
		return status(sw)
	}
	if sw := c.checkFile(f, opGetData); sw != swOK {
		return status(sw)
	}
	list, err := tlv.ParseAllMax(cmd.data, maxObjects)
	if err != nil || len(list) != 1 || list[0].Tag != 0x5C {
		return status(swIncorrectData)
	}
	tagv := list[0].Value
	if len(tagv) < 1 || len(tagv) > 3 {
		return status(swIncorrectData)
	}
	var tag uint32
	for _, b := range tagv {
		tag = tag<<8 | uint32(b)
	}
	v, found := f.dos[tag]
	if !found {
		return status(swRefNotFound)
	}
	return ok(tlv.Encode(tag, v))
}

// getAppData answers GET DATA 3FFF: the public key of a key file (70 { 84
// key reference, A5 { 7F49 80 } }) or the status of the PIN (5C 7F71 or
// 7F72).
func (c *Card) getAppData(cmd command) reply {
	list, err := tlv.ParseAllMax(cmd.data, maxObjects)
	if err != nil || len(list) != 1 {
		return status(swIncorrectData)
	}
	switch list[0].Tag {
	case 0x5C:
		v := list[0].Value
		if len(v) == 2 && v[0] == 0x7F && (v[1] == 0x71 || v[1] == 0x72) {
			p := c.st.pin
			return ok(tlv.Encode(0x7F00|uint32(v[1]), tlv.Join(tlv.Encode(0x97, []byte{byte(p.left)}), tlv.Encode(0x93, []byte{byte(p.max)}))))
		}
		// 7F73 is the PUK, which GIDS v2 cards do not have.
		return status(swRefNotFound)
	case 0x70:
		return c.getPublicKey(list[0].Value)
	}
	return status(swIncorrectData)
}

// cmdPutData answers PUT DATA (00 DB P1P2 data). P1P2 3FFF imports a key
// (70 template); any other P1P2 names a DO file and the data field holds
// the data objects to store. An object with an empty value is stored
// empty; storing an empty object over an empty one deletes it (GidsApplet;
// OpenSC relies on an empty cmapfile being readable after initialization).
func (c *Card) cmdPutData(cmd command) reply {
	if cmd.p1 == 0x3F && cmd.p2 == 0xFF {
		return c.putKey(cmd)
	}
	f, sw := c.doFile(cmd)
	if sw != swOK {
		return status(sw)
	}
	if sw := c.checkFile(f, opPutData); sw != swOK {
		return status(sw)
	}
	list, err := tlv.ParseAllMax(cmd.data, maxObjects)
	if err != nil || len(list) == 0 {
		return status(swIncorrectData)
	}
	for _, t := range list {
		if t.Tag == 0x5C || !tlv.ValidTag(t.Tag) {
			return status(swIncorrectData)
		}
	}
	used := c.st.usedBytes()
	for _, t := range list {
		used += len(t.Value) - len(f.dos[t.Tag])
	}
	if used > c.h.capacity {
		return status(swNoSpace)
	}
	for _, t := range list {
		old, found := f.dos[t.Tag]
		if found && len(old) == 0 && len(t.Value) == 0 {
			delete(f.dos, t.Tag)
			continue
		}
		f.dos[t.Tag] = append([]byte{}, t.Value...)
	}
	return ok(nil)
}

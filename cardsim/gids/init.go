package gids

import (
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/cardmod/cardmod/cardsim/internal/tlv"
)

// File identifiers and data object tags of the minidriver file system on a
// GIDS card, as OpenSC's GIDS driver and the Windows inbox minidriver lay it
// out. A DO file's identifier encodes its access rule; the master file
// (DF1F) maps directory/file names to (file identifier, DO tag).
const (
	// FileUserCreateDeleteDir: write user or admin, read everyone.
	// Holds the master file and the key map.
	FileUserCreateDeleteDir uint16 = 0xA000
	// FileEveryoneReadUserWrite: write user or admin, read everyone
	// (cardapps, cardcf, cmapfile, certificates).
	FileEveryoneReadUserWrite uint16 = 0xA010
	// FileUserWriteExecute: write user or admin, read never.
	FileUserWriteExecute uint16 = 0xA011
	// FileEveryoneReadAdminWrite: write admin, read everyone (cardid).
	FileEveryoneReadAdminWrite uint16 = 0xA012
	// FileUserReadWrite: read and write user or admin.
	FileUserReadWrite uint16 = 0xA013
	// FileAdminReadWrite: read and write admin.
	FileAdminReadWrite uint16 = 0xA014
	// FileAdminKey is the admin key file (key reference 80).
	FileAdminKey uint16 = 0xB080

	// DOMasterFile is the master file in FileUserCreateDeleteDir.
	DOMasterFile uint32 = 0xDF1F
	// DOKeyMap is the key map in FileUserCreateDeleteDir.
	DOKeyMap uint32 = 0xDF20
	// DOCardApps, DOCardCF and DOCmapFile are cardapps, cardcf and
	// mscp/cmapfile in FileEveryoneReadUserWrite.
	DOCardApps uint32 = 0xDF21
	DOCardCF   uint32 = 0xDF22
	DOCmapFile uint32 = 0xDF23
	// DOCardID is cardid in FileEveryoneReadAdminWrite.
	DOCardID uint32 = 0xDF20
)

// doFileFCP is the CREATE FILE template of a DO file with the given
// PUT DATA and GET DATA conditions (62 { 82 39, 83 FID, 8C 03 PUT GET }).
func doFileFCP(fid uint16, put, get byte) []byte {
	return tlv.Encode(0x62, tlv.Join(
		tlv.Encode(0x82, []byte{fdbDOFile}),
		tlv.Encode(0x83, []byte{byte(fid >> 8), byte(fid)}),
		tlv.Encode(0x8C, []byte{opPutData | opGetData, put, get}),
	))
}

// adminKeyFCP is the CREATE FILE template of the admin key file: MSE
// always, import admin only, public key never; one CRT A4 { 80 02, 83 80,
// 95 C0 } (the template OpenSC's gids-tool creates).
func adminKeyFCP() []byte {
	return tlv.Encode(0x62, tlv.Join(
		tlv.Encode(0x82, []byte{fdbKeyFile}),
		tlv.Encode(0x83, []byte{0xB0, 0x80}),
		tlv.Encode(0x8C, []byte{0x80 | opMSE | opPutKey | opGetPublic, 0x00, 0x20, 0xFF}),
		tlv.Encode(0xA5, tlv.Encode(0xA4, tlv.Join(tlv.Encode(0x80, []byte{0x02}), tlv.Encode(0x83, []byte{0x80}), tlv.Encode(0x95, []byte{0xC0})))),
	))
}

// masterFileRecord is one entry of the master file as the minidriver
// writes it: directory and file name as NUL-padded 9-byte fields, two
// bytes of alignment, then the DO tag and the file identifier as 32-bit
// little-endian integers (28 bytes). The master file is one version byte
// (01) followed by the records.
func masterFileRecord(dir, name string, do uint32, fid uint16) []byte {
	rec := make([]byte, 28)
	copy(rec[0:9], dir)
	copy(rec[9:18], name)
	binary.LittleEndian.PutUint32(rec[20:], do)
	binary.LittleEndian.PutUint32(rec[24:], uint32(fid))
	return rec
}

// initialMasterFile lists the mscp directory, cardid, cardapps, cardcf and
// mscp/cmapfile.
func initialMasterFile() []byte {
	return slices.Concat([]byte{0x01},
		masterFileRecord("mscp", "", 0, FileUserCreateDeleteDir),
		masterFileRecord("", "cardid", DOCardID, FileEveryoneReadAdminWrite),
		masterFileRecord("", "cardapps", DOCardApps, FileEveryoneReadUserWrite),
		masterFileRecord("", "cardcf", DOCardCF, FileEveryoneReadUserWrite),
		masterFileRecord("mscp", "cmapfile", DOCmapFile, FileEveryoneReadUserWrite),
	)
}

// initialize runs the initialization of OpenSC's gids-tool --initialize
// through the card's own command processing: SELECT, set the PIN, create
// and activate the six DO files and the admin key file, store the admin
// key, the master file, cardapps, cardcf, an empty cmapfile and cardid,
// then activate the application.
func (c *Card) initialize(pin, adminKey, cardID []byte) error {
	sel := slices.Concat([]byte{0x00, 0xA4, 0x04, 0x00, 0x09}, AID[:9])
	steps := [][]byte{sel, apdu(0x24, 0x01, 0x80, pin)}
	for _, f := range []struct {
		fid      uint16
		put, get byte
	}{
		{FileUserCreateDeleteDir, 0x30, 0x00},
		{FileEveryoneReadUserWrite, 0x30, 0x00},
		{FileUserWriteExecute, 0x30, 0xFF},
		{FileEveryoneReadAdminWrite, 0x20, 0x00},
		{FileUserReadWrite, 0x30, 0x30},
		{FileAdminReadWrite, 0x20, 0x20},
	} {
		steps = append(steps, apdu(0xE0, 0, 0, doFileFCP(f.fid, f.put, f.get)), apdu(0x44, 0, 0, nil))
	}
	keyDO := tlv.Encode(0x70, tlv.Join(tlv.Encode(0x84, []byte{0x80}), tlv.Encode(0xA5, tlv.Encode(0x87, adminKey))))
	put := func(fid uint16, tag uint32, v []byte) []byte {
		return apdu(0xDB, byte(fid>>8), byte(fid), tlv.Encode(tag, v))
	}
	steps = append(steps,
		apdu(0xE0, 0, 0, adminKeyFCP()), apdu(0x44, 0, 0, nil),
		apdu(0xDB, 0x3F, 0xFF, keyDO),
		put(FileUserCreateDeleteDir, DOMasterFile, initialMasterFile()),
		put(FileEveryoneReadUserWrite, DOCardApps, []byte("mscp\x00\x00\x00\x00")),
		put(FileEveryoneReadUserWrite, DOCardCF, make([]byte, 6)),
		put(FileEveryoneReadUserWrite, DOCmapFile, nil),
		put(FileEveryoneReadAdminWrite, DOCardID, cardID),
		apdu(0xA4, 0x00, 0x0C, []byte{0x3F, 0xFF}),
		apdu(0x44, 0, 0, nil),
	)
	for i, s := range steps {
		r := c.transmit(s)
		if sw := uint16(r[len(r)-2])<<8 | uint16(r[len(r)-1]); sw != swOK {
			return fmt.Errorf("gids: initialization step %d (INS %02X) answered %04X", i, s[1], sw)
		}
	}
	c.sess = session{}
	return nil
}

// apdu builds a short or extended case 1 or 3 command.
func apdu(ins, p1, p2 byte, data []byte) []byte {
	out := []byte{0x00, ins, p1, p2}
	switch {
	case len(data) == 0:
	case len(data) <= 255:
		out = append(out, byte(len(data)))
		out = append(out, data...)
	default:
		out = append(out, 0, byte(len(data)>>8), byte(len(data)))
		out = append(out, data...)
	}
	return out
}

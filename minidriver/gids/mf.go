package gids

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/cardmod/cardmod/cardfs"
)

// errFormat is a master file or key map that cannot be read.
var errFormat = errors.New("gids: malformed card file")

// File identifiers of the DO files a GIDS card's minidriver file system
// lives in. The file identifier says the access rule of every object in it;
// the master file maps names to (file identifier, DO tag).
const (
	fidUserCreateDeleteDir    uint16 = 0xA000 // master file, key map, directories
	fidEveryoneReadUserWrite  uint16 = 0xA010 // cardapps, cardcf, cmapfile, certificates
	fidUserWriteExecute       uint16 = 0xA011
	fidEveryoneReadAdminWrite uint16 = 0xA012 // cardid
	fidUserReadWrite          uint16 = 0xA013
	fidAdminReadWrite         uint16 = 0xA014

	doMasterFile uint32 = 0xDF1F // in A000
	doKeyMap     uint32 = 0xDF20 // in A000
	doCardApps   uint32 = 0xDF21 // in A010
	doCardCF     uint32 = 0xDF22 // in A010
	doCmapFile   uint32 = 0xDF23 // in A010
	doCardID     uint32 = 0xDF20 // in A012

	// doFirstFree is where the search for a new file's DO tag starts, and
	// doLast where it ends (OpenSC's GIDS driver and the Windows layout:
	// certificates land on DF24 and up in A010).
	doFirstFree uint32 = 0xDF21
	doLast      uint32 = 0xDFFF
)

// fileFID is the DO file of files created with ac.
func fileFID(ac cardfs.FileAccessCondition) (uint16, bool) {
	switch ac {
	case cardfs.EveryoneReadUserWriteAc:
		return fidEveryoneReadUserWrite, true
	case cardfs.UserWriteExecuteAc:
		return fidUserWriteExecute, true
	case cardfs.EveryoneReadAdminWriteAc:
		return fidEveryoneReadAdminWrite, true
	case cardfs.UserReadWriteAc:
		return fidUserReadWrite, true
	case cardfs.AdminReadWriteAc:
		return fidAdminReadWrite, true
	}
	return 0, false
}

// fidAC is the access condition of the files in DO file fid.
func fidAC(fid uint16) cardfs.FileAccessCondition {
	switch fid {
	case fidEveryoneReadUserWrite, fidUserCreateDeleteDir:
		return cardfs.EveryoneReadUserWriteAc
	case fidUserWriteExecute:
		return cardfs.UserWriteExecuteAc
	case fidEveryoneReadAdminWrite:
		return cardfs.EveryoneReadAdminWriteAc
	case fidUserReadWrite:
		return cardfs.UserReadWriteAc
	case fidAdminReadWrite:
		return cardfs.AdminReadWriteAc
	}
	return cardfs.UnknownAc
}

// dirFID is the file identifier a directory record carries for ac.
func dirFID(ac cardfs.DirectoryAccessCondition) (uint16, bool) {
	switch ac {
	case cardfs.UserCreateDeleteDirAc:
		return fidUserCreateDeleteDir, true
	case cardfs.AdminCreateDeleteDirAc:
		return fidEveryoneReadAdminWrite, true
	}
	return 0, false
}

// Master file layout: a version byte 01, then 28-byte records (the C
// structure the Windows minidriver and OpenSC share): directory name and
// file name NUL-padded in 9 bytes each, 2 bytes of alignment, the DO tag
// and the file identifier as 32-bit little-endian integers. A directory
// is a record with an empty file name (DO tag 0, the file identifier
// naming its access rule).
const (
	mfVersion    = 0x01
	mfRecordSize = 28
	mfNameField  = 9
	// mfMaxSize bounds the master file (OpenSC's MAX_GIDS_FILE_SIZE).
	mfMaxSize = 65000
)

// mfRecord is one entry of the master file. Dir and Name are kept as the
// card stores them (OpenSC writes certificate names as kxc0A); they are
// compared case-insensitively.
type mfRecord struct {
	Dir, Name string
	DO        uint32
	FID       uint16
}

// isDir reports whether r is a directory record.
func (r mfRecord) isDir() bool { return r.Name == "" }

// masterFile is the parsed master file, records in card order.
type masterFile struct {
	records []mfRecord
}

// parseMasterFile reads the master file.
func parseMasterFile(b []byte) (*masterFile, error) {
	if len(b) < 1 || b[0] != mfVersion {
		return nil, fmt.Errorf("%w: master file version", errFormat)
	}
	if len(b) > mfMaxSize {
		return nil, fmt.Errorf("%w: master file of %d bytes", errFormat, len(b))
	}
	body := b[1:]
	// A trailing partial record is ignored, as OpenSC does.
	n := len(body) / mfRecordSize
	mf := &masterFile{records: make([]mfRecord, 0, n)}
	for i := 0; i < n; i++ {
		rec := body[i*mfRecordSize : (i+1)*mfRecordSize]
		dir, ok1 := cString(rec[0:mfNameField])
		name, ok2 := cString(rec[mfNameField : 2*mfNameField])
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("%w: master file record %d: unterminated name", errFormat, i)
		}
		do := binary.LittleEndian.Uint32(rec[20:24])
		fid := binary.LittleEndian.Uint32(rec[24:28])
		if fid > 0xFFFF {
			return nil, fmt.Errorf("%w: master file record %d: file identifier %#x", errFormat, i, fid)
		}
		mf.records = append(mf.records, mfRecord{
			Dir: dir, Name: name, DO: do, FID: uint16(fid),
		})
	}
	return mf, nil
}

// asciiLower lower-cases the ASCII letters of s and leaves every other
// byte as it is.
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// cString reads a NUL-terminated name from a fixed field.
func cString(b []byte) (string, bool) {
	i := bytes.IndexByte(b, 0)
	if i < 0 {
		return "", false
	}
	return string(b[:i]), true
}

// marshal encodes the master file.
func (mf *masterFile) marshal() []byte {
	out := make([]byte, 1, 1+len(mf.records)*mfRecordSize)
	out[0] = mfVersion
	for _, r := range mf.records {
		rec := make([]byte, mfRecordSize)
		copy(rec[0:mfNameField-1], r.Dir)
		copy(rec[mfNameField:2*mfNameField-1], r.Name)
		binary.LittleEndian.PutUint32(rec[20:24], r.DO)
		binary.LittleEndian.PutUint32(rec[24:28], uint32(r.FID))
		out = append(out, rec...)
	}
	return out
}

// find returns the index of dir/name, or -1. Both are lower case.
func (mf *masterFile) find(dir, name string) int {
	for i, r := range mf.records {
		if asciiLower(r.Dir) == dir && asciiLower(r.Name) == name {
			return i
		}
	}
	return -1
}

// hasDir reports whether dir exists; the root always does.
func (mf *masterFile) hasDir(dir string) bool {
	return dir == "" || mf.find(dir, "") >= 0
}

// files lists the file names of dir, in card order.
func (mf *masterFile) files(dir string) []string {
	var out []string
	for _, r := range mf.records {
		if asciiLower(r.Dir) == dir && !r.isDir() {
			out = append(out, asciiLower(r.Name))
		}
	}
	return out
}

// freeDO returns the first DO tag from doFirstFree that no record of fid
// uses (nor the master file and key map themselves).
func (mf *masterFile) freeDO(fid uint16) (uint32, bool) {
	used := map[uint32]bool{}
	for _, r := range mf.records {
		if r.FID == fid && !r.isDir() {
			used[r.DO] = true
		}
	}
	if fid == fidUserCreateDeleteDir {
		used[doMasterFile], used[doKeyMap] = true, true
	}
	for do := doFirstFree; do <= doLast; do++ {
		if !used[do] {
			return do, true
		}
	}
	return 0, false
}

// remove deletes record i.
func (mf *masterFile) remove(i int) {
	mf.records = append(mf.records[:i:i], mf.records[i+1:]...)
}

// storedName is the form in which a new file's name goes into the master
// file: certificate files kscNN and kxcNN with upper-case hexadecimal
// digits, as OpenSC's GIDS driver writes and looks them up (with a
// case-sensitive comparison), every other name as given (lower case).
func storedName(dir, name string) string {
	if dir != cardfs.MSCPDir || len(name) != 5 || (name[:3] != cardfs.KeyExchangeCertPrefix && name[:3] != cardfs.SignatureCertPrefix) {
		return name
	}
	b := []byte(name)
	for i := 3; i < 5; i++ {
		if 'a' <= b[i] && b[i] <= 'f' {
			b[i] -= 'a' - 'A'
		}
	}
	return string(b)
}

// initialMasterFile is the master file of a newly initialized card: the
// mscp directory, cardid, cardapps, cardcf and mscp/cmapfile, in the order
// and at the places OpenSC's gids-tool and the Windows minidriver use.
func initialMasterFile() *masterFile {
	return &masterFile{records: []mfRecord{
		{Dir: cardfs.MSCPDir, FID: fidUserCreateDeleteDir},
		{Name: cardfs.CardIDFile, DO: doCardID, FID: fidEveryoneReadAdminWrite},
		{Name: cardfs.CardAppsFile, DO: doCardApps, FID: fidEveryoneReadUserWrite},
		{Name: cardfs.CardCFFile, DO: doCardCF, FID: fidEveryoneReadUserWrite},
		{Dir: cardfs.MSCPDir, Name: "cmapfile", DO: doCmapFile, FID: fidEveryoneReadUserWrite},
	}}
}

// Key map layout: a version byte 01, then one 12-byte record per
// container index (the C structure OpenSC's GIDS driver shares with the
// Windows minidriver, with its natural alignment): a 32-bit little-endian
// state (1 = key present), the algorithm identifier, the key type (9A
// AT_KEYEXCHANGE, 9C AT_SIGNATURE), the key file identifier B0xx as a
// 16-bit little-endian integer, FFFF, and two bytes of padding. A deleted
// record has state 0 and key file FFFF.
const (
	kmVersion    = 0x01
	kmRecordSize = 12
	kmMaxSize    = 65000

	keyTypeExchange  = 0x9A
	keyTypeSignature = 0x9C
)

// kmRecord is one container's entry in the key map.
type kmRecord struct {
	State   uint32
	Alg     byte
	KeyType byte
	KeyFile uint16
	Unknown uint16
	pad     [2]byte
}

// present reports whether the record names a key.
func (r kmRecord) present() bool {
	return r.State == 1 && r.KeyFile>>8 == 0xB0 && byte(r.KeyFile) >= firstKeyRef
}

// deletedKM is the record of a free container index.
var deletedKM = kmRecord{KeyFile: 0xFFFF, Unknown: 0xFFFF}

// keyMap is the parsed key map.
type keyMap struct {
	records []kmRecord
}

// parseKeyMap reads the key map; an empty object is an empty map.
func parseKeyMap(b []byte) (*keyMap, error) {
	if len(b) == 0 {
		return &keyMap{}, nil
	}
	if b[0] != kmVersion {
		return nil, fmt.Errorf("%w: key map version %#x", errFormat, b[0])
	}
	if len(b) > kmMaxSize {
		return nil, fmt.Errorf("%w: key map of %d bytes", errFormat, len(b))
	}
	body := b[1:]
	n := len(body) / kmRecordSize
	km := &keyMap{records: make([]kmRecord, n)}
	for i := range km.records {
		rec := body[i*kmRecordSize : (i+1)*kmRecordSize]
		km.records[i] = kmRecord{
			State:   binary.LittleEndian.Uint32(rec[0:4]),
			Alg:     rec[4],
			KeyType: rec[5],
			KeyFile: binary.LittleEndian.Uint16(rec[6:8]),
			Unknown: binary.LittleEndian.Uint16(rec[8:10]),
			pad:     [2]byte{rec[10], rec[11]},
		}
	}
	return km, nil
}

// marshal encodes the key map.
func (km *keyMap) marshal() []byte {
	out := make([]byte, 1, 1+len(km.records)*kmRecordSize)
	out[0] = kmVersion
	for _, r := range km.records {
		rec := make([]byte, kmRecordSize)
		binary.LittleEndian.PutUint32(rec[0:4], r.State)
		rec[4], rec[5] = r.Alg, r.KeyType
		binary.LittleEndian.PutUint16(rec[6:8], r.KeyFile)
		binary.LittleEndian.PutUint16(rec[8:10], r.Unknown)
		copy(rec[10:], r.pad[:])
		out = append(out, rec...)
	}
	return out
}

// get returns container idx's record, if it names a key.
func (km *keyMap) get(idx int) (kmRecord, bool) {
	if idx < 0 || idx >= len(km.records) || !km.records[idx].present() {
		return kmRecord{}, false
	}
	return km.records[idx], true
}

// set stores rec at idx, growing the map with deleted records.
func (km *keyMap) set(idx int, rec kmRecord) {
	for len(km.records) <= idx {
		km.records = append(km.records, deletedKM)
	}
	km.records[idx] = rec
}

// count is the number of containers holding a key.
func (km *keyMap) count() int {
	n := 0
	for _, r := range km.records {
		if r.present() {
			n++
		}
	}
	return n
}

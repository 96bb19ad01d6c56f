package cardfs

import (
	"encoding/binary"
	"fmt"
	"slices"
	"strconv"
)

// Snapshot format, version 1. Integers are little-endian.
//
//	magic    "CFS" 0x01 (the last byte is the version)
//	u16      number of application directories D
//	root     file list
//	D times: u8 name length, name, u8 DirectoryAccessCondition, file list
//
//	file list: u16 number of files F, then F times:
//	  u8 name length, name, u8 FileAccessCondition, u32 length, content
//
// Directories and files appear in ascending name order, names in their
// stored (lower-case) form, so a file system has exactly one encoding and
// LoadSnapshot followed by Snapshot reproduces the input.
const (
	snapshotMagic   = "CFS\x01"
	snapshotFile    = "snapshot"
	snapshotMinFile = 1 + 1 + 1 + 4 // shortest file entry
	snapshotMinDir  = 1 + 1 + 1 + 2 // shortest directory entry
)

// Snapshot serialises the whole file system (see the format above). A
// plug-in can persist it, for example in a card data object, and restore
// it with Restore.
func (m *MemFS) Snapshot() []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	b := make([]byte, 0, len(snapshotMagic)+2+m.used+64)
	b = append(b, snapshotMagic...)
	dirNames := make([]string, 0, len(m.dirs))
	for n := range m.dirs {
		if n != RootDir {
			dirNames = append(dirNames, n)
		}
	}
	slices.Sort(dirNames)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(dirNames)))
	b = appendFiles(b, m.dirs[RootDir])
	for _, n := range dirNames {
		d := m.dirs[n]
		b = append(b, byte(len(n)))
		b = append(b, n...)
		b = append(b, byte(d.ac))
		b = appendFiles(b, d)
	}
	return b
}

func appendFiles(b []byte, d *memDir) []byte {
	names := make([]string, 0, len(d.files))
	for n := range d.files {
		names = append(names, n)
	}
	slices.Sort(names)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(names)))
	for _, n := range names {
		f := d.files[n]
		b = append(b, byte(len(n)))
		b = append(b, n...)
		b = append(b, byte(f.ac))
		b = binary.LittleEndian.AppendUint32(b, uint32(len(f.data)))
		b = append(b, f.data...)
	}
	return b
}

// snapReader is a bounded cursor over a snapshot.
type snapReader struct {
	b   []byte
	err error
}

func (r *snapReader) fail(reason string) {
	if r.err == nil {
		r.err = formatErr(snapshotFile, reason)
	}
}

func (r *snapReader) take(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.b) {
		r.fail("truncated")
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

func (r *snapReader) u8() int {
	v := r.take(1)
	if v == nil {
		return 0
	}
	return int(v[0])
}

func (r *snapReader) u16() int {
	v := r.take(2)
	if v == nil {
		return 0
	}
	return int(binary.LittleEndian.Uint16(v))
}

func (r *snapReader) u32() int {
	v := r.take(4)
	if v == nil {
		return 0
	}
	x := binary.LittleEndian.Uint32(v)
	if uint64(x) > uint64(len(r.b)) {
		r.fail("length " + strconv.FormatUint(uint64(x), 10) + " beyond the end")
		return 0
	}
	return int(x)
}

// name reads a length-prefixed name that must be in stored form and sort
// after prev.
func (r *snapReader) name(prev string) string {
	n := string(r.take(r.u8()))
	if r.err != nil {
		return ""
	}
	if norm, err := NormalizeName(n); err != nil || norm != n {
		r.fail("name " + strconv.Quote(n) + " is not a stored name")
		return ""
	}
	if n <= prev {
		r.fail("name " + strconv.Quote(n) + " out of order")
		return ""
	}
	return n
}

func (r *snapReader) files(used *int) map[string]*memFile {
	count := r.u16()
	if count > MaxFilesPerDirectory {
		r.fail("file count " + strconv.Itoa(count) + " over the limit")
		return nil
	}
	if count > len(r.b)/snapshotMinFile {
		r.fail("file count " + strconv.Itoa(count) + " beyond the end")
		return nil
	}
	files := make(map[string]*memFile, count)
	prev := ""
	for i := 0; i < count && r.err == nil; i++ {
		n := r.name(prev)
		ac := FileAccessCondition(r.u8())
		data := r.take(r.u32())
		if r.err != nil {
			break
		}
		if !ac.valid() {
			r.fail("file " + strconv.Quote(n) + ": access condition " + ac.String())
			break
		}
		if len(data) > MaxFileSize {
			r.fail("file " + strconv.Quote(n) + " over the size limit")
			break
		}
		files[n] = &memFile{ac: ac, data: slices.Clone(data)}
		if files[n].data == nil {
			files[n].data = []byte{}
		}
		*used += len(data)
		prev = n
	}
	return files
}

// parseSnapshot decodes a snapshot into directories and the bytes used.
func parseSnapshot(b []byte) (map[string]*memDir, int, error) {
	if len(b) < len(snapshotMagic) || string(b[:3]) != snapshotMagic[:3] {
		return nil, 0, formatErr(snapshotFile, "bad magic")
	}
	if b[3] != snapshotMagic[3] {
		return nil, 0, formatErr(snapshotFile, "unsupported version "+strconv.Itoa(int(b[3])))
	}
	r := &snapReader{b: b[len(snapshotMagic):]}
	used := 0
	ndirs := r.u16()
	dirs := newDirs()
	dirs[RootDir].files = r.files(&used)
	if r.err == nil && ndirs > MaxDirectories {
		r.fail("directory count " + strconv.Itoa(ndirs) + " over the limit")
	}
	if r.err == nil && ndirs > len(r.b)/snapshotMinDir {
		r.fail("directory count " + strconv.Itoa(ndirs) + " beyond the end")
	}
	prev := ""
	for i := 0; i < ndirs && r.err == nil; i++ {
		n := r.name(prev)
		ac := DirectoryAccessCondition(r.u8())
		files := r.files(&used)
		if r.err != nil {
			break
		}
		if !ac.valid() {
			r.fail("directory " + strconv.Quote(n) + ": access condition " + ac.String())
			break
		}
		if _, clash := dirs[RootDir].files[n]; clash {
			r.fail("directory " + strconv.Quote(n) + " has the name of a root file")
			break
		}
		dirs[n] = &memDir{ac: ac, files: files}
		prev = n
	}
	if r.err == nil && len(r.b) != 0 {
		r.fail("trailing bytes")
	}
	if r.err != nil {
		return nil, 0, r.err
	}
	return dirs, used, nil
}

// Restore replaces the whole content of m with a snapshot made by
// Snapshot. The snapshot is untrusted: it is checked completely (names,
// access conditions, order, lengths, capacity) before anything changes,
// and on error m is left as it was. Errors match ErrFormat, or ErrNoSpace
// when the content exceeds m's capacity.
func (m *MemFS) Restore(b []byte) error {
	dirs, used, err := parseSnapshot(b)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.capacity > 0 && used > m.capacity {
		return fmt.Errorf("%w: snapshot holds %d bytes, capacity %d", ErrNoSpace, used, m.capacity)
	}
	m.dirs = dirs
	m.used = used
	return nil
}

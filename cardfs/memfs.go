package cardfs

import (
	"fmt"
	"slices"
	"sync"
)

// Limits of a MemFS, which keep every file system representable in a
// snapshot.
const (
	// MaxDirectories is the number of application directories a MemFS
	// holds.
	MaxDirectories = 255
	// MaxFilesPerDirectory is the number of files one directory holds.
	MaxFilesPerDirectory = 4096
	// MaxFileSize is the largest file content a MemFS stores.
	MaxFileSize = 1 << 24
)

// MemFSConfig configures a MemFS. The zero value (or nil) is an unlimited
// file system.
type MemFSConfig struct {
	// Capacity is the number of content bytes the file system holds, as
	// reported by FreeSpace; 0 means unlimited.
	Capacity int
}

// FileInfo describes a file (CARD_FILE_INFO).
type FileInfo struct {
	// Size is the content length in bytes.
	Size int
	// AccessCondition is the condition the file was created with.
	AccessCondition FileAccessCondition
}

// FreeSpace reports the space of a MemFS (the bytes part of
// CARD_FREE_SPACE_INFO).
type FreeSpace struct {
	// Used is the sum of the content lengths of all files.
	Used int
	// Capacity is the configured capacity, 0 when unlimited.
	Capacity int
	// Available is Capacity-Used, or -1 when the capacity is unlimited
	// (CARD_DATA_VALUE_UNKNOWN).
	Available int
}

type memFile struct {
	ac   FileAccessCondition
	data []byte
}

type memDir struct {
	ac    DirectoryAccessCondition
	files map[string]*memFile
}

// MemFS is an in-memory card file system with the shape of the minidriver
// model: a root and one level of application directories, files with
// access conditions, names case-insensitive (stored lower-case). It lets a
// plug-in whose card has no file system of its own (PIV) present one.
//
// Every operation takes the roles the caller has authenticated in the
// current transaction and enforces the access conditions of the specification
// (CARD_FILE_ACCESS_CONDITION, CARD_DIRECTORY_ACCESS_CONDITION):
// files need the right for the operation (FileInfo needs read, as
// CardGetFileInfo does; delete needs write), creating a file needs the
// directory's create right, creating or deleting a directory needs the
// right its own condition gives, and everyone may list. The root behaves
// as an AdminCreateDeleteDirAc directory: files in it are created by the
// admin (card creation, see Format). Errors are *PathError values wrapping
// ErrAccessDenied, ErrFileNotFound, ErrDirNotFound, ErrFileExists,
// ErrDirNotEmpty, ErrNoSpace, ErrInvalidName or ErrInvalidParameter.
// Returned slices are copies; data passed in is copied.
//
// A MemFS is safe for concurrent use; each method is atomic.
type MemFS struct {
	capacity int

	mu   sync.Mutex
	dirs map[string]*memDir // guarded by mu; "" is the root
	used int                // guarded by mu
}

// NewMemFS returns an empty file system holding only the root directory;
// the zero MemFSConfig is an unlimited one.
func NewMemFS(cfg MemFSConfig) *MemFS {
	m := &MemFS{dirs: newDirs()}
	if cfg.Capacity > 0 {
		m.capacity = cfg.Capacity
	}
	return m
}

func newDirs() map[string]*memDir {
	return map[string]*memDir{RootDir: {ac: AdminCreateDeleteDirAc, files: map[string]*memFile{}}}
}

// dirLocked normalises dir and returns it with its directory.
func (m *MemFS) dirLocked(op, dir string) (string, *memDir, error) {
	d, err := normalizeDir(dir)
	if err != nil {
		return "", nil, &PathError{Op: op, Dir: dir, Err: err}
	}
	md, ok := m.dirs[d]
	if !ok {
		return d, nil, &PathError{Op: op, Dir: d, Err: ErrDirNotFound}
	}
	return d, md, nil
}

// fileLocked normalises dir and name and returns the file.
func (m *MemFS) fileLocked(op, dir, name string) (string, string, *memDir, *memFile, error) {
	d, md, err := m.dirLocked(op, dir)
	if err != nil {
		return "", "", nil, nil, err
	}
	n, err := NormalizeName(name)
	if err != nil {
		return "", "", nil, nil, &PathError{Op: op, Dir: d, Name: name, Err: err}
	}
	f, ok := md.files[n]
	if !ok {
		return d, n, md, nil, &PathError{Op: op, Dir: d, Name: n, Err: ErrFileNotFound}
	}
	return d, n, md, f, nil
}

// CreateDirectory creates an application directory in the root
// (CardCreateDirectory). ac must be UserCreateDeleteDirAc or
// AdminCreateDeleteDirAc, and roles must hold a role that ac lets delete
// the directory.
func (m *MemFS) CreateDirectory(roles Roles, name string, ac DirectoryAccessCondition) error {
	const op = "mkdir"
	n, err := NormalizeName(name)
	if err != nil {
		return &PathError{Op: op, Dir: name, Err: err}
	}
	if !ac.valid() {
		return &PathError{Op: op, Dir: n, Err: fmt.Errorf("%w: directory access condition %v", ErrInvalidParameter, ac)}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.dirs[n]; ok {
		return &PathError{Op: op, Dir: n, Err: ErrFileExists}
	}
	if _, ok := m.dirs[RootDir].files[n]; ok {
		return &PathError{Op: op, Dir: n, Err: ErrFileExists}
	}
	if !dirAllows(ac, roles, CanDeleteDirectory) {
		return &PathError{Op: op, Dir: n, Err: ErrAccessDenied}
	}
	if len(m.dirs)-1 >= MaxDirectories {
		return &PathError{Op: op, Dir: n, Err: fmt.Errorf("%w: %d directories", ErrNoSpace, MaxDirectories)}
	}
	m.dirs[n] = &memDir{ac: ac, files: map[string]*memFile{}}
	return nil
}

// DeleteDirectory deletes an empty application directory
// (CardDeleteDirectory).
func (m *MemFS) DeleteDirectory(roles Roles, name string) error {
	const op = "rmdir"
	if name == RootDir {
		return &PathError{Op: op, Err: fmt.Errorf("%w: the root cannot be deleted", ErrInvalidName)}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	d, md, err := m.dirLocked(op, name)
	if err != nil {
		return err
	}
	if !dirAllows(md.ac, roles, CanDeleteDirectory) {
		return &PathError{Op: op, Dir: d, Err: ErrAccessDenied}
	}
	if len(md.files) != 0 {
		return &PathError{Op: op, Dir: d, Err: ErrDirNotEmpty}
	}
	delete(m.dirs, d)
	return nil
}

// CreateFile creates an empty file (CardCreateFile). initialSize is a
// hint, as in the specification: files grow on write, and no space is
// reserved. ac must be one of the five enforceable conditions (not
// InvalidAc or UnknownAc).
func (m *MemFS) CreateFile(roles Roles, dir, name string, initialSize int, ac FileAccessCondition) error {
	const op = "create"
	if initialSize < 0 {
		return &PathError{Op: op, Dir: dir, Name: name, Err: fmt.Errorf("%w: negative size", ErrInvalidParameter)}
	}
	if !ac.valid() {
		return &PathError{Op: op, Dir: dir, Name: name, Err: fmt.Errorf("%w: file access condition %v", ErrInvalidParameter, ac)}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	d, n, md, _, err := m.fileLocked(op, dir, name)
	if err == nil {
		return &PathError{Op: op, Dir: d, Name: n, Err: ErrFileExists}
	}
	if md == nil { // bad directory or name
		return err
	}
	if d == RootDir {
		if _, ok := m.dirs[n]; ok {
			return &PathError{Op: op, Dir: d, Name: n, Err: ErrFileExists}
		}
	}
	if !dirAllows(md.ac, roles, CanCreateFile) {
		return &PathError{Op: op, Dir: d, Name: n, Err: ErrAccessDenied}
	}
	if len(md.files) >= MaxFilesPerDirectory {
		return &PathError{Op: op, Dir: d, Name: n, Err: fmt.Errorf("%w: %d files in the directory", ErrNoSpace, MaxFilesPerDirectory)}
	}
	md.files[n] = &memFile{ac: ac, data: []byte{}}
	return nil
}

// ReadFile returns a copy of a file's content (CardReadFile).
func (m *MemFS) ReadFile(roles Roles, dir, name string) ([]byte, error) {
	const op = "read"
	m.mu.Lock()
	defer m.mu.Unlock()
	d, n, _, f, err := m.fileLocked(op, dir, name)
	if err != nil {
		return nil, err
	}
	if !f.ac.Allows(roles, RightRead) {
		return nil, &PathError{Op: op, Dir: d, Name: n, Err: ErrAccessDenied}
	}
	return slices.Clone(f.data), nil
}

// WriteFile replaces a file's content with a copy of data (CardWriteFile).
// The file must exist.
func (m *MemFS) WriteFile(roles Roles, dir, name string, data []byte) error {
	const op = "write"
	m.mu.Lock()
	defer m.mu.Unlock()
	d, n, _, f, err := m.fileLocked(op, dir, name)
	if err != nil {
		return err
	}
	if !f.ac.Allows(roles, RightWrite) {
		return &PathError{Op: op, Dir: d, Name: n, Err: ErrAccessDenied}
	}
	used := m.used - len(f.data) + len(data)
	if len(data) > MaxFileSize || (m.capacity > 0 && used > m.capacity) {
		return &PathError{Op: op, Dir: d, Name: n, Err: ErrNoSpace}
	}
	f.data = slices.Clone(data)
	if f.data == nil {
		f.data = []byte{}
	}
	m.used = used
	return nil
}

// DeleteFile deletes a file (CardDeleteFile); it needs write access to
// the file.
func (m *MemFS) DeleteFile(roles Roles, dir, name string) error {
	const op = "delete"
	m.mu.Lock()
	defer m.mu.Unlock()
	d, n, md, f, err := m.fileLocked(op, dir, name)
	if err != nil {
		return err
	}
	if !f.ac.Allows(roles, RightDelete) {
		return &PathError{Op: op, Dir: d, Name: n, Err: ErrAccessDenied}
	}
	m.used -= len(f.data)
	delete(md.files, n)
	return nil
}

// ListFiles returns the names of the files in dir, sorted (CardEnumFiles).
// Everyone may list. Directories are not listed; see ListDirectories.
func (m *MemFS) ListFiles(roles Roles, dir string) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, md, err := m.dirLocked("list", dir)
	if err != nil {
		return nil, err
	}
	if !dirAllows(md.ac, roles, CanList) {
		return nil, &PathError{Op: "list", Dir: d, Err: ErrAccessDenied}
	}
	names := make([]string, 0, len(md.files))
	for n := range md.files {
		names = append(names, n)
	}
	slices.Sort(names)
	return names, nil
}

// ListDirectories returns the names of the application directories,
// sorted. Everyone may list; roles is taken for symmetry with the other
// methods.
func (m *MemFS) ListDirectories(roles Roles) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	names := make([]string, 0, len(m.dirs)-1)
	for n := range m.dirs {
		if n != RootDir {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	return names
}

// FileInfo returns a file's size and access condition (CardGetFileInfo);
// the caller needs read access to the file.
func (m *MemFS) FileInfo(roles Roles, dir, name string) (FileInfo, error) {
	const op = "info"
	m.mu.Lock()
	defer m.mu.Unlock()
	d, n, _, f, err := m.fileLocked(op, dir, name)
	if err != nil {
		return FileInfo{}, err
	}
	if !f.ac.Allows(roles, RightRead) {
		return FileInfo{}, &PathError{Op: op, Dir: d, Name: n, Err: ErrAccessDenied}
	}
	return FileInfo{Size: len(f.data), AccessCondition: f.ac}, nil
}

// FreeSpace reports used and available bytes (CardQueryFreeSpace).
func (m *MemFS) FreeSpace() FreeSpace {
	m.mu.Lock()
	defer m.mu.Unlock()
	fs := FreeSpace{Used: m.used, Capacity: m.capacity, Available: -1}
	if m.capacity > 0 {
		fs.Available = m.capacity - m.used
	}
	return fs
}

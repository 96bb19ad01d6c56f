package cardfs

import (
	"errors"
	"strings"

	"github.com/cardmod/cardmod/scrm"
)

// Sentinel errors. The minidriver layer maps them to the result codes the
// minidriver specification gives its functions (minidriver.SCardCode); the
// mapping is given beside each one and in docs/errors.md.
var (
	// ErrFormat is matched (errors.Is) by every *FormatError: a card file
	// whose bytes do not follow its format. The engine reports unreadable
	// card data as SCARD_E_COMM_DATA_LOST (0x8010002F), not as
	// FILE_NOT_FOUND (spec CardReadFile).
	ErrFormat = errors.New("cardfs: malformed file")

	// ErrAccessDenied: the caller's authenticated roles do not grant the
	// right the operation needs. Maps to SCARD_W_SECURITY_VIOLATION
	// (0x8010006A). It is a case of scrm.ErrSecurityStatus (which is
	// minidriver.ErrSecurityViolation, the meaning of a card's 6982) and
	// matches it with errors.Is.
	ErrAccessDenied error = &wrapErr{msg: "cardfs: access denied", err: scrm.ErrSecurityStatus}

	// ErrFileNotFound maps to SCARD_E_FILE_NOT_FOUND (0x80100024).
	ErrFileNotFound = errors.New("cardfs: file not found")

	// ErrDirNotFound maps to SCARD_E_DIR_NOT_FOUND (0x80100023).
	ErrDirNotFound = errors.New("cardfs: directory not found")

	// ErrFileExists: a file or directory of that name already exists. Maps
	// to ERROR_FILE_EXISTS (0x50) for CardCreateFile and
	// CardCreateDirectory.
	ErrFileExists = errors.New("cardfs: file exists")

	// ErrDirNotEmpty maps to ERROR_DIR_NOT_EMPTY (0x91).
	ErrDirNotEmpty = errors.New("cardfs: directory not empty")

	// ErrNoSpace: the card's capacity would be exceeded. Maps to
	// SCARD_E_WRITE_TOO_MANY (0x80100028); the specification names no
	// code for it; SCARD_E_NO_MEMORY is the alternative.
	// It is scrm.ErrNoSpace: the meaning of a card's 6A84.
	ErrNoSpace = scrm.ErrNoSpace

	// ErrInvalidName: a file, directory or container name that breaks the
	// naming rules. Maps to SCARD_E_INVALID_PARAMETER (0x80100004).
	ErrInvalidName = errors.New("cardfs: invalid name")

	// ErrInvalidParameter: another argument is out of range (an access
	// condition, a container index, a size). Maps to
	// SCARD_E_INVALID_PARAMETER (0x80100004).
	// It is scrm.ErrInvalidParameter (SCARD_E_INVALID_PARAMETER).
	ErrInvalidParameter error = scrm.ErrInvalidParameter

	// ErrContainerExists: a valid container of that name is already in the
	// container map. The providers report NTE_EXISTS (0x8009000F).
	ErrContainerExists = errors.New("cardfs: container exists")

	// ErrNoContainer: no valid container at that index or of that name.
	// Maps to SCARD_E_NO_KEY_CONTAINER (0x80100030); it is
	// minidriver.ErrNoKeyContainer.
	ErrNoContainer = errors.New("cardfs: no such container")

	// ErrTooManyContainers: the container map has no free record and may
	// not grow. Maps to SCARD_E_WRITE_TOO_MANY (0x80100028) like ErrNoSpace.
	ErrTooManyContainers = errors.New("cardfs: too many containers")

	// ErrCardCreated: Format was called on a card that already has cardcf.
	// It also matches ErrFileExists.
	ErrCardCreated = &wrapErr{msg: "cardfs: card already created", err: ErrFileExists}
)

// wrapErr is an immutable error value that wraps another sentinel.
type wrapErr struct {
	msg string
	err error
}

func (e *wrapErr) Error() string { return e.msg }
func (e *wrapErr) Unwrap() error { return e.err }

// FormatError reports a card file that does not follow its format. It
// matches ErrFormat with errors.Is, and Err (when set) as well.
type FormatError struct {
	// File names the card file ("cardcf", "cmapfile", "kxc00",
	// "msroots", "snapshot", ...).
	File string
	// Reason says what is wrong, without the file's content.
	Reason string
	// Err is an underlying error (for example from compress/zlib or
	// crypto/x509), or nil.
	Err error
}

// Error implements error.
func (e *FormatError) Error() string {
	s := "cardfs: " + e.File + ": " + e.Reason
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns ErrFormat and Err, so that errors.Is matches both.
func (e *FormatError) Unwrap() []error {
	if e.Err == nil {
		return []error{ErrFormat}
	}
	return []error{ErrFormat, e.Err}
}

func formatErr(file, reason string) error {
	return &FormatError{File: file, Reason: reason}
}

// PathError records a file system operation that failed on one path. Err is
// one of the sentinels (ErrFileNotFound, ErrAccessDenied, ...), so callers
// test errors.Is(err, cardfs.ErrFileNotFound).
type PathError struct {
	// Op is the operation: "create", "read", "write", "delete", "info",
	// "list", "mkdir", "rmdir".
	Op string
	// Dir is the directory ("" for the root).
	Dir string
	// Name is the file name ("" for an operation on a directory).
	Name string
	// Err is the reason.
	Err error
}

// Error implements error.
func (e *PathError) Error() string {
	p := e.Dir
	if e.Name != "" {
		if p != "" {
			p += "/"
		}
		p += e.Name
	}
	if p == "" {
		p = "/"
	}
	reason := e.Err.Error()
	for _, pkg := range [...]string{"cardfs: ", "scrm: "} { // sentinels owned here or by scrm
		reason = strings.TrimPrefix(reason, pkg)
	}
	return "cardfs: " + e.Op + " " + p + ": " + reason
}

// Unwrap returns Err.
func (e *PathError) Unwrap() error { return e.Err }

package minidriver

import (
	"errors"
	"fmt"

	"github.com/cardmod/cardmod/cardfs"
	"github.com/cardmod/cardmod/scrm"
)

// Errors of the contract. Each carries the meaning of one SCARD_* (or
// Win32) code of the minidriver specification; SCardCode returns the number.
// Plug-ins return them wrapped with %w; callers test them with errors.Is.
//
// There is one sentinel per meaning in cardmod, owned by the lowest layer
// where the meaning arises: a meaning a card reports with a status word, or
// a PC/SC service with a code, is package scrm's value under a minidriver
// name (ErrWrongPIN is scrm.ErrWrongPIN, ErrUnsupported is
// scrm.ErrUnsupported, ...), and the file system errors are those of
// package cardfs, so that a plug-in built on cardfs.MemFS returns them as
// they are. A plug-in may therefore pass a card's status error on wrapped
// and errors.Is still finds the contract's meaning. docs/errors.md has the
// table from status word to scrm error to minidriver error to SCARD_* code.
var (
	// ErrUnsupported: the card or plug-in cannot do this
	// (SCARD_E_UNSUPPORTED_FEATURE). It is scrm.ErrUnsupported: a card's
	// 6D00, 6E00 or 6A81 matches it.
	ErrUnsupported = scrm.ErrUnsupported
	// ErrInvalidParameter: a bad argument, unknown flag, unknown PIN ID or
	// key spec (SCARD_E_INVALID_PARAMETER). It is scrm.ErrInvalidParameter
	// and cardfs.ErrInvalidParameter.
	ErrInvalidParameter error = scrm.ErrInvalidParameter
	// ErrWrongPIN: the PIN or response was wrong (SCARD_W_WRONG_CHV); the
	// error is a *PINError with the attempts left. It is scrm.ErrWrongPIN:
	// a card's 63Cx matches it.
	ErrWrongPIN = scrm.ErrWrongPIN
	// ErrPINBlocked: the PIN is blocked (SCARD_W_CHV_BLOCKED). It is
	// scrm.ErrBlocked: a card's 6983 or 6984 matches it. A *PINError for
	// the attempt that blocked the PIN (63C0) matches ErrWrongPIN too;
	// test ErrPINBlocked first.
	ErrPINBlocked = scrm.ErrBlocked
	// ErrSecurityViolation: the operation needs an authentication that has
	// not been made (SCARD_W_SECURITY_VIOLATION). It is
	// scrm.ErrSecurityStatus (a card's 6982) and cardfs.ErrAccessDenied.
	ErrSecurityViolation = scrm.ErrSecurityStatus
	// ErrNoKeyContainer: no container, or no key of that spec in it
	// (SCARD_E_NO_KEY_CONTAINER). It is cardfs.ErrNoContainer: a
	// container map without that record says the same.
	ErrNoKeyContainer = cardfs.ErrNoContainer
	// ErrFileNotFound: no such file (SCARD_E_FILE_NOT_FOUND).
	ErrFileNotFound = cardfs.ErrFileNotFound
	// ErrNotInitialized: the card is blank, as it left the factory: it
	// has no card file system yet (no cardid) and a plug-in with an
	// Initializer can initialize it. It matches ErrFileNotFound
	// (SCARD_E_FILE_NOT_FOUND).
	ErrNotInitialized = fmt.Errorf("minidriver: the card is not initialized: %w", ErrFileNotFound)
	// ErrDirNotFound: no such directory (SCARD_E_DIR_NOT_FOUND).
	ErrDirNotFound = cardfs.ErrDirNotFound
	// ErrFileExists: the file or directory exists (ERROR_FILE_EXISTS).
	ErrFileExists = cardfs.ErrFileExists
	// ErrDirNotEmpty: the directory holds files (ERROR_DIR_NOT_EMPTY).
	ErrDirNotEmpty = cardfs.ErrDirNotEmpty
	// ErrNoSpace: the card is full (SCARD_E_WRITE_TOO_MANY). It is
	// cardfs.ErrNoSpace and scrm.ErrNoSpace (a card's 6A84).
	ErrNoSpace = cardfs.ErrNoSpace
	// ErrCommDataLost: data read from the card is unusable
	// (SCARD_E_COMM_DATA_LOST), for example a corrupt object. It is
	// scrm.ErrCommDataLost.
	ErrCommDataLost error = scrm.ErrCommDataLost
	// ErrReadOnly: the card cannot be written (SCARD_E_READ_ONLY_CARD).
	ErrReadOnly = errors.New("minidriver: card is read-only")
	// ErrUnknownCard: no plug-in takes the card (SCARD_E_UNKNOWN_CARD).
	ErrUnknownCard = errors.New("minidriver: unknown card")
	// ErrInsufficientBuffer: the input is shorter than the key needs
	// (SCARD_E_INSUFFICIENT_BUFFER). It is scrm.ErrInsufficientBuffer.
	ErrInsufficientBuffer error = scrm.ErrInsufficientBuffer
	// ErrUnexpected: the card answered something the plug-in cannot
	// interpret (SCARD_E_UNEXPECTED). It is scrm.ErrUnexpected.
	ErrUnexpected error = scrm.ErrUnexpected
)

// PINError is a failed authentication: a wrong PIN, a wrong challenge
// response, or a blocked PIN. It matches ErrWrongPIN or ErrPINBlocked with
// errors.Is. Its text never carries the PIN.
type PINError struct {
	// PIN is the PIN that failed.
	PIN PinID
	// Name names the PIN for people ("user PIN", "PUK", "management
	// key"): the plug-in's name for it. Empty means a name from the PIN's
	// role (see PINName).
	Name string
	// AttemptsLeft is the number of tries left, or -1 when the card does
	// not say.
	AttemptsLeft int
	// Blocked says no attempts are left.
	Blocked bool
	// Err is the card's error, if any.
	Err error
}

func (e *PINError) Error() string {
	name := e.Name
	if name == "" {
		name = PINName(e.PIN)
	}
	switch {
	case e.Blocked:
		return fmt.Sprintf("minidriver: %s blocked", name)
	case e.AttemptsLeft >= 0:
		return fmt.Sprintf("minidriver: wrong %s, %d attempts left", name, e.AttemptsLeft)
	}
	return fmt.Sprintf("minidriver: wrong %s", name)
}

// PINName names a PIN by its role, for messages: "user PIN" (RoleUser),
// "admin PIN" (RoleAdmin), else "PIN n". Plug-ins that know better set
// PINError.Name.
func PINName(id PinID) string {
	switch id {
	case RoleUser:
		return "user PIN"
	case RoleAdmin:
		return "admin PIN"
	}
	return fmt.Sprintf("PIN %d", id)
}

// Is matches ErrWrongPIN or ErrPINBlocked.
func (e *PINError) Is(target error) bool {
	if e.Blocked {
		return target == ErrPINBlocked
	}
	return target == ErrWrongPIN
}

// Unwrap returns the card's error.
func (e *PINError) Unwrap() error { return e.Err }

// SCardCode returns the SCARD_* (or Win32) code of the specification that
// err stands for: 0 for nil, the PC/SC code for a transport error (a
// scrm.Code in the chain), SCARD_E_UNEXPECTED for an error of no known
// meaning. It is for logs and for code that must speak the Windows codes.
func SCardCode(err error) uint32 {
	if err == nil {
		return 0
	}
	for _, e := range codeTable {
		if errors.Is(err, e.err) {
			return e.code
		}
	}
	var c scrm.Code
	if errors.As(err, &c) {
		return uint32(c)
	}
	return 0x8010001F // SCARD_E_UNEXPECTED
}

var codeTable = [...]struct {
	err  error
	code uint32
}{
	{ErrPINBlocked, 0x8010006C},               // SCARD_W_CHV_BLOCKED
	{ErrWrongPIN, 0x8010006B},                 // SCARD_W_WRONG_CHV
	{ErrUnsupported, 0x80100022},              // SCARD_E_UNSUPPORTED_FEATURE
	{ErrInvalidParameter, 0x80100004},         // SCARD_E_INVALID_PARAMETER
	{ErrSecurityViolation, 0x8010006A},        // SCARD_W_SECURITY_VIOLATION
	{ErrNoKeyContainer, 0x80100030},           // SCARD_E_NO_KEY_CONTAINER
	{ErrFileNotFound, 0x80100024},             // SCARD_E_FILE_NOT_FOUND
	{ErrDirNotFound, 0x80100023},              // SCARD_E_DIR_NOT_FOUND
	{ErrFileExists, 0x50},                     // ERROR_FILE_EXISTS
	{ErrDirNotEmpty, 0x91},                    // ERROR_DIR_NOT_EMPTY
	{ErrNoSpace, 0x80100028},                  // SCARD_E_WRITE_TOO_MANY
	{ErrCommDataLost, 0x8010002F},             // SCARD_E_COMM_DATA_LOST
	{ErrReadOnly, 0x80100034},                 // SCARD_E_READ_ONLY_CARD
	{ErrUnknownCard, 0x8010000D},              // SCARD_E_UNKNOWN_CARD
	{ErrInsufficientBuffer, 0x80100008},       // SCARD_E_INSUFFICIENT_BUFFER
	{ErrUnexpected, 0x8010001F},               // SCARD_E_UNEXPECTED
	{cardfs.ErrAccessDenied, 0x8010006A},      // SCARD_W_SECURITY_VIOLATION
	{cardfs.ErrTooManyContainers, 0x80100028}, // SCARD_E_WRITE_TOO_MANY
	{cardfs.ErrFormat, 0x8010002F},            // SCARD_E_COMM_DATA_LOST
	{cardfs.ErrInvalidName, 0x80100004},       // SCARD_E_INVALID_PARAMETER
	{cardfs.ErrInvalidParameter, 0x80100004},  // SCARD_E_INVALID_PARAMETER
}

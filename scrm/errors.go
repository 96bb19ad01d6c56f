package scrm

import (
	"errors"
	"fmt"
)

// Code is a PC/SC result code (SCARD_E_*, SCARD_W_*, SCARD_F_*). Backends
// return errors that wrap a Code, so that
//
//	errors.Is(err, scrm.ErrRemovedCard)
//
// holds whichever backend produced err.
type Code uint32

// PC/SC result codes used by cardmod. The numeric values are those of
// winscard and pcsc-lite.
const (
	ErrInternal           Code = 0x80100001 // SCARD_F_INTERNAL_ERROR
	ErrCancelled          Code = 0x80100002 // SCARD_E_CANCELLED
	ErrInvalidHandle      Code = 0x80100003 // SCARD_E_INVALID_HANDLE
	ErrInvalidParameter   Code = 0x80100004 // SCARD_E_INVALID_PARAMETER
	ErrNoMemory           Code = 0x80100006 // SCARD_E_NO_MEMORY
	ErrInsufficientBuffer Code = 0x80100008 // SCARD_E_INSUFFICIENT_BUFFER
	ErrUnknownReader      Code = 0x80100009 // SCARD_E_UNKNOWN_READER
	ErrTimeout            Code = 0x8010000A // SCARD_E_TIMEOUT
	ErrSharingViolation   Code = 0x8010000B // SCARD_E_SHARING_VIOLATION
	ErrNoSmartcard        Code = 0x8010000C // SCARD_E_NO_SMARTCARD
	ErrProtoMismatch      Code = 0x8010000F // SCARD_E_PROTO_MISMATCH
	ErrNotReady           Code = 0x80100010 // SCARD_E_NOT_READY
	ErrInvalidValue       Code = 0x80100011 // SCARD_E_INVALID_VALUE
	ErrCommError          Code = 0x80100013 // SCARD_F_COMM_ERROR
	ErrInvalidATR         Code = 0x80100015 // SCARD_E_INVALID_ATR
	ErrNotTransacted      Code = 0x80100016 // SCARD_E_NOT_TRANSACTED
	ErrReaderUnavailable  Code = 0x80100017 // SCARD_E_READER_UNAVAILABLE
	ErrNoService          Code = 0x8010001D // SCARD_E_NO_SERVICE
	ErrServiceStopped     Code = 0x8010001E // SCARD_E_SERVICE_STOPPED
	ErrUnexpected         Code = 0x8010001F // SCARD_E_UNEXPECTED
	ErrUnsupportedFeature Code = 0x80100022 // SCARD_E_UNSUPPORTED_FEATURE
	ErrNoReadersAvailable Code = 0x8010002E // SCARD_E_NO_READERS_AVAILABLE
	ErrCommDataLost       Code = 0x8010002F // SCARD_E_COMM_DATA_LOST
	ErrUnsupportedCard    Code = 0x80100065 // SCARD_W_UNSUPPORTED_CARD
	ErrUnresponsiveCard   Code = 0x80100066 // SCARD_W_UNRESPONSIVE_CARD
	ErrUnpoweredCard      Code = 0x80100067 // SCARD_W_UNPOWERED_CARD
	ErrResetCard          Code = 0x80100068 // SCARD_W_RESET_CARD
	ErrRemovedCard        Code = 0x80100069 // SCARD_W_REMOVED_CARD
)

var codeNames = map[Code]string{
	ErrInternal:           "internal error",
	ErrCancelled:          "cancelled",
	ErrInvalidHandle:      "invalid handle",
	ErrInvalidParameter:   "invalid parameter",
	ErrNoMemory:           "not enough memory",
	ErrInsufficientBuffer: "insufficient buffer",
	ErrUnknownReader:      "unknown reader",
	ErrTimeout:            "timeout",
	ErrSharingViolation:   "sharing violation",
	ErrNoSmartcard:        "no smart card in reader",
	ErrProtoMismatch:      "protocol mismatch",
	ErrNotReady:           "reader or card not ready",
	ErrInvalidValue:       "invalid value",
	ErrCommError:          "communication error",
	ErrInvalidATR:         "invalid ATR",
	ErrNotTransacted:      "operation not transacted",
	ErrReaderUnavailable:  "reader unavailable",
	ErrNoService:          "smart card service not available",
	ErrServiceStopped:     "smart card service stopped",
	ErrUnexpected:         "unexpected error",
	ErrUnsupportedFeature: "unsupported feature",
	ErrNoReadersAvailable: "no readers available",
	ErrCommDataLost:       "communication data lost",
	ErrUnsupportedCard:    "unsupported card",
	ErrUnresponsiveCard:   "card not responding",
	ErrUnpoweredCard:      "card unpowered",
	ErrResetCard:          "card was reset",
	ErrRemovedCard:        "card was removed",
}

// Error implements error.
func (c Code) Error() string {
	if s, ok := codeNames[c]; ok {
		return "scrm: " + s
	}
	return fmt.Sprintf("scrm: PC/SC error 0x%08X", uint32(c))
}

// Sentinels for status words; a *StatusError matches them with errors.Is.
// They are the one sentinel of each meaning in cardmod: package minidriver
// (and cardfs, where the meaning arises in a file system) re-exports them
// under its own names (minidriver.ErrWrongPIN is ErrWrongPIN,
// minidriver.ErrPINBlocked is ErrBlocked, ...), so errors.Is matches either
// name, whichever layer produced the error. docs/errors.md has the table
// from status word to sentinel to SCARD_* code.
var (
	// ErrNotFound: file, data object, application or key reference not found
	// (6A82, 6A88, 6A83).
	ErrNotFound = errors.New("scrm: not found")
	// ErrSecurityStatus: security status not satisfied (6982): the PIN or an
	// authentication is needed first.
	ErrSecurityStatus = errors.New("scrm: security status not satisfied")
	// ErrWrongPIN: verification failed (63Cx, 6300). The retries left come
	// from (*StatusError).RetriesLeft.
	ErrWrongPIN = errors.New("scrm: wrong PIN")
	// ErrBlocked: authentication method blocked (6983) or reference data not
	// usable (6984).
	ErrBlocked = errors.New("scrm: blocked")
	// ErrWrongLength: wrong length Lc or Le (6700, 6Cxx).
	ErrWrongLength = errors.New("scrm: wrong length")
	// ErrUnsupported: instruction or class not supported, function not
	// supported, or a logical channel or secure messaging not supported
	// (6D00, 6E00, 6A81, 6881, 6882). It is the value ErrUnsupportedFeature
	// (SCARD_E_UNSUPPORTED_FEATURE), the code a PC/SC service reports for a
	// request it does not support, so one errors.Is matches both.
	ErrUnsupported error = ErrUnsupportedFeature
	// ErrWrongData: incorrect parameters in the data field (6A80).
	ErrWrongData = errors.New("scrm: wrong data")
	// ErrWrongParameters: incorrect P1-P2 (6A86, 6B00, 6A87).
	ErrWrongParameters = errors.New("scrm: wrong parameters")
	// ErrConditionsNotSatisfied: conditions of use not satisfied (6985).
	ErrConditionsNotSatisfied = errors.New("scrm: conditions of use not satisfied")
	// ErrNoSpace: not enough memory space (6A84).
	ErrNoSpace = errors.New("scrm: not enough space on card")
	// ErrExists: file or data object already exists (6A89, 6A8A).
	ErrExists = errors.New("scrm: already exists")
	// ErrCardError: the card reports an internal or memory error (6581,
	// 6400, 6F00).
	ErrCardError = errors.New("scrm: card error")
)

// StatusError is a status word other than 9000 that ends a command. It
// matches the sentinels above with errors.Is; its fields are there for
// errors.As:
//
//	var se *scrm.StatusError
//	if errors.As(err, &se) {
//		if n, ok := se.RetriesLeft(); ok { ... }
//	}
type StatusError struct {
	// SW1 and SW2 are the status word.
	SW1, SW2 byte
	// INS is the instruction of the command that failed (0 when unknown).
	INS byte
}

// SW returns the status word as one number, for example 0x6A82.
func (e *StatusError) SW() uint16 { return uint16(e.SW1)<<8 | uint16(e.SW2) }

// RetriesLeft returns the number of verification tries left that a 63Cx
// status carries. ok is false for other status words. A 6983 (blocked)
// reports 0 tries left.
func (e *StatusError) RetriesLeft() (n int, ok bool) {
	switch {
	case e.SW1 == 0x63 && e.SW2&0xF0 == 0xC0:
		return int(e.SW2 & 0x0F), true
	case e.SW1 == 0x69 && e.SW2 == 0x83:
		return 0, true
	}
	return 0, false
}

// Error implements error. The text names the status word and its meaning; it
// never carries command data.
func (e *StatusError) Error() string {
	meaning := "status"
	if s := e.sentinel(); s != nil {
		meaning = s.Error()[len("scrm: "):]
	}
	if n, ok := e.RetriesLeft(); ok && e.SW1 == 0x63 {
		meaning = fmt.Sprintf("%s, %d tries left", meaning, n)
	}
	if e.INS != 0 {
		return fmt.Sprintf("scrm: INS %02X: card answered %02X%02X (%s)", e.INS, e.SW1, e.SW2, meaning)
	}
	return fmt.Sprintf("scrm: card answered %02X%02X (%s)", e.SW1, e.SW2, meaning)
}

// Is matches the status sentinels of this package.
func (e *StatusError) Is(target error) bool {
	s := e.sentinel()
	return s != nil && s == target
}

func (e *StatusError) sentinel() error {
	switch {
	case e.SW1 == 0x63 && (e.SW2 == 0x00 || e.SW2&0xF0 == 0xC0):
		return ErrWrongPIN
	case e.SW1 == 0x6C:
		return ErrWrongLength
	}
	switch e.SW() {
	case 0x6A82, 0x6A83, 0x6A88:
		return ErrNotFound
	case 0x6982:
		return ErrSecurityStatus
	case 0x6983, 0x6984:
		return ErrBlocked
	case 0x6700:
		return ErrWrongLength
	case 0x6D00, 0x6E00, 0x6A81, 0x6881, 0x6882:
		return ErrUnsupported
	case 0x6A80:
		return ErrWrongData
	case 0x6A86, 0x6B00, 0x6A87:
		return ErrWrongParameters
	case 0x6985:
		return ErrConditionsNotSatisfied
	case 0x6A84:
		return ErrNoSpace
	case 0x6A89, 0x6A8A:
		return ErrExists
	case 0x6581, 0x6400, 0x6F00:
		return ErrCardError
	}
	return nil
}

// statusError returns a *StatusError for sw, or nil for 9000.
func statusError(ins byte, sw uint16) error {
	if sw == 0x9000 {
		return nil
	}
	return &StatusError{SW1: byte(sw >> 8), SW2: byte(sw), INS: ins}
}

// Errors of this package that are not PC/SC codes or status words.
var (
	// ErrMalformedResponse: the card's answer breaks ISO 7816-4 (shorter
	// than a status word, GET RESPONSE without progress, an answer longer
	// than the configured bound, an unexpected status inside a chain).
	ErrMalformedResponse = errors.New("scrm: malformed response from card")
	// ErrTooManyRounds: the card kept an exchange going past its bound in
	// rounds: more GET RESPONSE rounds (61xx) than an answer of
	// ConnectOptions.MaxResponse bytes needs, or 6Cxx again after the
	// command was re-sent with the Le the card asked for. It matches
	// ErrMalformedResponse too: the card is at fault, not the command.
	ErrTooManyRounds = fmt.Errorf("%w: too many rounds", ErrMalformedResponse)
	// ErrInvalidCommand: the command cannot be encoded (a header shorter
	// than four bytes, an Ne out of range, data too long for the card).
	ErrInvalidCommand = errors.New("scrm: invalid command")
	// ErrTxDone: the transaction has ended.
	ErrTxDone = errors.New("scrm: transaction already ended")
	// ErrClosed: the card connection or context has been closed.
	ErrClosed = errors.New("scrm: closed")
	// ErrNoCGO: the PC/SC backend was built without cgo.
	ErrNoCGO = errors.New("scrm: PC/SC support needs cgo on this platform (build with CGO_ENABLED=1)")
)

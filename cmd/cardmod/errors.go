package main

import (
	"errors"
	"fmt"

	"github.com/cardmod/cardmod/keystore"
	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/pincache"
	"github.com/cardmod/cardmod/scrm"
)

// Exit codes (doc.go and `cardmod help` list them).
const (
	exitOK       = 0
	exitFailed   = 1
	exitUsage    = 2
	exitNotFound = 3
	exitPIN      = 4
	exitNoPCSC   = 5
)

// usageError is a bad command line.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usageErrorf(format string, args ...any) error {
	return &usageError{fmt.Sprintf(format, args...)}
}

// hintError carries what to do about an error.
type hintError struct {
	err  error
	hint string
	code int
}

func (e *hintError) Error() string { return e.err.Error() }
func (e *hintError) Unwrap() error { return e.err }

// withHint attaches a hint and exit code to err.
func withHint(err error, code int, hint string) error {
	if err == nil {
		return nil
	}
	return &hintError{err: err, hint: hint, code: code}
}

// describe returns the exit code of err and the one line that says what
// failed and what to do.
func describe(err error) (int, string) {
	var ue *usageError
	if errors.As(err, &ue) {
		return exitUsage, oneLine(ue.msg) + " (`cardmod help` shows the usage)"
	}
	code, hint := classify(err)
	var he *hintError
	if errors.As(err, &he) {
		code, hint = he.code, he.hint
	}
	line := oneLine(err.Error())
	if hint != "" {
		line += "; " + hint
	}
	return code, line
}

// classify maps the errors of the card stack to an exit code and a hint.
func classify(err error) (int, string) {
	var pe *minidriver.PINError
	switch {
	case errors.Is(err, pincache.ErrCancelled):
		return exitPIN, "PIN entry cancelled"
	case errors.Is(err, pincache.ErrSilent):
		return exitPIN, "no way to ask for the PIN: run on a terminal, or use -pin-stdin or -pinentry"
	case errors.Is(err, minidriver.ErrPINBlocked), errors.Is(err, scrm.ErrBlocked):
		return exitPIN, "the PIN is blocked: unblock it with `cardmod pin unblock`"
	case errors.As(err, &pe) && pe.PIN == minidriver.RoleAdmin && errors.Is(err, minidriver.ErrWrongPIN):
		// The PIV management key and the GIDS admin key are the admin
		// role of their plug-ins; they come from -mgmt-key-file, not a
		// prompt.
		return exitFailed, "the card refused the management or admin key: give the card's key with -mgmt-key-file"
	case errors.As(err, &pe) && errors.Is(err, minidriver.ErrWrongPIN):
		if pe.AttemptsLeft >= 0 {
			return exitPIN, fmt.Sprintf("%d tries left; `cardmod pin info` shows them", pe.AttemptsLeft)
		}
		return exitPIN, "`cardmod pin info` shows the tries left"
	case errors.Is(err, minidriver.ErrWrongPIN), errors.Is(err, scrm.ErrWrongPIN):
		return exitPIN, "`cardmod pin info` shows the tries left"
	case errors.Is(err, scrm.ErrNoService), errors.Is(err, scrm.ErrServiceStopped):
		return exitNoPCSC, "is pcscd running? (or try the simulated card: -sim FILE)"
	case errors.Is(err, scrm.ErrNoCGO):
		return exitNoPCSC, "rebuild with CGO_ENABLED=1, or use -sim FILE"
	case errors.Is(err, scrm.ErrNoReadersAvailable):
		return exitNotFound, "connect a reader (or try the simulated card: -sim FILE)"
	case errors.Is(err, scrm.ErrUnknownReader):
		return exitNotFound, "`cardmod list` shows the readers"
	case errors.Is(err, scrm.ErrNoSmartcard), errors.Is(err, scrm.ErrRemovedCard):
		return exitNotFound, "insert a card"
	case errors.Is(err, minidriver.ErrUnknownCard):
		return exitNotFound, "no plug-in takes this card (cardmod knows PIV and GIDS cards)"
	case errors.Is(err, minidriver.ErrNoKeyContainer):
		return exitNotFound, "`cardmod list` shows the containers"
	case errors.Is(err, keystore.ErrNoCertificate):
		return exitNotFound, "import one with `cardmod cert import`"
	case errors.Is(err, keystore.ErrExists):
		return exitFailed, "choose another name, or delete the container first"
	case errors.Is(err, minidriver.ErrSecurityViolation), errors.Is(err, scrm.ErrSecurityStatus):
		return exitFailed, "the card needs its management or admin key: give it with -mgmt-key-file"
	case errors.Is(err, minidriver.ErrReadOnly):
		return exitFailed, "this card is read-only for cardmod"
	case errors.Is(err, minidriver.ErrNoSpace):
		return exitFailed, "the card is full: delete a container first"
	case errors.Is(err, minidriver.ErrUnsupported):
		return exitFailed, "the card cannot do this"
	}
	return exitFailed, ""
}

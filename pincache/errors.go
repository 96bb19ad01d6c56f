package pincache

import (
	"errors"

	"github.com/cardmod/cardmod/minidriver"
)

var (
	// ErrCancelled says the user cancelled the PIN entry
	// (SCARD_W_CANCELLED_BY_USER). Prompts return errors wrapping it.
	ErrCancelled = errors.New("pincache: cancelled by user")
	// ErrSilent says a PIN would have to be asked for in a silent context,
	// or with no prompt at all (NTE_SILENT_CONTEXT).
	ErrSilent = errors.New("pincache: PIN needed in a silent context")
)

// Windows codes for the errors of this package.
const (
	// CodeCancelledByUser is SCARD_W_CANCELLED_BY_USER.
	CodeCancelledByUser uint32 = 0x8010006E
	// CodeSilentContext is NTE_SILENT_CONTEXT.
	CodeSilentContext uint32 = 0x80090022
)

// Code returns the Windows code err stands for: CodeCancelledByUser for
// ErrCancelled, CodeSilentContext for ErrSilent, otherwise what
// minidriver.SCardCode says (0 for nil).
func Code(err error) uint32 {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, ErrCancelled):
		return CodeCancelledByUser
	case errors.Is(err, ErrSilent):
		return CodeSilentContext
	}
	return minidriver.SCardCode(err)
}

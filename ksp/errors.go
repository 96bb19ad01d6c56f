package ksp

import (
	"fmt"

	"github.com/cardmod/cardmod/minidriver"
)

// Errors only the KSP meets (CNG's properties, algorithms), tested with
// errors.Is; what both providers meet (keystore.ErrExists,
// keystore.ErrNoCertificate, keystore.ErrBadName, keystore.ErrClosed) is package keystore's. Most
// also match the minidriver sentinel of the same meaning.
var (
	// ErrUnknownProperty: no property of that name (NTE_NOT_SUPPORTED).
	ErrUnknownProperty = fmt.Errorf("ksp: unknown property: %w", minidriver.ErrUnsupported)
	// ErrPropertyType: the value of SetProperty is not of the property's
	// Go type (NTE_INVALID_PARAMETER).
	ErrPropertyType = fmt.Errorf("ksp: wrong property value type: %w", minidriver.ErrInvalidParameter)
	// ErrReadOnly: the property cannot be set (now: key properties after
	// Finalize).
	ErrReadOnly = fmt.Errorf("ksp: read-only property: %w", minidriver.ErrInvalidParameter)
	// ErrWriteOnly: the property cannot be read (SmartCardPin).
	ErrWriteOnly = fmt.Errorf("ksp: write-only property: %w", minidriver.ErrInvalidParameter)
	// ErrNotExportable: private keys on a card never leave it
	// (NTE_NOT_SUPPORTED).
	ErrNotExportable = fmt.Errorf("ksp: private keys are not exportable: %w", minidriver.ErrUnsupported)
	// ErrUnsupportedAlgorithm: an algorithm, curve or key size this
	// provider or the card does not support (NTE_NOT_SUPPORTED). Only
	// that: a create that fails otherwise (writing cardcf or the
	// container map, authenticating) says what failed and does not
	// match it, even when the card's answer was "not supported".
	ErrUnsupportedAlgorithm = fmt.Errorf("ksp: unsupported algorithm: %w", minidriver.ErrUnsupported)
	// ErrWrongCurve: a peer public key on another curve than the key's
	// (NTE_INVALID_PARAMETER).
	ErrWrongCurve = fmt.Errorf("ksp: peer key on the wrong curve: %w", minidriver.ErrInvalidParameter)
	// ErrNotFinalized: the key was created but not finalized yet
	// (NTE_BAD_KEY_STATE).
	ErrNotFinalized = fmt.Errorf("ksp: key not finalized: %w", minidriver.ErrInvalidParameter)
	// ErrFinalized: Finalize on a key that is already on the card
	// (NTE_BAD_KEY_STATE).
	ErrFinalized = fmt.Errorf("ksp: key already finalized: %w", minidriver.ErrInvalidParameter)
	// ErrBadBlob: a public key blob that cannot be parsed
	// (NTE_BAD_DATA).
	ErrBadBlob = fmt.Errorf("ksp: bad key blob: %w", minidriver.ErrInvalidParameter)
)

// PropertyError reports a failed Property or SetProperty call: which
// property, and why (Err wraps one of the sentinels above or a card
// error). It never holds the value.
type PropertyError struct {
	Name string
	Err  error
}

// Error returns "ksp: property <name>: <reason>".
func (e *PropertyError) Error() string { return fmt.Sprintf("ksp: property %q: %v", e.Name, e.Err) }

// Unwrap returns the reason.
func (e *PropertyError) Unwrap() error { return e.Err }

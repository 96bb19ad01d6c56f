package keystore

import (
	"fmt"
	"strings"

	"github.com/cardmod/cardmod/cardfs"
	"github.com/cardmod/cardmod/minidriver"
)

// CardError is a card, or one object on a card, that a listing could not
// read. A listing that meets one goes on with the other cards (and the
// other objects of that card) and reports it in a CardErrors.
type CardError struct {
	// Reader is the reader the card is in.
	Reader string
	// CardID is the card's identity; zero when the card could not be
	// opened far enough to read it.
	CardID cardfs.CardID
	// Container is the container whose key or certificate could not be
	// read; "" when the whole card could not be read.
	Container string
	// KeySpec is the key of Container whose certificate could not be
	// read; 0 when it is not one key's certificate.
	KeySpec minidriver.KeySpec
	// Err is the cause.
	Err error
}

// Error names the reader (and the container and key) and the cause.
func (e *CardError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "card in %q", e.Reader)
	if e.Container != "" {
		fmt.Fprintf(&b, ", container %q", e.Container)
		if e.KeySpec != 0 {
			fmt.Fprintf(&b, " (%v certificate)", e.KeySpec)
		}
	}
	fmt.Fprintf(&b, ": %v", e.Err)
	return b.String()
}

// Unwrap returns the cause.
func (e *CardError) Unwrap() error { return e.Err }

// CardErrors is what a listing could not read, in reader order: the
// error a listing returns beside everything it did read. A listing of
// either provider (basecsp's Cards, Containers and Certificates, ksp's
// Keys, Certificates and "SmartCardUserCertStore") that meets a card it
// cannot read (a blank card, a card that fails, a corrupt container map)
// or an object it cannot read (a corrupt certificate) does not fail: it
// returns everything it read on every other card and, as its error, a
// CardErrors (wrapped with the provider's prefix). It is modelled on
// go/scanner.ErrorList; errors.As finds it, and errors.Is and errors.As
// look into every CardError it holds:
//
//	list, err := p.Containers(ctx)
//	var unread keystore.CardErrors
//	if errors.As(err, &unread) {
//		// list holds every container of every readable card;
//		// unread says which reader failed and why.
//	} else if err != nil {
//		// nothing could be listed (no readers, ...).
//	}
type CardErrors []*CardError

// Error lists every entry.
func (l CardErrors) Error() string {
	switch len(l) {
	case 0:
		return "no errors"
	case 1:
		return l[0].Error()
	}
	parts := make([]string, len(l))
	for i, e := range l {
		parts[i] = e.Error()
	}
	return fmt.Sprintf("%d unreadable: %s", len(l), strings.Join(parts, "; "))
}

// Unwrap returns the entries, for errors.Is and errors.As.
func (l CardErrors) Unwrap() []error {
	out := make([]error, len(l))
	for i, e := range l {
		out[i] = e
	}
	return out
}

// Err returns l as an error, nil when l is empty.
func (l CardErrors) Err() error {
	if len(l) == 0 {
		return nil
	}
	return l
}

package pincache

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"unicode"

	"github.com/cardmod/cardmod/minidriver"
)

// CardID is a card's identity: the 16-byte card GUID (the cardid file,
// CP_CARD_GUID) and, when the card tells it, its serial number. It is the
// key of the cache; use the same CardID for a card throughout (with or
// without the serial, not both).
type CardID struct {
	GUID [16]byte
	// Serial is the card's serial number as bytes in a string, or "".
	Serial string
}

// String returns the GUID in hex, and the serial in hex if any.
func (c CardID) String() string {
	s := hex.EncodeToString(c.GUID[:])
	if c.Serial != "" {
		s += "/" + hex.EncodeToString([]byte(c.Serial))
	}
	return s
}

// Request tells a Prompt which PIN is wanted. It never holds a PIN.
type Request struct {
	// PIN is the PIN ID (ROLE_USER, ROLE_ADMIN, or 3..7).
	PIN minidriver.PinID
	// Info is the PIN's PIN_INFO: its type, purpose and cache policy.
	Info minidriver.PINInfo
	// Card is the card's identity.
	Card CardID
	// CardName is a display name for the card, such as its label or its
	// reader's name; it may come from the card and is shown sanitised.
	CardName string
	// AttemptsLeft is the number of tries left, or -1 when unknown.
	AttemptsLeft int
	// Context is the caller's context string (CP_PIN_CONTEXT_STRING), for
	// example the operation that needs the PIN; "" for none.
	Context string
	// Retry says a previous try with this PIN failed. A Source never
	// uses the cache for a retry.
	Retry bool
}

// Retrying returns a copy of r for the next try after err: Retry is set
// and, when err is a *minidriver.PINError, AttemptsLeft is taken from it.
func (r Request) Retrying(err error) Request {
	r.Retry = true
	var pe *minidriver.PINError
	if errors.As(err, &pe) {
		if pe.Blocked {
			r.AttemptsLeft = 0
		} else {
			r.AttemptsLeft = pe.AttemptsLeft
		}
	}
	return r
}

// maxShown bounds the card name and context string in a question.
const maxShown = 128

// Question returns the text that asks the user for the PIN r wants, in
// English, from the PIN's purpose. Card names and context strings are
// stripped of control characters and shortened. It never holds a PIN.
func (r Request) Question() string {
	var b strings.Builder
	if r.Retry {
		b.WriteString("Wrong PIN. ")
	}
	b.WriteString("Enter the ")
	b.WriteString(PurposeLabel(r.Info.Purpose))
	if name := sanitize(r.CardName); name != "" {
		fmt.Fprintf(&b, " for %q", name)
	}
	switch {
	case r.AttemptsLeft == 1:
		b.WriteString(" (1 attempt left)")
	case r.AttemptsLeft > 1:
		fmt.Fprintf(&b, " (%d attempts left)", r.AttemptsLeft)
	}
	if c := sanitize(r.Context); c != "" {
		b.WriteString(" to ")
		b.WriteString(c)
	}
	b.WriteString(": ")
	return b.String()
}

// PurposeLabel names a PIN by its purpose (SECRET_PURPOSE), for prompts.
func PurposeLabel(p minidriver.PINPurpose) string {
	switch p {
	case minidriver.AuthenticationPIN:
		return "PIN"
	case minidriver.DigitalSignaturePIN:
		return "signature PIN"
	case minidriver.EncryptionPIN:
		return "encryption PIN"
	case minidriver.NonRepudiationPIN:
		return "non-repudiation PIN"
	case minidriver.AdministratorPIN:
		return "administrator PIN"
	case minidriver.PrimaryCardPIN:
		return "card PIN"
	case minidriver.UnblockOnlyPIN:
		return "PIN unblock key (PUK)"
	}
	return "PIN"
}

// sanitize drops control and other unprintable characters (a card or
// reader name must not drive the terminal) and bounds the length.
func sanitize(s string) string {
	var b strings.Builder
	n := 0
	for _, r := range s {
		if n == maxShown {
			b.WriteString("...")
			break
		}
		if r == unicode.ReplacementChar || !unicode.IsPrint(r) {
			r = '?'
		}
		b.WriteRune(r)
		n++
	}
	return strings.TrimSpace(b.String())
}

// Prompt asks for a PIN. PIN returns the PIN r wants; the caller owns the
// returned Secret and wipes it. To cancel, PIN returns an error wrapping
// ErrCancelled. An implementation must not put the PIN in its errors, and
// should return ctx.Err() (wrapped) when ctx ends first.
type Prompt interface {
	PIN(ctx context.Context, r Request) (*Secret, error)
}

// Func adapts a function to Prompt.
type Func func(ctx context.Context, r Request) (*Secret, error)

// PIN calls f.
func (f Func) PIN(ctx context.Context, r Request) (*Secret, error) { return f(ctx, r) }

// Fixed is a Prompt that answers with one fixed PIN, for tests and
// services. It refuses retries: when r.Retry says the previous try failed,
// the fixed PIN is most likely the PIN that failed, and offering it again
// would only spend the card's remaining attempts, so PIN returns an error
// wrapping ErrCancelled. After Wipe it cancels every request.
type Fixed struct {
	mu  sync.Mutex
	pin *Secret // guarded by mu
}

// NewFixed returns a Fixed prompt holding a copy of pin.
func NewFixed(pin []byte) *Fixed { return &Fixed{pin: NewSecret(pin)} }

// PIN returns a copy of the fixed PIN.
func (f *Fixed) PIN(ctx context.Context, r Request) (*Secret, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("pincache: fixed prompt: %w", err)
	}
	if r.Retry {
		return nil, fmt.Errorf("%w: fixed PIN not offered again after a failure", ErrCancelled)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.pin.Wiped() {
		return nil, fmt.Errorf("%w: fixed PIN wiped", ErrCancelled)
	}
	return f.pin.Clone(), nil
}

// Wipe zeroes the fixed PIN; later requests are cancelled.
func (f *Fixed) Wipe() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pin.Wipe()
}

var (
	_ Prompt = Func(nil)
	_ Prompt = (*Fixed)(nil)
	_ Prompt = (*Terminal)(nil)
)

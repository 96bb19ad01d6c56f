package csptest

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cardmod/cardmod/cardsim"
	simpiv "github.com/cardmod/cardmod/cardsim/piv"
	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/scrm/virtual"
)

// SignaturePath is the way of a signature from the shared core's key to
// the card, each named function with what it adds (closures, whose bodies
// are those frames', and test code left out). A provider's own frames come
// before it (RunSignaturePath).
var SignaturePath = []string{
	"internal/cspcore.(*Key).SignContext", // the request from the digest and options; the signature checked on the host
	"internal/cspcore.(*Container).do",    // the container's index, resolved in the transaction
	"internal/cspcore.(*Ref).do",          // the card followed across removal and re-insertion
	"internal/engine.(*Card).DoChecked",   // a checked operation: the host check vouches for cached data
	"internal/engine.(*Card).doChecked",   // the second run on data read afresh when the outcome does not check out
	"internal/engine.(*Card).do",          // a new attempt after a card reset
	"internal/engine.(*Card).doHeld",      // the data cache's disk writes held until the card is released
	"internal/engine.(*Card).doOnce",      // the transaction, the logout, the reset when a login's state is unknown
	"internal/engine.(*Card).run",         // the application resumed, cardcf's freshness
	"internal/cspcore.(*Key).signOn",      // the key's PIN, the plug-in's signature
	"minidriver/piv.(*Card).SignData",     // the slot and the PIV algorithm of the request
	"minidriver/piv.(*Card).withKey",      // the algorithm asked again when the card refuses the one it was sent
	"minidriver/piv.(*Card).generalAuth",  // the GENERAL AUTHENTICATE template (SP 800-73-4 part 2, 3.2.4)
	"scrm.(*Tx).Do",                       // the status word as an error; a lost answer marks the card for reset
	"scrm.(*Card).doLocked",               // chaining, GET RESPONSE and 6Cxx rounds
	"scrm.(*Card).exchangeLocked",         // one exchange, traced and counted
	"scrm/virtual.(*conn).Transmit",       // the backend
}

// RunSignaturePath checks that an ECDSA signature with a key of the
// provider goes to the card through the provider's own frames (entry,
// each adding something: say what beside it in the caller) and then
// SignaturePath, and through no other named function of the module: a
// layer that only forwards, added anywhere on the way, fails it (issue
// 13's acceptance).
func RunSignaturePath(t *testing.T, s Suite, entry ...string) {
	sim, err := simpiv.New(simpiv.Config{})
	require.NoError(t, err)
	card := &stackCard{Card: sim}
	b := virtual.NewBackend()
	b.AddReader(SuiteReader).Insert(card)
	p := s.Open(t, OpenConfig{Backend: b, Prompt: NewPrompt(simpiv.DefaultPIN), Admin: Admin()})
	ctx := context.Background()
	k, err := p.Generate(ctx, "path", KeyCase{Spec: minidriver.ECDSAP256})
	require.NoError(t, err)

	card.arm()
	d := sha256.Sum256([]byte("the path"))
	_, err = k.SignContext(ctx, rand.Reader, d[:], crypto.SHA256)
	require.NoError(t, err)
	assert.Equal(t, append(slices.Clone(entry), SignaturePath...), card.taken())
}

// stackCard records, at the first GENERAL AUTHENTICATE after arm, the
// module's named functions on the stack, the caller first.
type stackCard struct {
	cardsim.Card
	mu    sync.Mutex
	armed bool
	path  []string
}

func (c *stackCard) arm() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.armed, c.path = true, nil
}

func (c *stackCard) taken() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.path
}

// Transmit implements cardsim.Card.
func (c *stackCard) Transmit(apdu []byte) []byte {
	c.mu.Lock()
	if c.armed && len(apdu) > 1 && apdu[1] == 0x87 {
		c.armed = false
		pcs := make([]uintptr, 128)
		frames := runtime.CallersFrames(pcs[:runtime.Callers(1, pcs)])
		for {
			f, more := frames.Next()
			name, ok := strings.CutPrefix(f.Function, "github.com/cardmod/cardmod/")
			if ok && !strings.HasSuffix(f.File, "_test.go") && !strings.HasPrefix(name, "csptest.") && !strings.Contains(name, ".func") {
				c.path = append(c.path, name)
			}
			if !more {
				break
			}
		}
		slices.Reverse(c.path)
	}
	c.mu.Unlock()
	return c.Card.Transmit(apdu)
}

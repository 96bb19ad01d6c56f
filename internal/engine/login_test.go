package engine_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	simgids "github.com/cardmod/cardmod/cardsim/gids"
	simpiv "github.com/cardmod/cardmod/cardsim/piv"
	"github.com/cardmod/cardmod/internal/bertlv"
	"github.com/cardmod/cardmod/internal/engine"
	"github.com/cardmod/cardmod/keystore"
	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/minidriver/plugins"
	"github.com/cardmod/cardmod/pincache"
	"github.com/cardmod/cardmod/scrm"
	"github.com/cardmod/cardmod/scrm/virtual"
)

// isVerifyWithPIN matches a VERIFY of the PIV PIN that carries the PIN.
func isVerifyWithPIN(cmd []byte) bool {
	return len(cmd) > 5 && cmd[1] == 0x20 && cmd[2] == 0x00 && cmd[3] == 0x80
}

// probePIV connects to the card as another application would and reports
// whether the PIN is verified (an empty VERIFY answers 9000 rather than
// 63Cx, whose x is the tries left) and whether slot 9A signs without a PIN.
func probePIV(t *testing.T, b scrm.Backend, reader string) (verified bool, tries int, signs bool) {
	t.Helper()
	ctx := context.Background()
	conn, err := scrm.NewContext(b).Connect(ctx, reader, nil)
	require.NoError(t, err)
	defer conn.Close(scrm.LeaveCard)
	tx, err := conn.Begin(ctx)
	require.NoError(t, err)
	defer tx.End(scrm.LeaveCard)
	_, err = tx.Do(ctx, scrm.Command{INS: 0xA4, P1: 0x04, Data: simpiv.AID, Ne: 256})
	require.NoError(t, err)
	_, err = tx.Do(ctx, scrm.Command{INS: 0x20, P2: 0x80})
	tries = -1
	if err != nil {
		require.ErrorIs(t, err, scrm.ErrWrongPIN, "an unverified PIN answers 63Cx")
		var se *scrm.StatusError
		require.ErrorAs(t, err, &se)
		tries, _ = se.RetriesLeft()
	}
	verified = err == nil
	// GENERAL AUTHENTICATE with slot 9A's P-256 key (SP 800-73-4 part 2,
	// 3.2.4): 7C { 82 (response wanted), 81 challenge }.
	digest := sha256.Sum256([]byte("probe"))
	data := bertlv.Encode(0x7C, append(bertlv.Encode(0x82, nil), bertlv.Encode(0x81, digest[:])...))
	_, err = tx.Do(ctx, scrm.Command{INS: 0x87, P1: 0x11, P2: 0x9A, Data: data, Ne: 256})
	if err != nil {
		require.ErrorIs(t, err, scrm.ErrSecurityStatus, "a signature without the PIN is refused with 6982")
	}
	return verified, tries, err == nil
}

// The card executes VERIFY and its answer is lost: the operation fails,
// and no login survives it. Another connection finds the PIN unverified
// and cannot sign (the CVE-2023-40660 class).
func TestLostVerifyAnswerLeavesNoLogin(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fault virtual.Fault
	}{
		{"transport error", virtual.Fault{Lose: scrm.ErrCommError}},
		{"0-byte answer", virtual.Fault{Mutate: func([]byte) []byte { return nil }}},
		{"1-byte answer", virtual.Fault{Mutate: func(r []byte) []byte { return r[:1] }}},
		{"deadline while exchanging", virtual.Fault{Lose: fmt.Errorf("%w: %w", scrm.ErrTimeout, context.DeadlineExceeded)}},
		{"status word of no meaning", virtual.Fault{Mutate: func([]byte) []byte { return []byte{0x62, 0x00} }}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, keystore.Config{})
			pub := f.generate(t)
			verified, tries, signs := probePIV(t, f.b, "Virtual Reader 0")
			require.False(t, verified)
			require.False(t, signs)

			fault := tc.fault
			fault.Match = isVerifyWithPIN
			f.reader.InjectFault(fault)
			digest := sha256.Sum256([]byte("data"))
			_, err := f.sign(digest[:])
			require.Error(t, err)
			assert.Zero(t, f.reader.PendingFaults(), "the fault hit VERIFY")
			verified, after, signs := probePIV(t, f.b, "Virtual Reader 0")
			assert.Equal(t, tries, after, "the PIN was right: no try used")
			assert.False(t, verified, "the PIN is not left verified")
			assert.False(t, signs, "no signature without the PIN")

			// The engine goes on: the next signature verifies the PIN again.
			sig, err := f.sign(digest[:])
			require.NoError(t, err)
			assert.True(t, ecdsa.VerifyASN1(pub, digest[:], sig))
			verified, _, _ = probePIV(t, f.b, "Virtual Reader 0")
			assert.False(t, verified)
		})
	}
}

// A logout that fails ends the transaction with a reset: the operation's
// result stands, and the card is left without a login.
func TestFailedLogoutResets(t *testing.T) {
	f := newFixture(t, keystore.Config{})
	f.generate(t)
	isLogout := func(cmd []byte) bool { return len(cmd) >= 4 && cmd[1] == 0x20 && cmd[2] == 0xFF }
	f.reader.InjectFault(virtual.Fault{Match: isLogout, Lose: scrm.ErrCommError})
	digest := sha256.Sum256([]byte("data"))
	_, err := f.sign(digest[:])
	require.NoError(t, err, "the signature was made; the reset logs out")
	assert.Zero(t, f.reader.PendingFaults(), "the fault hit the logout")
	verified, _, signs := probePIV(t, f.b, "Virtual Reader 0")
	assert.False(t, verified)
	assert.False(t, signs)
}

// A Prompt that panics leaves neither the transaction nor the card's lock
// held: another engine signs at once, and Close returns.
func TestPanickingPromptReleasesTheCard(t *testing.T) {
	panicking := promptFunc(func() { panic("prompt failed") })
	f := newFixture(t, keystore.Config{Prompt: panicking})
	f.generate(t)
	digest := sha256.Sum256([]byte("data"))
	require.PanicsWithValue(t, "prompt failed", func() { _, _ = f.sign(digest[:]) })

	other := newEngineOn(t, f.b, keystore.Config{Prompt: f.prompt})
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	err := other.Do(ctx, func(op *engine.Op) error {
		if err := op.Authenticate(minidriver.RoleUser, "sign"); err != nil {
			return err
		}
		_, err := op.Card().SignData(op.Context(), op.Tx(), minidriver.SignRequest{Container: 0, KeySpec: minidriver.ECDSAP256, Digest: digest[:]})
		return err
	})
	require.NoError(t, err, "the card is free within a second")

	closed := make(chan error, 1)
	go func() { closed <- f.e.Close() }()
	select {
	case err := <-closed:
		assert.NoError(t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("Close hangs")
	}
}

// A panic right after the card executed VERIFY (in the backend, as in a
// tracer: scrm's TestPanickingTracerReleasesCard): the login may be
// active, so the card is reset on the way out.
func TestPanicAfterVerifyResets(t *testing.T) {
	f := newFixture(t, keystore.Config{})
	f.generate(t)
	f.reader.InjectFault(virtual.Fault{Match: isVerifyWithPIN, Mutate: func(rsp []byte) []byte { panic("backend failed") }})
	digest := sha256.Sum256([]byte("data"))
	require.PanicsWithValue(t, "backend failed", func() { _, _ = f.sign(digest[:]) })
	verified, _, signs := probePIV(t, f.b, "Virtual Reader 0")
	assert.False(t, verified, "the login made before the panic is gone")
	assert.False(t, signs)
	require.NoError(t, f.e.Close())
}

type promptFunc func()

func (p promptFunc) PIN(ctx context.Context, r pincache.Request) (*pincache.Secret, error) {
	p()
	return nil, nil
}

// newEngineOn opens an engine on the card in "Virtual Reader 0" of b.
func newEngineOn(t *testing.T, b *virtual.Backend, cfg keystore.Config) *engine.Card {
	t.Helper()
	cfg.Backend = b
	if cfg.Registry == nil {
		cfg.Registry = plugins.NewRegistry()
	}
	e, err := engine.New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = e.Close() })
	c, err := e.CardIn(context.Background(), "Virtual Reader 0")
	require.NoError(t, err)
	return c
}

// A card being reset while the engine first opens it is not absent: the
// plug-ins probe it again.
func TestCardBeingResetIsNotAbsent(t *testing.T) {
	sim, err := simpiv.New(simpiv.Config{})
	require.NoError(t, err)
	b := virtual.NewBackend()
	r := b.AddReader("Virtual Reader 0")
	r.Insert(sim)
	e, err := engine.New(keystore.Config{Backend: b, Registry: plugins.NewRegistry()})
	require.NoError(t, err)
	defer e.Close()
	for range 3 {
		r.ResetOnNext()
	}
	cards, err := e.Cards(context.Background())
	require.NoError(t, err)
	assert.Len(t, cards, 1, "the card is listed")
	assert.Zero(t, r.PendingFaults())
}

// Resets under an operation are recovered while the operation has written
// nothing, up to MaxResetRetries times: a card that resets on every
// exchange fails the operation instead of holding it forever.
func TestResetRetriesAreBounded(t *testing.T) {
	f := newFixture(t, keystore.Config{})
	pub := f.generate(t)
	digest := sha256.Sum256([]byte("data"))
	for range 2 {
		f.reader.ResetOnNext()
	}
	sig, err := f.sign(digest[:])
	require.NoError(t, err, "two resets are no failure")
	assert.True(t, ecdsa.VerifyASN1(pub, digest[:], sig))
	assert.Equal(t, int32(1), f.prompt.count.Load(), "the PIN is asked for once")

	for range 100 {
		f.reader.ResetOnNext()
	}
	_, err = f.sign(digest[:])
	assert.ErrorIs(t, err, scrm.ErrResetCard)
	assert.Equal(t, 100-(engine.MaxResetRetries+1), f.reader.ClearFaults(), "one attempt and MaxResetRetries retries")
}

// switchingCard is a card whose contents are replaced by another card's
// at its next reset, as a card re-personalised under a reset would be.
type switchingCard struct {
	mu         sync.Mutex
	cur, next  cardsimCard
	switchNext bool
}

type cardsimCard interface {
	ATR() []byte
	Reset()
	Transmit([]byte) []byte
}

func (c *switchingCard) ATR() []byte { c.mu.Lock(); defer c.mu.Unlock(); return c.cur.ATR() }
func (c *switchingCard) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.switchNext {
		c.cur, c.switchNext = c.next, false
	}
	c.cur.Reset()
}
func (c *switchingCard) Transmit(apdu []byte) []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cur.Transmit(apdu)
}

// After a reset the card's identity is read again: a card that has
// another identity fails the operation as a removal does, and is found as
// the new card it is.
func TestAnotherIdentityAfterResetFails(t *testing.T) {
	newGIDS := func(last byte) *simgids.Card {
		id := make([]byte, 16)
		id[0], id[15] = 0xC1, last
		sim, err := simgids.New(simgids.Config{Initialized: true, CardID: id})
		require.NoError(t, err)
		return sim
	}
	card := &switchingCard{cur: newGIDS(1), next: newGIDS(2)}
	b := virtual.NewBackend()
	r := b.AddReader("G")
	r.Insert(card)
	e, err := engine.New(keystore.Config{Backend: b, Registry: plugins.NewRegistry()})
	require.NoError(t, err)
	defer e.Close()
	ec, err := e.CardIn(context.Background(), "G")
	require.NoError(t, err)
	first := ec.ID()

	card.mu.Lock()
	card.switchNext = true
	card.mu.Unlock()
	r.Reset()
	err = ec.Do(context.Background(), func(op *engine.Op) error { return nil })
	require.ErrorIs(t, err, scrm.ErrRemovedCard)
	again, err := e.CardIn(context.Background(), "G")
	require.NoError(t, err)
	assert.NotEqual(t, first, again.ID(), "the new card is opened as what it is")
}

// In exclusive mode a PIN stays verified between operations; an answer
// lost in one of them ends that login with a reset, and the next
// operation verifies the PIN again.
func TestExclusiveLostAnswerEndsTheKeptLogin(t *testing.T) {
	f := newFixture(t, keystore.Config{Exclusive: true})
	pub := f.generate(t)
	digest := sha256.Sum256([]byte("data"))
	_, err := f.sign(digest[:])
	require.NoError(t, err)

	var verifies atomic.Int32
	countVerifies := virtual.Fault{Match: func(cmd []byte) bool {
		if isVerifyWithPIN(cmd) {
			verifies.Add(1)
		}
		return false
	}}
	isSign := func(cmd []byte) bool { return len(cmd) > 4 && cmd[1] == 0x87 && cmd[3] == 0x9A }
	f.reader.InjectFault(virtual.Fault{Match: isSign, Lose: scrm.ErrCommError})
	_, err = f.sign(digest[:])
	require.Error(t, err)
	require.Zero(t, f.reader.PendingFaults())

	f.reader.InjectFault(countVerifies)
	sig, err := f.sign(digest[:])
	require.NoError(t, err)
	assert.True(t, ecdsa.VerifyASN1(pub, digest[:], sig))
	assert.Equal(t, int32(1), verifies.Load(), "the PIN is verified again after the reset")
	f.reader.ClearFaults()
}

// The transaction's first command, GET DATA of cardcf's object in place
// of the SELECT, goes wrong (its answer lost, or changed into another
// object, or a status word): the SELECT follows before the PIN, the
// signature is made, and no login survives it.
func TestFailedCardCFProbeSelects(t *testing.T) {
	isStoreRead := func(cmd []byte) bool {
		return len(cmd) > 4 && cmd[1] == 0xCB && bytes.Contains(cmd[4:], []byte{0x5C, 0x03, 0x5F, 0xFF, 0x20})
	}
	for _, tc := range []struct {
		name  string
		fault virtual.Fault
	}{
		{"answer lost", virtual.Fault{Lose: scrm.ErrCommError}},
		{"another object", virtual.Fault{Mutate: func([]byte) []byte { return []byte{0x53, 0x01, 0x00, 0x90, 0x00} }}},
		{"6D00", virtual.Fault{Mutate: func([]byte) []byte { return []byte{0x6D, 0x00} }}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, keystore.Config{})
			pub := f.generate(t)
			digest := sha256.Sum256([]byte("data"))
			for range 2 {
				_, err := f.sign(digest[:])
				require.NoError(t, err)
			}
			var sent []byte
			fault := tc.fault
			fault.Match = func(cmd []byte) bool {
				if isStoreRead(cmd) {
					return true
				}
				sent = append(sent, cmd[1])
				return false
			}
			f.reader.InjectFault(fault)
			before := f.card.Conn().Stats().APDUs
			sig, err := f.sign(digest[:])
			require.NoError(t, err)
			assert.True(t, ecdsa.VerifyASN1(pub, digest[:], sig))
			assert.Zero(t, f.reader.PendingFaults(), "the fault hit the first command")
			assert.Equal(t, uint64(6), f.card.Conn().Stats().APDUs-before, "GET DATA, SELECT, GET DATA, VERIFY, GENERAL AUTHENTICATE, logout")
			assert.Empty(t, sent, "nothing before the GET DATA")
			verified, _, signs := probePIV(t, f.b, "Virtual Reader 0")
			assert.False(t, verified, "the PIN is not left verified")
			assert.False(t, signs)
		})
	}
}

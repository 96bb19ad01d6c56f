package engine_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cardmod/cardmod/cardfs"
	simgids "github.com/cardmod/cardmod/cardsim/gids"
	simpiv "github.com/cardmod/cardmod/cardsim/piv"
	"github.com/cardmod/cardmod/internal/engine"
	"github.com/cardmod/cardmod/keystore"
	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/minidriver/piv"
	"github.com/cardmod/cardmod/minidriver/plugins"
	"github.com/cardmod/cardmod/pincache"
	"github.com/cardmod/cardmod/scrm"
	"github.com/cardmod/cardmod/scrm/virtual"
)

// countingPrompt answers with pin and counts the prompts.
type countingPrompt struct {
	pin   string
	count atomic.Int32
}

func (p *countingPrompt) PIN(ctx context.Context, r pincache.Request) (*pincache.Secret, error) {
	p.count.Add(1)
	return pincache.NewSecret([]byte(p.pin)), nil
}

type fixture struct {
	b      *virtual.Backend
	reader *virtual.Reader
	sim    *simpiv.Card
	prompt *countingPrompt
	e      *engine.Engine
	card   *engine.Card
}

func newFixture(t *testing.T, cfg keystore.Config) *fixture {
	t.Helper()
	sim, err := simpiv.New(simpiv.Config{})
	require.NoError(t, err)
	b := virtual.NewBackend()
	r := b.AddReader("Virtual Reader 0")
	r.Insert(sim)
	f := &fixture{b: b, reader: r, sim: sim, prompt: &countingPrompt{pin: simpiv.DefaultPIN}}
	cfg.Backend = b
	if cfg.Registry == nil {
		cfg.Registry = plugins.NewRegistry()
	}
	if cfg.Prompt == nil {
		cfg.Prompt = f.prompt
	}
	f.e, err = engine.New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = f.e.Close() })
	cards, err := f.e.Cards(context.Background())
	require.NoError(t, err)
	require.Len(t, cards, 1)
	f.card = cards[0]
	return f
}

func adminResponse(ch []byte) ([]byte, error) {
	return piv.ManagementKeyResponse(simpiv.DefaultManagementKey, ch)
}

// generate makes a P-256 key in container 0 the way a provider does.
func (f *fixture) generate(t *testing.T) *ecdsa.PublicKey {
	t.Helper()
	var pub *ecdsa.PublicKey
	err := f.card.Do(context.Background(), func(op *engine.Op) error {
		if err := op.AuthenticateResponse(minidriver.RoleAdmin, adminResponse); err != nil {
			return err
		}
		if err := op.NoteContainersChanged(); err != nil {
			return err
		}
		if err := minidriver.CreateContainer(op.Context(), op.Card(), op.Tx(), minidriver.CreateContainerRequest{Index: 0, KeySpec: minidriver.ECDSAP256}); err != nil {
			return err
		}
		info, err := op.ContainerInfo(0)
		if err != nil {
			return err
		}
		pub = info.Signature.(*ecdsa.PublicKey)
		return nil
	})
	require.NoError(t, err)
	return pub
}

func (f *fixture) sign(digest []byte) ([]byte, error) {
	var sig []byte
	err := f.card.Do(context.Background(), func(op *engine.Op) error {
		if err := op.Authenticate(minidriver.RoleUser, "sign"); err != nil {
			return err
		}
		var err error
		sig, err = op.Card().SignData(op.Context(), op.Tx(), minidriver.SignRequest{Container: 0, KeySpec: minidriver.ECDSAP256, Digest: digest})
		return err
	})
	return sig, err
}

func TestCardsFound(t *testing.T) {
	f := newFixture(t, keystore.Config{})
	assert.Equal(t, "Virtual Reader 0", f.card.Reader())
	assert.Equal(t, "PIV", f.card.Plugin())
	assert.NotEqual(t, cardfs.CardID{}, f.card.ID())
	again, err := f.e.CardIn(context.Background(), "Virtual Reader 0")
	require.NoError(t, err)
	assert.Same(t, f.card, again, "a card is opened once")
}

func TestPINCachedAcrossOperations(t *testing.T) {
	f := newFixture(t, keystore.Config{})
	pub := f.generate(t)
	digest := sha256.Sum256([]byte("data"))
	for range 3 {
		sig, err := f.sign(digest[:])
		require.NoError(t, err)
		assert.True(t, ecdsa.VerifyASN1(pub, digest[:], sig))
	}
	assert.Equal(t, int32(1), f.prompt.count.Load(), "prompted once, then the cache")
}

func TestLoginLastsOneOperation(t *testing.T) {
	f := newFixture(t, keystore.Config{})
	f.generate(t)
	digest := sha256.Sum256([]byte("data"))
	_, err := f.sign(digest[:])
	require.NoError(t, err)
	// Without Authenticate the next operation cannot sign: the login
	// ended with the previous transaction.
	err = f.card.Do(context.Background(), func(op *engine.Op) error {
		_, err := op.Card().SignData(op.Context(), op.Tx(), minidriver.SignRequest{Container: 0, KeySpec: minidriver.ECDSAP256, Digest: digest[:]})
		return err
	})
	assert.ErrorIs(t, err, minidriver.ErrSecurityViolation)
}

func TestWrongCachedPINIsDroppedNotRetried(t *testing.T) {
	f := newFixture(t, keystore.Config{})
	f.generate(t)
	digest := sha256.Sum256([]byte("data"))
	_, err := f.sign(digest[:])
	require.NoError(t, err)

	// The PIN changes behind the engine's back (another process): the card
	// is changed directly, without bumping cardcf.
	ctx := context.Background()
	conn, err := scrm.NewContext(f.b).Connect(ctx, "Virtual Reader 0", nil)
	require.NoError(t, err)
	defer conn.Close(scrm.LeaveCard)
	_, err = conn.Do(ctx, scrm.Command{INS: 0xA4, P1: 0x04, Data: simpiv.AID, Ne: 256})
	require.NoError(t, err)
	_, err = conn.Do(ctx, scrm.Command{INS: 0x24, P2: 0x80, Data: []byte("123456\xff\xff654321\xff\xff")})
	require.NoError(t, err)

	_, err = f.sign(digest[:])
	var pe *minidriver.PINError
	require.ErrorAs(t, err, &pe, "the cached PIN fails")
	assert.Equal(t, 2, pe.AttemptsLeft, "and was tried once only")

	f.prompt.pin = "654321"
	_, err = f.sign(digest[:])
	require.NoError(t, err, "the next operation prompts")
	assert.Equal(t, int32(2), f.prompt.count.Load())
}

func TestDataCacheSavesAPDUs(t *testing.T) {
	f := newFixture(t, keystore.Config{})
	read := func() uint64 {
		before := f.card.Conn().Stats()
		err := f.card.Do(context.Background(), func(op *engine.Op) error {
			_, err := op.ContainerMap()
			return err
		})
		require.NoError(t, err)
		return f.card.Conn().Stats().Sub(before).APDUs
	}
	first := read()
	second := read()
	assert.Less(t, second, first, "the container map comes from the cache the second time")
	t.Logf("APDUs: first %d, cached %d", first, second)
}

func TestGlobalCacheAcrossEngines(t *testing.T) {
	dir := t.TempDir()
	f := newFixture(t, keystore.Config{CacheDir: dir})
	f.generate(t)
	err := f.card.Do(context.Background(), func(op *engine.Op) error {
		_, err := op.ContainerInfo(0)
		return err
	})
	require.NoError(t, err)

	// A second engine (a new process) over the same card and cache
	// directory gets the container information without asking the card.
	e2, err := engine.New(keystore.Config{Backend: f.b, Registry: plugins.NewRegistry(), CacheDir: dir})
	require.NoError(t, err)
	defer e2.Close()
	c2, err := e2.CardIn(context.Background(), "Virtual Reader 0")
	require.NoError(t, err)
	if c2.Properties().CacheMode != minidriver.CacheGlobal {
		t.Fatalf("the PIV plug-in reports cache mode %d for a YubiKey", c2.Properties().CacheMode)
	}
	var fromCache, fromCard uint64
	for i, dst := range []*uint64{&fromCache, &fromCard} {
		if i == 1 {
			// Another writer bumps the containers counter: the cached
			// entry must not be trusted any more.
			require.NoError(t, f.card.Do(context.Background(), func(op *engine.Op) error {
				if err := op.AuthenticateResponse(minidriver.RoleAdmin, adminResponse); err != nil {
					return err
				}
				return op.NoteContainersChanged()
			}))
		}
		before := c2.Conn().Stats()
		require.NoError(t, c2.Do(context.Background(), func(op *engine.Op) error {
			_, err := op.ContainerInfo(0)
			return err
		}))
		*dst = c2.Conn().Stats().Sub(before).APDUs
	}
	assert.Less(t, fromCache, fromCard)
}

func TestRemovalAndReinsertion(t *testing.T) {
	f := newFixture(t, keystore.Config{})
	f.reader.Remove()
	err := f.card.Do(context.Background(), func(op *engine.Op) error { return nil })
	assert.ErrorIs(t, err, scrm.ErrRemovedCard)
	cards, err := f.e.Cards(context.Background())
	require.NoError(t, err)
	assert.Empty(t, cards)

	f.reader.Insert(f.sim)
	c, err := f.e.CardIn(context.Background(), "Virtual Reader 0")
	require.NoError(t, err)
	assert.NotSame(t, f.card, c)
	assert.Equal(t, f.card.ID(), c.ID(), "the same card, recognised by its id")
}

func TestSilentFailsInsteadOfPrompting(t *testing.T) {
	f := newFixture(t, keystore.Config{Silent: true})
	f.generate(t)
	digest := sha256.Sum256([]byte("data"))
	_, err := f.sign(digest[:])
	assert.ErrorIs(t, err, pincache.ErrSilent)
	assert.Zero(t, f.prompt.count.Load())
}

func TestContainerPINCached(t *testing.T) {
	f := newFixture(t, keystore.Config{})
	f.generate(t)
	read := func() (minidriver.PinID, uint64) {
		before := f.card.Conn().Stats()
		var id minidriver.PinID
		require.NoError(t, f.card.Do(context.Background(), func(op *engine.Op) error {
			var err error
			id, err = op.ContainerPIN(0)
			return err
		}))
		return id, f.card.Conn().Stats().Sub(before).APDUs
	}
	id1, first := read()
	id2, second := read()
	assert.Equal(t, minidriver.RoleUser, id1)
	assert.Equal(t, id1, id2)
	// The generation already left the key's metadata in the data cache
	// (the plug-in's, minidriver.Env.Cache), so neither read asks the card
	// more than the transaction's first command: GET DATA of cardcf's
	// object, which answers as the last transaction saw it (so the PIV
	// application is still selected and no SELECT is needed).
	assert.LessOrEqual(t, second, first)
	assert.Equal(t, uint64(1), second, "the PIN ID comes from the cache the second time")
}

func TestCloseLeavesTheBackendToItsOwner(t *testing.T) {
	f := newFixture(t, keystore.Config{})
	e2, err := engine.New(keystore.Config{Backend: f.b, Registry: plugins.NewRegistry()})
	require.NoError(t, err)
	require.NoError(t, e2.Close())
	// The first engine still works on the same backend.
	require.NoError(t, f.card.Do(context.Background(), func(op *engine.Op) error { return nil }))
	cards, err := f.e.Cards(context.Background())
	require.NoError(t, err)
	assert.Len(t, cards, 1)
}

func TestExclusiveKeepsLoginBetweenOperations(t *testing.T) {
	signAPDUs := func(f *fixture) uint64 {
		digest := sha256.Sum256([]byte("data"))
		_, err := f.sign(digest[:]) // warm up: PIN cached or kept
		require.NoError(t, err)
		before := f.card.Conn().Stats()
		_, err = f.sign(digest[:])
		require.NoError(t, err)
		return f.card.Conn().Stats().Sub(before).APDUs
	}
	shared := newFixture(t, keystore.Config{})
	shared.generate(t)
	sharedAPDUs := signAPDUs(shared)

	f := newFixture(t, keystore.Config{Exclusive: true})
	f.generate(t)
	exclusiveAPDUs := signAPDUs(f)
	t.Logf("warm signature: shared %d APDUs, exclusive %d", sharedAPDUs, exclusiveAPDUs)
	assert.Less(t, exclusiveAPDUs, sharedAPDUs, "no PIN, cardcf or logout exchanges in exclusive mode")
	assert.Equal(t, uint64(1), exclusiveAPDUs, "the signature alone: no SELECT, nothing read again, the PIN kept")

	// Nobody else gets in while the engine holds the card.
	_, err := scrm.NewContext(f.b).Connect(context.Background(), "Virtual Reader 0", nil)
	assert.ErrorIs(t, err, scrm.ErrSharingViolation)

	// Close ends the login with a reset.
	require.NoError(t, f.e.Close())
	conn, err := scrm.NewContext(f.b).Connect(context.Background(), "Virtual Reader 0", nil)
	require.NoError(t, err)
	defer conn.Close(scrm.LeaveCard)
	_, err = conn.Do(context.Background(), scrm.Command{INS: 0xA4, P1: 0x04, Data: simpiv.AID, Ne: 256})
	require.NoError(t, err)
	_, err = conn.Do(context.Background(), scrm.Command{INS: 0x20, P2: 0x80})
	assert.ErrorIs(t, err, scrm.ErrWrongPIN, "the PIN is no longer verified")
}

func TestExclusiveAfterResetAuthenticatesAgain(t *testing.T) {
	f := newFixture(t, keystore.Config{Exclusive: true})
	f.generate(t)
	digest := sha256.Sum256([]byte("data"))
	_, err := f.sign(digest[:])
	require.NoError(t, err)
	f.reader.Reset() // a power glitch: the login is gone
	_, err = f.sign(digest[:])
	require.NoError(t, err, "the engine learns of the reset and verifies the PIN again")
	assert.Equal(t, int32(1), f.prompt.count.Load(), "from the PIN cache")
}

// failingPut passes every command to the card but makes the PUT DATA
// commands it is armed for fail with 6A84 (card full) without reaching it.
type failingPut struct {
	*simpiv.Card
	mu   sync.Mutex
	skip int // PUT DATA commands to let through before failing one
	arm  bool
}

func (c *failingPut) Transmit(apdu []byte) []byte {
	c.mu.Lock()
	fail := false
	if c.arm && len(apdu) > 1 && apdu[1] == 0xDB && apdu[0]&0x10 == 0 {
		if c.skip == 0 {
			fail, c.arm = true, false
		} else {
			c.skip--
		}
	}
	c.mu.Unlock()
	if fail {
		return []byte{0x6A, 0x84}
	}
	return c.Card.Transmit(apdu)
}

// A write that fails after cardcf was bumped leaves a card that another
// engine reads correctly: it drops its cached copy and reads the card.
func TestWriteFailingHalfwayIsTrustedCorrectly(t *testing.T) {
	sim, err := simpiv.New(simpiv.Config{})
	require.NoError(t, err)
	card := &failingPut{Card: sim}
	b := virtual.NewBackend()
	b.AddReader("R").Insert(card)
	ctx := context.Background()
	open := func(cfg keystore.Config) *engine.Card {
		cfg.Backend = b
		cfg.Registry = plugins.NewRegistry()
		e, err := engine.New(cfg)
		require.NoError(t, err)
		t.Cleanup(func() { _ = e.Close() })
		c, err := e.CardIn(ctx, "R")
		require.NoError(t, err)
		return c
	}
	writer, reader := open(keystore.Config{}), open(keystore.Config{})
	truth := open(keystore.Config{NoCache: true})
	write := func(data string) error {
		return writer.Do(ctx, func(op *engine.Op) error {
			if err := op.AuthenticateResponse(minidriver.RoleAdmin, adminResponse); err != nil {
				return err
			}
			return op.WriteFile(cardfs.MSCPDir, "probe", []byte(data))
		})
	}
	readWith := func(c *engine.Card) string {
		var got []byte
		require.NoError(t, c.Do(ctx, func(op *engine.Op) error {
			var err error
			got, err = op.ReadFile(cardfs.MSCPDir, "probe")
			return err
		}))
		return string(got)
	}
	read := func() string { return readWith(reader) }

	require.NoError(t, writer.Do(ctx, func(op *engine.Op) error {
		if err := op.AuthenticateResponse(minidriver.RoleAdmin, adminResponse); err != nil {
			return err
		}
		if err := op.CreateFile(cardfs.MSCPDir, "probe", cardfs.EveryoneReadUserWriteAc); err != nil {
			return err
		}
		return op.WriteFile(cardfs.MSCPDir, "probe", []byte("v1"))
	}))
	require.Equal(t, "v1", read())
	require.Equal(t, "v1", read(), "now from the reader's cache")

	// Armed to fail the first PUT DATA (the cardcf bump) and then the
	// second (the data, after the bump went through): whatever fails, the
	// reader's answer is what the card holds.
	for skip := range 2 {
		card.mu.Lock()
		card.skip, card.arm = skip, true
		card.mu.Unlock()
		require.ErrorIs(t, write(fmt.Sprintf("v%d", skip+2)), minidriver.ErrNoSpace)
		assert.Equal(t, readWith(truth), read(), "failure at PUT DATA %d", skip+1)
	}

	require.NoError(t, write("v9"))
	assert.Equal(t, "v9", read())
}

// The default registry takes GIDS cards too.
func TestDefaultRegistryTakesGIDS(t *testing.T) {
	card, err := simgids.New(simgids.Config{Initialized: true})
	require.NoError(t, err)
	b := virtual.NewBackend()
	b.AddReader("G").Insert(card)
	e, err := engine.New(keystore.Config{Backend: b, Registry: plugins.NewRegistry()})
	require.NoError(t, err)
	defer e.Close()
	c, err := e.CardIn(context.Background(), "G")
	require.NoError(t, err)
	assert.Equal(t, "GIDS", c.Plugin())
	assert.NotEqual(t, cardfs.CardID{}, c.ID())
}

// TestCardTakenOutAndPutBack: a card taken out of its reader and put
// back between two operations is not an error for the operations that
// name the reader or go through every card (CardDo, CardsDo): the card
// opened before is forgotten when the next operation's transaction cannot
// begin (nothing sent), and the card now in the reader is opened and
// given the operation, as the minidriver contract's relocation of a
// removed card asks. The forgotten handle is closed: its card left.
func TestCardTakenOutAndPutBack(t *testing.T) {
	ctx := context.Background()
	nothing := func(*engine.Card, *engine.Op) error { return nil }
	for _, tc := range []struct {
		name string
		run  func(e *engine.Engine) (*engine.Card, error)
	}{
		{"CardDo", func(e *engine.Engine) (*engine.Card, error) {
			return e.CardDo(ctx, "Virtual Reader 0", nothing)
		}},
		{"CardsDo", func(e *engine.Engine) (*engine.Card, error) {
			cards, opErrs, skipped, err := e.CardsDo(ctx, nothing, nil)
			require.NoError(t, err)
			require.NoError(t, skipped)
			require.Len(t, cards, 1)
			return cards[0], opErrs[0]
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, keystore.Config{})
			f.reader.Remove()
			f.reader.Insert(f.sim)
			c, err := tc.run(f.e)
			require.NoError(t, err)
			assert.NotSame(t, f.card, c, "the card opened again")
			assert.Equal(t, f.card.ID(), c.ID(), "the same card, recognised by its id")
			assert.ErrorIs(t, f.card.Do(ctx, func(*engine.Op) error { return nil }), scrm.ErrClosed, "the forgotten handle is closed")
		})
	}
}

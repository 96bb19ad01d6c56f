// Package engine is the one engine under cardmod's providers (packages
// basecsp and ksp): it finds cards through the minidriver registry, keeps
// track of their identity, and runs every logical operation as one
// transaction: reconnect after a reset, re-establish the plug-in's
// application, read cardcf and drop what went stale from the caches,
// authenticate when the operation needs it (PIN from the cache or the
// prompt), do the work, log out, end.
//
// Two refinements cut the APDUs of warm operations (docs/benchmarks.md).
// Operations whose outcome the caller checks on the host (a signature
// against the key's public key, an RSA decryption's raw result raised to
// the public exponent) run with Card.DoChecked, which reads no cardcf
// and uses the cached data as of the last cardcf read; an outcome that
// does not check out makes the operation run again on data read afresh.
// ECDH agreements, whose outcome cannot be checked, run with
// Card.DoCached, which skips cardcf only on a card without one (where
// the read could only see it appear) while nothing reset the card. In exclusive mode, after an operation that ended
// cleanly, the next one continues the plug-in's state (no SELECT,
// nothing read again) and PINs stay verified until Close resets the
// card. A card not open yet is opened in the transaction of its first
// operation (Engine.CardDo, Engine.CardsDo), without a second SELECT.
//
// In shared mode no login outlives an operation: when the outcome of an authentication
// is not a definite status word, when a logout fails, or when a callback
// panics while a login may be active, the transaction ends with a card
// reset (see Card.Do). A reset is lost login state, not a failure: an
// operation that has written nothing starts over after one.
//
// Concurrency: an Engine and its Cards are safe for concurrent use.
// Operations on one card are serialised by the card's scrm lock and PC/SC
// transaction; operations on different cards run in parallel. A panic in
// an operation releases both before it goes on. Close waits for running
// operations; afterwards every call fails with the error New was given.
package engine

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/cardmod/cardmod/cardfs"
	"github.com/cardmod/cardmod/keystore"
	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/pincache"
	"github.com/cardmod/cardmod/scrm"
)

// config is the keystore.Config a provider opened the engine with, as the
// engine reads it: the settings are declared and documented once, in
// package keystore, and their zero values are resolved where they are
// used, by the methods below (as crypto/tls's Config resolves its own).
type config keystore.Config

// rand returns the source of randomness: Rand, or crypto/rand.
func (c *config) rand() io.Reader {
	if c.Rand != nil {
		return c.Rand
	}
	return rand.Reader
}

// diskCacheDir returns the directory of the disk cache that CacheDir,
// UseDiskCache and NoCache choose: CacheDir, else with UseDiskCache (and
// not NoCache) os.UserCacheDir()/cardmod, else "" (no disk cache).
func (c *config) diskCacheDir() (string, error) {
	if c.CacheDir != "" || !c.UseDiskCache || c.NoCache {
		return c.CacheDir, nil
	}
	base, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("disk cache: %w", err)
	}
	return filepath.Join(base, "cardmod"), nil
}

// Engine is the shared engine of the providers.
type Engine struct {
	cfg  config
	sc   *scrm.Context
	reg  *minidriver.Registry
	pins *pincache.Cache
	src  pincache.Source
	disk *cardfs.DataCache // global cache; nil without CacheDir
	mem  *cardfs.DataCache // session cache

	mu     sync.Mutex
	cards  map[string]*Card // guarded by mu; by reader name
	closed bool             // guarded by mu
	// shut mirrors closed for CheckOpen, which every operation calls:
	// no lock shared by all cards on the operation path.
	shut atomic.Bool
}

// CheckOpen returns nil before Close and keystore.ErrClosed after: the
// error, wrapped, of every call on an Engine or its Cards after Close.
func (e *Engine) CheckOpen() error {
	if e.shut.Load() {
		return keystore.ErrClosed
	}
	return nil
}

// New returns an engine over cfg.Backend with the settings of cfg, which
// it keeps (the caller's value is not modified). cfg.Registry is required:
// the engine names no plug-in, and the providers pass
// minidriver/plugins.NewRegistry when their Config names none.
func New(cfg keystore.Config) (*Engine, error) {
	if cfg.Backend == nil {
		return nil, errors.New("engine: no backend")
	}
	reg := cfg.Registry
	if reg == nil {
		return nil, errors.New("engine: no plug-in registry")
	}
	c := config(cfg)
	dir, err := c.diskCacheDir()
	if err != nil {
		return nil, fmt.Errorf("engine: %w", err)
	}
	pins := pincache.New(pincache.Config{Now: cfg.Now})
	e := &Engine{
		cfg:   c,
		sc:    scrm.NewContext(cfg.Backend),
		reg:   reg,
		pins:  pins,
		src:   pincache.Source{Cache: pins, Prompt: cfg.Prompt, Silent: cfg.Silent},
		mem:   cardfs.NewDataCache(cardfs.DataCacheConfig{}),
		cards: make(map[string]*Card),
	}
	if dir != "" {
		e.disk = cardfs.NewDataCache(cardfs.DataCacheConfig{Dir: dir})
	}
	return e, nil
}

// Config returns the settings the engine was opened with.
func (e *Engine) Config() keystore.Config { return keystore.Config(e.cfg) }

// Rand returns the engine's source of randomness: Config.Rand, or
// crypto/rand.
func (e *Engine) Rand() io.Reader { return e.cfg.rand() }

// Close closes every card connection (waiting for running operations to
// end) and wipes the cached PINs. Afterwards every call on the Engine and
// its Cards fails with an error matching the engine's closed error, touching no
// card and asking for no PIN; so does a second Close. The backend belongs
// to the caller and stays usable (by other engines too); release it
// separately.
func (e *Engine) Close() error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return keystore.ErrClosed
	}
	e.closed = true
	e.shut.Store(true)
	cards := e.cards
	e.cards = make(map[string]*Card)
	e.mu.Unlock()
	for _, c := range cards {
		c.close()
	}
	e.pins.PurgeAll()
	return nil
}

// Context returns the resource-manager context.
func (e *Engine) Context() *scrm.Context { return e.sc }

// Cards returns the cards present in every reader that a plug-in takes,
// opening those not opened yet. Readers without a card, cards no plug-in
// takes, and cards that cannot be opened right now (being swapped, reset
// or held exclusively by another application) are left out. A card a
// plug-in takes but that cannot be opened (not initialized, failing)
// does not hide the others: Cards returns every card it opened and, as
// its error, a CardErrors naming each card it could not open. Any other
// error (the readers cannot be listed) comes with no cards.
func (e *Engine) Cards(ctx context.Context) ([]*Card, error) {
	cards, _, err := e.CardsAndSkipped(ctx)
	return cards, err
}

// CardsAndSkipped is Cards that also says why readers were left out:
// skipped joins the error of every reader left out (nil when none was),
// so that a caller that finds no card can tell "held by another
// application" (scrm.ErrSharingViolation) from "no card present"
// (scrm.ErrNoSmartcard).
func (e *Engine) CardsAndSkipped(ctx context.Context) (cards []*Card, skipped error, err error) {
	cards, _, skipped, err = e.eachCard(ctx, nil, nil, false)
	return cards, skipped, err
}

// CardsDo is CardsAndSkipped followed by Do(fn) on each card it returns,
// in reader order: a card not open yet is opened in the transaction of
// its operation, as CardDo does. opErrs[i] is the error of fn's operation
// on cards[i]. With stop set, it stops after the first operation for
// which stop, given the operation's error, returns true: the readers
// after it are not looked at.
// skipped and err are CardsAndSkipped's.
func (e *Engine) CardsDo(ctx context.Context, fn func(c *Card, op *Op) error, stop func(err error) bool) (cards []*Card, opErrs []error, skipped error, err error) {
	return e.eachCard(ctx, fn, stop, false)
}

// CardsDoChecked is CardsDo with fn run on each card as DoChecked runs
// it: for an operation whose outcome the caller checks on the host (a
// signature verified against the public key the look-up found). On a card
// opened in fn's transaction whose data an earlier process left in the
// disk cache, fn runs on that data without reading cardcf first (the
// cardcf it was cached under is assumed); an outcome that does not check
// out, or an error stale data can cause, drops the card's cached data and
// runs fn again with cardcf read (Card.DoChecked). fn must also report,
// as ErrStale, a result it drew from that data that it cannot check (a
// look-up that found nothing, Op.Unchecked).
func (e *Engine) CardsDoChecked(ctx context.Context, fn func(c *Card, op *Op) error, stop func(err error) bool) (cards []*Card, opErrs []error, skipped error, err error) {
	return e.eachCard(ctx, fn, stop, true)
}

// eachCard is CardsAndSkipped, and with fn CardsDo (checked:
// CardsDoChecked).
func (e *Engine) eachCard(ctx context.Context, fn func(c *Card, op *Op) error, stop func(err error) bool, checked bool) (cards []*Card, opErrs []error, skipped error, err error) {
	if err := e.CheckOpen(); err != nil {
		return nil, nil, nil, err
	}
	readers, err := e.sc.ListReaders(ctx)
	if errors.Is(err, scrm.ErrNoReadersAvailable) {
		return nil, nil, nil, nil
	}
	if err != nil {
		return nil, nil, nil, fmt.Errorf("engine: %w", err)
	}
	var left []error
	var failed CardErrors
	for _, r := range readers {
		var c *Card
		var opErr error
		if fn != nil {
			c, opErr, err = e.runIn(ctx, r, fn, checked)
		} else {
			c, _, err = e.cardIn(ctx, r, false)
		}
		switch {
		case err == nil:
			cards = append(cards, c)
			if fn != nil {
				opErrs = append(opErrs, opErr)
				if stop != nil && stop(opErr) {
					return cards, opErrs, joinSkipped(left), failed.Err()
				}
			}
		case errors.Is(err, scrm.ErrNoSmartcard), errors.Is(err, minidriver.ErrUnknownCard),
			errors.Is(err, scrm.ErrRemovedCard), errors.Is(err, scrm.ErrSharingViolation),
			errors.Is(err, scrm.ErrNotTransacted),
			errors.Is(err, scrm.ErrUnresponsiveCard), errors.Is(err, scrm.ErrUnpoweredCard):
			// A card another application is changing, or one being
			// swapped, is left out; it shows up at the next call. A card
			// being reset is not absent: CardIn opens it again.
			left = append(left, err)
		default:
			failed = append(failed, &CardError{Reader: r, Err: err})
		}
	}
	return cards, opErrs, joinSkipped(left), failed.Err()
}

// joinSkipped joins the errors of readers left out on one line.
func joinSkipped(errs []error) error {
	if len(errs) == 0 {
		return nil
	}
	format := strings.TrimSuffix(strings.Repeat("%w; ", len(errs)), "; ")
	args := make([]any, len(errs))
	for i, err := range errs {
		args[i] = err
	}
	return fmt.Errorf(format, args...)
}

// CardIn returns the card in reader, opening it through the registry the
// first time (and again after it was removed).
func (e *Engine) CardIn(ctx context.Context, reader string) (*Card, error) {
	c, _, err := e.cardIn(ctx, reader, false)
	return c, err
}

// cardIn is CardIn. With keep, a card it opens comes with the transaction
// it was opened in, still running (tx, nil otherwise): the caller runs
// its first operation in it (runOpened) and so ends it.
func (e *Engine) cardIn(ctx context.Context, reader string, keep bool) (c *Card, tx *scrm.Tx, err error) {
	e.mu.Lock()
	c, ok := e.cards[reader]
	closed := e.closed
	e.mu.Unlock()
	if closed {
		return nil, nil, e.CheckOpen()
	}
	if ok && c.alive() {
		return c, nil, nil
	}
	if ok {
		e.forget(c)
	}
	for attempt := 0; ; attempt++ {
		// A reset while the plug-ins probe the card is not a failure:
		// probe again.
		c, tx, err = e.open(ctx, reader, keep)
		if err == nil || !errors.Is(err, scrm.ErrResetCard) || attempt >= MaxResetRetries || ctx.Err() != nil {
			break
		}
	}
	if err != nil {
		return nil, nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		c.endOpen(tx)
		c.close()
		return nil, nil, keystore.ErrClosed
	}
	if old, ok := e.cards[reader]; ok && old.alive() {
		c.endOpen(tx)
		c.close()
		return old, nil, nil
	}
	e.cards[reader] = c
	e.noteDuplicatesLocked(c)
	return c, tx, nil
}

// endOpen ends the transaction a card was opened in, when cardIn kept it
// and no operation will run in it.
func (c *Card) endOpen(tx *scrm.Tx) {
	if tx != nil {
		_ = tx.End(scrm.LeaveCard)
	}
}

// CardDo is CardIn followed by Do(fn) on the card: a card that is not
// open yet is opened in the transaction fn then runs in, so that a new
// process's first operation costs no transaction of its own for the
// opening (no second SELECT of the application: the plug-in continues
// from its Open, as it does in exclusive mode between two operations,
// which is sound here because both are the same transaction and nothing
// else can reach the card in between). fn runs exactly as Do runs it:
// cardcf is read first, and after a reset it runs again in a new
// transaction. The card is nil when it could not be opened; otherwise err
// is the operation's.
func (e *Engine) CardDo(ctx context.Context, reader string, fn func(c *Card, op *Op) error) (*Card, error) {
	return e.cardDo(ctx, reader, fn, false)
}

// CardDoChecked is CardDo with fn run as DoChecked runs it, as
// CardsDoChecked runs it on each card.
func (e *Engine) CardDoChecked(ctx context.Context, reader string, fn func(c *Card, op *Op) error) (*Card, error) {
	return e.cardDo(ctx, reader, fn, true)
}

// cardDo is CardDo (checked: CardDoChecked).
func (e *Engine) cardDo(ctx context.Context, reader string, fn func(c *Card, op *Op) error, checked bool) (*Card, error) {
	c, opErr, err := e.runIn(ctx, reader, fn, checked)
	if err != nil {
		return nil, err
	}
	return c, opErr
}

// runIn runs fn on the card in reader (checked: as DoChecked runs it):
// on the card opened there before, or in the transaction that opens it.
// openErr is cardIn's error, opErr fn's operation's. A card opened before
// that has left the reader since, seen when the operation's transaction
// could not begin (scrm.ErrRemovedCard: nothing was sent), is forgotten
// and the card now in the reader opened and given the operation, once:
// the relocation of a removed card that the minidriver contract asks of
// a CSP, so that a card taken out and put back is not an error.
func (e *Engine) runIn(ctx context.Context, reader string, fn func(c *Card, op *Op) error, checked bool) (c *Card, opErr, openErr error) {
	for attempt := 0; ; attempt++ {
		c, tx, err := e.cardIn(ctx, reader, true)
		if err != nil {
			return nil, nil, err
		}
		opErr = c.runOpened(ctx, tx, func(op *Op) error { return fn(c, op) }, checked)
		var be *beginError
		if tx != nil || attempt > 0 || !errors.As(opErr, &be) || !errors.Is(opErr, scrm.ErrRemovedCard) || ctx.Err() != nil {
			return c, opErr, nil
		}
	}
}

// beginError is the error of an operation whose transaction could not
// begin: nothing of it reached the card.
type beginError struct{ err error }

func (e *beginError) Error() string { return "engine: " + e.err.Error() }
func (e *beginError) Unwrap() error { return e.err }

// runOpened is Do(fn) (checked: DoChecked(fn)), whose first attempt runs
// in tx, the transaction the card was just opened in, when tx is not nil.
func (c *Card) runOpened(ctx context.Context, tx *scrm.Tx, fn func(op *Op) error, checked bool) error {
	if tx == nil {
		if checked {
			return c.DoChecked(ctx, fn)
		}
		return c.Do(ctx, fn)
	}
	carry := carried{checked: checked}
	defer carry.wipe()
	if err := c.e.CheckOpen(); err != nil {
		c.endOpen(tx)
		return err
	}
	retry, err := c.runHeld(ctx, tx, fn, &carry)
	if retry && ctx.Err() == nil {
		err = c.do(ctx, fn, &carry)
	}
	return c.recheck(ctx, fn, &carry, err)
}

// forget drops a card whose connection died.
func (e *Engine) forget(c *Card) {
	e.mu.Lock()
	if e.cards[c.reader] == c {
		delete(e.cards, c.reader)
	}
	e.mu.Unlock()
	if c.mode == minidriver.CacheSessionOnly || c.duplicate.Load() {
		e.mem.Drop(c.cacheID)
	}
	if c.duplicate.Load() {
		// Another card like it may come into this reader.
		e.pins.PurgeCard(c.dupPinID)
	}
	c.close()
}

// open opens the card in reader. With keep, the transaction it was opened
// in is returned still running, for the caller's first operation
// (cardIn).
func (e *Engine) open(ctx context.Context, reader string, keep bool) (*Card, *scrm.Tx, error) {
	opts := &scrm.ConnectOptions{}
	if e.cfg.Exclusive {
		opts.Share = scrm.ShareExclusive
	}
	conn, err := e.sc.Connect(ctx, reader, opts)
	if err != nil {
		return nil, nil, fmt.Errorf("engine: %w", err)
	}
	// The plug-in opens the card and reports its properties in one
	// transaction: the properties need no exchange of their own (the
	// plug-in has just read what they say), so a second transaction, with
	// its re-select and cardcf read, would only cost APDUs.
	tx, err := conn.Begin(ctx)
	if err != nil {
		_ = conn.Close(scrm.LeaveCard)
		return nil, nil, fmt.Errorf("engine: %w", err)
	}
	pc := &pluginCache{}
	md, match, err := e.reg.OpenTx(ctx, tx, minidriver.Env{Rand: e.cfg.rand(), Cache: pc})
	var props minidriver.CardProperties
	if err == nil {
		if props, err = md.Properties(ctx, tx); err != nil {
			_ = md.Close()
		}
	}
	if err != nil || !keep {
		if endErr := tx.End(scrm.LeaveCard); err == nil && endErr != nil {
			_ = md.Close()
			err = endErr
		}
		tx = nil
	}
	if err != nil {
		_ = conn.Close(scrm.LeaveCard)
		return nil, nil, fmt.Errorf("engine: %w", err)
	}
	c := &Card{e: e, reader: reader, conn: conn, md: md, plugin: match.Plugin.Name()}
	c.props = props
	c.id = cardfs.CardID(props.GUID)
	c.cacheID = cacheKey(c.id, props.Serial, reader)
	c.pinID = pincache.CardID{GUID: props.GUID, Serial: string(props.Serial)}
	c.dupPinID = pincache.CardID{GUID: c.cacheID, Serial: string(props.Serial)}
	c.mode = props.CacheMode
	pc.card.Store(c)
	return c, tx, nil
}

// Card is one card opened through its plug-in.
type Card struct {
	e      *Engine
	reader string
	conn   *scrm.Card
	md     minidriver.Card
	plugin string

	// Set once when opened.
	id      cardfs.CardID
	cacheID cardfs.CardID   // the key of its data cache entries (cacheKey)
	pinID   pincache.CardID // the PIN cache key; see pinKey
	// dupPinID is the PIN cache key once another card reports the same
	// identity: the data cache key, which covers the reader.
	dupPinID pincache.CardID
	props    minidriver.CardProperties
	mode     minidriver.CacheMode

	// duplicate: another card of the engine reports the same identity
	// (noteDuplicatesLocked); it stays set.
	duplicate atomic.Bool
	// cur is the operation in progress once it has read cardcf (nil
	// otherwise): the plug-in's cache (pluginCache) serves only it.
	cur atomic.Pointer[Op]

	mu     sync.Mutex
	dead   bool                                    // guarded by mu
	pinfo  map[minidriver.PinID]minidriver.PINInfo // guarded by mu
	closed bool                                    // guarded by mu
	// Exclusive mode only: the PINs left verified after the last
	// operation, and the cardcf that operation ended with.
	kept   minidriver.PinSet // guarded by mu
	lastCF *cardfs.CardCF    // guarded by mu
	// hints: on a card whose cache mode keeps nothing (CacheNone), what
	// operations read of it (container map, container PINs), used only
	// by operations that check their outcome on the host and skip
	// cardcf (DoChecked); dropped when cardcf is seen to change, on every
	// write, and when a checked outcome does not check out.
	hints map[string][]byte // guarded by mu
	// memo: the data cache items this card used last, valid under
	// memoCF (Op.cached).
	memo    map[string][]byte // guarded by mu
	memoCF  *cardfs.CardCF    // guarded by mu
	memoIdx map[string]int    // guarded by mu; container indexes by name, -1: none

	// seenCF: the cardcf the engine last read or wrote, nil when unknown
	// or when the cache was dropped (DoChecked).
	seenCF *cardfs.CardCF // guarded by mu
	// cfAbsent: the last cardcf read found none on the card, which may
	// get one (cardCFReporter: a PIV card no cardmod process wrote to).
	// DoChecked then sends a cached PIN without reading cardcf again,
	// and DoCached reads none while resetUnread is not set;
	// cleared by every cardcf read that finds one, by this engine's
	// writes, by a refused PIN and when DoChecked drops the cache.
	cfAbsent bool // guarded by mu
	// resetUnread: a transaction of this card began after a card reset
	// (scrm.Tx.WasReset: another connection's or this one's) and cardcf
	// has not been read since. DoCached reads cardcf while it is set:
	// every cardmod write to a card without cardcf ends with a reset
	// (see DoCached).
	resetUnread bool // guarded by mu
	// left (exclusive mode only): every PIN that may still be verified on
	// the card, kept or not; Close resets the card when it is not empty.
	left minidriver.PinSet // guarded by mu
	// warm (exclusive mode only): the last operation ended cleanly (no
	// error, no reset, the card left as it was), so the application is
	// still selected and what the plug-in read in that transaction still
	// describes the card: the next one continues from it (continuer).
	warm bool // guarded by mu
}

// continuer is a plug-in that can take up a new transaction where the
// last one left the card, without selecting its application again and
// keeping what it read and which PINs it saw verified: what exclusive
// mode does between two operations, when no other application could
// reach the card and nothing reset it, and CardDo's first operation, in
// the transaction the card was opened in. minidriver/piv and minidriver/gids
// implement it; a plug-in without it is resumed (Resume) every time.
type continuer interface {
	Continue(tx *scrm.Tx)
}

// Reader returns the name of the reader the card is in.
func (c *Card) Reader() string { return c.reader }

// ID returns the card's identity (the cardid file, CP_CARD_GUID).
func (c *Card) ID() cardfs.CardID { return c.id }

// Properties returns the card's properties as read when it was opened.
func (c *Card) Properties() minidriver.CardProperties {
	c.mu.Lock()
	p := c.props
	c.mu.Unlock()
	p.Serial = slices.Clone(p.Serial)
	return p
}

// Plugin names the plug-in that took the card.
func (c *Card) Plugin() string { return c.plugin }

// Conn returns the card's connection, for its statistics.
func (c *Card) Conn() *scrm.Card { return c.conn }

// Alive reports whether the card can still be used: not closed, not
// removed, and not left uncertain by a write that failed halfway. Engine
// CardIn and Cards open a card that is not alive afresh.
func (c *Card) Alive() bool { return c.alive() }

func (c *Card) alive() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return !c.dead && !c.closed
}

func (c *Card) close() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	disp := scrm.LeaveCard
	if c.kept != 0 || c.left != 0 {
		disp = scrm.ResetCard // the only logout that needs no transaction
	}
	c.kept, c.left = 0, 0
	c.mu.Unlock()
	_ = c.md.Close()
	_ = c.conn.Close(disp)
}

// cache returns the data cache that applies to the card, or nil.
func (c *Card) cache() *cardfs.DataCache {
	switch {
	case c.e.cfg.NoCache || c.mode == minidriver.CacheNone:
		return nil
	case c.mode == minidriver.CacheGlobal && c.e.disk != nil && !c.duplicate.Load():
		return c.e.disk
	}
	return c.e.mem
}

// MaxResetRetries bounds how often one operation starts over after the
// card was reset under it (a power glitch, a reader fault, a reset by
// another connection that PC/SC let through): at most this many times, and
// only while the operation has written nothing to the card. Resets by
// other connections before the operation gets the card are recovered in
// scrm.Card.Begin (up to scrm.MaxResetRecoveries per Begin).
const MaxResetRetries = 8

// Do runs fn as one logical operation in one transaction: it re-establishes
// the plug-in's application, validates the caches against cardcf, lets fn
// authenticate and work through op, then logs out every PIN fn
// authenticated and ends the transaction. No login outlives Do, except
// in exclusive mode (Config.Exclusive): no other application can reach the
// card between operations, so cardcf is not read again until the card is
// reset, after an operation that ended cleanly the next one continues from
// it without re-selecting the application (plug-ins that implement
// Continue), PINs whose cache policy is Normal stay verified for the next
// operations, and other user PINs are asked for again before their next
// use but not logged out; Close resets the card to end those logins.
//
// The transaction ends with a card reset (scrm.ResetCard), dropping every
// login of every connection, whenever the card's login state is not known
// for certain: an authentication that neither succeeded nor was refused
// with a status word (a lost, malformed or 0-byte answer, a transport
// error, a deadline, a cancelled context), any exchange whose answer was
// lost (see scrm.Tx.RequireReset), a logout that failed or that the card
// cannot do (the PIV management key), and a panic in fn or in a callback
// it reached (a Prompt, an admin responder, a tracer) while a login may be
// active. After a panic the transaction and the card's lock are released
// and the panic goes on.
//
// A reset is lost login state, not a failure: when the card was reset
// before fn wrote anything to it, Do starts over (re-selecting the
// application, reading cardcf, authenticating again with the PIN already
// entered) up to MaxResetRetries times. After a reset the card's identity
// is read again; a card with another identity fails the operation with an
// error matching scrm.ErrRemovedCard, as a removal does.
func (c *Card) Do(ctx context.Context, fn func(op *Op) error) error {
	var carry carried
	defer carry.wipe()
	return c.do(ctx, fn, &carry)
}

func (c *Card) do(ctx context.Context, fn func(op *Op) error, carry *carried) error {
	for attempt := 0; ; attempt++ {
		if err := c.e.CheckOpen(); err != nil {
			return err
		}
		retry, err := c.doHeld(ctx, fn, carry)
		if !retry || attempt >= MaxResetRetries || ctx.Err() != nil {
			return err
		}
	}
}

// doHeld is doOnce with the card's data cache holding its disk writes
// until the transaction has ended (cardfs.DataCache.Hold): what the
// operation reads and caches is written in one file write, after the card
// is released, not one per item.
func (c *Card) doHeld(ctx context.Context, fn func(op *Op) error, carry *carried) (bool, error) {
	if cache := c.cache(); cache != nil {
		id := c.cacheID
		cache.Hold(id)
		defer func() { _ = cache.Release(id) }() // a failed disk write only costs a re-read
	}
	return c.doOnce(ctx, fn, carry)
}

// runHeld is run of the transaction the card was opened in, holding the
// data cache's disk writes as doHeld does.
func (c *Card) runHeld(ctx context.Context, tx *scrm.Tx, fn func(op *Op) error, carry *carried) (bool, error) {
	if cache := c.cache(); cache != nil {
		id := c.cacheID
		cache.Hold(id)
		defer func() { _ = cache.Release(id) }() // a failed disk write only costs a re-read
	}
	return c.run(ctx, tx, true, fn, carry)
}

// ErrStale is what fn of DoChecked returns (wrapped) when the outcome of
// its operation does not check out on the host: the data it used from
// the cache may be stale.
var ErrStale = errors.New("engine: the card's data changed since it was cached")

// DoChecked is Do for an operation whose outcome fn checks on the host
// against what the caller holds (a signature against the key's public
// key, as cspcore does before returning any signature). In shared mode it
// does not read cardcf first: the cached container map and container PINs
// are used as of the last cardcf the engine read (on a card whose cache
// mode keeps nothing, as the card's hints), and the plug-in trusts what it
// keeps across transactions the same way (freshAssumer). cardcf is read
// only where cached data is used that the outcome cannot vouch for:
// before a PIN from the PIN cache is sent (Op.Authenticate), so that a PIN
// changed elsewhere is dropped without being tried. A key that needs no
// PIN thus signs in two APDUs (the plug-in's Resume, which on a card
// that holds cardcf may be GET DATA of cardcf's object in place of the
// SELECT, and the signature). On a card whose
// last cardcf read found none that it may get later (a PIV card no
// cardmod process wrote to, cardCFReporter), that read is skipped too
// while no transaction of the card has begun after a card reset since:
// it could only see cardcf appear, that is a cardmod process's first
// write to the card, which ends with a card reset (see DoCached); every
// operation run with Do (listing, writes), an ECDH agreement (DoCached)
// or a cached PIN's use after a card reset, a refused PIN and an outcome
// that does not check out read cardcf again. What it gives up is in docs/benchmarks.md
// ("Warm signature, decryption, ECDH, shared mode").
//
// It is sound because a result that does not check out is never
// returned: when fn fails with an error matching ErrStale, or with one
// that stale data can cause (a key or a security status the card does not
// have: minidriver.ErrNoKeyContainer, minidriver.ErrSecurityViolation),
// the card's cached data is dropped and fn runs once more as Do runs it,
// reading cardcf and everything else afresh. A PIN the card refused is
// never a reason to run fn again; the PINs the card accepted in the first
// run are verified again in the second (no prompt, no try spent).
//
// In exclusive mode, and on a card whose cardcf the engine has not read
// yet, DoChecked is Do.
func (c *Card) DoChecked(ctx context.Context, fn func(op *Op) error) error {
	return c.doChecked(ctx, fn, &carried{checked: true})
}

// DoCached is Do for an operation whose outcome cannot be checked on the
// host (an ECDH agreement) that uses of the cached
// data only the container's index, its PIN and the plug-in's map of
// containers to keys. It skips the cardcf read, as DoChecked does, only
// on a card whose last cardcf read found none that it may get later (a
// PIV card no cardmod process wrote to: cardCFReporter, Card.cfAbsent),
// in shared mode, with a data cache (not on a card whose cache mode keeps
// nothing), and only while no transaction of this card has begun after a
// card reset since that read (Card.resetUnread); everywhere else it is
// Do. On such a card the read could only see cardcf appear, and what
// makes it appear is a cardmod process's first write to the card, which
// is seen without it: writing cardcf takes the card's management key
// (PUT DATA, SP 800-73-4 part 2, 3.3.1), which has no logout, so that
// transaction ends with a card reset (Do), and PC/SC reports the reset
// to every other connection of the card at its next transaction
// (SCardBeginTransaction returns SCARD_W_RESET_CARD, Microsoft's
// winscard documentation; scrm.Tx.WasReset): the next DoCached reads
// cardcf. The only other change the read would see is none: another
// application (piv-go, yubico-piv-tool, ykman) writes no cardcf, so a
// key it replaced is not seen with the read either (docs/benchmarks.md,
// "Warm signature, decryption, ECDH, shared mode"). An error that stale
// data can cause makes fn run once more on data read afresh, as with
// DoChecked.
func (c *Card) DoCached(ctx context.Context, fn func(op *Op) error) error {
	return c.doChecked(ctx, fn, &carried{checked: true, cfAbsentOnly: true})
}

func (c *Card) doChecked(ctx context.Context, fn func(op *Op) error, carry *carried) error {
	defer carry.wipe()
	return c.recheck(ctx, fn, carry, c.do(ctx, fn, carry))
}

// recheck runs fn again, as Do runs it and on data read afresh, when err
// ended an attempt that used cached data without reading cardcf and may
// come from stale data (DoChecked).
func (c *Card) recheck(ctx context.Context, fn func(op *Op) error, carry *carried, err error) error {
	if err == nil || !carry.unchecked || !maybeStale(err) || ctx.Err() != nil {
		return err
	}
	if cache := c.cache(); cache != nil {
		cache.Drop(c.cacheID)
	}
	c.mu.Lock()
	c.pinfo, c.seenCF, c.hints = nil, nil, nil
	c.memo, c.memoCF, c.memoIdx = nil, nil, nil
	c.cfAbsent = false
	c.mu.Unlock()
	carry.checked = false
	return c.do(ctx, fn, carry)
}

// maybeStale reports whether err, from an operation that used cached data
// without reading cardcf, may come from stale data.
func maybeStale(err error) bool {
	if pincache.IsPINFailure(err) {
		return false
	}
	return errors.Is(err, ErrStale) || errors.Is(err, minidriver.ErrNoKeyContainer) ||
		errors.Is(err, minidriver.ErrSecurityViolation) || errors.Is(err, scrm.ErrSecurityStatus)
}

// freshAssumer is a plug-in that can trust, in transaction tx, what it
// keeps across transactions under cardcf as if it had read the same
// cardcf in tx (DoChecked, where the caller checks the outcome).
// minidriver/piv and minidriver/gids implement it.
type freshAssumer interface {
	AssumeFresh(tx *scrm.Tx)
}

// doOnce is one attempt of Do. retry says the attempt failed because the
// card was reset before anything was written.
func (c *Card) doOnce(ctx context.Context, fn func(op *Op) error, carry *carried) (retry bool, err error) {
	tx, err := c.conn.Begin(ctx)
	if err != nil {
		if errors.Is(err, scrm.ErrRemovedCard) || errors.Is(err, scrm.ErrNoSmartcard) {
			c.mu.Lock()
			c.dead = true
			c.mu.Unlock()
		}
		if errors.Is(err, scrm.ErrClosed) {
			if cerr := c.e.CheckOpen(); cerr != nil {
				return false, cerr
			}
		}
		return errors.Is(err, scrm.ErrResetCard), &beginError{err}
	}
	return c.run(ctx, tx, false, fn, carry)
}

// run is doOnce in transaction tx, which it ends. opened: the card was
// opened in tx (CardDo), so the plug-in's application is selected and
// what it read while opening it describes the card.
func (c *Card) run(ctx context.Context, tx *scrm.Tx, opened bool, fn func(op *Op) error, carry *carried) (retry bool, err error) {
	op := &Op{c: c, ctx: ctx, tx: tx, carry: carry}
	finished := false
	defer func() {
		if finished {
			return
		}
		// A panic in fn or a callback: no logout is attempted (the
		// plug-in's state is unknown), the card is reset when a login may
		// be active, the transaction and the card's lock are released,
		// and the panic goes on.
		c.mu.Lock()
		if op.authed != 0 || op.authing || c.kept != 0 || c.left != 0 {
			tx.RequireReset()
		}
		c.kept, c.left, c.lastCF, c.warm = 0, 0, nil, false
		c.mu.Unlock()
		_ = tx.End(scrm.LeaveCard)
	}()

	excl := c.e.cfg.Exclusive
	c.mu.Lock()
	wasReset := tx.WasReset()
	if wasReset {
		c.kept, c.left, c.lastCF, c.warm = 0, 0, nil, false
		c.resetUnread = true
	}
	// DoCached's condition for skipping cardcf (the data cache is
	// checked below, outside c.mu).
	quietAbsent := c.cfAbsent && !c.resetUnread
	if excl {
		op.authed, op.left = c.kept, c.left
	}
	lastCF, seenCF := c.lastCF, c.seenCF
	warm := excl && c.warm
	c.warm = false
	c.mu.Unlock()
	if opened {
		// The card was opened in this very transaction: as after a clean
		// exclusive-mode operation, the plug-in continues from where its
		// Open left the card (no SELECT). Nothing was verified yet.
		warm, wasReset = true, false
	}

	// Exclusive mode, after an operation that ended cleanly: nobody else
	// could select another application or change the card since, so
	// neither the SELECT nor the plug-in's reads are repeated. A SELECT
	// could even end the kept login: selecting an application may reset
	// its security status (ISO/IEC 7816-4, 5.4 on security status), as
	// cardsim/gids does, like a Java Card applet selected again.
	if cont, ok := c.md.(continuer); ok && warm && !wasReset && (excl || opened) {
		cont.Continue(tx)
	} else {
		err = c.md.Resume(ctx, tx)
	}
	if err == nil && wasReset {
		err = op.checkIdentity()
	}
	if err == nil {
		fa, canAssume := c.md.(freshAssumer)
		// A card opened in this transaction whose data an earlier
		// process cached on disk (CardsDoChecked): that data is used
		// under the cardcf it was cached under, unread, as the
		// assumption below does with the cardcf this process saw last.
		var diskCF *cardfs.CardCF
		if opened && carry.checked && !carry.cfAbsentOnly && !excl && seenCF == nil && canAssume {
			if cache := c.cache(); cache != nil {
				if cf, ok := cache.CachedCF(c.cacheID); ok {
					diskCF = &cf
				}
			}
		}
		switch {
		case excl && lastCF != nil:
			op.cf, op.hasCF = *lastCF, true
			if cache := c.cache(); cache != nil && !c.memoValid(op.cf) {
				// The cache learns the card's cardcf under the card's
				// key (the first operation read it while the card was
				// being opened, before the key was known). Once the
				// card's memo holds what the operations use, the data
				// cache (one lock for every card) is not touched.
				cache.Sync(c.cacheID, op.cf)
			}
		case carry.checked && !excl && seenCF != nil && canAssume &&
			(!carry.cfAbsentOnly || (quietAbsent && c.cache() != nil)):
			op.cf, op.hasCF = *seenCF, true
			fa.AssumeFresh(tx)
			carry.unchecked, op.unchecked = true, true
		case diskCF != nil:
			op.cf, op.hasCF = *diskCF, true
			fa.AssumeFresh(tx)
			carry.unchecked, op.unchecked, op.opened = true, true, true
		default:
			err = op.syncFreshness()
		}
	}
	if err == nil {
		c.cur.Store(op)
		err = fn(op)
		c.cur.Store(nil)
	}
	logout := op.authed
	var keep, left minidriver.PinSet
	switch {
	case excl && err == nil:
		// Exclusive mode: no other application reaches the card until
		// Close, which resets it. PINs whose policy is Normal stay
		// verified for the next operations (kept); the others are asked
		// for and verified again before their next use, as their policy
		// says, but not logged out: the card's own PIN policy governs
		// what a verification allows (SP 800-73-4 part 1, 3.2: "PIN
		// Always" keys need a VERIFY before each use), and a logout could
		// end the kept logins with it (PIV's PINSignature and PINUser
		// are one card PIN). left remembers them for Close. Any other
		// login (an admin key) is logged out, or the card reset, as in
		// shared mode.
		keep = op.keepable()
		stay := op.stayable()
		logout &^= stay
		left = op.authed&stay | op.left
	case excl:
		// A failed operation ends every login; left stays set so that
		// Close resets the card should a logout have missed one.
		logout |= op.left
		left = op.left | op.authed
	}
	if logout != 0 {
		if derr := c.md.Deauthenticate(ctx, tx, logout); derr != nil {
			tx.RequireReset() // the only logout left
		}
	}
	disp := scrm.LeaveCard
	if tx.ResetRequired() {
		disp, keep, left = scrm.ResetCard, 0, 0
	}
	removed := tx.CardRemoved()
	c.mu.Lock()
	c.kept, c.left = keep, left
	c.lastCF = nil
	if excl && op.hasCF && disp == scrm.LeaveCard {
		cf := op.cf
		c.lastCF = &cf
	}
	c.warm = excl && err == nil && disp == scrm.LeaveCard && !removed
	c.mu.Unlock()
	endErr := tx.End(disp)
	finished = true
	if err == nil && endErr != nil {
		err = fmt.Errorf("engine: %w", endErr)
	}
	if removed || errors.Is(err, scrm.ErrRemovedCard) || (err != nil && op.wrote) {
		// Removed (maybe during the logout), or a write that failed
		// halfway: what the plug-in holds in memory about the card may
		// differ from the card, so the next operation opens it afresh.
		c.mu.Lock()
		c.dead = true
		c.mu.Unlock()
	}
	return errors.Is(err, scrm.ErrResetCard) && !op.wrote, err
}

// KeyAgreer returns the plug-in's KeyAgreer, for DeriveKey and
// DestroyAgreement outside a transaction: ECDH agreements live in the
// plug-in's memory (CardDeriveKey and CardDestroyDHAgreement never reach
// the card, and the plug-in's agreement table is safe for concurrent use).
// Agree itself needs the card: call it in Do. A plug-in without ECDH gives
// an error matching minidriver.ErrUnsupported.
func (c *Card) KeyAgreer() (minidriver.KeyAgreer, error) {
	a, ok := c.md.(minidriver.KeyAgreer)
	if !ok {
		return nil, fmt.Errorf("engine: key agreement: %w", minidriver.ErrUnsupported)
	}
	return a, nil
}

// pluginCache is the engine's data cache offered to the plug-in
// (minidriver.Env.Cache, the spec's pfnCspCacheAddFile and
// pfnCspCacheLookupFile): items are the card's, under the names the
// plug-in gives them (prefixed, so they cannot collide with the engine's),
// and served only to the operation in progress in tx once it has read
// cardcf, under the same freshness rule as every other item.
type pluginCache struct {
	card atomic.Pointer[Card] // nil while the card is being opened
}

var _ minidriver.Cache = (*pluginCache)(nil)

// op returns the operation in progress in tx, or nil.
func (p *pluginCache) op(tx *scrm.Tx) *Op {
	c := p.card.Load()
	if c == nil {
		return nil
	}
	op := c.cur.Load()
	if op == nil || op.tx != tx {
		return nil
	}
	return op
}

// LookupFile implements minidriver.Cache.
func (p *pluginCache) LookupFile(tx *scrm.Tx, name string) ([]byte, bool) {
	if op := p.op(tx); op != nil {
		return op.cached("plugin:" + name)
	}
	return nil, false
}

// AddFile implements minidriver.Cache.
func (p *pluginCache) AddFile(tx *scrm.Tx, class cardfs.Stale, name string, data []byte) {
	if op := p.op(tx); op != nil {
		op.remember(class, "plugin:"+name, data)
	}
}

package pincache

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cardmod/cardmod/minidriver"
)

// DefaultMaxCards is the number of cards a Cache remembers when
// Config.MaxCards is 0.
const DefaultMaxCards = 64

// Config configures a Cache. The zero Config is the default. A Cache
// copies its Config and never modifies it.
type Config struct {
	// MaxCards bounds the number of cards whose PINs and freshness the
	// cache keeps (each card has at most minidriver.MaxPins PINs). When a
	// new card would exceed it, the card used least recently is
	// forgotten and its PINs wiped. 0 means DefaultMaxCards.
	MaxCards int
	// Now returns the current time, for Timed policies; nil means
	// time.Now.
	Now func() time.Time
}

// Cache keeps verified PINs per card and PIN ID under the PIN's cache
// policy (spec PIN_CACHE_POLICY, "Card PIN Operations"):
//
//   - PINCacheNormal: kept until purged.
//   - PINCacheTimed: kept for Info seconds from insertion; use does not
//     extend it; an expired entry is wiped when the cache next looks at it.
//   - PINCacheNone: never stored; Put wipes the PIN.
//   - PINCacheAlwaysPrompt: never stored, and Get never returns a PIN.
//
// Get takes the policy the card states now, so a policy that became
// stricter (after the PIN info was re-read) applies at once to PINs
// already stored.
//
// Every PIN the cache drops is wiped. The zero Cache is ready to use with
// the default Config. A Cache is safe for concurrent use; it must not be
// copied after first use. Each card's PINs have a lock of their own: the
// calls on a card the cache already knows (Get, Put, Holds, Purge,
// ObserveFreshness) take no lock that calls on other cards take, but
// when a Timed entry of any card has expired (the sweep that wipes it),
// when a card is added (and the least recently used one may be
// forgotten), and in PurgeCard, PurgeAll and Len.
type Cache struct {
	cfg Config // set by New; read-only
	// cards maps a CardID to its *cardState: loaded without a lock;
	// stored and deleted with mu held.
	cards sync.Map
	// mu serialises adding, forgetting and sweeping cards; it is taken
	// before a card's own lock, never after.
	mu sync.Mutex
	n  int // guarded by mu; the cards in cards
	// tick is the use counter for eviction.
	tick atomic.Uint64
	// nextExpiry is the earliest own expiry (Timed at insertion, in
	// UnixNano) of the entries held, 0 when none has one: a sweep is due
	// once it has passed.
	nextExpiry atomic.Int64
	// timedPut is set by every Put of an entry with an expiry before it
	// notes the expiry; a sweep clears it first and, finding it set at
	// its end, leaves a sweep due (the Put's expiry may have been noted
	// before the sweep's own result overwrote it).
	timedPut atomic.Bool
}

// cardState is what the cache knows of one card.
type cardState struct {
	mu       sync.Mutex
	pins     [minidriver.MaxPins]*entry // guarded by mu
	fresh    byte                       // guarded by mu; last bPinsFreshness seen
	freshSet bool                       // guarded by mu; fresh is valid
	// gone: the state was forgotten (evicted or purged) and is no longer
	// in Cache.cards; a caller that loaded it before retries. Guarded by
	// mu.
	gone bool
	used atomic.Uint64
}

// entry is one cached PIN.
type entry struct {
	pin      *Secret
	inserted time.Time
	expires  time.Time // zero: no expiry of its own
}

// New returns an empty Cache configured by cfg; the zero Config is the
// default.
func New(cfg Config) *Cache {
	return &Cache{cfg: cfg}
}

func (c *Cache) now() time.Time {
	if c.cfg.Now != nil {
		return c.cfg.Now()
	}
	return time.Now()
}

func (c *Cache) maxCards() int {
	if c.cfg.MaxCards > 0 {
		return c.cfg.MaxCards
	}
	return DefaultMaxCards
}

// Cacheable reports whether a PIN under policy p may be stored at all.
func Cacheable(p minidriver.PINCachePolicy) bool {
	switch p.Type {
	case minidriver.PINCacheNormal:
		return true
	case minidriver.PINCacheTimed:
		return p.Info > 0
	}
	return false
}

// validLocked reports whether e may be used at now under policy p.
func validLocked(e *entry, p minidriver.PINCachePolicy, now time.Time) bool {
	if !e.expires.IsZero() && !now.Before(e.expires) {
		return false
	}
	if now.Before(e.inserted) {
		// The clock went back: the entry's age is unknown.
		return false
	}
	switch p.Type {
	case minidriver.PINCacheNormal:
		return true
	case minidriver.PINCacheTimed:
		return now.Sub(e.inserted) < time.Duration(p.Info)*time.Second
	}
	return false
}

// Get returns a copy of the PIN cached for card and pin if policy p (the
// PIN's policy as the card states it now) allows its use, and reports
// whether it did. The caller wipes the copy. An entry that p no longer
// allows (expired, or a policy of None or AlwaysPrompt) is wiped.
func (c *Cache) Get(card CardID, pin minidriver.PinID, p minidriver.PINCachePolicy) (*Secret, bool) {
	if !pin.Valid() {
		return nil, false
	}
	now := c.now()
	c.sweepIfDue(now)
	st := c.load(card)
	if st == nil {
		return nil, false
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	e := st.pins[pin]
	if st.gone || e == nil {
		return nil, false
	}
	if !validLocked(e, p, now) {
		st.dropLocked(pin)
		return nil, false
	}
	c.touch(st)
	return e.pin.Clone(), true
}

// Put stores s as the PIN of card and pin under policy p, replacing (and
// wiping) any PIN stored before. Call it only after the card accepted s:
// the cache trusts what it holds. Put takes ownership of s: the caller
// must not use s afterwards, and when p forbids storing (None,
// AlwaysPrompt, Timed with Info 0) s is wiped at once and any older entry
// dropped. A Timed entry expires Info seconds after this call.
//
// Put returns an error (and wipes s) for an invalid PIN ID or policy.
func (c *Cache) Put(card CardID, pin minidriver.PinID, p minidriver.PINCachePolicy, s *Secret) error {
	if !pin.Valid() {
		s.Wipe()
		return fmt.Errorf("pincache: put: %w: PIN ID %d", minidriver.ErrInvalidParameter, pin)
	}
	if p.Type > minidriver.PINCacheAlwaysPrompt {
		s.Wipe()
		return fmt.Errorf("pincache: put: %w: cache policy %d", minidriver.ErrInvalidParameter, p.Type)
	}
	if !Cacheable(p) || s.Wiped() {
		s.Wipe()
		if st := c.load(card); st != nil {
			st.mu.Lock()
			st.dropLocked(pin)
			st.mu.Unlock()
		}
		return nil
	}
	now := c.now()
	c.sweepIfDue(now)
	e := &entry{pin: s, inserted: now}
	if p.Type == minidriver.PINCacheTimed {
		e.expires = now.Add(time.Duration(p.Info) * time.Second)
	}
	c.withCard(card, func(st *cardState) {
		st.dropLocked(pin)
		st.pins[pin] = e
	})
	if !e.expires.IsZero() {
		c.timedPut.Store(true)
		c.noteExpiry(e.expires)
	}
	return nil
}

// Replace stores the new PIN of card and pin after a PIN change or unblock
// (spec CardChangeAuthenticatorEx): the old PIN is wiped in any case, and s
// is kept if p allows it, as Put does. Replace takes ownership of s.
//
// A PIN change bumps bPinsFreshness in cardcf. The caller that made the
// change reports the new value with ObserveFreshness before Replace, or
// its own bump would purge the new PIN.
func (c *Cache) Replace(card CardID, pin minidriver.PinID, p minidriver.PINCachePolicy, s *Secret) error {
	c.Purge(card, pin)
	return c.Put(card, pin, p, s)
}

// Holds reports whether a PIN is cached for card and pin, whatever the
// policy it would be used under: a caller that must read the card's
// freshness before a cached PIN is sent asks it before the PIN is taken.
func (c *Cache) Holds(card CardID, pin minidriver.PinID) bool {
	if !pin.Valid() {
		return false
	}
	st := c.load(card)
	if st == nil {
		return false
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	return !st.gone && st.pins[pin] != nil
}

// Purge drops (and wipes) the PIN cached for card and pin, if any.
func (c *Cache) Purge(card CardID, pin minidriver.PinID) {
	if !pin.Valid() {
		return
	}
	if st := c.load(card); st != nil {
		st.mu.Lock()
		st.dropLocked(pin)
		st.mu.Unlock()
	}
}

// Fail records that the card refused the PIN of card and pin (wrong or
// blocked): the cached PIN is dropped and wiped, so that it is never tried
// again; the next authentication asks the user. It is Purge under the name
// of its use.
func (c *Cache) Fail(card CardID, pin minidriver.PinID) { c.Purge(card, pin) }

// PurgeCard forgets card: its PINs are wiped and its last freshness
// value dropped. Call it when the card can no longer be confirmed as the
// same card (removed, or its cardid or serial read back different).
func (c *Cache) PurgeCard(card CardID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if st := c.load(card); st != nil {
		c.forgetLocked(card, st)
	}
}

// PurgeAll forgets every card and wipes every PIN.
func (c *Cache) PurgeAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cards.Range(func(k, v any) bool {
		c.forgetLocked(k.(CardID), v.(*cardState))
		return true
	})
}

// ObserveFreshness reports the bPinsFreshness byte read from card's cardcf
// (spec "File System Requirements: Cache File"). When it differs from the
// last value seen for the card, every PIN cached for the card is wiped: a PIN
// was changed or unblocked, possibly by another process. When no value has
// been seen for the card yet, the value is remembered, and PINs already
// cached for the card are wiped too: they were stored with no freshness to
// check them against. It reports whether PINs were purged.
//
// Call it at the start of every transaction, before Get (and so before
// any Put for the card).
func (c *Cache) ObserveFreshness(card CardID, pinsFreshness byte) (purged bool) {
	c.withCard(card, func(st *cardState) {
		if !st.freshSet || st.fresh != pinsFreshness {
			purged = st.countLocked() > 0
			st.dropAllLocked()
		}
		st.fresh, st.freshSet = pinsFreshness, true
	})
	return purged
}

// Len returns the number of PINs held, counting expired entries not yet
// wiped.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	c.cards.Range(func(_, v any) bool {
		st := v.(*cardState)
		st.mu.Lock()
		n += st.countLocked()
		st.mu.Unlock()
		return true
	})
	return n
}

// load returns card's state, nil when the cache does not know the card.
func (c *Cache) load(card CardID) *cardState {
	v, ok := c.cards.Load(card)
	if !ok {
		return nil
	}
	return v.(*cardState)
}

// withCard runs fn with card's state locked, adding the card (and making
// room for it) if it is new, and marks the card used.
func (c *Cache) withCard(card CardID, fn func(st *cardState)) {
	for {
		st := c.load(card)
		if st == nil {
			st = c.add(card)
		}
		st.mu.Lock()
		if st.gone {
			// Forgotten since it was loaded: look again.
			st.mu.Unlock()
			continue
		}
		c.touch(st)
		fn(st)
		st.mu.Unlock()
		return
	}
}

// add returns card's state, adding an empty one (and forgetting the card
// used least recently when the cache is full) if the card is new.
func (c *Cache) add(card CardID) *cardState {
	c.mu.Lock()
	defer c.mu.Unlock()
	if st := c.load(card); st != nil {
		return st
	}
	if c.n >= c.maxCards() {
		c.evictLocked()
	}
	st := &cardState{}
	c.touch(st)
	c.cards.Store(card, st)
	c.n++
	return st
}

func (c *Cache) touch(st *cardState) { st.used.Store(c.tick.Add(1)) }

// evictLocked forgets the card used least recently, wiping its PINs.
func (c *Cache) evictLocked() {
	var (
		oldest   CardID
		oldestSt *cardState
	)
	c.cards.Range(func(k, v any) bool {
		if st := v.(*cardState); oldestSt == nil || st.used.Load() < oldestSt.used.Load() {
			oldest, oldestSt = k.(CardID), st
		}
		return true
	})
	if oldestSt != nil {
		c.forgetLocked(oldest, oldestSt)
	}
}

// forgetLocked wipes st, card's state, and takes it out of the cache;
// c.mu is held.
func (c *Cache) forgetLocked(card CardID, st *cardState) {
	st.mu.Lock()
	st.dropAllLocked()
	st.freshSet = false
	st.gone = true
	st.mu.Unlock()
	c.cards.Delete(card)
	c.n--
}

// noteExpiry lowers nextExpiry to t if t is earlier.
func (c *Cache) noteExpiry(t time.Time) {
	at := t.UnixNano()
	for {
		cur := c.nextExpiry.Load()
		if cur != 0 && cur <= at {
			return
		}
		if c.nextExpiry.CompareAndSwap(cur, at) {
			return
		}
	}
}

// sweepIfDue wipes the entries whose own expiry (Timed at insertion) has
// passed, of every card, once the earliest of them has: expired PINs do
// not linger in memory, and until one is due no lock of other cards is
// taken.
func (c *Cache) sweepIfDue(now time.Time) {
	if next := c.nextExpiry.Load(); next == 0 || now.UnixNano() < next {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if next := c.nextExpiry.Load(); next == 0 || now.UnixNano() < next {
		return
	}
	c.timedPut.Store(false)
	var earliest int64
	c.cards.Range(func(_, v any) bool {
		st := v.(*cardState)
		st.mu.Lock()
		for id, e := range st.pins {
			switch {
			case e == nil || e.expires.IsZero():
			case !now.Before(e.expires):
				st.dropLocked(minidriver.PinID(id))
			case earliest == 0 || e.expires.UnixNano() < earliest:
				earliest = e.expires.UnixNano()
			}
		}
		st.mu.Unlock()
		return true
	})
	c.nextExpiry.Store(earliest)
	if c.timedPut.Load() {
		// A Put with an expiry ran during the sweep: its expiry may be
		// lost to the store above, so the next call sweeps again.
		c.nextExpiry.Store(1)
	}
}

func (st *cardState) dropLocked(pin minidriver.PinID) {
	if e := st.pins[pin]; e != nil {
		e.pin.Wipe()
		st.pins[pin] = nil
	}
}

func (st *cardState) dropAllLocked() {
	for id := range st.pins {
		st.dropLocked(minidriver.PinID(id))
	}
}

func (st *cardState) countLocked() int {
	n := 0
	for _, e := range st.pins {
		if e != nil {
			n++
		}
	}
	return n
}

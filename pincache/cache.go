package pincache

import (
	"fmt"
	"sync"
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
// copied after first use.
type Cache struct {
	mu    sync.Mutex
	cfg   Config                // set by New; read-only
	cards map[CardID]*cardState // guarded by mu
	tick  uint64                // guarded by mu; use counter for eviction
}

// cardState is what the cache knows of one card.
type cardState struct {
	pins     [minidriver.MaxPins]*entry
	fresh    byte // last bPinsFreshness seen
	freshSet bool // fresh is valid
	used     uint64
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
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	c.sweepLocked(now)
	st := c.cards[card]
	if st == nil {
		return nil, false
	}
	e := st.pins[pin]
	if e == nil {
		return nil, false
	}
	if !validLocked(e, p, now) {
		st.dropLocked(pin)
		return nil, false
	}
	c.touchLocked(st)
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
	c.mu.Lock()
	defer c.mu.Unlock()
	if !Cacheable(p) || s.Wiped() {
		s.Wipe()
		if st := c.cards[card]; st != nil {
			st.dropLocked(pin)
		}
		return nil
	}
	now := c.now()
	c.sweepLocked(now)
	e := &entry{pin: s, inserted: now}
	if p.Type == minidriver.PINCacheTimed {
		e.expires = now.Add(time.Duration(p.Info) * time.Second)
	}
	st := c.cardLocked(card)
	st.dropLocked(pin)
	st.pins[pin] = e
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
	c.mu.Lock()
	defer c.mu.Unlock()
	st := c.cards[card]
	return st != nil && st.pins[pin] != nil
}

// Purge drops (and wipes) the PIN cached for card and pin, if any.
func (c *Cache) Purge(card CardID, pin minidriver.PinID) {
	if !pin.Valid() {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if st := c.cards[card]; st != nil {
		st.dropLocked(pin)
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
	if st := c.cards[card]; st != nil {
		st.dropAllLocked()
		delete(c.cards, card)
	}
}

// PurgeAll forgets every card and wipes every PIN.
func (c *Cache) PurgeAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for id, st := range c.cards {
		st.dropAllLocked()
		delete(c.cards, id)
	}
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
	c.mu.Lock()
	defer c.mu.Unlock()
	st := c.cardLocked(card)
	if !st.freshSet || st.fresh != pinsFreshness {
		purged = st.countLocked() > 0
		st.dropAllLocked()
	}
	st.fresh, st.freshSet = pinsFreshness, true
	return purged
}

// Len returns the number of PINs held, counting expired entries not yet
// wiped.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, st := range c.cards {
		n += st.countLocked()
	}
	return n
}

// cardLocked returns card's state, making room for it if it is new.
func (c *Cache) cardLocked(card CardID) *cardState {
	if st := c.cards[card]; st != nil {
		c.touchLocked(st)
		return st
	}
	if c.cards == nil {
		c.cards = make(map[CardID]*cardState)
	}
	if len(c.cards) >= c.maxCards() {
		c.evictLocked()
	}
	st := &cardState{}
	c.touchLocked(st)
	c.cards[card] = st
	return st
}

func (c *Cache) touchLocked(st *cardState) {
	c.tick++
	st.used = c.tick
}

// evictLocked forgets the card used least recently, wiping its PINs.
func (c *Cache) evictLocked() {
	var (
		oldest   CardID
		oldestSt *cardState
	)
	for id, st := range c.cards {
		if oldestSt == nil || st.used < oldestSt.used {
			oldest, oldestSt = id, st
		}
	}
	if oldestSt != nil {
		oldestSt.dropAllLocked()
		delete(c.cards, oldest)
	}
}

// sweepLocked wipes the entries whose own expiry (Timed at insertion) has
// passed, so that expired PINs do not linger in memory.
func (c *Cache) sweepLocked(now time.Time) {
	for _, st := range c.cards {
		for id, e := range st.pins {
			if e != nil && !e.expires.IsZero() && !now.Before(e.expires) {
				st.dropLocked(minidriver.PinID(id))
			}
		}
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

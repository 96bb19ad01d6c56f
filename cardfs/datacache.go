package cardfs

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/cardmod/cardmod/internal/atomicfile"
)

// Data cache limits (the zero DataCacheConfig uses them).
const (
	// DefaultMaxCacheItem is the largest item the cache keeps.
	DefaultMaxCacheItem = 64 << 10
	// DefaultMaxCacheCard is the most bytes kept for one card.
	DefaultMaxCacheCard = 1 << 20
	// dataCacheVersion is the version of the on-disk format.
	dataCacheVersion = 1
)

// DataCacheConfig configures a DataCache. The zero value keeps data in
// memory only, with the default limits.
type DataCacheConfig struct {
	// Dir, if not empty, makes the cache global: it survives the process
	// in one file per card under Dir (created with mode 0700, files 0600),
	// so a new process trusts what an earlier one read while cardcf says
	// it is fresh. Only public card data belongs there: never PINs.
	Dir string
	// MaxItem bounds one item (zero: DefaultMaxCacheItem).
	MaxItem int
	// MaxCard bounds the bytes kept for one card (zero:
	// DefaultMaxCacheCard); past it, Put drops the card's other items.
	MaxCard int
}

// DataCache is the freshness-validated cache of card data (spec "File System
// Requirements: Cache File"): items are keyed by card identity (cardid) and
// name, each in a cache class (pins, containers or files), and trusted only
// while the card's cardcf counter of that class is the one they were cached
// under.
//
// Use: at the start of each transaction read cardcf from the card and call
// Sync; it drops the classes whose counters moved. Then Get, and Put what
// was read. A writer bumps cardcf on the card before changing data, then
// calls Sync with the new cardcf (dropping its own stale class) and Puts the
// new data.
//
// With Dir set, a corrupt, foreign or unreadable file is ignored (and
// replaced on the next Put), never trusted. A DataCache is safe for
// concurrent use; several processes may share Dir (the last writer of a
// card's file wins, and cardcf validation keeps every reader honest).
//
// Each write of a card's file replaces it whole (internal/atomicfile): a
// reader sees the old file or the new, never a mix. Between Hold and
// Release (one transaction's work) Put and Sync change the memory only,
// and Release writes the file once: a transaction that reads thirty items
// writes one file, not thirty. What is on disk meanwhile is the file of
// before, consistent in itself (its items valid under its cardcf); a
// process that ends before Release loses only what the next one reads
// again.
type DataCache struct {
	cfg DataCacheConfig

	mu    sync.Mutex
	cards map[CardID]*cacheCard // guarded by mu
	// holds maps a CardID to its *holdState, loaded without mu: Hold,
	// and Release of a card with nothing to write, take no lock that
	// other cards' take.
	holds sync.Map
}

// holdState is one card's Holds.
type holdState struct {
	n atomic.Int32 // Holds not yet released
	// dirty is cacheCard.dirty, set and cleared with mu held, read
	// without it by Release.
	dirty atomic.Bool
}

type cacheCard struct {
	cf     CardCF
	synced bool
	items  map[string]cacheItem
	size   int
	// dirty: the memory holds what the file does not (a held Put or
	// Sync, or a failed write).
	dirty bool
}

type cacheItem struct {
	class Stale
	data  []byte
}

// NewDataCache returns an empty cache.
func NewDataCache(cfg DataCacheConfig) *DataCache {
	if cfg.MaxItem <= 0 {
		cfg.MaxItem = DefaultMaxCacheItem
	}
	if cfg.MaxCard <= 0 {
		cfg.MaxCard = DefaultMaxCacheCard
	}
	return &DataCache{cfg: cfg, cards: make(map[CardID]*cacheCard)}
}

// holdOf returns card id's holdState, making it the first time.
func (c *DataCache) holdOf(id CardID) *holdState {
	if v, ok := c.holds.Load(id); ok {
		return v.(*holdState)
	}
	v, _ := c.holds.LoadOrStore(id, &holdState{})
	return v.(*holdState)
}

// setDirty records whether card id's memory holds what its file does not;
// c.mu is held.
func (c *DataCache) setDirty(id CardID, e *cacheCard, dirty bool) {
	e.dirty = dirty
	c.holdOf(id).dirty.Store(dirty)
}

// Hold defers the disk writes of card id's file until the matching
// Release: Put and Sync then change the cache in memory only (Get sees
// their changes at once). Holds of one card nest, from several goroutines
// too. Without Dir, Hold and Release change nothing.
func (c *DataCache) Hold(id CardID) {
	if c.cfg.Dir == "" {
		return
	}
	c.holdOf(id).n.Add(1)
}

// Release ends a Hold of card id and, with Dir set, writes the card's
// file once if the memory holds anything the file does not (also while
// other Holds of the card remain: the file is a consistent snapshot at any
// moment, and their own Releases write what follows). The error reports a
// failed write; the next Release or unheld Put tries again.
func (c *DataCache) Release(id CardID) error {
	if c.cfg.Dir == "" {
		return nil
	}
	hs := c.holdOf(id)
	for n := hs.n.Load(); n > 0 && !hs.n.CompareAndSwap(n, n-1); n = hs.n.Load() {
	}
	if !hs.dirty.Load() {
		// Nothing to write, or a writeLocked that marked it after this
		// load sees the Hold released and writes itself.
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.cards[id]
	if !ok || !e.dirty {
		return nil
	}
	return c.saveLocked(id, e)
}

// writeLocked writes card id's file now, or marks it for the Release of a
// Hold.
func (c *DataCache) writeLocked(id CardID, e *cacheCard) error {
	if c.cfg.Dir == "" {
		return nil
	}
	if hs := c.holdOf(id); hs.n.Load() > 0 {
		c.setDirty(id, e, true)
		if hs.n.Load() > 0 {
			return nil
		}
		// Released since: that Release may have looked at dirty before
		// it was set, so the write is made here.
	}
	return c.saveLocked(id, e)
}

// cardLocked returns the card's entry, loading it from disk the first time.
func (c *DataCache) cardLocked(id CardID) *cacheCard {
	if e, ok := c.cards[id]; ok {
		return e
	}
	e := &cacheCard{items: make(map[string]cacheItem)}
	if c.cfg.Dir != "" {
		if loaded, err := c.load(id); err == nil {
			e = loaded
		}
	}
	c.cards[id] = e
	return e
}

// Sync tells the cache the card's current cardcf and returns the classes
// it dropped because their counters moved since the items were cached.
// The first Sync of a card with nothing cached drops nothing.
func (c *DataCache) Sync(id CardID, cf CardCF) Stale {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.cardLocked(id)
	var stale Stale
	if e.synced {
		stale = cf.StaleSince(e.cf)
	}
	if stale != 0 {
		for name, it := range e.items {
			if it.class&stale != 0 {
				e.size -= len(it.data)
				delete(e.items, name)
			}
		}
	}
	changed := !e.synced || !e.cf.Equal(cf)
	e.cf = CardCF{Version: cf.Version, Pins: cf.Pins, Containers: cf.Containers, Files: cf.Files, Extra: slices.Clone(cf.Extra)}
	e.synced = true
	if changed {
		_ = c.writeLocked(id, e)
	}
	return stale
}

// CachedCF returns the cardcf card id's cached items are valid under
// (the last Sync, in this process or, with Dir set, in the one that wrote
// the card's file), and reports whether any item is cached under it. It
// says what the cache holds, not what the card holds: a caller that uses
// items under it without reading cardcf checks their use on the host.
func (c *DataCache) CachedCF(id CardID) (CardCF, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.cardLocked(id)
	if !e.synced || len(e.items) == 0 {
		return CardCF{}, false
	}
	cf := e.cf
	cf.Extra = slices.Clone(cf.Extra)
	return cf, true
}

// Get returns a copy of item name of card id, if cached.
func (c *DataCache) Get(id CardID, name string) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.cardLocked(id)
	it, ok := e.items[name]
	if !ok || !e.synced {
		return nil, false
	}
	return slices.Clone(it.data), true
}

// Put caches data (copied) as item name of card id in class (one of
// StalePins, StaleContainers, StaleFiles), valid under the cardcf of the
// last Sync. Without a Sync first, Put does nothing: data cannot be cached
// without knowing what it is fresh against. An item larger than MaxItem is
// not cached. With Dir set, the card's file is rewritten atomically, at
// once or, under a Hold, at its Release; the error reports a failed write
// (the memory cache is updated anyway).
func (c *DataCache) Put(id CardID, class Stale, name string, data []byte) error {
	if len(data) > c.cfg.MaxItem || class == 0 {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.cardLocked(id)
	if !e.synced {
		return nil
	}
	if old, ok := e.items[name]; ok {
		e.size -= len(old.data)
	}
	if e.size+len(data) > c.cfg.MaxCard {
		e.items = make(map[string]cacheItem)
		e.size = 0
	}
	e.items[name] = cacheItem{class: class, data: slices.Clone(data)}
	e.size += len(data)
	return c.writeLocked(id, e)
}

// Drop forgets everything about card id, in memory and on disk (for a
// session-only cache when the card is removed, or a card that can no longer
// be trusted).
func (c *DataCache) Drop(id CardID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.cards, id)
	if c.cfg.Dir != "" {
		_ = os.Remove(c.path(id))
	}
}

func (c *DataCache) path(id CardID) string {
	return filepath.Join(c.cfg.Dir, hex.EncodeToString(id[:])+".cache")
}

// cacheFile is the on-disk form of one card's cache: JSON, versioned.
type cacheFile struct {
	Version int         `json:"version"`
	CardID  string      `json:"cardid"`
	CardCF  string      `json:"cardcf"`
	Items   []cacheJSON `json:"items"`
}

type cacheJSON struct {
	Name  string `json:"name"`
	Class uint8  `json:"class"`
	Data  string `json:"data"`
}

// saveLocked writes card id's file whole; dirty stays set when it fails.
func (c *DataCache) saveLocked(id CardID, e *cacheCard) error {
	c.setDirty(id, e, true)
	b, err := marshalCacheFile(id, e)
	if err != nil {
		return err
	}
	if err := writeFileAtomic(c.cfg.Dir, c.path(id), b); err != nil {
		return err
	}
	c.setDirty(id, e, false)
	return nil
}

// marshalCacheFile encodes the cache file of card id, which
// parseCacheFile reads back.
func marshalCacheFile(id CardID, e *cacheCard) ([]byte, error) {
	f := cacheFile{Version: dataCacheVersion, CardID: hex.EncodeToString(id[:]), CardCF: hex.EncodeToString(e.cf.Marshal())}
	names := make([]string, 0, len(e.items))
	for name := range e.items {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		it := e.items[name]
		f.Items = append(f.Items, cacheJSON{Name: name, Class: uint8(it.class), Data: base64.StdEncoding.EncodeToString(it.data)})
	}
	b, err := json.Marshal(f)
	if err != nil {
		return nil, fmt.Errorf("cardfs: data cache: %w", err)
	}
	return b, nil
}

// writeFileAtomic writes data to path (in dir, created 0700) with mode
// 0600, atomically.
func writeFileAtomic(dir, path string, data []byte) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("cardfs: data cache: %w", err)
	}
	if err := atomicfile.Write(path, data, 0o600); err != nil {
		return fmt.Errorf("cardfs: data cache: %w", err)
	}
	return nil
}

// errCacheFile marks an on-disk cache file that is not used.
var errCacheFile = errors.New("cardfs: data cache file unusable")

func (c *DataCache) load(id CardID) (*cacheCard, error) {
	f, err := os.Open(c.path(id))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	limit := int64(c.cfg.MaxCard)*2 + 64<<10 // base64 and JSON overhead
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%w: too large", errCacheFile)
	}
	return parseCacheFile(b, id, c.cfg)
}

// parseCacheFile checks everything before trusting anything: a foreign card
// id, an unknown version, a bad cardcf or item makes the whole file unused.
func parseCacheFile(b []byte, id CardID, cfg DataCacheConfig) (*cacheCard, error) {
	var f cacheFile
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("%w: %v", errCacheFile, err)
	}
	if f.Version != dataCacheVersion {
		return nil, fmt.Errorf("%w: version %d", errCacheFile, f.Version)
	}
	if !strings.EqualFold(f.CardID, hex.EncodeToString(id[:])) {
		return nil, fmt.Errorf("%w: foreign card", errCacheFile)
	}
	cfb, err := hex.DecodeString(f.CardCF)
	if err != nil {
		return nil, fmt.Errorf("%w: cardcf: %v", errCacheFile, err)
	}
	cf, err := ParseCardCF(cfb)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errCacheFile, err)
	}
	e := &cacheCard{cf: cf, synced: true, items: make(map[string]cacheItem)}
	for _, it := range f.Items {
		class := Stale(it.Class)
		if class != StalePins && class != StaleContainers && class != StaleFiles {
			return nil, fmt.Errorf("%w: class %d", errCacheFile, it.Class)
		}
		data, err := base64.StdEncoding.DecodeString(it.Data)
		if err != nil || len(data) > cfg.MaxItem || it.Name == "" {
			return nil, fmt.Errorf("%w: item %q", errCacheFile, it.Name)
		}
		if _, dup := e.items[it.Name]; dup {
			return nil, fmt.Errorf("%w: item %q twice", errCacheFile, it.Name)
		}
		e.size += len(data)
		if e.size > cfg.MaxCard {
			return nil, fmt.Errorf("%w: too much data", errCacheFile)
		}
		e.items[it.Name] = cacheItem{class: class, data: data}
	}
	return e, nil
}

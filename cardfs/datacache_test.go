package cardfs_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cardmod/cardmod/cardfs"
)

var (
	cardA = cardfs.CardID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	cardB = cardfs.CardID{16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1}
)

func TestDataCacheNeedsSync(t *testing.T) {
	c := cardfs.NewDataCache(cardfs.DataCacheConfig{})
	require.NoError(t, c.Put(cardA, cardfs.StaleFiles, "f", []byte("x")))
	_, ok := c.Get(cardA, "f")
	assert.False(t, ok, "nothing is cached before the card's cardcf is known")
}

func TestDataCacheFreshness(t *testing.T) {
	c := cardfs.NewDataCache(cardfs.DataCacheConfig{})
	cf := cardfs.CardCF{}
	assert.Zero(t, c.Sync(cardA, cf))
	require.NoError(t, c.Put(cardA, cardfs.StaleFiles, "mscp/cmapfile", []byte("map")))
	require.NoError(t, c.Put(cardA, cardfs.StaleContainers, "container/0", []byte("key")))
	require.NoError(t, c.Put(cardA, cardfs.StalePins, "pininfo/1", []byte("pin")))

	got, ok := c.Get(cardA, "mscp/cmapfile")
	require.True(t, ok)
	assert.Equal(t, []byte("map"), got)
	got[0] = 'X'
	again, _ := c.Get(cardA, "mscp/cmapfile")
	assert.Equal(t, []byte("map"), again, "Get returns copies")

	assert.Zero(t, c.Sync(cardA, cf), "same cardcf: nothing stale")
	cf.BumpFiles()
	assert.Equal(t, cardfs.StaleFiles, c.Sync(cardA, cf))
	_, ok = c.Get(cardA, "mscp/cmapfile")
	assert.False(t, ok, "files dropped")
	_, ok = c.Get(cardA, "container/0")
	assert.True(t, ok, "containers kept")

	cf.BumpContainers()
	cf.BumpPins()
	assert.Equal(t, cardfs.StaleContainers|cardfs.StalePins, c.Sync(cardA, cf))
	_, ok = c.Get(cardA, "container/0")
	assert.False(t, ok)
	_, ok = c.Get(cardA, "pininfo/1")
	assert.False(t, ok)

	_, ok = c.Get(cardB, "mscp/cmapfile")
	assert.False(t, ok, "cards do not share items")
}

func TestDataCacheLimits(t *testing.T) {
	c := cardfs.NewDataCache(cardfs.DataCacheConfig{MaxItem: 4, MaxCard: 8})
	c.Sync(cardA, cardfs.CardCF{})
	require.NoError(t, c.Put(cardA, cardfs.StaleFiles, "big", []byte("12345")))
	_, ok := c.Get(cardA, "big")
	assert.False(t, ok, "items over MaxItem are not cached")
	require.NoError(t, c.Put(cardA, cardfs.StaleFiles, "a", []byte("1234")))
	require.NoError(t, c.Put(cardA, cardfs.StaleFiles, "b", []byte("1234")))
	require.NoError(t, c.Put(cardA, cardfs.StaleFiles, "c", []byte("1234")))
	_, okA := c.Get(cardA, "a")
	_, okC := c.Get(cardA, "c")
	assert.False(t, okA, "over MaxCard the older items go")
	assert.True(t, okC)
}

func TestDataCacheGlobalAcrossProcesses(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cache")
	cf := cardfs.CardCF{Files: 7}
	first := cardfs.NewDataCache(cardfs.DataCacheConfig{Dir: dir})
	first.Sync(cardA, cf)
	require.NoError(t, first.Put(cardA, cardfs.StaleFiles, "mscp/ksc00", []byte("certificate")))

	st, err := os.Stat(filepath.Join(dir, "0102030405060708090a0b0c0d0e0f10.cache"))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm())

	// A new process trusts the item while cardcf is unchanged...
	second := cardfs.NewDataCache(cardfs.DataCacheConfig{Dir: dir})
	assert.Zero(t, second.Sync(cardA, cf))
	got, ok := second.Get(cardA, "mscp/ksc00")
	require.True(t, ok)
	assert.Equal(t, []byte("certificate"), got)

	// ...and drops it when another writer bumped the counter.
	third := cardfs.NewDataCache(cardfs.DataCacheConfig{Dir: dir})
	cf.BumpFiles()
	assert.Equal(t, cardfs.StaleFiles, third.Sync(cardA, cf))
	_, ok = third.Get(cardA, "mscp/ksc00")
	assert.False(t, ok)

	third.Drop(cardA)
	_, err = os.Stat(filepath.Join(dir, "0102030405060708090a0b0c0d0e0f10.cache"))
	assert.True(t, os.IsNotExist(err))
}

func TestDataCacheUntrustedFiles(t *testing.T) {
	dir := t.TempDir()
	good := cardfs.NewDataCache(cardfs.DataCacheConfig{Dir: dir})
	good.Sync(cardB, cardfs.CardCF{})
	require.NoError(t, good.Put(cardB, cardfs.StaleFiles, "f", []byte("B's data")))
	bFile := filepath.Join(dir, "100f0e0d0c0b0a090807060504030201.cache")
	aFile := filepath.Join(dir, "0102030405060708090a0b0c0d0e0f10.cache")
	bData, err := os.ReadFile(bFile)
	require.NoError(t, err)

	tests := []struct {
		name string
		data []byte
	}{
		{"foreign card's file", bData},
		{"garbage", []byte("\x00\x01not json")},
		{"wrong version", bytes.Replace(bData, []byte(`"version":1`), []byte(`"version":2`), 1)},
		{"unknown field", bytes.Replace(bData, []byte(`"version":1`), []byte(`"version":1,"x":1`), 1)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.NoError(t, os.WriteFile(aFile, tc.data, 0o600))
			c := cardfs.NewDataCache(cardfs.DataCacheConfig{Dir: dir})
			c.Sync(cardA, cardfs.CardCF{})
			_, ok := c.Get(cardA, "f")
			assert.False(t, ok, "an unusable file is never trusted")
			require.NoError(t, c.Put(cardA, cardfs.StaleFiles, "g", []byte("fresh")), "and it is replaced on the next Put")
		})
	}
}

func TestDataCacheConcurrent(t *testing.T) {
	c := cardfs.NewDataCache(cardfs.DataCacheConfig{Dir: t.TempDir()})
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			cf := cardfs.CardCF{Files: uint16(i % 2)}
			for range 20 {
				c.Sync(cardA, cf)
				_ = c.Put(cardA, cardfs.StaleFiles, "f", []byte{byte(i)})
				c.Get(cardA, "f")
			}
		})
	}
	wg.Wait()
}

// fileWrites counts the writes of a file: every atomic write renames a
// new file over it, created while the old one exists, so each one is a
// file os.SameFile tells apart from the one before. check must follow
// every write (two could reuse the first one's inode).
type fileWrites struct {
	t    *testing.T
	path string
	last os.FileInfo
	n    int
}

// check notes whether the file was written since the last check.
func (w *fileWrites) check() {
	w.t.Helper()
	st, err := os.Stat(w.path)
	if os.IsNotExist(err) {
		return
	}
	require.NoError(w.t, err)
	if w.last == nil || !os.SameFile(w.last, st) {
		w.n++
	}
	w.last = st
}

// TestDataCacheHoldWritesOnce: a transaction's Puts under a Hold write the
// card's file once, at Release, where every Put wrote it before (about
// thirty writes for a first listing); until then the file on disk is the
// one of before, whole, and a process that ends without Release leaves
// it so.
func TestDataCacheHoldWritesOnce(t *testing.T) {
	dir := t.TempDir()
	w := &fileWrites{t: t, path: filepath.Join(dir, "0102030405060708090a0b0c0d0e0f10.cache")}
	cf := cardfs.CardCF{Files: 3}

	// Unheld, every Put writes the file.
	c := cardfs.NewDataCache(cardfs.DataCacheConfig{Dir: dir})
	c.Sync(cardA, cf)
	w.check()
	require.NoError(t, c.Put(cardA, cardfs.StaleFiles, "before", []byte("old")))
	w.check()
	require.NoError(t, c.Put(cardA, cardfs.StaleFiles, "before2", []byte("old")))
	w.check()
	assert.Equal(t, 3, w.n, "the first Sync, then one write per Put")
	old, err := os.ReadFile(w.path)
	require.NoError(t, err)

	// A transaction: its cardcf, thirty items, one write at the end.
	w.n = 0
	c.Hold(cardA)
	cf.BumpFiles()
	c.Sync(cardA, cf)
	w.check()
	for i := range 30 {
		require.NoError(t, c.Put(cardA, cardfs.StaleFiles, fmt.Sprintf("item%02d", i), []byte{byte(i)}))
		w.check()
		got, ok := c.Get(cardA, fmt.Sprintf("item%02d", i))
		require.True(t, ok, "held Puts are seen at once")
		assert.Equal(t, []byte{byte(i)}, got)
	}
	assert.Zero(t, w.n, "nothing written while held")
	now, err := os.ReadFile(w.path)
	require.NoError(t, err)
	assert.Equal(t, old, now, "the file of before, whole")

	// Another process meanwhile reads the file of before: its items under
	// its own cardcf, dropped against the card's bumped one.
	other := cardfs.NewDataCache(cardfs.DataCacheConfig{Dir: dir})
	assert.Equal(t, cardfs.StaleFiles, other.Sync(cardA, cf))
	_, ok := other.Get(cardA, "before")
	assert.False(t, ok)
	w.check() // other's Sync wrote its own file (no Hold there)
	w.n = 0

	require.NoError(t, c.Release(cardA))
	w.check()
	assert.Equal(t, 1, w.n, "one write for the transaction")
	require.NoError(t, c.Release(cardA), "a Release with nothing new writes nothing")
	w.check()
	assert.Equal(t, 1, w.n)

	next := cardfs.NewDataCache(cardfs.DataCacheConfig{Dir: dir})
	assert.Zero(t, next.Sync(cardA, cf))
	for i := range 30 {
		got, ok := next.Get(cardA, fmt.Sprintf("item%02d", i))
		require.True(t, ok, "item %d reached the disk", i)
		assert.Equal(t, []byte{byte(i)}, got)
	}
	_, ok = next.Get(cardA, "before")
	assert.False(t, ok, "dropped with the files class")

	// Nested Holds: the inner Release writes what there is, the outer what
	// came after.
	w.n = 0
	c.Hold(cardA)
	c.Hold(cardA)
	require.NoError(t, c.Put(cardA, cardfs.StaleFiles, "inner", []byte("1")))
	w.check()
	require.NoError(t, c.Release(cardA))
	w.check()
	require.NoError(t, c.Put(cardA, cardfs.StaleFiles, "outer", []byte("2")))
	w.check()
	assert.Equal(t, 1, w.n, "the outer Hold still holds")
	require.NoError(t, c.Release(cardA))
	w.check()
	assert.Equal(t, 2, w.n)
	require.NoError(t, c.Put(cardA, cardfs.StaleFiles, "after", []byte("3")))
	w.check()
	assert.Equal(t, 3, w.n, "released: Put writes again")

	// A process that ends held (no Release) leaves the last file whole.
	last, err := os.ReadFile(w.path)
	require.NoError(t, err)
	crashed := cardfs.NewDataCache(cardfs.DataCacheConfig{Dir: dir})
	crashed.Hold(cardA)
	crashed.Sync(cardA, cf)
	require.NoError(t, crashed.Put(cardA, cardfs.StaleFiles, "lost", []byte("x")))
	now, err = os.ReadFile(w.path)
	require.NoError(t, err)
	assert.Equal(t, last, now)
}

// TestDataCacheHoldWithoutDir: without Dir a Hold changes nothing.
func TestDataCacheHoldWithoutDir(t *testing.T) {
	c := cardfs.NewDataCache(cardfs.DataCacheConfig{})
	c.Hold(cardA)
	c.Sync(cardA, cardfs.CardCF{})
	require.NoError(t, c.Put(cardA, cardfs.StaleFiles, "f", []byte("x")))
	require.NoError(t, c.Release(cardA))
	got, ok := c.Get(cardA, "f")
	require.True(t, ok)
	assert.Equal(t, []byte("x"), got)
}

// TestDataCacheCachedCF: CachedCF says which cardcf a card's items are
// valid under, in this process and in a new one reading the same Dir, and
// nothing for a card with no item (or never synced).
func TestDataCacheCachedCF(t *testing.T) {
	dir := t.TempDir()
	cf := cardfs.CardCF{Version: 1, Containers: 3, Files: 7, Extra: []byte{0xAA}}
	first := cardfs.NewDataCache(cardfs.DataCacheConfig{Dir: dir})
	_, ok := first.CachedCF(cardA)
	assert.False(t, ok, "never synced")
	first.Sync(cardA, cf)
	_, ok = first.CachedCF(cardA)
	assert.False(t, ok, "synced, nothing cached")
	require.NoError(t, first.Put(cardA, cardfs.StaleContainers, "mscp/cmapfile", []byte("map")))
	got, ok := first.CachedCF(cardA)
	require.True(t, ok)
	assert.True(t, got.Equal(cf))
	got.Extra[0] = 0 // a copy
	again, _ := first.CachedCF(cardA)
	assert.True(t, again.Equal(cf), "the caller's copy is its own")

	second := cardfs.NewDataCache(cardfs.DataCacheConfig{Dir: dir})
	got, ok = second.CachedCF(cardA)
	require.True(t, ok, "a new process sees what the first left on disk")
	assert.True(t, got.Equal(cf))
	_, ok = second.CachedCF(cardB)
	assert.False(t, ok)

	// Once a bump dropped the items, nothing is cached under any cardcf.
	cf.BumpContainers()
	second.Sync(cardA, cf)
	_, ok = second.CachedCF(cardA)
	assert.False(t, ok)
}

// TestDataCacheHoldsFromManyGoroutines: goroutines hold the same card,
// put an item each and release, with Releases racing the other
// goroutines' Puts; when all have released, the card's file holds every
// item (a new cache on the same Dir sees them all): no write is lost to a
// Release that looked before a Put marked the card.
func TestDataCacheHoldsFromManyGoroutines(t *testing.T) {
	for round := range 20 {
		dir := t.TempDir()
		c := cardfs.NewDataCache(cardfs.DataCacheConfig{Dir: dir})
		cf := cardfs.CardCF{Files: 1}
		c.Sync(cardA, cf)
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Go(func() {
				c.Hold(cardA)
				assert.NoError(t, c.Put(cardA, cardfs.StaleFiles, fmt.Sprintf("g%d", g), []byte{byte(g)}))
				assert.NoError(t, c.Release(cardA))
			})
		}
		wg.Wait()
		again := cardfs.NewDataCache(cardfs.DataCacheConfig{Dir: dir})
		again.Sync(cardA, cf)
		for g := range 8 {
			got, ok := again.Get(cardA, fmt.Sprintf("g%d", g))
			if assert.True(t, ok, "round %d: item of goroutine %d on disk", round, g) {
				assert.Equal(t, []byte{byte(g)}, got)
			}
		}
	}
}

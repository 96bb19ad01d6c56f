package piv_test

import (
	"bytes"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cardmod/cardmod/basecsp"
	simpiv "github.com/cardmod/cardmod/cardsim/piv"
	"github.com/cardmod/cardmod/minidriver/piv"
	"github.com/cardmod/cardmod/pincache"
	"github.com/cardmod/cardmod/scrm/virtual"
)

// cacheWatch counts the writes of the disk cache's files, looking at them
// before every APDU the card receives and at the end: every write of a
// card's file renames a new file over it (internal/atomicfile), created
// while the old one exists, which os.SameFile tells apart.
type cacheWatch struct {
	*simpiv.Card
	t   testing.TB
	dir string

	mu     sync.Mutex
	last   map[string]os.FileInfo
	writes int
	apdus  int
}

func (w *cacheWatch) Transmit(apdu []byte) []byte {
	w.check()
	w.mu.Lock()
	w.apdus++
	w.mu.Unlock()
	return w.Card.Transmit(apdu)
}

func (w *cacheWatch) check() {
	w.mu.Lock()
	defer w.mu.Unlock()
	files, err := filepath.Glob(filepath.Join(w.dir, "*.cache"))
	require.NoError(w.t, err)
	if w.last == nil {
		w.last = map[string]os.FileInfo{}
	}
	for _, f := range files {
		st, err := os.Stat(f)
		if err != nil {
			continue
		}
		if old, ok := w.last[f]; !ok || !os.SameFile(old, st) {
			w.writes++
		}
		w.last[f] = st
	}
}

// take returns the writes and the APDUs seen since the last take.
func (w *cacheWatch) take() (writes, apdus int) {
	w.check()
	w.mu.Lock()
	defer w.mu.Unlock()
	writes, apdus = w.writes, w.apdus
	w.writes, w.apdus = 0, 0
	return writes, apdus
}

// TestDiskCacheWrittenOncePerTransaction: a first listing in a new process
// with the disk cache caches some thirty items (the container map, each
// slot's metadata, each certificate); the engine holds the cache's writes
// to the end of each transaction, so the card's file is written once per
// transaction that cached something (one per item before), and the next
// process finds everything there.
func TestDiskCacheWrittenOncePerTransaction(t *testing.T) {
	for _, peer := range []bool{false, true} {
		f := newBudgetFixture(t, simpiv.ProfileYubiKey57(), peer)
		sim, err := simpiv.Load(bytes.NewReader(f.state), simpiv.Config{Profile: f.profile, Rand: seeded(3)})
		require.NoError(t, err)
		w := &cacheWatch{Card: sim, t: t, dir: t.TempDir()}
		b := virtual.NewBackend()
		b.AddReader(budgetReader).Insert(w)
		open := func() *basecsp.Provider {
			p, err := basecsp.Open(basecsp.Config{Backend: b, Prompt: pincache.NewFixed([]byte(simpiv.DefaultPIN)),
				AdminResponse: piv.ManagementKey(simpiv.DefaultManagementKey), CacheDir: w.dir})
			require.NoError(t, err)
			t.Cleanup(func() { _ = p.Close() })
			return p
		}
		r := &budgetRun{t: t, f: f}
		p := open()
		w.take()
		r.list(p)
		n, _ := w.take()
		t.Logf("peer=%v: first listing, %d writes of the cache file", peer, n)
		assert.Positive(t, n, "the listing is cached on disk")
		assert.LessOrEqual(t, n, 2, "one write per transaction, not one per item")
		require.NoError(t, p.Close())

		// The next process lists from the disk cache: every item reached
		// the file.
		p = open()
		w.take()
		r.list(p)
		_, apdus := w.take()
		name := "yubikey-5.7/cardmod"
		if peer {
			name = "yubikey-5.7/peer"
		}
		assert.LessOrEqual(t, apdus, budgets[name].listDisk, "the next process lists from the file")
	}
}

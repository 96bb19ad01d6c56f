package cardfs

import (
	"bytes"
	"testing"
)

// FuzzParseCacheFile checks that no on-disk cache file makes the loader
// panic or exceed its limits, and that what it accepts survives a round
// trip through the encoder.
func FuzzParseCacheFile(f *testing.F) {
	id := CardID{1}
	f.Add([]byte(`{"version":1,"cardid":"01000000000000000000000000000000","cardcf":"000000000000","items":[{"name":"f","class":4,"data":"eA=="}]}`))
	f.Add([]byte(`{"version":1,"cardid":"01000000000000000000000000000000","cardcf":"00","items":[]}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		cfg := DataCacheConfig{MaxItem: 64, MaxCard: 256}
		e, err := parseCacheFile(b, id, cfg)
		if err != nil {
			return
		}
		if e.size > cfg.MaxCard {
			t.Fatalf("%d bytes loaded, limit %d", e.size, cfg.MaxCard)
		}
		for name, it := range e.items {
			if name == "" || len(it.data) > cfg.MaxItem {
				t.Fatalf("bad item %q", name)
			}
		}
		// Round trip: what was accepted encodes to a file that reads back
		// the same.
		enc, err := marshalCacheFile(id, e)
		if err != nil {
			t.Fatal(err)
		}
		again, err := parseCacheFile(enc, id, cfg)
		if err != nil {
			t.Fatalf("re-encoded file refused: %v", err)
		}
		if !bytes.Equal(again.cf.Marshal(), e.cf.Marshal()) || again.size != e.size || len(again.items) != len(e.items) {
			t.Fatalf("round trip changed the entry")
		}
		for name, it := range e.items {
			if a, ok := again.items[name]; !ok || a.class != it.class || !bytes.Equal(a.data, it.data) {
				t.Fatalf("round trip changed item %q", name)
			}
		}
	})
}

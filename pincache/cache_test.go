package pincache

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/cardmod/cardmod/minidriver"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCachePolicies(t *testing.T) {
	cases := []struct {
		name       string
		policy     minidriver.PINCachePolicy
		stored     bool
		wipedOnPut bool
	}{
		{"normal", normal, true, false},
		{"timed", timed60, true, false},
		{"timed zero seconds", minidriver.PINCachePolicy{Type: minidriver.PINCacheTimed}, false, true},
		{"none", none, false, true},
		{"always prompt", alwaysPrompt, false, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := New(Config{Now: newFakeClock().Now})
			s, buf := secretWithBuf(testPIN)
			require.NoError(t, c.Put(cardA, minidriver.RoleUser, tc.policy, s))
			assert.Equal(t, tc.wipedOnPut, isZero(buf), "wiped on put")
			assert.Equal(t, tc.stored, c.Len() == 1)
			got, ok := c.Get(cardA, minidriver.RoleUser, tc.policy)
			assert.Equal(t, tc.stored, ok)
			if tc.stored {
				assert.Equal(t, testPIN, string(got.Bytes()))
			} else {
				assert.Nil(t, got)
			}
			assert.Equal(t, tc.stored, Cacheable(tc.policy))
		})
	}
}

func TestCacheGetReturnsCopy(t *testing.T) {
	var c Cache // the zero Cache works
	require.NoError(t, c.Put(cardA, minidriver.RoleUser, normal, NewSecret([]byte(testPIN))))
	got, ok := c.Get(cardA, minidriver.RoleUser, normal)
	require.True(t, ok)
	got.Wipe()
	again, ok := c.Get(cardA, minidriver.RoleUser, normal)
	require.True(t, ok)
	assert.Equal(t, testPIN, string(again.Bytes()), "wiping a copy leaves the cache intact")
}

func TestCacheKeys(t *testing.T) {
	c := New(Config{})
	withSerial := CardID{GUID: cardA.GUID, Serial: "\x01\x02"}
	require.NoError(t, c.Put(cardA, minidriver.RoleUser, normal, NewSecret([]byte("user"))))
	require.NoError(t, c.Put(cardA, minidriver.RoleAdmin, normal, NewSecret([]byte("admin"))))
	cases := []struct {
		name string
		card CardID
		pin  minidriver.PinID
		want string // "" for a miss
	}{
		{"user", cardA, minidriver.RoleUser, "user"},
		{"admin", cardA, minidriver.RoleAdmin, "admin"},
		{"other PIN", cardA, 3, ""},
		{"other card", cardB, minidriver.RoleUser, ""},
		{"same GUID other serial", withSerial, minidriver.RoleUser, ""},
		{"invalid PIN ID", cardA, 8, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := c.Get(tc.card, tc.pin, normal)
			assert.Equal(t, tc.want != "", ok)
			assert.Equal(t, tc.want, string(got.Bytes()))
		})
	}
}

func TestCacheTimedExpiry(t *testing.T) {
	clk := newFakeClock()
	c := New(Config{Now: clk.Now})
	s, buf := secretWithBuf(testPIN)
	require.NoError(t, c.Put(cardA, minidriver.RoleUser, timed60, s))

	clk.Advance(59 * time.Second)
	got, ok := c.Get(cardA, minidriver.RoleUser, timed60)
	require.True(t, ok, "valid before Info seconds")
	got.Wipe()
	assert.False(t, isZero(buf))

	clk.Advance(time.Second)
	_, ok = c.Get(cardA, minidriver.RoleUser, timed60)
	assert.False(t, ok, "expired at Info seconds")
	assert.True(t, isZero(buf), "expired entry wiped on access")
	assert.Zero(t, c.Len())
}

func TestCacheTimedExpirySweptByOtherAccess(t *testing.T) {
	clk := newFakeClock()
	c := New(Config{Now: clk.Now})
	s, buf := secretWithBuf(testPIN)
	require.NoError(t, c.Put(cardA, minidriver.RoleUser, timed60, s))
	clk.Advance(2 * time.Minute)
	// Access to another card wipes the expired entry too.
	_, ok := c.Get(cardB, minidriver.RoleUser, normal)
	assert.False(t, ok)
	assert.True(t, isZero(buf))
	assert.Zero(t, c.Len())
}

func TestCacheGetHonoursCurrentPolicy(t *testing.T) {
	cases := []struct {
		name    string
		stored  minidriver.PINCachePolicy
		now     minidriver.PINCachePolicy
		advance time.Duration
		ok      bool
	}{
		{"normal then normal", normal, normal, time.Hour, true},
		{"normal then timed, young", normal, timed60, 30 * time.Second, true},
		{"normal then timed, old", normal, timed60, 2 * time.Minute, false},
		{"normal then none", normal, none, 0, false},
		{"normal then always prompt", normal, alwaysPrompt, 0, false},
		{"timed then normal keeps its expiry", timed60, normal, 2 * time.Minute, false},
		{"timed then shorter timed", timed60, minidriver.PINCachePolicy{Type: minidriver.PINCacheTimed, Info: 10}, 20 * time.Second, false},
		{"unknown policy", normal, minidriver.PINCachePolicy{Type: 9}, 0, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clk := newFakeClock()
			c := New(Config{Now: clk.Now})
			s, buf := secretWithBuf(testPIN)
			require.NoError(t, c.Put(cardA, minidriver.RoleUser, tc.stored, s))
			clk.Advance(tc.advance)
			got, ok := c.Get(cardA, minidriver.RoleUser, tc.now)
			assert.Equal(t, tc.ok, ok)
			assert.Equal(t, !tc.ok, isZero(buf), "a refused entry is wiped")
			got.Wipe()
		})
	}
}

func TestCacheClockBackwards(t *testing.T) {
	clk := newFakeClock()
	c := New(Config{Now: clk.Now})
	require.NoError(t, c.Put(cardA, minidriver.RoleUser, timed60, NewSecret([]byte(testPIN))))
	clk.Advance(-time.Hour)
	_, ok := c.Get(cardA, minidriver.RoleUser, timed60)
	assert.False(t, ok, "an entry from the future has no known age")
}

// TestCacheWipeOnDrop checks that every way of dropping a PIN zeroes the
// buffer of the Secret given to Put.
func TestCacheWipeOnDrop(t *testing.T) {
	cases := []struct {
		name string
		drop func(c *Cache, clk *fakeClock)
		kept bool // the PIN of cardB, RoleUser survives
	}{
		{"Purge", func(c *Cache, _ *fakeClock) { c.Purge(cardA, minidriver.RoleUser) }, true},
		{"Fail", func(c *Cache, _ *fakeClock) { c.Fail(cardA, minidriver.RoleUser) }, true},
		{"PurgeCard", func(c *Cache, _ *fakeClock) { c.PurgeCard(cardA) }, true},
		{"PurgeAll", func(c *Cache, _ *fakeClock) { c.PurgeAll() }, false},
		{"Put over", func(c *Cache, _ *fakeClock) {
			_ = c.Put(cardA, minidriver.RoleUser, normal, NewSecret([]byte("other")))
		}, true},
		{"Put with policy none", func(c *Cache, _ *fakeClock) {
			_ = c.Put(cardA, minidriver.RoleUser, none, NewSecret([]byte("other")))
		}, true},
		{"Replace", func(c *Cache, _ *fakeClock) {
			_ = c.Replace(cardA, minidriver.RoleUser, normal, NewSecret([]byte("new")))
		}, true},
		{"Replace under always prompt", func(c *Cache, _ *fakeClock) {
			_ = c.Replace(cardA, minidriver.RoleUser, alwaysPrompt, NewSecret([]byte("new")))
		}, true},
		{"freshness change", func(c *Cache, _ *fakeClock) { c.ObserveFreshness(cardA, 8) }, true},
		{"expiry", func(c *Cache, clk *fakeClock) {
			clk.Advance(time.Hour)
			c.Get(cardA, minidriver.RoleUser, normal)
		}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clk := newFakeClock()
			c := New(Config{Now: clk.Now})
			c.ObserveFreshness(cardA, 7)
			s, buf := secretWithBuf(testPIN)
			require.NoError(t, c.Put(cardA, minidriver.RoleUser, timed60, s))
			require.NoError(t, c.Put(cardB, minidriver.RoleUser, normal, NewSecret([]byte("b"))))
			tc.drop(c, clk)
			assert.True(t, isZero(buf), "buffer zeroed")
			assert.True(t, s.Wiped())
			got, ok := c.Get(cardA, minidriver.RoleUser, normal)
			if ok {
				assert.NotEqual(t, testPIN, string(got.Bytes()))
			}
			_, ok = c.Get(cardB, minidriver.RoleUser, normal)
			assert.Equal(t, tc.kept, ok, "other card")
		})
	}
}

func TestCacheReplaceKeepsNewPIN(t *testing.T) {
	c := New(Config{})
	c.ObserveFreshness(cardA, 0)
	require.NoError(t, c.Put(cardA, minidriver.RoleUser, normal, NewSecret([]byte("old"))))
	// The engine changed the PIN and bumped bPinsFreshness from 0 to 1.
	assert.True(t, c.ObserveFreshness(cardA, 1))
	require.NoError(t, c.Replace(cardA, minidriver.RoleUser, normal, NewSecret([]byte("new"))))
	// The next transaction reads the same freshness: the new PIN stays.
	assert.False(t, c.ObserveFreshness(cardA, 1))
	got, ok := c.Get(cardA, minidriver.RoleUser, normal)
	require.True(t, ok)
	assert.Equal(t, "new", string(got.Bytes()))
}

func TestCacheObserveFreshness(t *testing.T) {
	c := New(Config{})
	put := func(card CardID, pin minidriver.PinID) {
		require.NoError(t, c.Put(card, pin, normal, NewSecret([]byte(testPIN))))
	}
	has := func(card CardID, pin minidriver.PinID) bool {
		s, ok := c.Get(card, pin, normal)
		s.Wipe()
		return ok
	}

	assert.False(t, c.ObserveFreshness(cardA, 3), "first value only remembered")
	put(cardA, minidriver.RoleUser)
	put(cardA, minidriver.RoleAdmin)
	c.ObserveFreshness(cardB, 3)
	put(cardB, minidriver.RoleUser)

	assert.False(t, c.ObserveFreshness(cardA, 3), "same value")
	assert.True(t, has(cardA, minidriver.RoleUser))

	assert.True(t, c.ObserveFreshness(cardA, 4), "changed value purges")
	assert.False(t, has(cardA, minidriver.RoleUser))
	assert.False(t, has(cardA, minidriver.RoleAdmin))
	assert.True(t, has(cardB, minidriver.RoleUser), "other card untouched")

	put(cardA, minidriver.RoleUser)
	assert.False(t, c.ObserveFreshness(cardA, 4))
	assert.True(t, has(cardA, minidriver.RoleUser))
	assert.True(t, c.ObserveFreshness(cardA, 3), "going back is a change too")
	assert.False(t, has(cardA, minidriver.RoleUser))
	assert.False(t, c.ObserveFreshness(cardA, 9), "nothing to purge")

	// Wrap-around 255 -> 0 is a change.
	c.ObserveFreshness(cardA, 255)
	put(cardA, minidriver.RoleUser)
	assert.True(t, c.ObserveFreshness(cardA, 0))

	// PurgeCard forgets the freshness: the next value is only remembered.
	put(cardA, minidriver.RoleUser)
	c.PurgeCard(cardA)
	assert.False(t, c.ObserveFreshness(cardA, 77))

	// PINs stored before any freshness was seen are not trusted by the
	// first value.
	cardC := CardID{GUID: [16]byte{0xC0}}
	put(cardC, minidriver.RoleUser)
	assert.True(t, c.ObserveFreshness(cardC, 1))
	assert.False(t, has(cardC, minidriver.RoleUser))
	put(cardC, minidriver.RoleUser)
	assert.False(t, c.ObserveFreshness(cardC, 1))
	assert.True(t, has(cardC, minidriver.RoleUser))
}

func TestCacheInvalidArguments(t *testing.T) {
	c := New(Config{})
	cases := []struct {
		name   string
		pin    minidriver.PinID
		policy minidriver.PINCachePolicy
	}{
		{"PIN ID 8", 8, normal},
		{"PIN ID 255", 255, normal},
		{"policy 4", minidriver.RoleUser, minidriver.PINCachePolicy{Type: 4}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, buf := secretWithBuf(testPIN)
			err := c.Put(cardA, tc.pin, tc.policy, s)
			require.ErrorIs(t, err, minidriver.ErrInvalidParameter)
			assert.NotContains(t, err.Error(), testPIN)
			assert.True(t, isZero(buf), "refused secret wiped")
			assert.Zero(t, c.Len())
		})
	}
	c.Purge(cardA, 200) // no panic
	require.NoError(t, c.Put(cardA, minidriver.RoleUser, normal, nil), "nil secret is a no-op")
	assert.Zero(t, c.Len())
}

func TestCacheMaxCards(t *testing.T) {
	c := New(Config{MaxCards: 2})
	cardC := CardID{GUID: [16]byte{0xC0}}
	sA, bufA := secretWithBuf("a")
	require.NoError(t, c.Put(cardA, minidriver.RoleUser, normal, sA))
	require.NoError(t, c.Put(cardB, minidriver.RoleUser, normal, NewSecret([]byte("b"))))
	// Use A so that B is the least recently used.
	got, ok := c.Get(cardA, minidriver.RoleUser, normal)
	require.True(t, ok)
	got.Wipe()
	require.NoError(t, c.Put(cardC, minidriver.RoleUser, normal, NewSecret([]byte("c"))))
	assert.Equal(t, 2, c.Len())
	_, ok = c.Get(cardB, minidriver.RoleUser, normal)
	assert.False(t, ok, "least recently used card evicted")
	assert.False(t, isZero(bufA))

	require.NoError(t, c.Put(cardB, minidriver.RoleUser, normal, NewSecret([]byte("b"))))
	assert.True(t, isZero(bufA), "evicted PINs are wiped")

	// The default bound.
	d := New(Config{})
	for i := range DefaultMaxCards + 10 {
		id := CardID{Serial: fmt.Sprint(i)}
		require.NoError(t, d.Put(id, minidriver.RoleUser, normal, NewSecret([]byte("x"))))
	}
	assert.Equal(t, DefaultMaxCards, d.Len())
}

func TestCacheConcurrent(t *testing.T) {
	clk := newFakeClock()
	c := New(Config{Now: clk.Now, MaxCards: 4})
	cards := []CardID{cardA, cardB, {GUID: [16]byte{0xC0}}, {GUID: [16]byte{0xD0}}, {GUID: [16]byte{0xE0}}}
	policies := []minidriver.PINCachePolicy{normal, timed60, none, alwaysPrompt}
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Go(func() {
			for i := range 300 {
				card := cards[(g+i)%len(cards)]
				pin := minidriver.PinID(i % minidriver.MaxPins)
				p := policies[(g*7+i)%len(policies)]
				switch i % 9 {
				case 0, 1, 2:
					_ = c.Put(card, pin, p, NewSecret([]byte(testPIN)))
				case 3, 4:
					if s, ok := c.Get(card, pin, p); ok {
						if string(s.Bytes()) != testPIN {
							t.Errorf("got a corrupt PIN")
						}
						s.Wipe()
					}
				case 5:
					c.Fail(card, pin)
				case 6:
					c.ObserveFreshness(card, byte(i%3))
				case 7:
					_ = c.Replace(card, pin, p, NewSecret([]byte(testPIN)))
					clk.Advance(time.Second)
				case 8:
					if i%90 == 8 {
						c.PurgeCard(card)
					}
					_ = c.Len()
				}
			}
		})
	}
	wg.Wait()
	known := 0
	c.cards.Range(func(_, _ any) bool { known++; return true })
	assert.LessOrEqual(t, known, 4, "MaxCards")
	c.mu.Lock()
	assert.Equal(t, known, c.n, "the count of cards")
	c.mu.Unlock()
	c.PurgeAll()
	assert.Zero(t, c.Len())
}

// TestCacheCardsDoNotShareALock: while one card's PINs are locked (an
// operation on it in progress inside the cache), every call on another
// card the cache knows completes: the operation path of one card takes no
// lock that another card's takes.
func TestCacheCardsDoNotShareALock(t *testing.T) {
	clk := newFakeClock()
	c := New(Config{Now: clk.Now})
	require.NoError(t, c.Put(cardA, minidriver.RoleUser, normal, NewSecret([]byte(testPIN))))
	require.NoError(t, c.Put(cardB, minidriver.RoleUser, timed60, NewSecret([]byte(testPIN))))
	c.ObserveFreshness(cardB, 1)
	require.NoError(t, c.Put(cardB, minidriver.RoleUser, timed60, NewSecret([]byte(testPIN))))

	a := c.load(cardA)
	require.NotNil(t, a)
	a.mu.Lock()
	done := make(chan struct{})
	go func() {
		defer close(done)
		s, ok := c.Get(cardB, minidriver.RoleUser, timed60)
		if assert.True(t, ok) {
			s.Wipe()
		}
		assert.True(t, c.Holds(cardB, minidriver.RoleUser))
		assert.False(t, c.ObserveFreshness(cardB, 1))
		assert.NoError(t, c.Put(cardB, minidriver.PinID(3), normal, NewSecret([]byte(testPIN))))
		c.Fail(cardB, minidriver.PinID(3))
		c.Purge(cardB, minidriver.PinID(4))
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("a call on card B waited for card A's lock")
	}
	a.mu.Unlock()

	// Once a Timed entry has expired, the next call sweeps every card,
	// taking their locks, and then none again until the next expiry.
	clk.Advance(61 * time.Second)
	_, ok := c.Get(cardA, minidriver.RoleUser, normal)
	assert.True(t, ok)
	assert.False(t, c.Holds(cardB, minidriver.RoleUser), "card B's expired PIN swept")
	assert.Zero(t, c.nextExpiry.Load(), "no expiry left to wait for")
}

// TestCacheHolds: Holds reports a cached PIN of that card and PIN
// reference only, and nothing once the card refused it.
func TestCacheHolds(t *testing.T) {
	var c Cache
	assert.False(t, c.Holds(cardA, minidriver.RoleUser))
	require.NoError(t, c.Put(cardA, minidriver.RoleUser, normal, NewSecret([]byte(testPIN))))
	assert.True(t, c.Holds(cardA, minidriver.RoleUser))
	assert.False(t, c.Holds(cardA, minidriver.RoleAdmin))
	assert.False(t, c.Holds(cardB, minidriver.RoleUser))
	c.Fail(cardA, minidriver.RoleUser)
	assert.False(t, c.Holds(cardA, minidriver.RoleUser))
}

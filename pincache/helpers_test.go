package pincache

import (
	"sync"
	"time"

	"github.com/cardmod/cardmod/minidriver"
)

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 11, 24, 20, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

var (
	cardA = CardID{GUID: [16]byte{0xA0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}}
	cardB = CardID{GUID: [16]byte{0xB0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}}
)

var (
	normal       = minidriver.PINCachePolicy{Type: minidriver.PINCacheNormal}
	timed60      = minidriver.PINCachePolicy{Type: minidriver.PINCacheTimed, Info: 60}
	none         = minidriver.PINCachePolicy{Type: minidriver.PINCacheNone}
	alwaysPrompt = minidriver.PINCachePolicy{Type: minidriver.PINCacheAlwaysPrompt}
)

// userInfo is the PIN_INFO of a user PIN under policy p.
func userInfo(p minidriver.PINCachePolicy) minidriver.PINInfo {
	return minidriver.PINInfo{
		Type:             minidriver.AlphanumericPIN,
		Purpose:          minidriver.AuthenticationPIN,
		ChangePermission: minidriver.NewPinSet(minidriver.RoleUser),
		CachePolicy:      p,
	}
}

// secretWithBuf returns a Secret holding pin and its internal buffer, so
// that a test can check the buffer was zeroed when the Secret was dropped.
func secretWithBuf(pin string) (*Secret, []byte) {
	s := NewSecret([]byte(pin))
	return s, s.Bytes()
}

func isZero(b []byte) bool {
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}

package gids_test

import (
	"bytes"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cardmod/cardmod/cardsim/gids"
)

// TestConcurrentUse drives one card from several goroutines (Transmit,
// Reset, Save) under the race detector: the answers are whatever the
// interleaving gives, but every one is well-formed.
func TestConcurrentUse(t *testing.T) {
	tc := initialized(t)
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				for _, a := range [][]byte{
					h("00 A4 04 00 09 A0 00 00 03 97 42 54 46 59 00"),
					h("00 20 00 80 06 31 32 33 34 35 36"),
					h("00 DB A0 10 05 DF 30 02 01 02"),
					h("00 CB A0 10 04 5C 02 DF 30 00"),
				} {
					assert.GreaterOrEqual(t, len(tc.c.Transmit(a)), 2)
				}
				if i%10 == 0 {
					tc.c.Reset()
				}
				var buf bytes.Buffer
				assert.NoError(t, tc.c.Save(&buf))
			}
		}()
	}
	wg.Wait()
}

// TestSecurityConditions checks the condition byte evaluation on DO files
// made with each kind of PUT DATA condition.
func TestSecurityConditions(t *testing.T) {
	cases := []struct {
		sc                         byte
		none, user, admin, userAdm bool
	}{
		{0x00, true, true, true, true},
		{0xFF, false, false, false, false},
		{0x10, false, true, false, true},
		{0x20, false, false, true, true},
		{0x30, false, true, true, true},
		{0x90, false, true, false, true},
		{0xA0, false, false, true, true},
		{0xB0, false, false, false, true},
		{0x31, false, true, true, true},    // contact interface
		{0x32, false, false, false, false}, // contactless only
		{0x40, false, false, false, false}, // secure messaging
	}
	for _, c := range cases {
		for role, want := range map[string]bool{"none": c.none, "user": c.user, "admin": c.admin, "user+admin": c.userAdm} {
			tc := initialized(t)
			require.Equal(t, uint16(0x9000), tc.verify(gids.DefaultPIN))
			tc.mustOK(0xE0, 0, 0, cat(h("62 0C 82 01 39 83 02 A0 30 8C 03 03"), []byte{c.sc, 0x00}))
			tc.mustOK(0x44, 0, 0, nil)
			tc.mustOK(0x20, 0x00, 0x82, nil)
			if role == "user" || role == "user+admin" {
				require.Equal(t, uint16(0x9000), tc.verify(gids.DefaultPIN))
			}
			if role == "admin" || role == "user+admin" {
				tc.adminAuth(gids.DefaultAdminKey)
			}
			sw := tc.putDO(0xA030, 0xDF01, []byte{1})
			if want {
				assert.Equalf(t, uint16(0x9000), sw, "SC %02X as %s", c.sc, role)
			} else {
				assert.Equalf(t, uint16(0x6982), sw, "SC %02X as %s", c.sc, role)
			}
		}
	}
}

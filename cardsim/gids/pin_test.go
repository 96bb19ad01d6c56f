package gids_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cardmod/cardmod/cardsim/gids"
)

func TestVerify(t *testing.T) {
	tc := initialized(t)
	_, sw := tc.raw(h("00 20 00 80"))
	assert.Equal(t, uint16(0x63C3), sw, "status before")
	pinStatus := func() []byte {
		t.Helper()
		return tc.mustOK(0xCB, 0x3F, 0xFF, h("5C 02 7F 71"))
	}
	assert.Equal(t, h("7F 71 06 97 01 03 93 01 03"), pinStatus())

	assert.Equal(t, uint16(0x63C2), tc.verify("000000"))
	assert.Equal(t, h("7F 71 06 97 01 02 93 01 03"), pinStatus())
	// Impossible lengths spend no try (GidsApplet).
	assert.Equal(t, uint16(0x63C2), tc.verify("123"))
	assert.Equal(t, uint16(0x63C2), tc.verify("12345678901234567"))
	assert.Equal(t, uint16(0x9000), tc.verify(gids.DefaultPIN))
	assert.Equal(t, 3, tc.c.PINTriesLeft())
	_, sw = tc.raw(h("00 20 00 80"))
	assert.Equal(t, uint16(0x9000), sw, "status when verified")
	// P2 00 names the PIN too; other references do not exist.
	_, sw = tc.raw(short(0, 0x20, 0x00, 0x00, []byte(gids.DefaultPIN), false))
	assert.Equal(t, uint16(0x9000), sw)
	_, sw = tc.raw(short(0, 0x20, 0x00, 0x81, []byte(gids.DefaultPIN), false))
	assert.Equal(t, uint16(0x6A88), sw)
	_, sw = tc.raw(short(0, 0x20, 0x01, 0x80, []byte(gids.DefaultPIN), false))
	assert.Equal(t, uint16(0x6A86), sw)

	// A wrong PIN drops the verified state.
	assert.Equal(t, uint16(0x63C2), tc.verify("999999"))
	_, sw = tc.raw(h("00 20 00 80"))
	assert.Equal(t, uint16(0x63C2), sw)
}

func TestVerifyBlocks(t *testing.T) {
	tc := selected(t, gids.Config{Initialized: true, PINTries: 2})
	assert.Equal(t, uint16(0x63C1), tc.verify("000000"))
	assert.Equal(t, uint16(0x63C0), tc.verify("000000"))
	assert.Equal(t, uint16(0x6983), tc.verify(gids.DefaultPIN))
	_, sw := tc.raw(h("00 20 00 80"))
	assert.Equal(t, uint16(0x6983), sw)
	tc.wantSW(0x6983, 0x24, 0x00, 0x80, []byte(gids.DefaultPIN+"654321"))
	assert.Equal(t, h("7F 71 06 97 01 00 93 01 02"), tc.mustOK(0xCB, 0x3F, 0xFF, h("5C 02 7F 71")))
	// The admin unblocks it (gids-tool --unblock).
	tc.adminAuth(gids.DefaultAdminKey)
	tc.mustOK(0x2C, 0x02, 0x80, []byte("87654321"))
	assert.Equal(t, 2, tc.c.PINTriesLeft())
	assert.Equal(t, uint16(0x9000), tc.verify("87654321"))
}

func TestDeauthenticate(t *testing.T) {
	tc := initialized(t)
	require.Equal(t, uint16(0x9000), tc.verify(gids.DefaultPIN))
	tc.adminAuth(gids.DefaultAdminKey)
	_, sw := tc.raw(h("00 20 00 82"))
	require.Equal(t, uint16(0x9000), sw)
	_, sw = tc.raw(h("00 20 00 80"))
	assert.Equal(t, uint16(0x63C3), sw)
	assert.Equal(t, uint16(0x6982), tc.putDO(0xA012, 0xDF20, make([]byte, 16)), "admin forgotten")
}

func TestChangeReferenceData(t *testing.T) {
	tc := initialized(t)
	// Old and new back to back.
	tc.wantSW(0x63C2, 0x24, 0x00, 0x80, []byte("000000"+"654321"))
	tc.wantSW(0x63C2, 0x24, 0x00, 0x80, []byte("123")) // too short for two PINs
	tc.wantSW(0x6700, 0x24, 0x00, 0x80, []byte(gids.DefaultPIN+"654"))
	tc.mustOK(0x24, 0x00, 0x80, []byte(gids.DefaultPIN+"6543210"))
	assert.Equal(t, 3, tc.c.PINTriesLeft())
	assert.Equal(t, uint16(0x63C2), tc.verify(gids.DefaultPIN))
	assert.Equal(t, uint16(0x9000), tc.verify("6543210"))

	// New value alone: only after VERIFY once operational.
	fresh := initialized(t)
	fresh.wantSW(0x6982, 0x24, 0x01, 0x80, []byte("11112222"))
	require.Equal(t, uint16(0x9000), fresh.verify(gids.DefaultPIN))
	fresh.wantSW(0x6700, 0x24, 0x01, 0x80, []byte("111"))
	fresh.mustOK(0x24, 0x01, 0x80, []byte("11112222"))
	assert.Equal(t, uint16(0x9000), fresh.verify("11112222"))
	fresh.wantSW(0x6A86, 0x24, 0x02, 0x80, []byte("11112222"))
	fresh.wantSW(0x6A88, 0x24, 0x01, 0x81, []byte("11112222"))

	blank := selected(t, gids.Config{})
	blank.wantSW(0x6984, 0x24, 0x00, 0x80, []byte("12341234"))
}

func TestResetRetryCounter(t *testing.T) {
	tc := initialized(t)
	tc.wantSW(0x6982, 0x2C, 0x02, 0x80, []byte("55556666"))
	tc.adminAuth(gids.DefaultAdminKey)
	tc.wantSW(0x6A86, 0x2C, 0x00, 0x80, []byte("55556666"))
	tc.wantSW(0x6A88, 0x2C, 0x02, 0x81, []byte("55556666"))
	tc.wantSW(0x6700, 0x2C, 0x02, 0x80, []byte("555"))
	tc.mustOK(0x2C, 0x02, 0x80, []byte("55556666"))
	// The admin is logged out afterwards.
	tc.wantSW(0x6982, 0x2C, 0x02, 0x80, []byte("55556666"))
	assert.Equal(t, uint16(0x9000), tc.verify("55556666"))
}

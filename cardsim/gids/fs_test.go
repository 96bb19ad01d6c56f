package gids_test

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cardmod/cardmod/cardsim/gids"
)

// gidsToolInit replays what OpenSC's gids-tool --initialize sends to a
// blank card: the master file probe (fails on a new card), the PIN, six DO
// files and the admin key file each created and activated, the admin key,
// the master file, cardapps, cardcf, an empty cmapfile, cardid, then the
// activation of the application.
func gidsToolInit(t *testing.T, tc *tcard, pin string, adminKey, cardID []byte) {
	t.Helper()
	_, sw := tc.getDO(0xA000, 0xDF1F)
	require.Equal(t, uint16(0x6A82), sw, "a new card has no master file")
	_, sw = tc.raw(short(0, 0x24, 0x01, 0x80, []byte(pin), false))
	require.Equal(t, uint16(0x9000), sw)
	for _, fcp := range []string{
		"62 0C 82 01 39 83 02 A0 00 8C 03 03 30 00",
		"62 0C 82 01 39 83 02 A0 10 8C 03 03 30 00",
		"62 0C 82 01 39 83 02 A0 11 8C 03 03 30 FF",
		"62 0C 82 01 39 83 02 A0 12 8C 03 03 20 00",
		"62 0C 82 01 39 83 02 A0 13 8C 03 03 30 30",
		"62 0C 82 01 39 83 02 A0 14 8C 03 03 20 20",
		"62 1A 82 01 18 83 02 B0 80 8C 04 87 00 20 FF A5 0B A4 09 80 01 02 83 01 80 95 01 C0",
	} {
		_, sw = tc.raw(short(0, 0xE0, 0, 0, h(fcp), false))
		require.Equal(t, uint16(0x9000), sw, fcp)
		_, sw = tc.raw(h("00 44 00 00"))
		require.Equal(t, uint16(0x9000), sw)
	}
	keyDO := cat(h("84 01 80 A5 1F 87 18"), adminKey, h("88 03 B0 73 DC"))
	_, sw = tc.raw(short(0, 0xDB, 0x3F, 0xFF, tlv(0x70, keyDO), false))
	require.Equal(t, uint16(0x9000), sw)
	for _, p := range []struct {
		fid, tag uint16
		v        []byte
	}{
		{0xA000, 0xDF1F, masterFile()},
		{0xA010, 0xDF21, []byte("mscp\x00\x00\x00\x00")},
		{0xA010, 0xDF22, make([]byte, 6)},
		{0xA010, 0xDF23, nil},
		{0xA012, 0xDF20, cardID},
	} {
		_, sw = tc.raw(short(0, 0xDB, byte(p.fid>>8), byte(p.fid), tlv(p.tag, p.v), false))
		require.Equal(t, uint16(0x9000), sw)
	}
	_, sw = tc.raw(h("00 A4 00 0C 02 3F FF"))
	require.Equal(t, uint16(0x9000), sw)
	_, sw = tc.raw(h("00 44 00 00"))
	require.Equal(t, uint16(0x9000), sw)
}

// masterFile builds the initial master file as the minidriver lays it out
// (version 01, then 28-byte records).
func masterFile() []byte {
	rec := func(dir, name string, do, fid uint32) []byte {
		r := make([]byte, 28)
		copy(r, dir)
		copy(r[9:], name)
		r[20], r[21] = byte(do), byte(do>>8)
		r[24], r[25] = byte(fid), byte(fid>>8)
		return r
	}
	return cat([]byte{1},
		rec("mscp", "", 0, 0xA000),
		rec("", "cardid", 0xDF20, 0xA012),
		rec("", "cardapps", 0xDF21, 0xA010),
		rec("", "cardcf", 0xDF22, 0xA010),
		rec("mscp", "cmapfile", 0xDF23, 0xA010))
}

func TestGidsToolInitialize(t *testing.T) {
	tc := selected(t, gids.Config{})
	assert.Equal(t, gids.LifeCycleCreation, tc.c.LifeCycle())
	cardID := h("00112233445566778899AABBCCDDEEFF")
	gidsToolInit(t, tc, "4321", gids.DefaultAdminKey, cardID)
	assert.Equal(t, gids.LifeCycleOperational, tc.c.LifeCycle())

	mf, sw := tc.getDO(0xA000, 0xDF1F)
	require.Equal(t, uint16(0x9000), sw)
	assert.Equal(t, tlv(0xDF1F, masterFile()), mf)
	id, sw := tc.getDO(0xA012, 0xDF20)
	require.Equal(t, uint16(0x9000), sw)
	assert.Equal(t, tlv(0xDF20, cardID), id)
	cmap, sw := tc.getDO(0xA010, 0xDF23)
	require.Equal(t, uint16(0x9000), sw, "the empty cmapfile is readable")
	assert.Equal(t, h("DF 23 00"), cmap)

	// A second initialization fails: the master file exists, and the
	// files need authentication now.
	tc.wantSW(0x6982, 0xE0, 0, 0, h("62 0C 82 01 39 83 02 A0 20 8C 03 03 30 00"))
	assert.Equal(t, uint16(0x63C2), tc.verify("1234"))
	assert.Equal(t, uint16(0x9000), tc.verify("4321"))
	tc.wantSW(0x6A89, 0xE0, 0, 0, h("62 0C 82 01 39 83 02 A0 10 8C 03 03 30 00"))

	// Config.Initialized gives the same file system.
	other := selected(t, gids.Config{Initialized: true, CardID: cardID, PIN: "4321"})
	for _, x := range []struct{ fid, tag uint16 }{{0xA000, 0xDF1F}, {0xA010, 0xDF21}, {0xA010, 0xDF22}, {0xA010, 0xDF23}, {0xA012, 0xDF20}} {
		a, swA := tc.getDO(x.fid, x.tag)
		b, swB := other.getDO(x.fid, x.tag)
		assert.Equal(t, swA, swB)
		assert.Equalf(t, a, b, "%04X/%04X", x.fid, x.tag)
	}
}

// TestAccessRules checks the six DO files of an initialized card against
// everyone, the user and the admin.
func TestAccessRules(t *testing.T) {
	type rights struct{ read, write bool }
	cases := []struct {
		fid                   uint16
		everyone, user, admin rights
	}{
		{0xA000, rights{true, false}, rights{true, true}, rights{true, true}},
		{0xA010, rights{true, false}, rights{true, true}, rights{true, true}},
		{0xA011, rights{false, false}, rights{false, true}, rights{false, true}},
		{0xA012, rights{true, false}, rights{true, false}, rights{true, true}},
		{0xA013, rights{false, false}, rights{true, true}, rights{true, true}},
		{0xA014, rights{false, false}, rights{false, false}, rights{true, true}},
	}
	for _, role := range []string{"everyone", "user", "admin"} {
		tc := initialized(t)
		switch role {
		case "user":
			require.Equal(t, uint16(0x9000), tc.verify(gids.DefaultPIN))
		case "admin":
			tc.adminAuth(gids.DefaultAdminKey)
		}
		for _, c := range cases {
			want := map[string]rights{"everyone": c.everyone, "user": c.user, "admin": c.admin}[role]
			sw := tc.putDO(c.fid, 0xDF40, []byte{1, 2, 3})
			if want.write {
				assert.Equalf(t, uint16(0x9000), sw, "%s writes %04X", role, c.fid)
			} else {
				assert.Equalf(t, uint16(0x6982), sw, "%s writes %04X", role, c.fid)
			}
			_, sw = tc.getDO(c.fid, 0xDF40)
			switch {
			case !want.read:
				assert.Equalf(t, uint16(0x6982), sw, "%s reads %04X", role, c.fid)
			case want.write:
				assert.Equalf(t, uint16(0x9000), sw, "%s reads %04X", role, c.fid)
			default:
				assert.Equalf(t, uint16(0x6A88), sw, "%s reads %04X (absent)", role, c.fid)
			}
		}
	}
}

func TestGetPutDataErrors(t *testing.T) {
	tc := initialized(t)
	require.Equal(t, uint16(0x9000), tc.verify(gids.DefaultPIN))
	tc.wantSW(0x6A82, 0xCB, 0xA0, 0x99, h("5C 02 DF 20"))
	tc.wantSW(0x6986, 0xCB, 0xB0, 0x80, h("5C 02 DF 20"))
	tc.wantSW(0x6A80, 0xCB, 0xA0, 0x10, h("5C 04 DF 20 01 02"))
	tc.wantSW(0x6A80, 0xCB, 0xA0, 0x10, h("5D 02 DF 20"))
	tc.wantSW(0x6A80, 0xCB, 0xA0, 0x10, h("5C 02 DF"))
	tc.wantSW(0x6A80, 0xDB, 0xA0, 0x10, h("DF 30 05 01"))
	tc.wantSW(0x6A80, 0xDB, 0xA0, 0x10, h("5C 01 01"))
	tc.wantSW(0x6A80, 0xDB, 0xA0, 0x10, nil)
	tc.wantSW(0x6A80, 0xCB, 0x3F, 0xFF, h("5C 02 7F 74 01"))
	tc.wantSW(0x6A88, 0xCB, 0x3F, 0xFF, h("5C 02 7F 73"))
}

// TestEmptyObjects: an empty object is stored empty; an empty one over an
// empty one deletes it.
func TestEmptyObjects(t *testing.T) {
	tc := initialized(t)
	require.Equal(t, uint16(0x9000), tc.verify(gids.DefaultPIN))
	require.Equal(t, uint16(0x9000), tc.putDO(0xA010, 0xDF50, []byte{1}))
	require.Equal(t, uint16(0x9000), tc.putDO(0xA010, 0xDF50, nil))
	got, sw := tc.getDO(0xA010, 0xDF50)
	require.Equal(t, uint16(0x9000), sw)
	assert.Equal(t, h("DF 50 00"), got)
	require.Equal(t, uint16(0x9000), tc.putDO(0xA010, 0xDF50, nil))
	_, sw = tc.getDO(0xA010, 0xDF50)
	assert.Equal(t, uint16(0x6A88), sw)
	// Several objects in one PUT DATA.
	tc.mustOK(0xDB, 0xA0, 0x10, cat(tlv(0xDF51, []byte{1}), tlv(0xDF52, []byte{2, 2})))
	got, _ = tc.getDO(0xA010, 0xDF52)
	assert.Equal(t, h("DF 52 02 02 02"), got)
}

func TestCapacity(t *testing.T) {
	tc := selected(t, gids.Config{Initialized: true, Capacity: 2000})
	require.Equal(t, uint16(0x9000), tc.verify(gids.DefaultPIN))
	assert.Equal(t, uint16(0x9000), tc.putDO(0xA010, 0xDF60, make([]byte, 1500)))
	assert.Equal(t, uint16(0x6A84), tc.putDO(0xA010, 0xDF61, make([]byte, 600)))
	// Replacing an object counts only the difference.
	assert.Equal(t, uint16(0x9000), tc.putDO(0xA010, 0xDF60, make([]byte, 1700)))
}

func TestCreateActivateDeleteFile(t *testing.T) {
	tc := initialized(t)
	fcp := h("62 0C 82 01 39 83 02 A0 20 8C 03 03 30 00")
	tc.wantSW(0x6982, 0xE0, 0, 0, fcp)
	require.Equal(t, uint16(0x9000), tc.verify(gids.DefaultPIN))
	tc.wantSW(0x6A86, 0xE0, 1, 0, fcp)
	for _, bad := range []string{
		"62 0C 82 01 39 83 02 3F FF 8C 03 03 30 00",
		"62 09 82 01 39 8C 03 03 30 00",
		"62 0C 82 01 39 83 02 A0 20 8C 03 03 30",
		"63 0C 82 01 39 83 02 A0 20 8C 03 03 30 00",
		"62 0D 82 01 39 83 02 A0 20 8C 03 03 30 00",
		"62 0C 82 01 18 83 02 A0 20 8C 03 03 30 00",
	} {
		tc.wantSW(0x6A80, 0xE0, 0, 0, h(bad))
	}
	tc.wantSW(0x6A81, 0xE0, 0, 0, h("62 0C 82 01 01 83 02 A0 20 8C 03 03 30 00"))
	tc.mustOK(0xE0, 0, 0, fcp)
	// In the creation state the file accepts only ACTIVATE FILE.
	assert.Equal(t, uint16(0x6985), tc.putDO(0xA020, 0xDF01, []byte{1}))
	tc.mustOK(0x44, 0, 0, nil)
	assert.Equal(t, uint16(0x9000), tc.putDO(0xA020, 0xDF01, []byte{1}))

	// DELETE FILE by identifier and as the current file.
	tc.wantSW(0x6A82, 0xE4, 0, 0, h("A0 21"))
	tc.wantSW(0x6700, 0xE4, 0, 0, h("A0"))
	tc.mustOK(0xE4, 0, 0, h("A0 20"))
	_, sw := tc.getDO(0xA020, 0xDF01)
	assert.Equal(t, uint16(0x6A82), sw)
	tc.mustOK(0xE0, 0, 0, fcp)
	tc.mustOK(0xE4, 0, 0, nil)
	tc.wantSW(0x6985, 0xE4, 0, 0, nil) // the application itself
	tc.mustOK(0xE0, 0, 0, fcp)
	_, sw = tc.raw(h("00 20 00 82"))
	require.Equal(t, uint16(0x9000), sw)
	tc.wantSW(0x6982, 0xE4, 0, 0, h("A0 20"))
}

func TestTerminate(t *testing.T) {
	tc := initialized(t)
	tc.mustOK(0xE6, 0, 0, nil)
	assert.Equal(t, gids.LifeCycleTerminated, tc.c.LifeCycle())
	_, sw := tc.getDO(0xA010, 0xDF21)
	assert.Equal(t, uint16(0x6985), sw)
	tc.mustOK(0xA4, 0x04, 0x00, gids.AID[:9])
	assert.Equal(t, uint16(0x6985), tc.verify(gids.DefaultPIN))
}

func TestBlankCardWithoutAccessRules(t *testing.T) {
	tc := selected(t, gids.Config{})
	// Creation state: VERIFY without data needs nothing, with data there
	// is no PIN yet; RESET RETRY COUNTER is not allowed.
	_, sw := tc.raw(h("00 20 00 80"))
	assert.Equal(t, uint16(0x9000), sw)
	assert.Equal(t, uint16(0x6984), tc.verify("1234"))
	tc.wantSW(0x6985, 0x87, 0, 0, h("7C 02 81 00"))
	tc.wantSW(0x6986, 0x2C, 0x02, 0x80, []byte("1234"))
	// Any file can be written before activation.
	tc.mustOK(0xE0, 0, 0, h("62 0C 82 01 39 83 02 A0 14 8C 03 03 20 20"))
	tc.mustOK(0x44, 0, 0, nil)
	assert.Equal(t, uint16(0x9000), tc.putDO(0xA014, 0xDF01, bytes.Repeat([]byte{7}, 10)))
	got, sw := tc.getDO(0xA014, 0xDF01)
	require.Equal(t, uint16(0x9000), sw)
	assert.Equal(t, tlv(0xDF01, bytes.Repeat([]byte{7}, 10)), got)
}

// TestTransportKey: a blank card accepts admin authentication with its
// Config.AdminKey until the admin key file exists.
func TestTransportKey(t *testing.T) {
	tc := selected(t, gids.Config{})
	assert.Equal(t, uint16(0x6982), tc.adminMutual(bytes.Repeat([]byte{9}, 24)))
	tc.adminAuth(gids.DefaultAdminKey)

	custom := bytes.Repeat([]byte{0x42}, 16)
	other := selected(t, gids.Config{AdminKey: custom})
	other.adminAuth(custom)
	// Initialized with another key, the transport key is gone.
	newKey := bytes.Repeat([]byte{0x24}, 24)
	gidsToolInit(t, other, "1234", newKey, make([]byte, 16))
	assert.Equal(t, uint16(0x6A88), func() uint16 {
		_, sw := other.exchange(0x22, 0xC1, 0xA4, h("83 01 81"))
		return sw
	}())
	assert.Equal(t, uint16(0x6982), other.adminMutual(gids.DefaultAdminKey))
	other.adminAuth(newKey)

	_, err := gids.New(gids.Config{AdminKey: []byte{1, 2, 3}})
	assert.Error(t, err)
}

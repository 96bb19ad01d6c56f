package gids_test

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cardmod/cardmod/cardsim/gids"
)

func TestATR(t *testing.T) {
	tc := newCard(t, gids.Config{})
	atr := tc.c.ATR()
	require.Equal(t, gids.DefaultATR, atr)
	// TS, T0 with TD1, TD1 announcing T=0 and TD2, TD2 = T=1, then the
	// historical bytes, then TCK: the XOR of T0 to TCK is zero.
	assert.Equal(t, byte(0x3B), atr[0])
	assert.Equal(t, int(atr[1]&0x0F), len(atr)-5)
	var x byte
	for _, b := range atr[1:] {
		x ^= b
	}
	assert.Zero(t, x, "TCK")
	custom := newCard(t, gids.Config{ATR: []byte{0x3B, 0x00}})
	assert.Equal(t, []byte{0x3B, 0x00}, custom.c.ATR())
}

func TestMalformedAPDUs(t *testing.T) {
	tc := newCard(t, gids.Config{})
	for _, a := range [][]byte{nil, {0x00}, {0x00, 0xA4, 0x04}, {0x00, 0xA4, 0x04, 0x00, 0x05, 0x01}, {0x00, 0xA4, 0x04, 0x00, 0x00, 0x00}} {
		_, sw := tc.raw(a)
		assert.Equalf(t, uint16(0x6700), sw, "%x", a)
	}
}

func TestClassAndInstruction(t *testing.T) {
	tc := newCard(t, gids.Config{})
	_, sw := tc.raw(h("00 CB 3F FF 04 5C 02 7F 71 00"))
	assert.Equal(t, uint16(0x6D00), sw, "before SELECT")
	tc.mustOK(0xA4, 0x04, 0x00, gids.AID[:9])
	for _, c := range []struct {
		apdu string
		sw   uint16
	}{
		{"80 CB 3F FF", 0x6E00},
		{"0C CB 3F FF", 0x6882},
		{"01 CB 3F FF", 0x6E00},
		{"00 FD 00 00", 0x6D00},
		{"00 C0 00 00 00", 0x6985},
		{"00 C0 01 00 00", 0x6A86},
	} {
		_, sw := tc.raw(h(c.apdu))
		assert.Equalf(t, c.sw, sw, "%s", c.apdu)
	}
}

func TestSelectAID(t *testing.T) {
	tc := newCard(t, gids.Config{})
	for _, c := range []struct {
		aid  string
		want uint16
	}{
		{"A0 00 00 03 97 42 54 46 59", 0x9000},
		{"A0 00 00 03 97 42 54 46 59 01", 0x9000},
		{"A0 00 00 03 97 42 54 46 59 02", 0x9000},
		{"A0 00 00 03 97 42 54 46 59 02 01", 0x9000},
		{"A0 00 00 03 97 42 54 46 59 03", 0x6A82},
		{"A0 00 00 03 97 42 54 46", 0x6A82},
		{"A0 00 00 03 08", 0x6A82},
	} {
		tc.wantSW(c.want, 0xA4, 0x04, 0x00, h(c.aid))
	}
	// After a SELECT of an unknown AID nothing is selected.
	_, sw := tc.raw(h("00 CB 3F FF 04 5C 02 7F 71 00"))
	assert.Equal(t, uint16(0x6D00), sw)
}

func TestSelectFCI(t *testing.T) {
	tc := newCard(t, gids.Config{})
	fci := tc.mustOK(0xA4, 0x04, 0x00, gids.AID[:9])
	assert.Equal(t, h("61 12 4F 0B A0 00 00 03 97 42 54 46 59 02 01 73 03 40 01 C0"), fci)
	// OpenSC's gids_match_card: 4F inside 61, longer than 10 bytes,
	// first 10 bytes equal to the version 2 AID.
	aid := fci[4 : 4+fci[3]]
	assert.Greater(t, len(aid), 10)
	assert.Equal(t, h("A0 00 00 03 97 42 54 46 59 02"), aid[:10])

	fcp := tc.mustOK(0xA4, 0x04, 0x04, gids.AID[:9])
	assert.Equal(t, byte(0x62), fcp[0])
	none := tc.mustOK(0xA4, 0x04, 0x0C, gids.AID[:9])
	assert.Empty(t, none)
	tc.wantSW(0x6A86, 0xA4, 0x04, 0x01, gids.AID[:9])
	tc.wantSW(0x6A86, 0xA4, 0x08, 0x00, gids.AID[:9])
	// Without Le the FCI is not sent (case 3).
	data, sw := tc.raw(short(0, 0xA4, 0x04, 0x00, gids.AID[:9], false))
	assert.Equal(t, uint16(0x9000), sw)
	assert.Empty(t, data)
}

func TestEFATR(t *testing.T) {
	tc := newCard(t, gids.Config{})
	tc.mustOK(0xA4, 0x04, 0x00, gids.AID[:9])
	atr, sw := tc.raw(h("00 CB 2F 01 02 5C 00 FF"))
	require.Equal(t, uint16(0x9000), sw)
	assert.Equal(t, cat(h("43 01 D4 47 03 D0 01 C0 46 0C"), []byte("cardmod GIDS"),
		h("AC 15 80 01 06 80 01 07 80 01 08 80 01 09 80 01 0C 80 01 0D 80 01 0E")), atr, "with the algorithms of ProfileRSAEC")
	tc.wantSW(0x6A80, 0xCB, 0x2F, 0x01, h("5C 02 DF 20"))

	quiet := newCard(t, gids.Config{Profile: gids.ProfileRSAQuiet()})
	quiet.mustOK(0xA4, 0x04, 0x00, gids.AID[:9])
	atr, sw = quiet.raw(h("00 CB 2F 01 02 5C 00 FF"))
	require.Equal(t, uint16(0x9000), sw)
	assert.Equal(t, cat(h("43 01 D4 47 03 D0 01 C0 46 0C"), []byte("cardmod GIDS")), atr, "a card that says nothing of its algorithms")
}

// TestProfiles: every documented profile is found by name, and an RSA-only
// card refuses an EC key with 6A81.
func TestProfiles(t *testing.T) {
	for _, p := range gids.Profiles() {
		q, ok := gids.ProfileByName(p.Name)
		require.True(t, ok)
		assert.Equal(t, p, q)
	}
	_, ok := gids.ProfileByName("nope")
	assert.False(t, ok)
}

func TestSelectFileByID(t *testing.T) {
	tc := initialized(t)
	assert.Empty(t, tc.mustOK(0xA4, 0x00, 0x0C, h("3F FF")))
	fcp := tc.mustOK(0xA4, 0x00, 0x00, h("A0 10"))
	assert.Equal(t, h("62 0C 82 01 39 83 02 A0 10 8C 03 03 30 00"), fcp)
	tc.wantSW(0x6A82, 0xA4, 0x00, 0x0C, h("A0 99"))
	tc.wantSW(0x6700, 0xA4, 0x00, 0x0C, h("A0"))
}

// TestShortLePartialAnswer: a short Le gets the first bytes and 61xx; GET
// RESPONSE hands out the rest, in pieces when asked for less.
func TestShortLePartialAnswer(t *testing.T) {
	tc := newCard(t, gids.Config{})
	first, sw := tc.raw(cat(h("00 A4 04 00 09"), gids.AID[:9], h("08")))
	require.Equal(t, uint16(0x610C), sw)
	assert.Equal(t, h("61 12 4F 0B A0 00 00 03"), first)
	more, sw := tc.raw(h("00 C0 00 00 04"))
	require.Equal(t, uint16(0x6108), sw)
	rest, sw := tc.raw(h("00 C0 00 00 08"))
	require.Equal(t, uint16(0x9000), sw)
	assert.Equal(t, h("61 12 4F 0B A0 00 00 03 97 42 54 46 59 02 01 73 03 40 01 C0"), cat(first, more, rest))
	// Nothing pending any more.
	_, sw = tc.raw(h("00 C0 00 00 00"))
	assert.Equal(t, uint16(0x6985), sw)
}

// TestChainingAndExtended writes a 3000-byte object chained and extended,
// and reads it back with short GET RESPONSE rounds and with one extended
// answer.
func TestChainingAndExtended(t *testing.T) {
	tc := initialized(t)
	require.Equal(t, uint16(0x9000), tc.verify(gids.DefaultPIN))
	big := bytes.Repeat([]byte{0xA5, 0x5A, 0x01}, 1000)
	require.Equal(t, uint16(0x9000), tc.putDO(0xA010, 0xDF30, big))
	got, sw := tc.getDO(0xA010, 0xDF30)
	require.Equal(t, uint16(0x9000), sw)
	assert.Equal(t, tlv(0xDF30, big), got)

	// Extended PUT DATA and extended GET DATA with Le 0000.
	big2 := bytes.Repeat([]byte{0x42}, 5000)
	data := tlv(0xDF31, big2)
	ext := cat(h("00 DB A0 10 00"), []byte{byte(len(data) >> 8), byte(len(data))}, data)
	_, sw = tc.raw(ext)
	require.Equal(t, uint16(0x9000), sw)
	resp, sw := tc.raw(h("00 CB A0 10 00 00 04 5C 02 DF 31 00 00"))
	require.Equal(t, uint16(0x9000), sw)
	assert.Equal(t, data, resp)

	// A chain interrupted by another command is dropped.
	_, sw = tc.raw(short(0x10, 0xDB, 0xA0, 0x10, tlv(0xDF32, []byte{1, 2}), false))
	require.Equal(t, uint16(0x9000), sw)
	tc.mustOK(0xA4, 0x00, 0x0C, h("3F FF"))
	_, sw = tc.getDO(0xA010, 0xDF32)
	assert.Equal(t, uint16(0x6A88), sw)
}

func TestResetForgetsSession(t *testing.T) {
	tc := initialized(t)
	require.Equal(t, uint16(0x9000), tc.verify(gids.DefaultPIN))
	tc.c.Reset()
	_, sw := tc.raw(h("00 20 00 80"))
	assert.Equal(t, uint16(0x6D00), sw, "not selected after reset")
	tc.mustOK(0xA4, 0x04, 0x00, gids.AID[:9])
	_, sw = tc.raw(h("00 20 00 80"))
	assert.Equal(t, uint16(0x63C3), sw)
}

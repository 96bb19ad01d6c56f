package gids_test

import (
	"encoding/hex"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cardmod/cardmod/cardsim/gids"
)

// seededRand returns a deterministic random source for a card.
func seededRand(seed uint64) *rand.ChaCha8 {
	var s [32]byte
	s[0] = byte(seed)
	s[1] = byte(seed >> 8)
	return rand.NewChaCha8(s)
}

// tcard drives a card in tests.
type tcard struct {
	t testing.TB
	c *gids.Card
}

// newCard makes a card with deterministic randomness unless cfg has some.
func newCard(t testing.TB, cfg gids.Config) *tcard {
	t.Helper()
	if cfg.Rand == nil {
		cfg.Rand = seededRand(1)
	}
	c, err := gids.New(cfg)
	require.NoError(t, err)
	return &tcard{t: t, c: c}
}

// selected returns a card with the GIDS application selected.
func selected(t testing.TB, cfg gids.Config) *tcard {
	t.Helper()
	tc := newCard(t, cfg)
	tc.mustOK(0xA4, 0x04, 0x00, gids.AID[:9])
	return tc
}

// initialized returns an initialized card (DefaultPIN, DefaultAdminKey),
// selected.
func initialized(t testing.TB) *tcard {
	t.Helper()
	return selected(t, gids.Config{Initialized: true})
}

// h decodes hex with spaces.
func h(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(err)
	}
	return b
}

// raw sends one APDU and splits the answer.
func (tc *tcard) raw(apdu []byte) ([]byte, uint16) {
	tc.t.Helper()
	r := tc.c.Transmit(apdu)
	require.GreaterOrEqual(tc.t, len(r), 2, "answer shorter than a status word")
	return r[:len(r)-2], uint16(r[len(r)-2])<<8 | uint16(r[len(r)-1])
}

// short builds a short case 4 APDU (case 2 without data) with Le 00, or
// case 1/3 when le is false.
func short(cla, ins, p1, p2 byte, data []byte, le bool) []byte {
	out := []byte{cla, ins, p1, p2}
	if len(data) > 0 {
		out = append(out, byte(len(data)))
		out = append(out, data...)
	}
	if le {
		out = append(out, 0x00)
	}
	return out
}

// exchange sends a command the way OpenSC does: chained in 255-byte
// pieces, Le 00 on the last, then GET RESPONSE while the card answers
// 61xx.
func (tc *tcard) exchange(ins, p1, p2 byte, data []byte) ([]byte, uint16) {
	tc.t.Helper()
	for len(data) > 255 {
		_, sw := tc.raw(short(0x10, ins, p1, p2, data[:255], false))
		if sw != 0x9000 {
			return nil, sw
		}
		data = data[255:]
	}
	resp, sw := tc.raw(short(0x00, ins, p1, p2, data, true))
	for sw>>8 == 0x61 {
		var more []byte
		more, sw = tc.raw([]byte{0x00, 0xC0, 0x00, 0x00, byte(sw)})
		resp = append(resp, more...)
	}
	return resp, sw
}

func (tc *tcard) mustOK(ins, p1, p2 byte, data []byte) []byte {
	tc.t.Helper()
	resp, sw := tc.exchange(ins, p1, p2, data)
	require.Equalf(tc.t, uint16(0x9000), sw, "INS %02X P1 %02X P2 %02X: SW %04X", ins, p1, p2, sw)
	return resp
}

func (tc *tcard) wantSW(want uint16, ins, p1, p2 byte, data []byte) []byte {
	tc.t.Helper()
	resp, sw := tc.exchange(ins, p1, p2, data)
	require.Equalf(tc.t, want, sw, "INS %02X P1 %02X P2 %02X: SW %04X, want %04X", ins, p1, p2, sw, want)
	return resp
}

// tlv encodes one BER-TLV object (tags of up to two bytes).
func tlv(tag uint16, v []byte) []byte {
	var out []byte
	if tag > 0xFF {
		out = append(out, byte(tag>>8))
	}
	out = append(out, byte(tag))
	switch n := len(v); {
	case n < 0x80:
		out = append(out, byte(n))
	case n <= 0xFF:
		out = append(out, 0x81, byte(n))
	default:
		out = append(out, 0x82, byte(n>>8), byte(n))
	}
	return append(out, v...)
}

func cat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// getDO reads a data object of a DO file (GET DATA FID 5C tag).
func (tc *tcard) getDO(fid uint16, tag uint16) ([]byte, uint16) {
	tc.t.Helper()
	return tc.exchange(0xCB, byte(fid>>8), byte(fid), tlv(0x5C, []byte{byte(tag >> 8), byte(tag)}))
}

// putDO writes a data object.
func (tc *tcard) putDO(fid uint16, tag uint16, v []byte) uint16 {
	tc.t.Helper()
	_, sw := tc.exchange(0xDB, byte(fid>>8), byte(fid), tlv(tag, v))
	return sw
}

// verify sends VERIFY 80 with pin.
func (tc *tcard) verify(pin string) uint16 {
	tc.t.Helper()
	_, sw := tc.raw(short(0, 0x20, 0x00, 0x80, []byte(pin), false))
	return sw
}

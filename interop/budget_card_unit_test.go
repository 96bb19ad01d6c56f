package interop

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	simpiv "github.com/cardmod/cardmod/cardsim/piv"
	"github.com/cardmod/cardmod/scrm"
)

func mustParse(t testing.TB, apdu []byte) scrm.Command {
	t.Helper()
	cmd, err := scrm.ParseCommand(apdu)
	require.NoError(t, err)
	return cmd
}

// TestDecodePIV checks the names the traces give, from commands as the
// tools send them (SP 800-73-4 part 2 encodings).
func TestDecodePIV(t *testing.T) {
	for _, tt := range []struct {
		apdu []byte
		want string
	}{
		{[]byte{0x00, 0xA4, 0x04, 0x00, 0x05, 0xA0, 0x00, 0x00, 0x03, 0x08}, "SELECT A000000308"},
		{[]byte{0x00, 0xCB, 0x3F, 0xFF, 0x05, 0x5C, 0x03, 0x5F, 0xC1, 0x05, 0x00}, "GET DATA 5FC105 (certificate 9A)"},
		{[]byte{0x00, 0xCB, 0x3F, 0xFF, 0x05, 0x5C, 0x03, 0x5F, 0xC1, 0x0E, 0x00}, "GET DATA 5FC10E (certificate 83)"},
		{[]byte{0x00, 0xCB, 0x3F, 0xFF, 0x03, 0x5C, 0x01, 0x7E, 0x00}, "GET DATA 7E (Discovery)"},
		{[]byte{0x00, 0xDB, 0x3F, 0xFF, 0x07, 0x5C, 0x03, 0x5F, 0xFF, 0x20, 0x53, 0x00}, "PUT DATA 5FFF20 (cardmod file store (cardcf))"},
		{[]byte{0x00, 0x20, 0x00, 0x80}, "VERIFY 80, no data (is the PIN verified?)"},
		{append([]byte{0x00, 0x20, 0x00, 0x80, 0x08}, bytes.Repeat([]byte{'1'}, 8)...), "VERIFY 80 (PIN)"},
		{[]byte{0x00, 0x20, 0xFF, 0x80}, "VERIFY FF 80 (log out)"},
		{[]byte{0x00, 0x87, 0x03, 0x9B, 0x04, 0x7C, 0x02, 0x81, 0x00, 0x00}, "GENERAL AUTHENTICATE 3DES 9B, management key: challenge request"},
		{[]byte{0x00, 0x87, 0x03, 0x9B, 0x04, 0x7C, 0x02, 0x80, 0x00, 0x00}, "GENERAL AUTHENTICATE 3DES 9B, management key: witness request"},
		{append([]byte{0x00, 0x87, 0x03, 0x9B, 0x0C, 0x7C, 0x0A, 0x82, 0x08}, make([]byte, 8)...), "GENERAL AUTHENTICATE 3DES 9B, management key: response"},
		{append([]byte{0x00, 0x87, 0x11, 0x9A, 0x26, 0x7C, 0x24, 0x82, 0x00, 0x81, 0x20}, make([]byte, 32)...), "GENERAL AUTHENTICATE P-256 9A, sign"},
		{append([]byte{0x00, 0x87, 0x11, 0x82, 0x47, 0x7C, 0x45, 0x82, 0x00, 0x85, 0x41}, make([]byte, 65)...), "GENERAL AUTHENTICATE P-256 82, ECDH"},
		{[]byte{0x00, 0x47, 0x00, 0x83, 0x05, 0xAC, 0x03, 0x80, 0x01, 0x11}, "GENERATE ASYMMETRIC KEY PAIR 83 P-256"},
		{[]byte{0x00, 0xF7, 0x00, 0x9A}, "GET METADATA 9A (Yubico)"},
		{[]byte{0x00, 0xC0, 0x00, 0x00, 0x00}, "GET RESPONSE"},
		{[]byte{0x00, 0x99, 0x00, 0x00}, "INS 99 P1 00 P2 00"},
	} {
		assert.Equal(t, tt.want, decodePIV(mustParse(t, tt.apdu)), "% X", tt.apdu)
	}
}

// TestDecodeGIDS checks the GIDS names (GIDS v2.0 encodings; the file
// identifiers of cardsim/gids).
func TestDecodeGIDS(t *testing.T) {
	for _, tt := range []struct {
		apdu []byte
		want string
	}{
		{[]byte{0x00, 0xCB, 0xA0, 0x10, 0x04, 0x5C, 0x02, 0xDF, 0x22, 0x00}, "GET DATA A010/DF22 (cardcf)"},
		{[]byte{0x00, 0x20, 0x00, 0x82}, "VERIFY 82 (log out: deauthenticate everything)"},
		{[]byte{0x00, 0x22, 0x41, 0xB6, 0x03, 0x84, 0x01, 0x81}, "MANAGE SECURITY ENVIRONMENT 41 B6"},
		{[]byte{0x10, 0x2A, 0x80, 0x86, 0x01, 0x00}, "PERFORM SECURITY OPERATION: decipher [chained]"},
		{[]byte{0x00, 0x2A, 0x9E, 0x9A, 0x01, 0x00, 0x00}, "PERFORM SECURITY OPERATION: compute signature"},
	} {
		assert.Equal(t, tt.want, decodeGIDS(mustParse(t, tt.apdu)), "% X", tt.apdu)
	}
}

// TestCountingCard checks the card-side log: every command the card
// receives, the size of its answer, the status word; a swapped card
// answers from then on; take starts a new log.
func TestCountingCard(t *testing.T) {
	sim, err := simpiv.New(simpiv.Config{})
	require.NoError(t, err)
	c := newCountingCard(sim, decodePIV)
	assert.Equal(t, sim.ATR(), c.ATR())
	sel := append([]byte{0x00, 0xA4, 0x04, 0x00, byte(len(simpiv.AID))}, simpiv.AID...)
	resp := c.Transmit(sel)
	require.GreaterOrEqual(t, len(resp), 2)
	c.Transmit([]byte{0x00, 0xFD, 0x00, 0x00, 0x00})
	c.Transmit([]byte{0x00, 0x01}) // malformed
	c.Reset()
	log, resets := c.take()
	require.Len(t, log, 3)
	assert.Equal(t, 1, resets)
	assert.Equal(t, "SELECT A000000308000010000100", log[0].What)
	assert.Equal(t, uint16(0x9000), log[0].SW)
	assert.Equal(t, len(sel), log[0].Sent)
	assert.Equal(t, len(resp), log[0].Received)
	assert.Equal(t, "GET VERSION (Yubico)", log[1].What)
	assert.Equal(t, 3+2, log[1].Received) // major, minor, patch
	assert.Equal(t, "malformed 2-byte command", log[2].What)
	assert.Equal(t, BudgetCount{APDUs: 3, Sent: len(sel) + 5 + 2, Received: len(resp) + 5 + log[2].Received, Resets: 1},
		countOf(log, resets))

	other, err := simpiv.New(simpiv.Config{Serial: 12345678})
	require.NoError(t, err)
	c.swap(other)
	c.Transmit(sel)
	serial := c.Transmit([]byte{0x00, 0xF8, 0x00, 0x00, 0x00})
	assert.Equal(t, []byte{0x00, 0xBC, 0x61, 0x4E, 0x90, 0x00}, serial, "the swapped card answers")
	log, _ = c.take()
	assert.Len(t, log, 2)
	log, resets = c.take()
	assert.Empty(t, log)
	assert.Zero(t, resets)
}

// TestAfterLogin checks how the pkcs11-tool warm rows are cut: after the
// last VERIFY that carries a PIN, less the login-only run's tail.
func TestAfterLogin(t *testing.T) {
	x := func(ins byte, sent int) exchange { return exchange{INS: ins, Sent: sent, SW: 0x9000} }
	full := budgetSample{trace: []exchange{x(0xA4, 15), x(0x20, 4), x(0x20, 13), x(0x22, 11), x(0x2A, 265), x(0x20, 4)}}
	base := budgetSample{trace: []exchange{x(0xA4, 15), x(0x20, 4), x(0x20, 13), x(0x20, 4)}}
	tab := &BudgetTable{samples: map[budgetCell][]budgetSample{}, notes: map[budgetCell]string{}}
	c := budgetCell{scGIDS, opSignRSA, colOpenSC}
	tab.addDiff(c, full, base)
	got, ok := tab.Count(c.Scenario, c.Op, c.Column)
	require.True(t, ok)
	assert.Equal(t, BudgetCount{APDUs: 2, Sent: 11 + 265}, got)
	assert.Nil(t, afterLogin([]exchange{x(0xA4, 15), x(0x20, 4)}), "no login")
}

// FuzzDecode: the decoders read whatever a client sends, and must not
// panic.
func FuzzDecode(f *testing.F) {
	f.Add([]byte{0x00, 0x87, 0x11, 0x9A, 0x04, 0x7C, 0x82, 0xFF, 0xFF})
	f.Add([]byte{0x00, 0xCB, 0x3F, 0xFF, 0x02, 0x5C, 0x05})
	f.Add([]byte{0x10, 0x2A, 0x80, 0x86, 0x01, 0x00})
	f.Add([]byte{0x00, 0x47, 0x00, 0x9A, 0x02, 0x80, 0x01})
	f.Fuzz(func(t *testing.T, apdu []byte) {
		cmd, err := scrm.ParseCommand(apdu)
		if err != nil {
			return
		}
		assert.NotEmpty(t, decodePIV(cmd))
		assert.NotEmpty(t, decodeGIDS(cmd))
	})
}

// TestExchangeShape: the determinism check's view of an exchange ignores
// the answer's size, also where a 61xx status word tells it.
func TestExchangeShape(t *testing.T) {
	a := exchange{CLA: 0x00, INS: 0xF9, P1: 0x9A, Sent: 5, Received: 258, SW: 0x61BA}
	b := a
	b.Received, b.SW = 257, 0x61B9
	assert.Equal(t, a.shape(), b.shape())
	assert.Equal(t, "00F99A00/5/61xx", a.shape())
	c := a
	c.SW = 0x9000
	assert.NotEqual(t, a.shape(), c.shape(), "the answer completed at once")
	d := a
	d.SW = 0x6A82
	assert.Equal(t, "00F99A00/5/6A82", d.shape())
}

package gids_test

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cardmod/cardmod/cardsim/gids"
)

// splitAPDUs cuts fuzz input into APDUs: each is a length byte then that
// many bytes (the last one takes what is left).
func splitAPDUs(data []byte) [][]byte {
	var out [][]byte
	for len(data) > 0 && len(out) < 64 {
		n := int(data[0])
		data = data[1:]
		n = min(n, len(data))
		out = append(out, data[:n])
		data = data[n:]
	}
	return out
}

func joinAPDUs(apdus ...[]byte) []byte {
	var out []byte
	for _, a := range apdus {
		out = append(out, byte(len(a)))
		out = append(out, a...)
	}
	return out
}

// fuzzSeeds covers each instruction, in and out of the happy path.
func fuzzSeeds() [][]byte {
	sel := h("00 A4 04 00 09 A0 00 00 03 97 42 54 46 59 00")
	verify := h("00 20 00 80 06 31 32 33 34 35 36")
	return [][]byte{
		joinAPDUs(sel, h("00 CB A0 00 04 5C 02 DF 1F 08"), h("00 C0 00 00 00")),
		joinAPDUs(sel, h("00 CB 3F FF 04 5C 02 7F 71 00"), h("00 CB 2F 01 02 5C 00 00")),
		joinAPDUs(sel, verify, h("00 DB A0 10 05 DF 30 02 01 02"), h("00 DB A0 10 03 DF 30 00")),
		joinAPDUs(sel, verify, h("10 DB A0 10 03 DF 31 02"), h("00 DB A0 10 02 01 02")),
		joinAPDUs(sel, h("00 20 00 80"), h("00 20 00 82"), h("00 20 00 80 04 31 31 31 31")),
		joinAPDUs(sel, h("00 24 00 80 0C 31 32 33 34 35 36 36 35 34 33 32 31"), h("00 24 01 80 04 31 32 33 34")),
		joinAPDUs(sel, h("00 2C 02 80 04 31 32 33 34")),
		joinAPDUs(sel, h("00 22 C1 A4 03 83 01 80"), h("00 87 00 00 14 7C 12 81 10 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00"),
			h("00 87 00 00 2C 7C 2A 82 28 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00")),
		joinAPDUs(sel, h("00 22 81 A4 03 83 01 80"), h("00 87 00 00 04 7C 02 81 00 00"), h("00 87 00 00 0C 7C 0A 82 08 00 00 00 00 00 00 00 00")),
		joinAPDUs(sel, verify, h("00 E0 00 00 0E 62 0C 82 01 39 83 02 A0 20 8C 03 03 30 00"), h("00 44 00 00"), h("00 E4 00 00 02 A0 20")),
		joinAPDUs(sel, verify, h("00 E0 00 00 0E 62 0C 82 01 18 83 02 B0 81 8C 03 03 30 00"), h("00 44 00 00"),
			h("00 47 00 00 08 AC 06 80 01 0C 83 01 81"), h("00 CB 3F FF 0A 70 08 84 01 81 A5 03 7F 49 80 00")),
		joinAPDUs(sel, verify, h("00 22 41 B6 06 80 01 0C 84 01 81"), h("00 2A 9E 9A 20 01 02 03 04 05 06 07 08 09 0A 0B 0C 0D 0E 0F 10 11 12 13 14 15 16 17 18 19 1A 1B 1C 1D 1E 1F 20 00")),
		joinAPDUs(sel, verify, h("00 22 41 A4 06 80 01 0C 84 01 81"), h("00 87 00 00 06 7C 04 85 02 04 00 00")),
		joinAPDUs(sel, verify, h("00 22 41 B8 06 80 01 47 84 01 81"), h("00 2A 80 86 03 00 01 02 00"), h("00 22 F3 00")),
		joinAPDUs(sel, verify, h("00 DB 3F FF 0B 70 09 84 01 81 A5 04 87 02 01 02")),
		joinAPDUs(sel, h("00 A4 00 0C 02 3F FF"), h("00 44 00 00"), h("00 E6 00 00"), h("00 A4 00 04 02 A0 10 00")),
		joinAPDUs(sel, h("00 CB A0 10 00 00 04 5C 02 DF 21 00 00"), h("80 CB 3F FF"), h("0C CB 3F FF")),
		joinAPDUs(h("00 CB 3F FF 04 5C 02 7F 71"), h("00 A4 04 00 02 D2 76")),
	}
}

// FuzzTransmit sends random APDU sequences to a card. Odd first bytes
// start from an initialized card with the PIN verified, so that the fuzzer
// reaches the protected commands, even ones from a blank card. Transmit
// must never panic and always answer at least a status word.
func FuzzTransmit(f *testing.F) {
	for i, s := range fuzzSeeds() {
		f.Add(append([]byte{byte(i % 2)}, s...))
	}
	setDebugPanics(f, true)
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		// RSA keys of 1024 bits at most: larger ones take seconds to
		// generate and would stall the fuzzer.
		cfg := gids.Config{Rand: seededRand(5), MaxRSABits: 1024}
		initialized := data[0]%2 == 1
		cfg.Initialized = initialized
		card, err := gids.New(cfg)
		require.NoError(t, err)
		if initialized {
			card.Transmit(h("00 A4 04 00 09 A0 00 00 03 97 42 54 46 59"))
			card.Transmit(h("00 20 00 80 06 31 32 33 34 35 36"))
		}
		for _, a := range splitAPDUs(data[1:]) {
			r := card.Transmit(a)
			require.GreaterOrEqual(t, len(r), 2)
		}
		// The state it reached saves and loads.
		var buf bytes.Buffer
		require.NoError(t, card.Save(&buf))
		_, err = gids.Load(&buf, gids.Config{})
		require.NoError(t, err)
	})
}

// FuzzLoad feeds Load arbitrary documents: it returns a card or an error,
// never panics, and a loaded card saves again.
func FuzzLoad(f *testing.F) {
	tc := newCard(f, gids.Config{Initialized: true})
	var buf bytes.Buffer
	require.NoError(f, tc.c.Save(&buf))
	f.Add(buf.Bytes())
	f.Add([]byte(`{"version":1,"life_cycle":"creation","pin":{"value":"","max":3,"left":3},"files":[]}`))
	f.Add([]byte(`{"version":1,"life_cycle":"operational","pin":{"value":"31323334","max":3,"left":0},"files":[{"fid":"b081","fcp":"YgyCARiDArCBjAMDMAA=","life_cycle":"creation","key":{"secret":"00"}}]}`))
	f.Add([]byte(`{"version":2}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		card, err := gids.Load(bytes.NewReader(data), gids.Config{})
		if err != nil {
			var le *gids.LoadError
			assert.ErrorAs(t, err, &le)
			return
		}
		var out bytes.Buffer
		require.NoError(t, card.Save(&out))
		_, err = gids.Load(&out, gids.Config{})
		require.NoError(t, err)
	})
}

// TestFuzzSeedsRun runs every seed once in the ordinary test run.
func TestFuzzSeedsRun(t *testing.T) {
	for _, s := range fuzzSeeds() {
		for _, init := range []bool{false, true} {
			card, err := gids.New(gids.Config{Initialized: init, Rand: seededRand(5)})
			require.NoError(t, err)
			for _, a := range splitAPDUs(s) {
				assert.GreaterOrEqual(t, len(card.Transmit(a)), 2)
			}
		}
	}
}

func setDebugPanics(tb testing.TB, on bool) { gids.SetDebugPanics(tb, on) }

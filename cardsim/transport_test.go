package cardsim_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/cardmod/cardmod/cardsim"
	"github.com/cardmod/cardmod/scrm"
)

// app answers INS 01 with its data, INS 02 with P1*256+P2 counting bytes,
// INS 03 with a warning carrying data, and records what it got.
type app struct{ got []scrm.Command }

func (a *app) dispatch(cmd scrm.Command) cardsim.Reply {
	a.got = append(a.got, cmd)
	switch cmd.INS {
	case 0x01:
		return cardsim.Reply{Data: cmd.Data, SW: 0x9000}
	case 0x02:
		out := make([]byte, int(cmd.P1)<<8|int(cmd.P2))
		for i := range out {
			out[i] = byte(i)
		}
		return cardsim.Reply{Data: out, SW: 0x9000}
	case 0x03:
		return cardsim.Reply{Data: []byte{1}, SW: 0x6282}
	}
	return cardsim.Reply{SW: 0x6D00}
}

func onlyZero(cla byte) uint16 {
	if cla != 0 {
		return 0x6E00
	}
	return 0
}

func TestTransport(t *testing.T) {
	tests := []struct {
		name  string
		tr    cardsim.Transport
		apdus [][]byte
		want  [][]byte
	}{
		{"short answer", cardsim.Transport{}, [][]byte{{0, 1, 0, 0, 2, 7, 8, 0}}, [][]byte{{7, 8, 0x90, 0}}},
		{"no Le, no data", cardsim.Transport{}, [][]byte{{0, 1, 0, 0, 1, 7}}, [][]byte{{0x90, 0}}},
		{"no Le, answered anyway", cardsim.Transport{AnswerWithoutLe: true}, [][]byte{{0, 1, 0, 0, 1, 7}}, [][]byte{{7, 0x90, 0}}},
		{"short Le gets part and 61xx", cardsim.Transport{}, [][]byte{{0, 2, 0, 5, 2}, {0, 0xC0, 0, 0, 3}}, [][]byte{{0, 1, 0x61, 3}, {2, 3, 4, 0x90, 0}}},
		{"300 bytes by GET RESPONSE", cardsim.Transport{}, [][]byte{{0, 2, 1, 0x2C, 0}, {0, 0xC0, 0, 0, 0}}, [][]byte{append(counting(256), 0x61, 44), append(counting(300)[256:], 0x90, 0)}},
		{"chain assembled", cardsim.Transport{}, [][]byte{{0x10, 1, 0, 0, 2, 1, 2}, {0, 1, 0, 0, 1, 3, 0}}, [][]byte{{0x90, 0}, {1, 2, 3, 0x90, 0}}},
		{"chain too long", cardsim.Transport{MaxCommandData: 2}, [][]byte{{0x10, 1, 0, 0, 2, 1, 2}, {0, 1, 0, 0, 1, 3, 0}}, [][]byte{{0x90, 0}, {0x67, 0}}},
		{"warning keeps data", cardsim.Transport{}, [][]byte{{0, 3, 0, 0, 0}}, [][]byte{{1, 0x62, 0x82}}},
		{"warning drops data", cardsim.Transport{DropDataOnError: true}, [][]byte{{0, 3, 0, 0, 0}}, [][]byte{{0x62, 0x82}}},
		{"GET RESPONSE with nothing pending", cardsim.Transport{}, [][]byte{{0, 0xC0, 0, 0, 0}}, [][]byte{{0x69, 0x85}}},
		{"class refused", cardsim.Transport{}, [][]byte{{0x80, 1, 0, 0}}, [][]byte{{0x6E, 0}}},
		{"malformed", cardsim.Transport{}, [][]byte{{0, 1, 0, 0, 5, 1}}, [][]byte{{0x67, 0}}},
		{"extended", cardsim.Transport{}, [][]byte{append(append([]byte{0, 1, 0, 0, 0, 1, 0x2C}, counting(300)...), 0, 0)}, [][]byte{append(counting(300), 0x90, 0)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var a app
			tr := tc.tr
			for i, apdu := range tc.apdus {
				assert.Equal(t, tc.want[i], tr.Transmit(apdu, onlyZero, a.dispatch), "APDU %d", i)
			}
		})
	}
}

func TestTransportReset(t *testing.T) {
	var a app
	var tr cardsim.Transport
	tr.Transmit([]byte{0, 2, 1, 0, 0}, onlyZero, a.dispatch)
	tr.Reset()
	assert.Equal(t, []byte{0x69, 0x85}, tr.Transmit([]byte{0, 0xC0, 0, 0, 0}, onlyZero, a.dispatch))
}

func counting(n int) []byte {
	out := make([]byte, n)
	for i := range out {
		out[i] = byte(i)
	}
	return out
}

// FuzzTransport checks that any APDU sequence gets a status word and never
// a panic, and that chains stay bounded.
func FuzzTransport(f *testing.F) {
	f.Add([]byte{0x10, 1, 0, 0, 1, 1}, []byte{0, 0xC0, 0, 0, 0})
	f.Add([]byte{0, 2, 2, 0, 0}, []byte{0, 0xC0, 0, 0, 5})
	f.Fuzz(func(t *testing.T, a, b []byte) {
		var ap app
		tr := cardsim.Transport{MaxCommandData: 64}
		for _, apdu := range [][]byte{a, b, a} {
			out := tr.Transmit(apdu, onlyZero, ap.dispatch)
			if len(out) < 2 {
				t.Fatalf("answer % X has no status word", out)
			}
		}
		for _, c := range ap.got {
			if len(c.Data) > 64+max(len(a), len(b)) {
				t.Fatalf("command of %d bytes", len(c.Data))
			}
		}
	})
}

func TestReplay(t *testing.T) {
	script := append(cardsim.ReplayAnswer(1, 0x90, 0x00), cardsim.ReplayAnswer(0x90)...)
	script = append(script, 5, 0x62) // truncated
	r := cardsim.NewReplay([]byte{0x3B, 0}, script)
	assert.Equal(t, []byte{1, 0x90, 0x00}, r.Transmit(nil))
	assert.Equal(t, []byte{0x6A, 0x82}, r.Transmit(nil), "shorter than a status word")
	assert.Equal(t, []byte{0x6A, 0x82}, r.Transmit(nil), "truncated answer")
	assert.Equal(t, []byte{0x6A, 0x82}, r.Transmit(nil), "script over")
	assert.Equal(t, []byte{0x3B, 0}, r.ATR())
}

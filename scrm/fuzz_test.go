package scrm_test

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/cardmod/cardmod/scrm"
	"github.com/cardmod/cardmod/scrm/scrmtest"
)

// FuzzDoResponse puts a card whose answers come from the fuzz input behind a
// virtual reader: however it answers, Do ends with a bounded answer or an
// error, never a panic, an endless loop or unbounded memory.
func FuzzDoResponse(f *testing.F) {
	f.Add([]byte{2, 0x90, 0x00}, uint16(256))
	f.Add([]byte{3, 1, 0x61, 0x02, 4, 2, 3, 0x90, 0x00}, uint16(256))
	f.Add([]byte{2, 0x6C, 0x05, 7, 1, 2, 3, 4, 5, 0x90, 0x00}, uint16(3))
	f.Add([]byte{2, 0x61, 0x00, 2, 0x61, 0x00}, uint16(0))
	f.Add([]byte{1, 0x90}, uint16(1))
	f.Add([]byte{0}, uint16(65535))
	f.Add([]byte{255, 0x61, 0xFF}, uint16(256))
	f.Add([]byte{3, 1, 0x61, 0x01}, uint16(0))             // trickles a byte per round
	f.Add([]byte{2, 0x6C, 0x05, 2, 0x6C, 0x06}, uint16(5)) // never takes the Le it asks for
	f.Add([]byte{3, 1, 0x61, 0x02, 2, 0x6C, 0x01, 3, 2, 0x61, 0x01, 2, 0x6C, 0x01}, uint16(256))
	f.Fuzz(func(t *testing.T, script []byte, ne uint16) {
		// The script is a list of answers, each a length byte then the bytes;
		// when it runs out the card repeats its last answer.
		var answers [][]byte
		for s := script; len(s) > 0; {
			n := int(s[0])
			s = s[1:]
			n = min(n, len(s))
			answers = append(answers, s[:n])
			s = s[n:]
		}
		if len(answers) == 0 {
			answers = [][]byte{nil}
		}
		i := 0
		card := &funcCard{atr: scrmtest.TestATR, answer: func([]byte) []byte {
			a := answers[min(i, len(answers)-1)]
			i++
			return bytes.Clone(a)
		}}
		const bound = 2048
		c, _ := setup(t, card, &scrm.ConnectOptions{MaxResponse: bound})
		nc := int(ne) % 600
		rsp, err := c.Do(context.Background(), scrm.Command{INS: 0xCA, Data: bytes.Repeat([]byte{1}, nc), Ne: int(ne)})
		if len(rsp.Data) > bound {
			t.Fatalf("answer of %d bytes passed the bound %d", len(rsp.Data), bound)
		}
		// Bounded in rounds: the chained parts (255 bytes each on this
		// short-length card), one 6Cxx re-send, the GET RESPONSE rounds an
		// answer of bound bytes needs plus their slack, one 6Cxx re-send of
		// GET RESPONSE.
		parts := max(1, (nc+254)/255)
		if n, most := len(card.received()), parts+1+(bound/256+8)+1; n > most {
			t.Fatalf("%d exchanges for one command, bound %d", n, most)
		}
		if err == nil && rsp.SW != 0x9000 {
			t.Fatalf("no error for SW %04X", rsp.SW)
		}
		var se *scrm.StatusError
		if errors.As(err, &se) && se.SW() != rsp.SW && rsp.SW != 0 {
			t.Fatalf("error SW %04X, response SW %04X", se.SW(), rsp.SW)
		}
		if se != nil && se.SW1 == 0x6C {
			t.Fatalf("6Cxx after the re-send came back as the caller's wrong length: %v", err)
		}
	})
}

// FuzzStatusError checks the status-word mapping for every SW.
func FuzzStatusError(f *testing.F) {
	for _, sw := range []uint16{0x9000, 0x63C3, 0x6300, 0x6983, 0x6A82, 0x6D00, 0x6C10, 0x6F00, 0x0000, 0xFFFF} {
		f.Add(sw)
	}
	sentinels := []error{scrm.ErrNotFound, scrm.ErrSecurityStatus, scrm.ErrWrongPIN, scrm.ErrBlocked,
		scrm.ErrWrongLength, scrm.ErrUnsupported, scrm.ErrWrongData, scrm.ErrWrongParameters,
		scrm.ErrConditionsNotSatisfied, scrm.ErrNoSpace, scrm.ErrExists, scrm.ErrCardError}
	f.Fuzz(func(t *testing.T, sw uint16) {
		e := &scrm.StatusError{SW1: byte(sw >> 8), SW2: byte(sw)}
		if e.Error() == "" {
			t.Fatal("empty error text")
		}
		matched := 0
		for _, s := range sentinels {
			if errors.Is(e, s) {
				matched++
			}
		}
		if matched > 1 {
			t.Fatalf("SW %04X matches %d sentinels", sw, matched)
		}
		if n, ok := e.RetriesLeft(); ok && (n < 0 || n > 15 || !(errors.Is(e, scrm.ErrWrongPIN) || errors.Is(e, scrm.ErrBlocked))) {
			t.Fatalf("SW %04X: retries %d without a PIN meaning", sw, n)
		}
	})
}

// FuzzParseCommand checks that any bytes parse to a command or an error,
// never a panic, and that a parsed command keeps its length fields.
func FuzzParseCommand(f *testing.F) {
	for _, s := range [][]byte{{0, 1, 2, 3}, {0, 1, 2, 3, 0}, {0, 1, 2, 3, 1, 9}, {0, 1, 2, 3, 1, 9, 0},
		{0, 1, 2, 3, 0, 0, 0}, {0, 1, 2, 3, 0, 0, 1, 9}, {0, 1, 2, 3, 0, 0, 1, 9, 0, 0}, {0, 1, 2}} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, apdu []byte) {
		c, err := scrm.ParseCommand(apdu)
		if err != nil {
			if !errors.Is(err, scrm.ErrInvalidCommand) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if c.Ne < 0 || c.Ne > scrm.MaxNe || len(c.Data) > scrm.MaxExtendedNc || len(c.Data) > len(apdu) {
			t.Fatalf("out of range: Ne %d Nc %d", c.Ne, len(c.Data))
		}
	})
}

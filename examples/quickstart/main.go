// Command quickstart shows cardmod at work on the embedded virtual reader
// and card: no hardware and no pcscd needed.
//
//	go run ./examples/quickstart
//
// It lists the readers, reads the card's ATR, sends commands through the
// resource manager (which handles long answers, chaining and status words)
// and prints the APDU trace, with the PIN redacted.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/cardmod/cardmod/scrm"
	"github.com/cardmod/cardmod/scrm/scrmtest"
	"github.com/cardmod/cardmod/scrm/virtual"
)

func main() {
	if err := run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	b := virtual.NewBackend()
	b.AddReader("cardmod Virtual Reader 0").Insert(scrmtest.NewTestCard())
	sc := scrm.NewContext(b)
	defer sc.Release()

	readers, err := sc.ListReaders(ctx)
	if err != nil {
		return err
	}
	fmt.Println("readers:", readers)

	trace := scrm.TracerFunc(func(e *scrm.TraceEvent) {
		note := ""
		if e.RedactedCommand {
			note = "  (data redacted)"
		}
		fmt.Printf("  > %s%s\n  < %s\n", short(e.Command), note, short(e.Response))
	})
	card, err := sc.Connect(ctx, readers[0], &scrm.ConnectOptions{Tracer: trace})
	if err != nil {
		return err
	}
	defer card.Close(scrm.LeaveCard)

	atr, err := scrm.ParseATR(card.ATR())
	if err != nil {
		return err
	}
	fmt.Printf("ATR %s, protocols %v\n", atr, atr.Protocols())

	fmt.Println("a 300-byte answer, fetched with GET RESPONSE:")
	rsp, err := card.Do(ctx, scrm.Command{INS: scrmtest.InsGenerate, P1: 0x01, P2: 0x2C, Ne: scrm.MaxNe})
	if err != nil {
		return err
	}
	fmt.Printf("got %d bytes, SW %04X\n", len(rsp.Data), rsp.SW)

	fmt.Println("a wrong PIN, then the right one:")
	_, err = card.Do(ctx, scrm.Command{INS: scrmtest.InsVerify, P2: 0x80, Data: []byte("0000")})
	var se *scrm.StatusError
	if errors.As(err, &se) {
		n, _ := se.RetriesLeft()
		fmt.Printf("wrong PIN (%v), %d tries left\n", errors.Is(err, scrm.ErrWrongPIN), n)
	}
	if _, err := card.Do(ctx, scrm.Command{INS: scrmtest.InsVerify, P2: 0x80, Data: []byte(scrmtest.TestPIN)}); err != nil {
		return err
	}
	st := card.Stats()
	fmt.Printf("PIN verified; %d APDUs, %d bytes sent, %d received\n", st.APDUs, st.BytesSent, st.BytesReceived)
	return nil
}

// short prints at most 16 bytes of an APDU.
func short(b []byte) string {
	if len(b) <= 16 {
		return fmt.Sprintf("% X", b)
	}
	return fmt.Sprintf("% X ... % X (%d bytes)", b[:8], b[len(b)-2:], len(b))
}

package vpcd_test

import (
	"context"
	"fmt"
	"os/signal"
	"syscall"

	"github.com/cardmod/cardmod/scrm/vpcd"
)

// card is a minimal vpcd.Card: it answers every command with 9000.
type card struct{}

func (card) ATR() []byte                 { return []byte{0x3B, 0x80, 0x80, 0x01, 0x01} }
func (card) Reset()                      {}
func (card) Transmit(apdu []byte) []byte { return []byte{0x90, 0x00} }

// Presents a card in Debian's first vpcd reader until the program is
// interrupted. It needs pcscd with vpcd, so it has no Output line and is
// compiled, not run.
func ExampleServe() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	name, _ := vpcd.ReaderName(vpcd.DefaultPort)
	fmt.Println("card in", name)
	if err := vpcd.Serve(ctx, card{}, nil); err != nil {
		fmt.Println(err)
	}
}

// Inserts a card, then removes it.
func ExampleStart() {
	srv := vpcd.Start(card{}, &vpcd.Config{Addr: "127.0.0.1:35964"})
	// ... wait for SCARD_STATE_PRESENT on "Virtual PCD 00 01", use the card ...
	if err := srv.Remove(); err != nil {
		fmt.Println(err)
	}
}

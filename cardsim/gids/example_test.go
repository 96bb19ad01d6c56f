package gids_test

import (
	"fmt"

	"github.com/cardmod/cardmod/cardsim/gids"
)

// A blank card answers the GIDS SELECT with its FCI and has no master file
// until it is initialized.
func Example() {
	card, err := gids.New(gids.Config{})
	if err != nil {
		panic(err)
	}
	fmt.Printf("% X\n", card.Transmit([]byte{0x00, 0xA4, 0x04, 0x00, 0x09, 0xA0, 0x00, 0x00, 0x03, 0x97, 0x42, 0x54, 0x46, 0x59, 0x00}))
	fmt.Printf("% X\n", card.Transmit([]byte{0x00, 0xCB, 0xA0, 0x00, 0x04, 0x5C, 0x02, 0xDF, 0x1F, 0x00}))
	fmt.Println(card.LifeCycle())
	// Output:
	// 61 12 4F 0B A0 00 00 03 97 42 54 46 59 02 01 73 03 40 01 C0 90 00
	// 6A 82
	// creation
}

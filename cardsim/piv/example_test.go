package piv_test

import (
	"fmt"

	"github.com/cardmod/cardmod/cardsim/piv"
)

// A fresh card answers like a YubiKey 5: SELECT, then GET VERSION.
func ExampleNew() {
	card, err := piv.New(piv.Config{})
	if err != nil {
		panic(err)
	}
	fmt.Printf("% X\n", card.Transmit([]byte{0x00, 0xFD, 0x00, 0x00, 0x00}))
	card.Transmit([]byte{0x00, 0xA4, 0x04, 0x00, 0x05, 0xA0, 0x00, 0x00, 0x03, 0x08})
	fmt.Printf("% X\n", card.Transmit([]byte{0x00, 0xFD, 0x00, 0x00, 0x00}))
	fmt.Printf("% X\n", card.Transmit([]byte{0x00, 0x20, 0x00, 0x80}))
	// Output:
	// 6D 00
	// 05 07 01 90 00
	// 63 C3
}

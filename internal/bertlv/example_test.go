package bertlv_test

import (
	"fmt"

	"github.com/cardmod/cardmod/internal/bertlv"
)

func Example() {
	// A GENERAL AUTHENTICATE template asking for a challenge: 7C { 81 }.
	cmd := bertlv.Encode(0x7C, bertlv.Encode(0x81, nil))
	fmt.Printf("% X\n", cmd)

	// The card's answer: 7C { 81 challenge }.
	answer := []byte{0x7C, 0x06, 0x81, 0x04, 0xDE, 0xAD, 0xBE, 0xEF}
	dyn, err := bertlv.Single(answer, 0x7C)
	if err != nil {
		fmt.Println(err)
		return
	}
	challenge, ok := bertlv.Find(dyn, 0x81)
	fmt.Printf("% X %v\n", challenge, ok)
	// Output:
	// 7C 02 81 00
	// DE AD BE EF true
}

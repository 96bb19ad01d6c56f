package tlv_test

import (
	"fmt"

	"github.com/cardmod/cardmod/cardsim/internal/tlv"
)

// A GENERAL AUTHENTICATE template 7C { 82 (empty), 81 challenge }: built,
// then taken apart as a card does.
func Example() {
	data := tlv.Encode(0x7C, tlv.Join(tlv.Encode(0x82, nil), tlv.Encode(0x81, []byte{1, 2, 3})))
	fmt.Printf("% X\n", data)

	inner, err := tlv.ParseSingle(data, 0x7C)
	if err != nil {
		fmt.Println(err)
		return
	}
	items, err := tlv.ParseAll(inner)
	if err != nil {
		fmt.Println(err)
		return
	}
	if chal, found := tlv.Find(items, 0x81); found {
		fmt.Printf("challenge % X\n", chal.Value)
	}

	_, err = tlv.ParseSingle(data[:5], 0x7C)
	fmt.Println(err)
	// Output:
	// 7C 07 82 00 81 03 01 02 03
	// challenge 01 02 03
	// tlv: truncated data object
}

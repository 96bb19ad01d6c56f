package scrm_test

import (
	"encoding/hex"
	"fmt"

	"github.com/cardmod/cardmod/scrm"
)

// ExampleParseATR decodes the answer to reset of a YubiKey 5 NFC and looks
// it up in a one-entry card database.
func ExampleParseATR() {
	raw, _ := hex.DecodeString("3BFD1300008131FE158073C021C057597562694B657940")
	atr, err := scrm.ParseATR(raw)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("ATR:", atr)
	fmt.Println("protocols:", atr.Protocols(), atr.SupportedProtocols())
	fmt.Println("TCK valid:", atr.TCKValid)
	if c, ok := atr.Capabilities(); ok {
		fmt.Println("extended length:", c.ExtendedLength, "command chaining:", c.CommandChaining)
	}

	// A database entry that ignores TA1 (the clock rate factors) and TCK.
	entry, err := scrm.ParseATRMask(
		"3B FD 13 00 00 81 31 FE 15 80 73 C0 21 C0 57 59 75 62 69 4B 65 79 40",
		"FF FF 00 FF FF FF FF FF FF FF FF FF FF FF FF FF FF FF FF FF FF FF 00",
	)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("matches:", entry.Match(atr.Raw))
	// Output:
	// ATR: 3B FD 13 00 00 81 31 FE 15 80 73 C0 21 C0 57 59 75 62 69 4B 65 79 40
	// protocols: [1] T=1
	// TCK valid: true
	// extended length: true command chaining: true
	// matches: true
}

// ExampleATRMask_Match shows how the mask decides which bits count.
func ExampleATRMask_Match() {
	entry := scrm.ATRMask{
		ATR:  []byte{0x3B, 0x02, 0x14, 0x50},
		Mask: []byte{0xFF, 0xFF, 0xFF, 0x00}, // last byte: any value
	}
	fmt.Println(entry.Match([]byte{0x3B, 0x02, 0x14, 0x51}))
	fmt.Println(entry.Match([]byte{0x3B, 0x02, 0x15, 0x50}))
	fmt.Println(entry.Match([]byte{0x3B, 0x02, 0x14}))
	// Output:
	// true
	// false
	// false
}

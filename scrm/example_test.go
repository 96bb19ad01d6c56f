package scrm_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/cardmod/cardmod/scrm"
	"github.com/cardmod/cardmod/scrm/scrmtest"
	"github.com/cardmod/cardmod/scrm/virtual"
)

// Listing readers and waiting for a card. With package scrm/pcsc instead of
// scrm/virtual the same code runs against the system's readers.
func ExampleContext_ListReaders() {
	b := virtual.NewBackend()
	b.AddReader("Virtual Reader 0").Insert(scrmtest.NewTestCard())
	b.AddReader("Virtual Reader 1")
	sc := scrm.NewContext(b)
	defer sc.Release()

	ctx := context.Background()
	readers, err := sc.ListReaders(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, r := range readers {
		st := []scrm.ReaderState{{Reader: r}}
		if err := sc.GetStatusChange(ctx, st); err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("%s: card present: %v\n", r, st[0].Event.Has(scrm.StatePresent))
	}
	// Output:
	// Virtual Reader 0: card present: true
	// Virtual Reader 1: card present: false
}

// Sending commands: Do applies the ISO 7816-4 rules and turns status words
// into errors.
func ExampleCard_Do() {
	b := virtual.NewBackend()
	b.AddReader("Virtual Reader 0").Insert(scrmtest.NewTestCard())
	sc := scrm.NewContext(b)
	defer sc.Release()

	ctx := context.Background()
	card, err := sc.Connect(ctx, "Virtual Reader 0", nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer card.Close(scrm.LeaveCard)

	// A 600-byte answer arrives in three parts (61xx, GET RESPONSE).
	rsp, err := card.Do(ctx, scrm.Command{INS: scrmtest.InsGenerate, P1: 0x02, P2: 0x58, Ne: scrm.MaxNe})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%d bytes, SW %04X, %d APDUs\n", len(rsp.Data), rsp.SW, card.Stats().APDUs)

	// A wrong PIN is an error that says how many tries are left.
	_, err = card.Do(ctx, scrm.Command{INS: scrmtest.InsVerify, P2: 0x80, Data: []byte("0000")})
	var se *scrm.StatusError
	if errors.Is(err, scrm.ErrWrongPIN) && errors.As(err, &se) {
		n, _ := se.RetriesLeft()
		fmt.Println("wrong PIN, tries left:", n)
	}
	// Output:
	// 600 bytes, SW 9000, 3 APDUs
	// wrong PIN, tries left: 2
}

// A transaction keeps other goroutines and processes out for a run of
// commands, and says whether the card was reset since the last one.
func ExampleCard_Begin() {
	b := virtual.NewBackend()
	b.AddReader("Virtual Reader 0").Insert(scrmtest.NewTestCard())
	sc := scrm.NewContext(b)
	defer sc.Release()

	ctx := context.Background()
	card, err := sc.Connect(ctx, "Virtual Reader 0", nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer card.Close(scrm.LeaveCard)

	tx, err := card.Begin(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	_, err = tx.Do(ctx, scrm.Command{INS: scrmtest.InsVerify, P2: 0x80, Data: []byte(scrmtest.TestPIN)})
	fmt.Println("verify:", err)
	// End with a reset: the login does not outlive the transaction.
	fmt.Println("end:", tx.End(scrm.ResetCard))

	tx, err = card.Begin(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer tx.End(scrm.LeaveCard)
	fmt.Println("was reset:", tx.WasReset())
	// Output:
	// verify: <nil>
	// end: <nil>
	// was reset: true
}

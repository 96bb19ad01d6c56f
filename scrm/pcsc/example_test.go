package pcsc_test

import (
	"context"
	"fmt"
	"time"

	"github.com/cardmod/cardmod/scrm"
	"github.com/cardmod/cardmod/scrm/pcsc"
)

// Lists the readers pcscd knows and whether each holds a card. It needs a
// running pcscd, so it has no Output line and is compiled, not run.
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b, err := pcsc.New(ctx)
	if err != nil {
		fmt.Println("no PC/SC:", err)
		return
	}
	defer b.Release()
	sc := scrm.NewContext(b)
	readers, err := sc.ListReaders(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	states := make([]scrm.ReaderState, len(readers))
	for i, r := range readers {
		states[i] = scrm.ReaderState{Reader: r, Current: scrm.StateUnaware}
	}
	if err := sc.GetStatusChange(ctx, states); err != nil {
		fmt.Println(err)
		return
	}
	for _, st := range states {
		fmt.Printf("%s: card present %v, ATR % X\n", st.Reader, st.Event.Has(scrm.StatePresent), st.ATR)
	}
}

package basecsp_test

import (
	"context"
	"fmt"

	"github.com/cardmod/cardmod/basecsp"
	simpiv "github.com/cardmod/cardmod/cardsim/piv"
	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/minidriver/gids"
	"github.com/cardmod/cardmod/pincache"
)

// Every key of every card, with its card, the plug-in's own address of
// it (a GIDS key reference, a PIV slot), its algorithm and size, whether
// it has a certificate and the PIN it needs; then the GIDS card's key
// found by its key reference.
func ExampleProvider_ListKeys() {
	backend := twoCards() // scrm/pcsc.NewBackend() for the system's readers
	ctx := context.Background()

	p, err := basecsp.Open(basecsp.Config{Backend: backend, Prompt: pincache.NewFixed([]byte(simpiv.DefaultPIN))})
	if err != nil {
		panic(err)
	}
	defer p.Close()
	// The first container of a GIDS card is key reference 81.
	if _, err := p.CreateContainer(ctx, `\\.\Reader 0\gids key`, minidriver.ECDSAP256, 0, nil); err != nil {
		panic(err)
	}

	keys, err := p.ListKeys(ctx)
	if err != nil {
		panic(err)
	}
	for _, k := range keys {
		fmt.Printf("%s: %s key %v, %v %d bits, certificate %t, PIN %d\n",
			k.Reader, k.Plugin, k.Address, k.KeySpec, k.Bits, k.Certificate != nil, k.PIN)
	}
	key, err := p.FindKey(ctx, basecsp.KeyQuery{Address: gids.KeyRef(0x81)})
	if err != nil {
		panic(err)
	}
	fmt.Println("key reference 81:", key.Container().Name())
	// Output:
	// Reader 0: GIDS key 81, AT_ECDSA_P256 256 bits, certificate false, PIN 1
	// Reader 1: PIV key 9A, AT_ECDSA_P256 256 bits, certificate false, PIN 1
	// key reference 81: gids key
}

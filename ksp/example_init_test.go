package ksp_test

import (
	"context"
	"fmt"

	simgids "github.com/cardmod/cardmod/cardsim/gids"
	"github.com/cardmod/cardmod/ksp"
	"github.com/cardmod/cardmod/minidriver/gids"
	"github.com/cardmod/cardmod/pincache"
	"github.com/cardmod/cardmod/scrm/virtual"
)

// Initialize a blank GIDS card and create a key on it.
func ExampleProvider_InitializeCard() {
	blank, err := simgids.New(simgids.Config{}) // as it leaves the factory
	if err != nil {
		panic(err)
	}
	backend := virtual.NewBackend()
	backend.AddReader("Reader 0").Insert(blank)

	pin := []byte("4321")
	adminKey := []byte("0123456789abcdefghijklmn") // 24 bytes: 3DES
	p, err := ksp.Open(ksp.Config{
		Backend:       backend,
		Prompt:        pincache.NewFixed(pin),
		AdminResponse: gids.AdminKey(adminKey),
	})
	if err != nil {
		panic(err)
	}
	defer p.Close()
	ctx := context.Background()

	if _, err := p.InitializeCard(ctx, "Reader 0", ksp.InitParams{PIN: pin, AdminKey: adminKey}); err != nil {
		panic(err)
	}
	k, err := p.CreatePersistedKey(ctx, `\\.\Reader 0\signing`, ksp.ECDSAP256)
	if err != nil {
		panic(err)
	}
	if err := k.Finalize(ctx); err != nil {
		panic(err)
	}
	keys, err := p.Keys(ctx)
	if err != nil {
		panic(err)
	}
	for _, e := range keys {
		fmt.Println(e.FullName(), e.Algorithm, e.Bits)
	}
	// Output:
	// \\.\Reader 0\signing ECDSA_P256 256
}

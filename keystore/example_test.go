package keystore_test

import (
	"context"
	"fmt"

	"github.com/cardmod/cardmod/basecsp"
	simpiv "github.com/cardmod/cardmod/cardsim/piv"
	"github.com/cardmod/cardmod/keystore"
	"github.com/cardmod/cardmod/ksp"
	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/minidriver/piv"
	"github.com/cardmod/cardmod/pincache"
	"github.com/cardmod/cardmod/scrm/virtual"
)

// One Config opens both providers: a key the Base CSP creates is a key the
// KSP opens by the same name.
func Example() {
	sim, err := simpiv.New(simpiv.Config{})
	if err != nil {
		panic(err)
	}
	backend := virtual.NewBackend()
	backend.AddReader("Virtual Reader 0").Insert(sim)

	cfg := keystore.Config{
		Backend:       backend,
		Prompt:        pincache.NewFixed([]byte(simpiv.DefaultPIN)),
		AdminResponse: piv.ManagementKey(simpiv.DefaultManagementKey),
	}
	csp, err := basecsp.Open(cfg)
	if err != nil {
		panic(err)
	}
	defer csp.Close()
	kp, err := ksp.Open(cfg)
	if err != nil {
		panic(err)
	}
	defer kp.Close()
	ctx := context.Background()

	if _, err := csp.CreateContainer(ctx, `\\.\Virtual Reader 0\shared`, minidriver.ECDSAP256, 0, nil); err != nil {
		panic(err)
	}
	key, err := kp.OpenKey(ctx, `\\.\Virtual Reader 0\shared`)
	if err != nil {
		panic(err)
	}
	fmt.Println(key.FullName(), key.Algorithm())
	// Output:
	// \\.\Virtual Reader 0\shared ECDSA_P256
}

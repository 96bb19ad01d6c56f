package basecsp_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"fmt"

	"github.com/cardmod/cardmod/basecsp"
	simpiv "github.com/cardmod/cardmod/cardsim/piv"
	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/minidriver/piv"
	"github.com/cardmod/cardmod/pincache"
	"github.com/cardmod/cardmod/scrm/virtual"
)

// Open a provider on a virtual reader holding a simulated YubiKey, create
// a container with a P-256 key on the card and sign with it.
func Example() {
	sim, err := simpiv.New(simpiv.Config{})
	if err != nil {
		panic(err)
	}
	backend := virtual.NewBackend()
	backend.AddReader("Virtual Reader 0").Insert(sim)

	p, err := basecsp.Open(basecsp.Config{
		Backend:       backend,
		Prompt:        pincache.NewFixed([]byte(simpiv.DefaultPIN)),
		AdminResponse: piv.ManagementKey(simpiv.DefaultManagementKey),
	})
	if err != nil {
		panic(err)
	}
	defer p.Close()
	ctx := context.Background()

	ct, err := p.CreateContainer(ctx, `\\.\Virtual Reader 0\my key`, minidriver.ECDSAP256, 0, nil)
	if err != nil {
		panic(err)
	}
	key, err := ct.Key(minidriver.ECDSAP256)
	if err != nil {
		panic(err)
	}
	var signer crypto.Signer = key // for crypto/tls, crypto/x509, ...

	digest := sha256.Sum256([]byte("hello, card"))
	sig, err := signer.Sign(rand.Reader, digest[:], crypto.SHA256)
	if err != nil {
		panic(err)
	}
	fmt.Println("container:", ct.FullName(), "default:", ct.Default())
	fmt.Println("signature verifies:", ecdsa.VerifyASN1(signer.Public().(*ecdsa.PublicKey), digest[:], sig))
	// Output:
	// container: \\.\Virtual Reader 0\my key default: true
	// signature verifies: true
}

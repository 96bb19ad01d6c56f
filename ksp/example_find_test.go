package ksp_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"fmt"

	simpiv "github.com/cardmod/cardmod/cardsim/piv"
	"github.com/cardmod/cardmod/ksp"
	"github.com/cardmod/cardmod/minidriver/piv"
	"github.com/cardmod/cardmod/pincache"
	"github.com/cardmod/cardmod/scrm/virtual"
)

// provisioned returns a reader holding a PIV card with a P-256 key in
// slot 9A, as an issuer would hand it out.
func provisioned() *virtual.Backend {
	yk, err := simpiv.New(simpiv.Config{})
	if err != nil {
		panic(err)
	}
	backend := virtual.NewBackend()
	backend.AddReader("Reader 0").Insert(yk)
	admin, err := ksp.Open(ksp.Config{Backend: backend, Prompt: pincache.NewFixed([]byte(simpiv.DefaultPIN)),
		AdminResponse: piv.ManagementKey(simpiv.DefaultManagementKey)})
	if err != nil {
		panic(err)
	}
	defer admin.Close()
	ctx := context.Background()
	k, err := admin.CreatePersistedKey(ctx, "", ksp.ECDSAP256) // the first key of a PIV card is slot 9A
	if err != nil {
		panic(err)
	}
	if err := k.Finalize(ctx); err != nil {
		panic(err)
	}
	return backend
}

// The key in slot 9A of the first PIV card, found by its slot rather than
// by its container name (a GUID when another tool made it).
func ExampleProvider_FindKey() {
	backend := provisioned() // scrm/pcsc.NewBackend() for the system's readers
	ctx := context.Background()

	p, err := ksp.Open(ksp.Config{Backend: backend, Prompt: pincache.NewFixed([]byte(simpiv.DefaultPIN))})
	if err != nil {
		panic(err)
	}
	defer p.Close()
	key, err := p.FindKey(ctx, ksp.KeyQuery{Address: piv.SlotAuthentication})
	if err != nil {
		panic(err)
	}

	digest := sha256.Sum256([]byte("hello, card"))
	sig, err := key.Sign(rand.Reader, digest[:], crypto.SHA256)
	if err != nil {
		panic(err)
	}
	fmt.Println("algorithm:", key.Algorithm())
	fmt.Println("signature verifies:", ecdsa.VerifyASN1(key.Public().(*ecdsa.PublicKey), digest[:], sig))
	// Output:
	// algorithm: ECDSA_P256
	// signature verifies: true
}

// Every key of every card with what its user knows of it; OpenKeySpec
// opens one by its full name and key spec.
func ExampleProvider_ListKeys() {
	p, err := ksp.Open(ksp.Config{Backend: provisioned(), Prompt: pincache.NewFixed([]byte(simpiv.DefaultPIN))})
	if err != nil {
		panic(err)
	}
	defer p.Close()
	ctx := context.Background()
	keys, err := p.ListKeys(ctx)
	if err != nil {
		panic(err)
	}
	for _, k := range keys {
		key, err := p.OpenKeySpec(ctx, k.FullName(), k.KeySpec)
		if err != nil {
			panic(err)
		}
		fmt.Printf("%s: %s slot %v, %s, certificate %t\n", k.Reader, k.Plugin, k.Address, key.Algorithm(), k.Certificate != nil)
	}
	// Output:
	// Reader 0: PIV slot 9A, ECDSA_P256, certificate false
}

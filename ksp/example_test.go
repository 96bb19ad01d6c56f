package ksp_test

import (
	"context"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"fmt"

	simpiv "github.com/cardmod/cardmod/cardsim/piv"
	"github.com/cardmod/cardmod/ksp"
	"github.com/cardmod/cardmod/minidriver/kdf"
	"github.com/cardmod/cardmod/minidriver/piv"
	"github.com/cardmod/cardmod/pincache"
	"github.com/cardmod/cardmod/scrm/virtual"
)

// Example creates an ECDSA key in two steps on a simulated YubiKey, signs
// with it, then agrees a secret with an ECDH key and derives a key.
func Example() {
	sim, err := simpiv.New(simpiv.Config{})
	if err != nil {
		panic(err)
	}
	backend := virtual.NewBackend()
	backend.AddReader("Reader 0").Insert(sim)

	p, err := ksp.Open(ksp.Config{
		Backend:       backend,
		Prompt:        pincache.NewFixed([]byte(simpiv.DefaultPIN)),
		AdminResponse: piv.ManagementKey(simpiv.DefaultManagementKey),
	})
	if err != nil {
		panic(err)
	}
	defer p.Close()
	ctx := context.Background()

	// NCryptCreatePersistedKey, then NCryptFinalizeKey.
	k, err := p.CreatePersistedKey(ctx, `\\.\Reader 0\signing`, ksp.ECDSAP256)
	if err != nil {
		panic(err)
	}
	if err := k.Finalize(ctx); err != nil {
		panic(err)
	}
	group, _ := k.Property(ctx, ksp.PropAlgorithmGroup)
	length, _ := k.Property(ctx, ksp.PropLength)
	fmt.Println(k.FullName(), group, length)

	digest := sha256.Sum256([]byte("hello"))
	sig, err := k.Sign(rand.Reader, digest[:], crypto.SHA256)
	if err != nil {
		panic(err)
	}
	fmt.Println("signature verifies:", ecdsa.VerifyASN1(k.Public().(*ecdsa.PublicKey), digest[:], sig))

	// An ECDH key: agree with a peer, derive with SP800-56A.
	dh, err := p.CreatePersistedKey(ctx, "agreement", ksp.ECDHP256)
	if err != nil {
		panic(err)
	}
	if err := dh.Finalize(ctx); err != nil {
		panic(err)
	}
	peer, _ := ecdh.P256().GenerateKey(rand.Reader)
	s, err := dh.SecretAgreement(ctx, peer.PublicKey())
	if err != nil {
		panic(err)
	}
	defer s.Close()
	key, err := s.Derive(kdf.SP80056AConcat{Hash: crypto.SHA256, AlgorithmID: []byte("AES"),
		PartyUInfo: []byte("card"), PartyVInfo: []byte("peer"), Length: 16})
	if err != nil {
		panic(err)
	}
	fmt.Println("derived key bytes:", len(key))

	keys, _ := p.Keys(ctx)
	for _, e := range keys {
		fmt.Println(e.Name, e.Algorithm, e.KeySpec)
	}
	// Output:
	// \\.\Reader 0\signing ECDSA 256
	// signature verifies: true
	// derived key bytes: 16
	// signing ECDSA_P256 AT_ECDSA_P256
	// agreement ECDH_P256 AT_ECDHE_P256
}

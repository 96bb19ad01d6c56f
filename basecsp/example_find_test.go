package basecsp_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"time"

	"github.com/cardmod/cardmod/basecsp"
	simgids "github.com/cardmod/cardmod/cardsim/gids"
	simpiv "github.com/cardmod/cardmod/cardsim/piv"
	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/minidriver/piv"
	"github.com/cardmod/cardmod/pincache"
	"github.com/cardmod/cardmod/scrm/virtual"
)

// twoCards returns readers holding a GIDS card ("Reader 0") and a PIV
// card with a P-256 key in slot 9A ("Reader 1"), as an issuer would hand
// them out.
func twoCards() *virtual.Backend {
	gids, err := simgids.New(simgids.Config{Initialized: true})
	if err != nil {
		panic(err)
	}
	yk, err := simpiv.New(simpiv.Config{})
	if err != nil {
		panic(err)
	}
	backend := virtual.NewBackend()
	backend.AddReader("Reader 0").Insert(gids)
	backend.AddReader("Reader 1").Insert(yk)
	admin, err := basecsp.Open(basecsp.Config{Backend: backend, Prompt: pincache.NewFixed([]byte(simpiv.DefaultPIN)),
		AdminResponse: piv.ManagementKey(simpiv.DefaultManagementKey)})
	if err != nil {
		panic(err)
	}
	defer admin.Close()
	// The first container of a PIV card is slot 9A.
	if _, err := admin.CreateContainer(context.Background(), `\\.\Reader 1\`, minidriver.ECDSAP256, 0, nil); err != nil {
		panic(err)
	}
	return backend
}

// The key in slot 9A of the first PIV card, found by its slot: the GIDS
// card in the first reader has no PIV slots and is passed over.
func ExampleProvider_FindKey() {
	backend := twoCards() // scrm/pcsc.NewBackend() for the system's readers
	ctx := context.Background()

	p, err := basecsp.Open(basecsp.Config{Backend: backend, Prompt: pincache.NewFixed([]byte(simpiv.DefaultPIN))})
	if err != nil {
		panic(err)
	}
	defer p.Close()
	key, err := p.FindKey(ctx, basecsp.KeyQuery{Address: piv.SlotAuthentication})
	if err != nil {
		panic(err)
	}

	digest := sha256.Sum256([]byte("hello, card"))
	sig, err := key.Sign(rand.Reader, digest[:], crypto.SHA256)
	if err != nil {
		panic(err)
	}
	fmt.Println("reader:", key.Container().Reader())
	fmt.Println("signature verifies:", ecdsa.VerifyASN1(key.Public().(*ecdsa.PublicKey), digest[:], sig))
	// Output:
	// reader: Reader 1
	// signature verifies: true
}

// A command that signs once and exits finds the key and signs in one
// call: the look-up and the signature share one transaction.
func ExampleProvider_Sign() {
	backend := twoCards() // scrm/pcsc.NewBackend() for the system's readers
	p, err := basecsp.Open(basecsp.Config{Backend: backend, Prompt: pincache.NewFixed([]byte(simpiv.DefaultPIN))})
	if err != nil {
		panic(err)
	}
	defer p.Close()
	digest := sha256.Sum256([]byte("hello, card"))
	sig, key, err := p.Sign(context.Background(), basecsp.KeyQuery{Address: piv.SlotAuthentication}, rand.Reader, digest[:], crypto.SHA256)
	if err != nil {
		panic(err)
	}
	fmt.Println("reader:", key.Container().Reader())
	fmt.Println("signature verifies:", ecdsa.VerifyASN1(key.Public().(*ecdsa.PublicKey), digest[:], sig))
	// Output:
	// reader: Reader 1
	// signature verifies: true
}

// A certificate a CA issued for a card key is stored with the key it is
// for, found by the certificate's public key on whichever card holds it:
// the look-up and the write share one transaction.
func ExampleProvider_SetCertificate() {
	backend := twoCards() // scrm/pcsc.NewBackend() for the system's readers
	ctx := context.Background()
	p, err := basecsp.Open(basecsp.Config{Backend: backend, Prompt: pincache.NewFixed([]byte(simpiv.DefaultPIN)),
		AdminResponse: piv.ManagementKey(simpiv.DefaultManagementKey)})
	if err != nil {
		panic(err)
	}
	defer p.Close()

	// The CA's side: a certificate for the card key's public key.
	key, err := p.FindKey(ctx, basecsp.KeyQuery{Address: piv.SlotAuthentication})
	if err != nil {
		panic(err)
	}
	ca, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Alice"},
		NotBefore: time.Now(), NotAfter: time.Now().Add(24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), ca)
	if err != nil {
		panic(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		panic(err)
	}

	stored, err := p.SetCertificate(ctx, basecsp.KeyQuery{}, cert)
	if err != nil {
		panic(err)
	}
	got, err := stored.Certificate(ctx)
	if err != nil {
		panic(err)
	}
	fmt.Println("reader:", stored.Container().Reader())
	fmt.Println("certificate:", got.Subject.CommonName)
	// Output:
	// reader: Reader 1
	// certificate: Alice
}

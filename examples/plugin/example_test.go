package plugin_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"fmt"

	"github.com/cardmod/cardmod/examples/plugin"
	"github.com/cardmod/cardmod/examples/plugin/token"
	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/scrm"
	"github.com/cardmod/cardmod/scrm/virtual"
)

// Example puts a simulated Example Token in a virtual reader, initializes
// it, opens it through a registry holding the plug-in, generates a key in
// container 0 and signs with it, each step in a transaction of its own as
// the providers' engine runs them.
func Example() {
	ctx := context.Background()
	tok, err := token.New(token.Config{})
	if err != nil {
		panic(err)
	}
	b := virtual.NewBackend()
	b.AddReader("Example Reader").Insert(tok)
	card, err := scrm.NewContext(b).Connect(ctx, "Example Reader", nil)
	if err != nil {
		panic(err)
	}
	defer card.Close(scrm.LeaveCard)
	pin := []byte(token.DefaultPIN)
	if err := plugin.Initialize(ctx, card, pin, nil); err != nil {
		panic(err)
	}

	md, match, err := minidriver.NewRegistry(plugin.Plugin{}).Open(ctx, card, minidriver.Env{})
	if err != nil {
		panic(err)
	}
	defer md.Close()
	fmt.Println("plug-in:", match.Plugin.Name(), "by ATR:", match.ByATR)

	// do runs f in one transaction with the user PIN verified: Resume
	// first, a reset at the end so that no login survives.
	do := func(f func(tx *scrm.Tx) error) {
		tx, err := card.Begin(ctx)
		if err != nil {
			panic(err)
		}
		defer tx.End(scrm.ResetCard)
		if err := md.Resume(ctx, tx); err != nil {
			panic(err)
		}
		if _, err := md.Authenticate(ctx, tx, minidriver.RoleUser, pin, 0); err != nil {
			panic(err)
		}
		if err := f(tx); err != nil {
			panic(err)
		}
	}

	digest := sha256.Sum256([]byte("hello, token"))
	var sig []byte
	var pub *ecdsa.PublicKey
	do(func(tx *scrm.Tx) error {
		if err := minidriver.CreateContainer(ctx, md, tx, minidriver.CreateContainerRequest{Index: 0, KeySpec: minidriver.ECDSAP256}); err != nil {
			return err
		}
		info, err := md.ContainerInfo(ctx, tx, 0)
		pub, _ = info.Signature.(*ecdsa.PublicKey)
		return err
	})
	do(func(tx *scrm.Tx) error {
		sig, err = md.SignData(ctx, tx, minidriver.SignRequest{Container: 0, KeySpec: minidriver.ECDSAP256, Digest: digest[:]})
		return err
	})
	fmt.Println("signature verifies:", ecdsa.VerifyASN1(pub, digest[:], sig))
	// Output:
	// plug-in: Example Token by ATR: true
	// signature verifies: true
}

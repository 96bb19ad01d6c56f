package piv_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"fmt"

	simpiv "github.com/cardmod/cardmod/cardsim/piv"
	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/minidriver/piv"
	"github.com/cardmod/cardmod/scrm"
	"github.com/cardmod/cardmod/scrm/virtual"
)

// Example opens a simulated YubiKey with the PIV plug-in, generates a P-256
// key in slot 9A (container 0) and signs a digest with it, each step in a
// transaction of its own as the engine runs them.
func Example() {
	ctx := context.Background()
	sim, err := simpiv.New(simpiv.Config{})
	if err != nil {
		panic(err)
	}
	b := virtual.NewBackend()
	b.AddReader("Virtual Reader 0").Insert(sim)
	card, err := scrm.NewContext(b).Connect(ctx, "Virtual Reader 0", nil)
	if err != nil {
		panic(err)
	}
	defer card.Close(scrm.LeaveCard)

	md, match, err := minidriver.NewRegistry(piv.Plugin{}).Open(ctx, card, minidriver.Env{})
	if err != nil {
		panic(err)
	}
	defer md.Close()
	fmt.Println("plug-in:", match.Plugin.Name(), "by ATR:", match.ByATR)

	// do runs f in one transaction: Resume first, a reset at the end so
	// that no login survives.
	do := func(f func(tx *scrm.Tx) error) {
		tx, err := card.Begin(ctx)
		if err != nil {
			panic(err)
		}
		defer tx.End(scrm.ResetCard)
		if err := md.Resume(ctx, tx); err != nil {
			panic(err)
		}
		if err := f(tx); err != nil {
			panic(err)
		}
	}

	// Key generation needs the management key (ROLE_ADMIN).
	do(func(tx *scrm.Tx) error {
		challenge, err := minidriver.Challenge(ctx, md, tx, piv.PINAdmin)
		if err != nil {
			return err
		}
		response, err := piv.ManagementKeyResponse(simpiv.DefaultManagementKey, challenge)
		if err != nil {
			return err
		}
		if _, err := md.Authenticate(ctx, tx, piv.PINAdmin, response, 0); err != nil {
			return err
		}
		return minidriver.CreateContainer(ctx, md, tx, minidriver.CreateContainerRequest{Index: 0, KeySpec: minidriver.ECDSAP256})
	})

	// Signing needs the PIN of the container.
	digest := sha256.Sum256([]byte("hello, card"))
	do(func(tx *scrm.Tx) error {
		pin, err := md.ContainerPIN(ctx, tx, 0)
		if err != nil {
			return err
		}
		if _, err := md.Authenticate(ctx, tx, pin, []byte(simpiv.DefaultPIN), 0); err != nil {
			return err
		}
		info, err := md.ContainerInfo(ctx, tx, 0)
		if err != nil {
			return err
		}
		sig, err := md.SignData(ctx, tx, minidriver.SignRequest{Container: 0, KeySpec: minidriver.ECDSAP256, Digest: digest[:]})
		if err != nil {
			return err
		}
		fmt.Println("signature verifies:", ecdsa.VerifyASN1(info.Signature.(*ecdsa.PublicKey), digest[:], sig))
		return nil
	})
	// Output:
	// plug-in: PIV by ATR: true
	// signature verifies: true
}

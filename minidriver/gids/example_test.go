package gids_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"fmt"

	simgids "github.com/cardmod/cardmod/cardsim/gids"
	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/minidriver/gids"
	"github.com/cardmod/cardmod/scrm"
	"github.com/cardmod/cardmod/scrm/virtual"
)

// Example initializes a blank simulated GIDS card with the GIDS plug-in,
// generates a P-256 key in container 0 and signs a digest with it, each
// step in a transaction of its own as the engine runs them.
func Example() {
	ctx := context.Background()
	sim, err := simgids.New(simgids.Config{}) // blank, as from the factory
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

	md, match, err := minidriver.NewRegistry(gids.Plugin{}).Open(ctx, card, minidriver.Env{})
	if err != nil {
		panic(err)
	}
	defer md.Close()
	fmt.Println("plug-in:", match.Plugin.Name())

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

	adminKey := []byte("0123456789abcdefghijklmn") // 24 bytes: 3DES
	do(func(tx *scrm.Tx) error {
		return md.(*gids.Card).Initialize(ctx, tx, gids.InitParams{PIN: []byte("1234"), AdminKey: adminKey})
	})

	// The admin key answers a challenge: unblocking or changing PINs.
	do(func(tx *scrm.Tx) error {
		challenge, err := minidriver.Challenge(ctx, md, tx, gids.PINAdmin)
		if err != nil {
			return err
		}
		resp, err := gids.AdminKeyResponse(adminKey, challenge)
		if err != nil {
			return err
		}
		_, err = md.Authenticate(ctx, tx, gids.PINAdmin, resp, 0)
		return err
	})

	digest := sha256.Sum256([]byte("hello"))
	do(func(tx *scrm.Tx) error {
		if _, err := md.Authenticate(ctx, tx, gids.PINUser, []byte("1234"), 0); err != nil {
			return err
		}
		if err := minidriver.CreateContainer(ctx, md, tx, minidriver.CreateContainerRequest{Index: 0, KeySpec: minidriver.ECDSAP256}); err != nil {
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
		files, err := md.ListFiles(ctx, tx, "mscp")
		fmt.Println("mscp:", files)
		return err
	})
	// Output:
	// plug-in: GIDS
	// signature verifies: true
	// mscp: [cmapfile]
}

package basecsp_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/cardmod/cardmod/basecsp"
	simgids "github.com/cardmod/cardmod/cardsim/gids"
	simpiv "github.com/cardmod/cardmod/cardsim/piv"
	"github.com/cardmod/cardmod/keystore"
	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/minidriver/gids"
	"github.com/cardmod/cardmod/minidriver/piv"
	"github.com/cardmod/cardmod/pincache"
	"github.com/cardmod/cardmod/scrm/virtual"
)

// A blank GIDS card beside a YubiKey: the listing shows the YubiKey and
// reports the blank card; InitializeCard initializes it, and one
// provider then writes to both cards, each with its own admin key.
func ExampleProvider_InitializeCard() {
	yubikey, err := simpiv.New(simpiv.Config{})
	if err != nil {
		panic(err)
	}
	blank, err := simgids.New(simgids.Config{}) // as it leaves the factory
	if err != nil {
		panic(err)
	}
	backend := virtual.NewBackend()
	backend.AddReader("Reader 0").Insert(yubikey)
	backend.AddReader("Reader 1").Insert(blank)

	gidsAdminKey := []byte("0123456789abcdefghijklmn") // 24 bytes: 3DES
	p, err := basecsp.Open(basecsp.Config{
		Backend: backend,
		Prompt:  pincache.NewFixed([]byte(simpiv.DefaultPIN)),
		AdminResponse: minidriver.AdminResponders(
			piv.ManagementKey(simpiv.DefaultManagementKey),
			gids.AdminKey(gidsAdminKey)),
	})
	if err != nil {
		panic(err)
	}
	defer p.Close()
	ctx := context.Background()

	cards, err := p.Cards(ctx)
	var unread keystore.CardErrors
	if errors.As(err, &unread) {
		for _, e := range unread {
			fmt.Printf("cannot read the card in %s; blank: %v\n", e.Reader, errors.Is(e.Err, minidriver.ErrNotInitialized))
		}
	} else if err != nil {
		panic(err)
	}
	fmt.Println("cards:", len(cards))

	card, err := p.InitializeCard(ctx, "Reader 1", basecsp.InitParams{
		PIN:      []byte(simpiv.DefaultPIN),
		AdminKey: gidsAdminKey,
	})
	if err != nil {
		panic(err)
	}
	info, err := card.Info(ctx)
	if err != nil {
		panic(err)
	}
	fmt.Println("initialized:", info.Reader, info.Plugin)

	for _, name := range []string{`\\.\Reader 0\piv key`, `\\.\Reader 1\gids key`} {
		if _, err := p.CreateContainer(ctx, name, minidriver.ECDSAP256, 0, nil); err != nil {
			panic(err)
		}
	}
	list, err := p.Containers(ctx)
	if err != nil {
		panic(err)
	}
	for _, e := range list {
		fmt.Println(e.FullName())
	}
	// Output:
	// cannot read the card in Reader 1; blank: true
	// cards: 1
	// initialized: Reader 1 GIDS
	// \\.\Reader 0\piv key
	// \\.\Reader 1\gids key
}

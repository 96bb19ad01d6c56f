package pincache_test

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/pincache"
)

// verify stands for the card's VERIFY (minidriver.Card.Authenticate).
func verify(right string, pin *pincache.Secret) error {
	if !pin.Equal(pincache.NewSecret([]byte(right))) {
		return &minidriver.PINError{PIN: minidriver.RoleUser, AttemptsLeft: 2}
	}
	return nil
}

// A Source takes the PIN from the cache when the card's policy allows it
// and prompts otherwise; a cached PIN that fails is dropped, so the next
// authentication prompts instead of retrying it.
func ExampleSource() {
	ctx := context.Background()
	prompt := pincache.Func(func(_ context.Context, r pincache.Request) (*pincache.Secret, error) {
		fmt.Println("prompt:", strings.TrimSpace(r.Question()))
		return pincache.NewSecret([]byte("123456")), nil
	})
	src := &pincache.Source{Cache: pincache.New(pincache.Config{}), Prompt: prompt}
	req := pincache.Request{
		PIN: minidriver.RoleUser,
		Info: minidriver.PINInfo{
			Type:        minidriver.AlphanumericPIN,
			Purpose:     minidriver.DigitalSignaturePIN,
			CachePolicy: minidriver.PINCachePolicy{Type: minidriver.PINCacheNormal},
		},
		Card:         pincache.CardID{GUID: [16]byte{1, 2, 3}},
		CardName:     "Alice's card",
		AttemptsLeft: -1,
	}
	authenticate := func(right string) {
		att, err := src.Begin(ctx, req)
		if err != nil {
			fmt.Println("error:", err)
			return
		}
		fmt.Printf("using %v PIN, cached=%v\n", att.Secret(), att.Cached())
		err = verify(right, att.Secret())
		att.Done(err)
		if errors.Is(err, minidriver.ErrWrongPIN) {
			fmt.Println("card:", err)
		}
	}
	authenticate("123456") // prompts, then caches the verified PIN
	authenticate("123456") // from the cache
	authenticate("654321") // the PIN changed elsewhere: the cached one fails and is dropped
	authenticate("123456") // prompts again

	src.Silent = true
	src.Cache.PurgeAll()
	authenticate("123456")
	// Output:
	// prompt: Enter the signature PIN for "Alice's card":
	// using [REDACTED] PIN, cached=false
	// using [REDACTED] PIN, cached=true
	// using [REDACTED] PIN, cached=true
	// card: minidriver: wrong user PIN, 2 attempts left
	// prompt: Enter the signature PIN for "Alice's card":
	// using [REDACTED] PIN, cached=false
	// error: pincache: PIN needed in a silent context: PIN 1 of card 01020300000000000000000000000000
}

// Cache policies decide what is kept: a Timed PIN lives Info seconds from
// insertion; a PIN under PINCacheNone is never stored.
func ExampleCache() {
	c := pincache.New(pincache.Config{})
	card := pincache.CardID{GUID: [16]byte{0xCA, 0xFE}}
	timed := minidriver.PINCachePolicy{Type: minidriver.PINCacheTimed, Info: 300}
	none := minidriver.PINCachePolicy{Type: minidriver.PINCacheNone}

	c.ObserveFreshness(card, 5) // at the start of the transaction
	_ = c.Put(card, minidriver.RoleUser, timed, pincache.NewSecret([]byte("1234")))
	_ = c.Put(card, minidriver.RoleAdmin, none, pincache.NewSecret([]byte("admin")))
	fmt.Println("entries:", c.Len())

	fmt.Println("purged on same freshness:", c.ObserveFreshness(card, 5))
	fmt.Println("purged on new freshness:", c.ObserveFreshness(card, 6))
	fmt.Println("entries:", c.Len())
	// Output:
	// entries: 1
	// purged on same freshness: false
	// purged on new freshness: true
	// entries: 0
}

package basecsp_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cardmod/cardmod/basecsp"
	simpiv "github.com/cardmod/cardmod/cardsim/piv"
	"github.com/cardmod/cardmod/csptest"
	"github.com/cardmod/cardmod/keystore"
	"github.com/cardmod/cardmod/minidriver"
)

// behaviour is the provider behaviour kit's view of the Base CSP.
var behaviour = csptest.Suite{Open: openSuite, PINChange: true, ErrClosed: keystore.ErrClosed, ErrNoCertificate: keystore.ErrNoCertificate}

// After Close, every method of the provider, its cards, containers and
// keys fails with keystore.ErrClosed, sends nothing to the card and asks for no
// PIN (csptest.RunClosed).
func TestClosedMeansClosed(t *testing.T) {
	csptest.RunClosed(t, behaviour, func(t *testing.T, sp csptest.Provider) csptest.Closed {
		ctx := context.Background()
		p := sp.(suiteProvider).p
		ct, err := p.CreateContainer(ctx, "rsa", minidriver.KeyExchange, 0, rsaKey(t))
		require.NoError(t, err)
		key, err := ct.Key(minidriver.KeyExchange)
		require.NoError(t, err)
		pc, err := p.Card(ctx, "")
		require.NoError(t, err)
		sk, err := p.GenerateSessionKey(basecsp.AES128)
		require.NoError(t, err)
		blob, err := sk.Export(key, basecsp.WrapPKCS1)
		require.NoError(t, err)
		digest := sha256.Sum256([]byte("closed"))
		ciphertext := encryptPKCS1v15(t, &rsaKey(t).PublicKey, []byte("secret"))
		return csptest.Closed{
			Close:  p.Close,
			Values: []any{p, pc, ct, key},
			Calls: map[string]func() error{
				"Provider.Close":          func() error { return p.Close() },
				"Provider.Cards":          func() error { _, err := p.Cards(ctx); return err },
				"Provider.InitializeCard": func() error { _, err := p.InitializeCard(ctx, "reader", basecsp.InitParams{}); return err },
				"Provider.Card":           func() error { _, err := p.Card(ctx, ""); return err },
				"Provider.CardInfo":       func() error { _, err := p.CardInfo(ctx, ""); return err },
				"Provider.Certificates":   func() error { _, err := p.Certificates(ctx); return err },
				"Provider.Container":      func() error { _, err := p.Container(ctx, "rsa"); return err },
				"Provider.Containers":     func() error { _, err := p.Containers(ctx); return err },
				"Provider.FindKey":        func() error { _, err := p.FindKey(ctx, basecsp.KeyQuery{Container: "rsa"}); return err },
				"Provider.Sign": func() error {
					d := sha256.Sum256(nil)
					_, _, err := p.Sign(ctx, basecsp.KeyQuery{Container: "rsa"}, nil, d[:], crypto.SHA256)
					return err
				},
				"Provider.ListKeys": func() error { _, err := p.ListKeys(ctx); return err },
				"Provider.SetCertificate": func() error {
					_, err := p.SetCertificate(ctx, basecsp.KeyQuery{Container: "rsa"}, nil)
					return err
				},
				"Provider.CreateContainer": func() error { _, err := p.CreateContainer(ctx, "new", minidriver.ECDSAP256, 0, nil); return err },
				"Provider.DeleteContainer": func() error { return p.DeleteContainer(ctx, "rsa") },
				"Provider.GenerateSessionKey": func() error {
					_, err := p.GenerateSessionKey(basecsp.AES128)
					return err
				},
				"Card.Info":                func() error { _, err := pc.Info(ctx); return err },
				"Card.ChangePIN":           func() error { return pc.ChangePIN(ctx, minidriver.RoleUser, []byte("123456"), []byte("654321")) },
				"Card.UnblockPIN":          func() error { return pc.UnblockPIN(ctx, minidriver.RoleUser, 2, []byte("12345678"), []byte("654321")) },
				"Card.RootCertificates":    func() error { _, err := pc.RootCertificates(ctx); return err },
				"Card.SetRootCertificates": func() error { return pc.SetRootCertificates(ctx, nil) },
				"Container.Key":            func() error { _, err := ct.Key(minidriver.KeyExchange); return err },
				"Container.Delete":         func() error { return ct.Delete(ctx) },
				"Container.SetDefault":     func() error { return ct.SetDefault(ctx) },
				"Key.Sign":                 func() error { _, err := key.Sign(rand.Reader, digest[:], crypto.SHA256); return err },
				"Key.SignContext":          func() error { _, err := key.SignContext(ctx, rand.Reader, digest[:], crypto.SHA256); return err },
				"Key.Decrypt":              func() error { _, err := key.Decrypt(rand.Reader, ciphertext, nil); return err },
				"Key.DecryptContext":       func() error { _, err := key.DecryptContext(ctx, rand.Reader, ciphertext, nil); return err },
				"Key.Certificate":          func() error { _, err := key.Certificate(ctx); return err },
				"Key.SetCertificate":       func() error { return key.SetCertificate(ctx, nil) },
				"Key.PIN":                  func() error { _, err := key.PIN(ctx); return err },
				"Key.PINInfo":              func() error { _, err := key.PINInfo(ctx); return err },
				"Key.ImportSessionKey":     func() error { _, err := key.ImportSessionKey(ctx, blob, basecsp.WrapPKCS1); return err },
				// Beyond the four types: what takes a Key.
				"SessionKey.Export": func() error { _, err := sk.Export(key, basecsp.WrapPKCS1); return err },
				"Hash.Sign": func() error {
					h, err := basecsp.NewHash(crypto.SHA256)
					require.NoError(t, err)
					_, err = h.Sign(ctx, key)
					return err
				},
			},
		}
	})
}

// TestListingReportsUnreadableCard: the listings of csptest.RunListing,
// and the Base CSP's own (Cards, Containers, opening the container by
// name), return what the PIV card holds and report the blank GIDS card by
// reader as a keystore.CardError; a corrupt certificate is reported by container
// and key spec.
func TestListingReportsUnreadableCard(t *testing.T) {
	csptest.RunListing(t, behaviour, func(t *testing.T, sp csptest.Provider, l csptest.ListingLayout, check func(*testing.T, error)) {
		ctx := context.Background()
		p := sp.(suiteProvider).p
		cards, err := p.Cards(ctx)
		check(t, err)
		require.Len(t, cards, 1)
		assert.Equal(t, l.PIVReader, cards[0].Reader())

		list, err := p.Containers(ctx)
		check(t, err)
		require.Len(t, list, 1)
		assert.Equal(t, "one", list[0].Name)
		assert.Equal(t, l.PIVReader, list[0].Reader)

		got, err := p.Container(ctx, "one")
		require.NoError(t, err)
		assert.Equal(t, l.PIVReader, got.Reader())
	})
}

// TestCallerInputCheckedBeforeTheCard: csptest.RunInput's calls, and the
// Base CSP's own (a key spec that does not exist, PIN change and unblock
// arguments, session keys and hashes without a key), are refused with a
// typed error, without a panic, an APDU or a PIN prompt.
func TestCallerInputCheckedBeforeTheCard(t *testing.T) {
	csptest.RunInput(t, behaviour, func(t *testing.T, sp csptest.Provider, k csptest.InputKeys) []csptest.InputCase {
		ctx := context.Background()
		p := sp.(suiteProvider).p
		card := k.RSA.(*basecsp.Key).Container().Card()
		return []csptest.InputCase{
			{Name: "unknown key spec", Call: func() error { _, err := p.CreateContainer(ctx, "", 99, 0, nil); return err }, Want: minidriver.ErrInvalidParameter},
			{Name: "change PIN to nothing", Call: func() error {
				return card.ChangePIN(ctx, minidriver.RoleUser, []byte(simpiv.DefaultPIN), nil)
			}, Want: minidriver.ErrInvalidParameter},
			{Name: "change PIN with no old PIN", Call: func() error {
				return card.ChangePIN(ctx, minidriver.RoleUser, nil, []byte("654321"))
			}, Want: minidriver.ErrInvalidParameter},
			{Name: "change PIN to a megabyte", Call: func() error {
				return card.ChangePIN(ctx, minidriver.RoleUser, []byte(simpiv.DefaultPIN), make([]byte, 1<<20))
			}, Want: minidriver.ErrInvalidParameter},
			{Name: "change PIN 9", Call: func() error {
				return card.ChangePIN(ctx, 9, []byte(simpiv.DefaultPIN), []byte("654321"))
			}, Want: minidriver.ErrInvalidParameter},
			{Name: "change the everyone PIN", Call: func() error {
				return card.ChangePIN(ctx, minidriver.RoleEveryone, []byte("1"), []byte("2"))
			}, Want: minidriver.ErrInvalidParameter},
			{Name: "unblock with no PIN", Call: func() error {
				return card.UnblockPIN(ctx, minidriver.RoleUser, minidriver.RoleEveryone, []byte("1"), []byte("654321"))
			}, Want: minidriver.ErrInvalidParameter},
			{Name: "export under no key", Call: func() error {
				sk, err := p.GenerateSessionKey(basecsp.AES128)
				require.NoError(t, err)
				_, err = sk.Export(nil, basecsp.WrapPKCS1)
				return err
			}, Want: minidriver.ErrInvalidParameter},
			{Name: "sign a hash with no key", Call: func() error {
				h, err := basecsp.NewHash(crypto.SHA256)
				require.NoError(t, err)
				_, err = h.Sign(ctx, nil)
				return err
			}, Want: minidriver.ErrInvalidParameter},
		}
	})
}

// A signature goes from the Key (the shared core's key, embedded: basecsp
// adds no frame) to the card through no layer that only forwards
// (csptest.RunSignaturePath).
func TestSignaturePathHasNoForwardingLayer(t *testing.T) {
	csptest.RunSignaturePath(t, behaviour)
}

package basecsp_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"reflect"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cardmod/cardmod/basecsp"
	"github.com/cardmod/cardmod/cardsim"
	simpiv "github.com/cardmod/cardmod/cardsim/piv"
	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/scrm/virtual"
)

// countingCard counts the APDUs that reach the card.
type countingCard struct {
	cardsim.Card
	n atomic.Int64
}

func (c *countingCard) Transmit(apdu []byte) []byte {
	c.n.Add(1)
	return c.Card.Transmit(apdu)
}

// exportedErrorMethods lists "Type.Method" for every exported method of
// the values' types that returns an error.
func exportedErrorMethods(values ...any) []string {
	errType := reflect.TypeFor[error]()
	var out []string
	for _, v := range values {
		t := reflect.TypeOf(v)
		for i := range t.NumMethod() {
			m := t.Method(i)
			if n := m.Type.NumOut(); n > 0 && m.Type.Out(n-1) == errType {
				out = append(out, t.Elem().Name()+"."+m.Name)
			}
		}
	}
	return out
}

// After Close, every method of the provider, its cards, containers and
// keys fails with ErrClosed, sends nothing to the card and asks for no
// PIN.
func TestClosedMeansClosed(t *testing.T) {
	ctx := context.Background()
	sim, err := simpiv.New(simpiv.Config{})
	require.NoError(t, err)
	card := &countingCard{Card: sim}
	b := virtual.NewBackend()
	b.AddReader(readerName).Insert(card)
	f := &fixture{b: b, prompt: newPrompt(simpiv.DefaultPIN)}
	f.p = f.open(t, basecsp.Config{})

	ct, err := f.p.CreateContainer(ctx, "rsa", minidriver.KeyExchange, 0, rsaKey(t))
	require.NoError(t, err)
	key, err := ct.Key(minidriver.KeyExchange)
	require.NoError(t, err)
	pc, err := f.p.Card(ctx, "")
	require.NoError(t, err)
	sk, err := f.p.GenerateSessionKey(basecsp.AES128)
	require.NoError(t, err)
	blob, err := sk.Export(key, basecsp.WrapPKCS1)
	require.NoError(t, err)
	digest := sha256.Sum256([]byte("closed"))
	ciphertext := encryptPKCS1v15(t, &rsaKey(t).PublicKey, []byte("secret"))

	require.NoError(t, f.p.Close())
	apdus, prompts := card.n.Load(), f.prompt.Count.Load()

	calls := map[string]func() error{
		"Provider.Close":           func() error { return f.p.Close() },
		"Provider.Cards":           func() error { _, err := f.p.Cards(ctx); return err },
		"Provider.InitializeCard":  func() error { _, err := f.p.InitializeCard(ctx, "reader", basecsp.InitParams{}); return err },
		"Provider.Card":            func() error { _, err := f.p.Card(ctx, ""); return err },
		"Provider.Certificates":    func() error { _, err := f.p.Certificates(ctx); return err },
		"Provider.Container":       func() error { _, err := f.p.Container(ctx, "rsa"); return err },
		"Provider.Containers":      func() error { _, err := f.p.Containers(ctx); return err },
		"Provider.FindKey":         func() error { _, err := f.p.FindKey(ctx, basecsp.KeyQuery{Container: "rsa"}); return err },
		"Provider.ListKeys":        func() error { _, err := f.p.ListKeys(ctx); return err },
		"Provider.CreateContainer": func() error { _, err := f.p.CreateContainer(ctx, "new", minidriver.ECDSAP256, 0, nil); return err },
		"Provider.DeleteContainer": func() error { return f.p.DeleteContainer(ctx, "rsa") },
		"Provider.GenerateSessionKey": func() error {
			_, err := f.p.GenerateSessionKey(basecsp.AES128)
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
		"Key.ImportSessionKey":     func() error { _, err := key.ImportSessionKey(ctx, blob, basecsp.WrapPKCS1); return err },
		// Beyond the four types: what takes a Key.
		"SessionKey.Export": func() error { _, err := sk.Export(key, basecsp.WrapPKCS1); return err },
		"Hash.Sign": func() error {
			h, err := basecsp.NewHash(crypto.SHA256)
			require.NoError(t, err)
			_, err = h.Sign(ctx, key)
			return err
		},
	}
	methods := exportedErrorMethods(f.p, pc, ct, key)
	require.GreaterOrEqual(t, len(methods), 20)
	for _, name := range methods {
		assert.Contains(t, calls, name, "the table covers every method that returns an error")
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			assert.ErrorIs(t, call(), basecsp.ErrClosed)
		})
	}
	assert.Equal(t, apdus, card.n.Load(), "no APDU after Close")
	assert.Equal(t, prompts, f.prompt.Count.Load(), "no PIN asked after Close")
}

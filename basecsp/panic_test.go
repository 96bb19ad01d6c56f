package basecsp_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cardmod/cardmod/basecsp"
	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/pincache"
)

// A Prompt or an admin responder that panics inside an operation leaves
// neither the PC/SC transaction nor the card lock held: a second provider
// signs within a second, and the first one's Close returns.
func TestPanickingCallbacksReleaseTheCard(t *testing.T) {
	panicPrompt := pincache.Func(func(context.Context, pincache.Request) (*pincache.Secret, error) { panic("prompt") })
	panicAdmin := minidriver.AdminResponder(func(context.Context, minidriver.AdminChallenge) ([]byte, error) { panic("admin responder") })
	for _, tc := range []struct {
		name string
		cfg  basecsp.Config
		run  func(p *basecsp.Provider, k *basecsp.Key)
	}{
		{"prompt", basecsp.Config{Prompt: panicPrompt}, func(_ *basecsp.Provider, k *basecsp.Key) {
			digest := sha256.Sum256([]byte("panic"))
			_, _ = k.Sign(rand.Reader, digest[:], crypto.SHA256)
		}},
		{"admin responder", basecsp.Config{AdminResponse: panicAdmin}, func(_ *basecsp.Provider, k *basecsp.Key) {
			_ = k.SetCertificate(context.Background(), nil)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, basecsp.Config{})
			k := f.create(t, "ec", minidriver.ECDSAP256, nil)
			p := f.open(t, tc.cfg)
			ct, err := p.Container(context.Background(), "ec")
			require.NoError(t, err)
			pk, err := ct.Key(minidriver.ECDSAP256)
			require.NoError(t, err)
			require.Panics(t, func() { tc.run(p, pk) })

			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			digest := sha256.Sum256([]byte("after"))
			sig, err := k.SignContext(ctx, rand.Reader, digest[:], crypto.SHA256)
			require.NoError(t, err, "another provider signs within a second")
			assert.True(t, ecdsa.VerifyASN1(k.Public().(*ecdsa.PublicKey), digest[:], sig))

			closed := make(chan error, 1)
			go func() { closed <- p.Close() }()
			select {
			case err := <-closed:
				assert.NoError(t, err)
			case <-time.After(5 * time.Second):
				t.Fatal("Close hangs")
			}
		})
	}
}

package plugin_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cardmod/cardmod/basecsp"
	"github.com/cardmod/cardmod/examples/plugin"
	"github.com/cardmod/cardmod/examples/plugin/token"
	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/pincache"
	"github.com/cardmod/cardmod/scrm"
	"github.com/cardmod/cardmod/scrm/virtual"
)

// TestBaseCSP uses the plug-in through the Base CSP, the way a program
// would once the plug-in is in its registry: the provider keeps the
// container map and cardcf in the token's file store, and a second
// provider (a new process) finds the container by name.
func TestBaseCSP(t *testing.T) {
	tok, err := token.New(token.Config{})
	require.NoError(t, err)
	b := virtual.NewBackend()
	b.AddReader("Token Reader").Insert(tok)
	card, err := scrm.NewContext(b).Connect(t.Context(), "Token Reader", nil)
	require.NoError(t, err)
	require.NoError(t, plugin.Initialize(t.Context(), card, []byte(token.DefaultPIN), nil))
	require.NoError(t, card.Close(scrm.LeaveCard))

	cfg := basecsp.Config{
		Backend:  b,
		Registry: minidriver.NewRegistry(plugin.Plugin{}),
		Prompt:   pincache.NewFixed([]byte(token.DefaultPIN)),
	}
	p, err := basecsp.Open(cfg)
	require.NoError(t, err)
	defer p.Close()
	ct, err := p.CreateContainer(t.Context(), `\\.\Token Reader\vendor key`, minidriver.ECDSAP256, 0, nil)
	require.NoError(t, err)
	key, err := ct.Key(minidriver.ECDSAP256)
	require.NoError(t, err)
	digest := sha256.Sum256([]byte("signed through the Base CSP"))
	sig, err := key.Sign(rand.Reader, digest[:], crypto.SHA256)
	require.NoError(t, err)
	assert.True(t, ecdsa.VerifyASN1(key.Public().(*ecdsa.PublicKey), digest[:], sig))

	q, err := basecsp.Open(cfg)
	require.NoError(t, err)
	defer q.Close()
	again, err := q.Container(t.Context(), `\\.\Token Reader\vendor key`)
	require.NoError(t, err, "the container in a new provider")
	k2, err := again.Key(minidriver.ECDSAP256)
	require.NoError(t, err)
	assert.True(t, k2.Public().(*ecdsa.PublicKey).Equal(key.Public()), "the same key")
}

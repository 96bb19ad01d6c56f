package gids_test

import (
	"context"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	crand "crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	simgids "github.com/cardmod/cardmod/cardsim/gids"
	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/minidriver/gids"
	"github.com/cardmod/cardmod/scrm"
	"github.com/cardmod/cardmod/scrm/virtual"
)

// seeded returns a deterministic random source for a simulated card.
func seeded(seed uint64) *rand.ChaCha8 {
	var s [32]byte
	s[0], s[1] = byte(seed), byte(seed>>8)
	return rand.NewChaCha8(s)
}

// cardSeq numbers simulated cards so that each has its own cardid.
var cardSeq atomic.Uint64

// newSim makes a simulated GIDS card: initialized as gids-tool leaves it
// unless blank.
func newSim(t testing.TB, blank bool) *simgids.Card {
	t.Helper()
	n := cardSeq.Add(1)
	id := make([]byte, 16)
	id[0], id[1], id[15] = 0xC0, byte(n>>8), byte(n)
	sim, err := simgids.New(simgids.Config{Initialized: !blank, CardID: id, Rand: seeded(n)})
	require.NoError(t, err)
	return sim
}

// env is a simulated card in a virtual reader, opened by the plug-in.
type env struct {
	sim   *simgids.Card
	card  *scrm.Card
	md    minidriver.Card
	match minidriver.Match
}

// connect puts sim in a virtual reader and connects.
func connect(t testing.TB, sim *simgids.Card) *scrm.Card {
	t.Helper()
	b := virtual.NewBackend()
	b.AddReader("Virtual Reader 0").Insert(sim)
	card, err := scrm.NewContext(b).Connect(context.Background(), "Virtual Reader 0", nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = card.Close(scrm.LeaveCard) })
	return card
}

// newEnv opens sim (a fresh initialized card when nil) with the plug-in.
func newEnv(t testing.TB, sim *simgids.Card) *env {
	t.Helper()
	if sim == nil {
		sim = newSim(t, false)
	}
	card := connect(t, sim)
	md, m, err := minidriver.NewRegistry(gids.Plugin{}).Open(context.Background(), card, minidriver.Env{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = md.Close() })
	return &env{sim: sim, card: card, md: md, match: m}
}

// run runs f in one transaction, after Resume, as the engine does, and
// ends it with a reset (which logs out).
func (e *env) run(t testing.TB, f func(ctx context.Context, tx *scrm.Tx)) {
	t.Helper()
	ctx := context.Background()
	tx, err := e.card.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = tx.End(scrm.ResetCard) }()
	require.NoError(t, e.md.Resume(ctx, tx))
	f(ctx, tx)
}

// admin authenticates the admin key.
func admin(t testing.TB, ctx context.Context, md minidriver.Card, tx *scrm.Tx, key []byte) {
	t.Helper()
	ch, err := minidriver.Challenge(ctx, md, tx, gids.PINAdmin)
	require.NoError(t, err)
	resp, err := gids.AdminKeyResponse(key, ch)
	require.NoError(t, err)
	_, err = md.Authenticate(ctx, tx, gids.PINAdmin, resp, 0)
	require.NoError(t, err)
}

// userPIN verifies the default PIN.
func userPIN(t testing.TB, ctx context.Context, md minidriver.Card, tx *scrm.Tx) {
	t.Helper()
	_, err := md.Authenticate(ctx, tx, gids.PINUser, []byte(simgids.DefaultPIN), 0)
	require.NoError(t, err)
}

// makeCert returns a self-signed-looking certificate for pub, signed by a
// throwaway key.
func makeCert(t testing.TB, pub crypto.PublicKey, cn string) []byte {
	t.Helper()
	ca, err := ecdsa.GenerateKey(elliptic.P256(), crand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Unix(1700000000, 0),
		NotAfter:     time.Unix(1900000000, 0),
	}
	der, err := x509.CreateCertificate(crand.Reader, tmpl, tmpl, pub, ca)
	require.NoError(t, err)
	return der
}

// ecdsaOf is the ECDSA form of an ECDH public key, for a certificate.
func ecdsaOf(t testing.TB, k *ecdh.PublicKey) *ecdsa.PublicKey {
	t.Helper()
	p, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), k.Bytes())
	require.NoError(t, err)
	return p
}

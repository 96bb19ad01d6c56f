package piv_test

import (
	"context"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cardmod/cardmod/cardfs"
	"github.com/cardmod/cardmod/cardsim"
	simpiv "github.com/cardmod/cardmod/cardsim/piv"
	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/minidriver/piv"
	"github.com/cardmod/cardmod/scrm"
	"github.com/cardmod/cardmod/scrm/virtual"
)

// seeded returns a deterministic random source for a simulated card.
func seeded(seed byte) *rand.ChaCha8 {
	var s [32]byte
	s[0] = seed
	return rand.NewChaCha8(s)
}

// env is a simulated card in a virtual reader, opened by the plug-in.
type env struct {
	sim    cardsim.Card
	reader *virtual.Reader
	card   *scrm.Card
	md     minidriver.Card
	match  minidriver.Match
}

// genericPIV hides the Yubico extensions of a simulated YubiKey: a PIV
// card of another make.
type genericPIV struct{ *simpiv.Card }

var genericATR = []byte{0x3B, 0x88, 0x80, 0x01, 0x50, 0x49, 0x56, 0x2D, 0x43, 0x41, 0x52, 0x44, 0x5B}

func (g genericPIV) ATR() []byte { return genericATR }

func (g genericPIV) Transmit(apdu []byte) []byte {
	if len(apdu) >= 4 {
		switch apdu[1] {
		case 0xFD, 0xF8, 0xF7, 0xFE, 0xFF, 0xF6, 0xF9, 0xFA, 0xFB:
			return []byte{0x6D, 0x00}
		}
	}
	return g.Card.Transmit(apdu)
}

func newSim(t testing.TB, cfg simpiv.Config) *simpiv.Card {
	t.Helper()
	if cfg.Rand == nil {
		cfg.Rand = seeded(1)
	}
	sim, err := simpiv.New(cfg)
	require.NoError(t, err)
	return sim
}

// newEnv opens a fresh simulated YubiKey (or sim, if given) with plug.
func newEnv(t testing.TB, sim cardsim.Card, plug piv.Plugin) *env {
	t.Helper()
	if sim == nil {
		sim = newSim(t, simpiv.Config{})
	}
	b := virtual.NewBackend()
	r := b.AddReader("Virtual Reader 0")
	r.Insert(sim)
	card, err := scrm.NewContext(b).Connect(context.Background(), "Virtual Reader 0", nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = card.Close(scrm.LeaveCard) })
	md, m, err := minidriver.NewRegistry(plug).Open(context.Background(), card, minidriver.Env{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = md.Close() })
	return &env{sim: sim, reader: r, card: card, md: md, match: m}
}

// run runs f in one transaction, after Resume, as the engine does.
func (e *env) run(t testing.TB, f func(ctx context.Context, tx *scrm.Tx)) {
	t.Helper()
	e.runEnd(t, scrm.LeaveCard, f)
}

// runEnd is run ending the transaction with disposition d.
func (e *env) runEnd(t testing.TB, d scrm.Disposition, f func(ctx context.Context, tx *scrm.Tx)) {
	t.Helper()
	ctx := context.Background()
	tx, err := e.card.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = tx.End(d) }()
	require.NoError(t, e.md.Resume(ctx, tx))
	f(ctx, tx)
}

// admin authenticates the management key.
func admin(t testing.TB, ctx context.Context, md minidriver.Card, tx *scrm.Tx, key []byte) {
	t.Helper()
	ch, err := minidriver.Challenge(ctx, md, tx, piv.PINAdmin)
	require.NoError(t, err)
	resp, err := piv.ManagementKeyResponse(key, ch)
	require.NoError(t, err)
	_, err = md.Authenticate(ctx, tx, piv.PINAdmin, resp, 0)
	require.NoError(t, err)
}

func userPIN(t testing.TB, ctx context.Context, md minidriver.Card, tx *scrm.Tx) {
	t.Helper()
	_, err := md.Authenticate(ctx, tx, piv.PINUser, []byte(simpiv.DefaultPIN), 0)
	require.NoError(t, err)
}

// putData writes a data object directly, as yubico-piv-tool does (the
// management key must be authenticated).
func putData(t testing.TB, ctx context.Context, tx *scrm.Tx, tag uint32, val []byte) {
	t.Helper()
	data := []byte{0x5C, 0x03, byte(tag >> 16), byte(tag >> 8), byte(tag)}
	data = append(data, berTLV(0x53, val)...)
	_, err := tx.Do(ctx, scrm.Command{INS: 0xDB, P1: 0x3F, P2: 0xFF, Data: data})
	require.NoError(t, err)
}

func berTLV(tag byte, v []byte) []byte {
	out := []byte{tag}
	switch n := len(v); {
	case n < 0x80:
		out = append(out, byte(n))
	case n < 0x100:
		out = append(out, 0x81, byte(n))
	default:
		out = append(out, 0x82, byte(n>>8), byte(n))
	}
	return append(out, v...)
}

var (
	rsaOnce sync.Once
	rsaKey  *rsa.PrivateKey
)

// testRSAKey is one RSA-2048 key shared by the tests that import.
func testRSAKey(t testing.TB) *rsa.PrivateKey {
	rsaOnce.Do(func() {
		k, err := rsa.GenerateKey(seededReader{seeded(7)}, 2048)
		if err != nil {
			panic(err)
		}
		rsaKey = k
	})
	return rsaKey
}

type seededReader struct{ r *rand.ChaCha8 }

func (s seededReader) Read(p []byte) (int, error) { return s.r.Read(p) }

func ecdsaCurve() elliptic.Curve { return elliptic.P256() }

func ecdhCurve() ecdh.Curve { return ecdh.P256() }

func verifyECDSA(pub any, digest, sig []byte) bool {
	k, ok := pub.(*ecdsa.PublicKey)
	return ok && ecdsa.VerifyASN1(k, digest, sig)
}

// containerMap reads the card's cmapfile through md and parses it.
func containerMap(t testing.TB, ctx context.Context, md minidriver.Card, tx *scrm.Tx) *cardfs.ContainerMap {
	t.Helper()
	b, err := md.ReadFile(ctx, tx, "mscp", "cmapfile")
	require.NoError(t, err)
	m, err := cardfs.ParseContainerMap(b)
	require.NoError(t, err)
	return m
}

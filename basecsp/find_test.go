package basecsp_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cardmod/cardmod/basecsp"
	simgids "github.com/cardmod/cardmod/cardsim/gids"
	simpiv "github.com/cardmod/cardmod/cardsim/piv"
	"github.com/cardmod/cardmod/keystore"
	"github.com/cardmod/cardmod/minidriver"
	mdgids "github.com/cardmod/cardmod/minidriver/gids"
	"github.com/cardmod/cardmod/minidriver/piv"
	"github.com/cardmod/cardmod/scrm"
	"github.com/cardmod/cardmod/scrm/virtual"
)

// FindKey finds a key by each thing a user may know of it, and every
// field set must match.
func TestFindKey(t *testing.T) {
	f := newFixture(t, basecsp.Config{})
	ctx := context.Background()
	first := f.create(t, "first", minidriver.ECDSAP256, nil)   // slot 9A
	second := f.create(t, "second", minidriver.ECDSAP256, nil) // slot 9C
	third := f.create(t, "third", minidriver.KeyExchange, rsaKey(t))
	cert := selfSigned(t, second, "alice")
	require.NoError(t, second.SetCertificate(ctx, cert))
	fp := sha256.Sum256(cert.Raw)
	other := sha256.Sum256([]byte("another certificate"))
	firstDH, err := first.Public().(*ecdsa.PublicKey).ECDH()
	require.NoError(t, err)

	for _, c := range []struct {
		name string
		q    basecsp.KeyQuery
		want *basecsp.Key // nil: not found
	}{
		{"zero query: the first key", basecsp.KeyQuery{}, first},
		{"slot 9A", basecsp.KeyQuery{Address: piv.SlotAuthentication}, first},
		{"slot 9C", basecsp.KeyQuery{Address: piv.SlotSignature}, second},
		{"empty slot", basecsp.KeyQuery{Address: piv.RetiredSlot(1)}, nil},
		{"container name, any case", basecsp.KeyQuery{Container: "SECOND"}, second},
		{"no such container", basecsp.KeyQuery{Container: "fourth"}, nil},
		{"public key", basecsp.KeyQuery{Public: second.Public()}, second},
		{"public key as ECDH", basecsp.KeyQuery{Public: firstDH}, first},
		{"RSA public key", basecsp.KeyQuery{Public: third.Public()}, third},
		{"key spec", basecsp.KeyQuery{KeySpec: minidriver.KeyExchange}, third},
		{"subject common name", basecsp.KeyQuery{Subject: "alice"}, second},
		{"subject DN", basecsp.KeyQuery{Subject: "CN=alice"}, second},
		{"other subject", basecsp.KeyQuery{Subject: "bob"}, nil},
		{"fingerprint", basecsp.KeyQuery{Fingerprint: fp[:]}, second},
		{"other fingerprint", basecsp.KeyQuery{Fingerprint: other[:]}, nil},
		{"reader and slot", basecsp.KeyQuery{Reader: readerName, Address: piv.SlotSignature}, second},
		{"card and name", basecsp.KeyQuery{CardID: first.Container().CardID(), Container: "third"}, third},
		{"every field must match", basecsp.KeyQuery{Container: "first", Address: piv.SlotSignature}, nil},
		{"certificate and another key", basecsp.KeyQuery{Subject: "alice", Public: first.Public()}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			k, err := f.p.FindKey(ctx, c.q)
			if c.want == nil {
				assert.ErrorIs(t, err, minidriver.ErrNoKeyContainer)
				assert.Nil(t, k)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, c.want.Container().Name(), k.Container().Name())
			assert.Equal(t, c.want.Spec(), k.Spec())
			assert.True(t, c.want.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(k.Public()))
		})
		// Sign finds what FindKey finds, and signs with it.
		t.Run(c.name+", Sign", func(t *testing.T) {
			d := sha256.Sum256([]byte(c.name))
			sig, k, err := f.p.Sign(ctx, c.q, nil, d[:], crypto.SHA256)
			if c.want == nil {
				assert.ErrorIs(t, err, minidriver.ErrNoKeyContainer)
				assert.Nil(t, k)
				assert.Nil(t, sig)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, c.want.Container().Name(), k.Container().Name())
			assert.Equal(t, c.want.Spec(), k.Spec())
			verifySHA256(t, c.want.Public(), d[:], sig)
		})
	}

	_, err = f.p.FindKey(ctx, basecsp.KeyQuery{Fingerprint: fp[:20]})
	assert.ErrorIs(t, err, minidriver.ErrInvalidParameter, "a fingerprint is a SHA-256 digest")
	require.NoError(t, f.p.Close())
	_, err = f.p.FindKey(ctx, basecsp.KeyQuery{})
	assert.ErrorIs(t, err, keystore.ErrClosed)
}

// A PIV slot is no address on a GIDS card: only PIV keys match it; and a
// GIDS key reference only GIDS keys, even when its byte is a PIV slot's.
func TestFindKeyAddressIsThePluginsOwn(t *testing.T) {
	f := newFixture(t, basecsp.Config{})
	ctx := context.Background()
	gids, err := simgids.New(simgids.Config{Initialized: true})
	require.NoError(t, err)
	f.b.AddReader("A GIDS reader").Insert(gids)
	gidsCt, err := f.p.CreateContainer(ctx, `\\.\A GIDS reader\gids key`, minidriver.KeyExchange, 2048, rsaKey(t))
	require.NoError(t, err)
	_, err = f.p.FindKey(ctx, basecsp.KeyQuery{Address: piv.SlotAuthentication})
	assert.ErrorIs(t, err, minidriver.ErrNoKeyContainer)
	k, err := f.p.FindKey(ctx, basecsp.KeyQuery{Container: "gids key"})
	require.NoError(t, err)
	assert.Equal(t, "A GIDS reader", k.Container().Reader())

	piv9A := f.create(t, `\\.\`+readerName+`\piv key`, minidriver.ECDSAP256, nil)
	k, err = f.p.FindKey(ctx, basecsp.KeyQuery{Address: piv.SlotAuthentication})
	require.NoError(t, err)
	assert.Equal(t, readerName, k.Container().Reader())
	assert.True(t, piv9A.Public().(*ecdsa.PublicKey).Equal(k.Public()))

	k, err = f.p.FindKey(ctx, basecsp.KeyQuery{Address: mdgids.KeyRefOf(gidsCt.Index())})
	require.NoError(t, err)
	assert.Equal(t, "A GIDS reader", k.Container().Reader())
	assert.Equal(t, "gids key", k.Container().Name())
	_, err = f.p.FindKey(ctx, basecsp.KeyQuery{Address: mdgids.KeyRef(piv.SlotAuthentication)})
	assert.ErrorIs(t, err, minidriver.ErrNoKeyContainer, "a GIDS key reference 9A is no PIV slot")
}

// A key another tool made (ykman, piv-go: no container map on the card,
// so its container has a GUID-shaped name nobody knows) is found by its
// slot, and the key found signs.
func TestFindKeyMadeByAnotherTool(t *testing.T) {
	f := newFixture(t, basecsp.Config{})
	ctx := context.Background()
	conn, err := scrm.NewContext(f.b).Connect(ctx, readerName, nil)
	require.NoError(t, err)
	md, _, err := minidriver.NewRegistry(piv.Plugin{}).Open(ctx, conn, minidriver.Env{})
	require.NoError(t, err)
	tx, err := conn.Begin(ctx)
	require.NoError(t, err)
	require.NoError(t, md.Resume(ctx, tx))
	ch, err := minidriver.Challenge(ctx, md, tx, piv.PINAdmin)
	require.NoError(t, err)
	resp, err := piv.ManagementKeyResponse(simpiv.DefaultManagementKey, ch)
	require.NoError(t, err)
	_, err = md.Authenticate(ctx, tx, piv.PINAdmin, resp, 0)
	require.NoError(t, err)
	// Container 1 is slot 9C on a card without a container map.
	require.NoError(t, minidriver.CreateContainer(ctx, md, tx, minidriver.CreateContainerRequest{Index: 1, KeySpec: minidriver.ECDSAP256}))
	require.NoError(t, tx.End(scrm.ResetCard))
	require.NoError(t, md.Close())
	require.NoError(t, conn.Close(scrm.LeaveCard))

	k, err := f.p.FindKey(ctx, basecsp.KeyQuery{Address: piv.SlotSignature})
	require.NoError(t, err)
	assert.Len(t, k.Container().Name(), 36, "a GUID-shaped name")
	_, err = f.p.FindKey(ctx, basecsp.KeyQuery{Address: piv.SlotAuthentication})
	assert.ErrorIs(t, err, minidriver.ErrNoKeyContainer, "slot 9A holds no key")

	digest := sha256.Sum256([]byte("hello"))
	sig, err := k.SignContext(ctx, nil, digest[:], crypto.SHA256)
	require.NoError(t, err)
	assert.True(t, ecdsa.VerifyASN1(k.Public().(*ecdsa.PublicKey), digest[:], sig))
}

// verifySHA256 checks an ECDSA or RSA PKCS #1 v1.5 signature of a SHA-256
// digest.
func verifySHA256(t *testing.T, pub crypto.PublicKey, digest, sig []byte) {
	t.Helper()
	switch pub := pub.(type) {
	case *ecdsa.PublicKey:
		assert.True(t, ecdsa.VerifyASN1(pub, digest, sig), "ECDSA signature")
	case *rsa.PublicKey:
		assert.NoError(t, rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest, sig), "RSA signature")
	default:
		t.Fatalf("%T key", pub)
	}
}

// countingCard counts the commands a simulated card receives.
type countingCard struct {
	*simpiv.Card
	n atomic.Uint64
}

func (c *countingCard) Transmit(apdu []byte) []byte {
	c.n.Add(1)
	return c.Card.Transmit(apdu)
}

// Sign checks its arguments once it knows the key, before its PIN is
// asked for, and runs the look-up and the signature in one transaction:
// a new process's Sign spends one APDU fewer than its FindKey and
// SignContext (the second transaction's SELECT).
func TestSignInOneCall(t *testing.T) {
	sim, err := simpiv.New(simpiv.Config{})
	require.NoError(t, err)
	card := &countingCard{Card: sim}
	b := virtual.NewBackend()
	b.AddReader(readerName).Insert(card)
	pr := newPrompt(simpiv.DefaultPIN)
	open := func() *basecsp.Provider {
		p, err := basecsp.Open(basecsp.Config{Backend: b, Prompt: pr, AdminResponse: piv.ManagementKey(simpiv.DefaultManagementKey)})
		require.NoError(t, err)
		t.Cleanup(func() { _ = p.Close() })
		return p
	}
	ctx := context.Background()
	_, err = open().CreateContainer(ctx, "ec", minidriver.ECDSAP256, 0, nil)
	require.NoError(t, err)
	q := basecsp.KeyQuery{Container: "ec"}

	p := open()
	asked := pr.Count.Load()
	_, _, err = p.Sign(ctx, q, nil, make([]byte, 20), crypto.SHA256)
	assert.ErrorIs(t, err, minidriver.ErrInvalidParameter, "a 20-byte digest is no SHA-256 digest")
	assert.Equal(t, asked, pr.Count.Load(), "no PIN asked for")

	count := func(fn func(p *basecsp.Provider)) uint64 {
		p := open()
		before := card.n.Load()
		fn(p)
		require.NoError(t, p.Close())
		return card.n.Load() - before
	}
	d := sha256.Sum256([]byte("one call"))
	two := count(func(p *basecsp.Provider) {
		k, err := p.FindKey(ctx, q)
		require.NoError(t, err)
		sig, err := k.SignContext(ctx, nil, d[:], crypto.SHA256)
		require.NoError(t, err)
		verifySHA256(t, k.Public(), d[:], sig)
	})
	one := count(func(p *basecsp.Provider) {
		sig, k, err := p.Sign(ctx, q, nil, d[:], crypto.SHA256)
		require.NoError(t, err)
		verifySHA256(t, k.Public(), d[:], sig)
	})
	assert.Equal(t, two-1, one, "the second transaction's first APDU is saved")
}

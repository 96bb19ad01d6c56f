package basecsp_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/sha256"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cardmod/cardmod/basecsp"
	simgids "github.com/cardmod/cardmod/cardsim/gids"
	simpiv "github.com/cardmod/cardmod/cardsim/piv"
	"github.com/cardmod/cardmod/minidriver"
	mdgids "github.com/cardmod/cardmod/minidriver/gids"
	"github.com/cardmod/cardmod/minidriver/piv"
	"github.com/cardmod/cardmod/scrm"
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
	}

	_, err = f.p.FindKey(ctx, basecsp.KeyQuery{Fingerprint: fp[:20]})
	assert.ErrorIs(t, err, minidriver.ErrInvalidParameter, "a fingerprint is a SHA-256 digest")
	require.NoError(t, f.p.Close())
	_, err = f.p.FindKey(ctx, basecsp.KeyQuery{})
	assert.ErrorIs(t, err, basecsp.ErrClosed)
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

package basecsp_test

import (
	"context"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cardmod/cardmod/basecsp"
	"github.com/cardmod/cardmod/keystore"
	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/scrm"
)

func TestContainerNameForms(t *testing.T) {
	f := newFixture(t, basecsp.Config{})
	ctx := context.Background()
	first := f.create(t, "first", minidriver.ECDSAP256, nil)
	f.create(t, `\\.\`+readerName+`\second`, minidriver.ECDSAP256, nil)

	for _, tc := range []struct{ name, want string }{
		{`\\.\` + readerName + `\second`, "second"},
		{`\\.\` + readerName + `\`, "first"},
		{`second`, "second"},
		{`SECOND`, "second"},
		{``, "first"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ct, err := f.p.Container(ctx, tc.name)
			require.NoError(t, err)
			assert.Equal(t, tc.want, ct.Name())
			assert.Equal(t, readerName, ct.Reader())
			assert.Equal(t, `\\.\`+readerName+`\`+tc.want, ct.FullName())
		})
	}
	ct, err := f.p.Container(ctx, "first")
	require.NoError(t, err)
	assert.True(t, ct.Default(), "the first container of a card becomes its default")
	k, err := ct.Key(minidriver.ECDSAP256)
	require.NoError(t, err)
	assert.True(t, k.Public().(*ecdsa.PublicKey).Equal(first.Public()))

	_, err = f.p.Container(ctx, "third")
	assert.ErrorIs(t, err, minidriver.ErrNoKeyContainer)
	_, err = f.p.Container(ctx, `\\.\No Such Reader\first`)
	assert.Error(t, err)
	_, err = f.p.Container(ctx, `a\b`)
	assert.ErrorIs(t, err, keystore.ErrBadName)
	_, err = ct.Key(minidriver.Signature)
	assert.ErrorIs(t, err, minidriver.ErrNoKeyContainer)

	list, err := f.p.Containers(ctx)
	require.NoError(t, err)
	require.Len(t, list, 2)
	assert.Equal(t, "first", list[0].Name)
	assert.True(t, list[0].Default)
	assert.Equal(t, 256, list[0].SignatureBits)
	assert.Equal(t, "second", list[1].Name)
	assert.Equal(t, readerName, list[1].Reader)
	assert.Equal(t, ct.CardID(), list[1].CardID)
}

func TestCreateRefusesExistingName(t *testing.T) {
	f := newFixture(t, basecsp.Config{})
	ctx := context.Background()
	f.create(t, "box", minidriver.ECDSAP256, nil)
	for _, name := range []string{"box", "BOX", `\\.\` + readerName + `\box`} {
		_, err := f.p.CreateContainer(ctx, name, minidriver.ECDSAP256, 0, nil)
		assert.ErrorIs(t, err, keystore.ErrExists, name)
	}
	list, err := f.p.Containers(ctx)
	require.NoError(t, err)
	assert.Len(t, list, 1, "nothing was added")
}

func TestCreateWithoutNameMakesGUID(t *testing.T) {
	f := newFixture(t, basecsp.Config{})
	ctx := context.Background()
	ct, err := f.p.CreateContainer(ctx, `\\.\`+readerName+`\`, minidriver.ECDSAP384, 0, nil)
	require.NoError(t, err)
	assert.Regexp(t, `^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`, ct.Name())
	k, err := ct.Key(minidriver.ECDSAP384)
	require.NoError(t, err)
	assert.Equal(t, 384, k.Bits())
	again, err := f.p.Container(ctx, ct.Name())
	require.NoError(t, err)
	assert.Equal(t, ct.Index(), again.Index())
}

func TestDeleteContainer(t *testing.T) {
	f := newFixture(t, basecsp.Config{})
	ctx := context.Background()
	a := f.create(t, "a", minidriver.ECDSAP256, nil)
	f.create(t, "b", minidriver.ECDSAP256, nil)
	require.NoError(t, a.SetCertificate(ctx, selfSigned(t, a, "a")))

	require.NoError(t, f.p.DeleteContainer(ctx, "")) // the default: "a"
	_, err := f.p.Container(ctx, "a")
	assert.ErrorIs(t, err, minidriver.ErrNoKeyContainer)
	digest := sha256.Sum256([]byte("x"))
	_, err = a.Sign(nil, digest[:], nil)
	assert.ErrorIs(t, err, minidriver.ErrNoKeyContainer, "a key of a deleted container cannot sign")

	def, err := f.p.Container(ctx, "")
	require.NoError(t, err)
	assert.Equal(t, "b", def.Name(), "the remaining container became the default")
	certs, err := f.p.Certificates(ctx)
	require.NoError(t, err)
	assert.Empty(t, certs, "the certificate went with the container")

	// The freed record and slot are reused.
	c := f.create(t, "c", minidriver.ECDSAP256, nil)
	assert.Equal(t, 0, c.Container().Index())
	assert.ErrorIs(t, f.p.DeleteContainer(ctx, "a"), minidriver.ErrNoKeyContainer)
}

func TestDefaultContainer(t *testing.T) {
	f := newFixture(t, basecsp.Config{})
	ctx := context.Background()
	f.create(t, "a", minidriver.ECDSAP256, nil)
	b := f.create(t, "b", minidriver.ECDSAP256, nil)
	require.NoError(t, b.Container().SetDefault(ctx))
	def, err := f.p.Container(ctx, "")
	require.NoError(t, err)
	assert.Equal(t, "b", def.Name())
}

func TestNoCard(t *testing.T) {
	f := newFixture(t, basecsp.Config{})
	f.reader.Remove()
	_, err := f.p.Container(context.Background(), "")
	assert.ErrorIs(t, err, scrm.ErrNoSmartcard)
}

func TestCreateKinds(t *testing.T) {
	f := newFixture(t, basecsp.Config{})
	ctx := context.Background()

	// ECDH lives in the key exchange slot and cannot sign.
	ct, err := f.p.CreateContainer(ctx, "dh", minidriver.ECDHP256, 0, nil)
	require.NoError(t, err)
	k, err := ct.Key(minidriver.ECDHP256)
	require.NoError(t, err)
	_, ok := k.Public().(*ecdh.PublicKey)
	assert.True(t, ok)
	_, err = k.Sign(rand.Reader, make([]byte, 32), crypto.SHA256)
	assert.ErrorIs(t, err, minidriver.ErrInvalidParameter)

	// An imported P-256 key signs as itself.
	soft := softKey(t)
	ik := f.create(t, "imported", minidriver.ECDSAP256, soft)
	assert.True(t, soft.PublicKey.Equal(ik.Public()))
	digest := sha256.Sum256(nil)
	sig, err := ik.Sign(rand.Reader, digest[:], crypto.SHA256)
	require.NoError(t, err)
	assert.True(t, ecdsa.VerifyASN1(&soft.PublicKey, digest[:], sig))

	// A key that does not fit the spec is refused before the card is touched.
	_, err = f.p.CreateContainer(ctx, "wrong", minidriver.ECDSAP384, 0, soft)
	assert.ErrorIs(t, err, minidriver.ErrInvalidParameter)
	_, err = f.p.CreateContainer(ctx, "wrong", minidriver.KeySpec(99), 0, nil)
	assert.ErrorIs(t, err, minidriver.ErrInvalidParameter)

	list, err := f.p.Containers(ctx)
	require.NoError(t, err)
	require.Len(t, list, 2)
	assert.Equal(t, 256, list[0].KeyExchangeBits)
	assert.Zero(t, list[0].SignatureBits)
}

func TestCreateRSASignatureKeyOnCard(t *testing.T) {
	f := newFixture(t, basecsp.Config{})
	ct, err := f.p.CreateContainer(context.Background(), "rsa-sig", minidriver.Signature, 2048, nil)
	require.NoError(t, err)
	k, err := ct.Key(minidriver.Signature)
	require.NoError(t, err)
	digest := sha256.Sum256(nil)
	sig, err := k.Sign(rand.Reader, digest[:], crypto.SHA256)
	require.NoError(t, err)
	assert.NoError(t, rsa.VerifyPKCS1v15(k.Public().(*rsa.PublicKey), crypto.SHA256, digest[:], sig))
	_, err = ct.Key(minidriver.KeyExchange)
	assert.ErrorIs(t, err, minidriver.ErrNoKeyContainer)
}

func TestUseDiskCache(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", dir)
	t.Setenv("HOME", dir)
	f := newFixture(t, basecsp.Config{UseDiskCache: true})
	f.create(t, "ec", minidriver.ECDSAP256, nil)
	entries, err := os.ReadDir(filepath.Join(dir, "cardmod"))
	require.NoError(t, err, "the cache lives under os.UserCacheDir()/cardmod")
	assert.NotEmpty(t, entries)

	// Another provider (a new process) on the same directory opens the
	// container from the disk cache: it sends fewer APDUs than one
	// without it, which reads the container map and key from the card.
	other := f.open(t, basecsp.Config{UseDiskCache: true})
	ct, err := other.Container(context.Background(), "ec")
	require.NoError(t, err)
	assert.Equal(t, "ec", ct.Name())
	warm := ct.Card().Stats().APDUs

	cold := f.open(t, basecsp.Config{})
	ct, err = cold.Container(context.Background(), "ec")
	require.NoError(t, err)
	assert.Less(t, warm, ct.Card().Stats().APDUs, "a new provider with the disk cache reads less from the card")
}

package basecsp_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cardmod/cardmod/basecsp"
	simpiv "github.com/cardmod/cardmod/cardsim/piv"
	"github.com/cardmod/cardmod/csptest"
	"github.com/cardmod/cardmod/keystore"
	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/minidriver/piv"
	"github.com/cardmod/cardmod/scrm"
)

func TestCertificateRoundTrip(t *testing.T) {
	f := newFixture(t, basecsp.Config{})
	ctx := context.Background()
	k := f.create(t, "ec", minidriver.ECDSAP256, nil)
	_, err := k.Certificate(ctx)
	assert.ErrorIs(t, err, keystore.ErrNoCertificate)

	cert := selfSigned(t, k, "card")
	require.NoError(t, k.SetCertificate(ctx, cert))
	got, err := k.Certificate(ctx)
	require.NoError(t, err)
	assert.Equal(t, cert.Raw, got.Raw)

	other := selfSigned(t, softKey(t), "other")
	assert.ErrorIs(t, k.SetCertificate(ctx, other), minidriver.ErrInvalidParameter, "a certificate for another key")

	require.NoError(t, k.SetCertificate(ctx, nil))
	_, err = k.Certificate(ctx)
	assert.ErrorIs(t, err, keystore.ErrNoCertificate)
}

func TestUserCertificateStore(t *testing.T) {
	f, rk := rsaFixture(t)
	ctx := context.Background()
	ek := f.create(t, "ec", minidriver.ECDSAP256, nil)
	f.create(t, "bare", minidriver.ECDSAP256, nil)
	rc, ec := selfSigned(t, rk, "rsa"), selfSigned(t, ek, "ec")
	require.NoError(t, rk.SetCertificate(ctx, rc))
	require.NoError(t, ek.SetCertificate(ctx, ec))

	certs, err := f.p.Certificates(ctx)
	require.NoError(t, err)
	require.Len(t, certs, 2)
	assert.Equal(t, "rsa", certs[0].Container)
	assert.Equal(t, minidriver.KeyExchange, certs[0].KeySpec)
	assert.Equal(t, rc.Raw, certs[0].Certificate.Raw)
	assert.Equal(t, "ec", certs[1].Container)
	assert.Equal(t, minidriver.ECDSAP256, certs[1].KeySpec)
	assert.Equal(t, readerName, certs[1].Reader)

	// The entry leads back to the key.
	ct, err := f.p.Container(ctx, `\\.\`+certs[1].Reader+`\`+certs[1].Container)
	require.NoError(t, err)
	k, err := ct.Key(certs[1].KeySpec)
	require.NoError(t, err)
	assert.True(t, k.Public().(*ecdsa.PublicKey).Equal(certs[1].Certificate.PublicKey))
}

func TestRootCertificateStore(t *testing.T) {
	f := newFixture(t, basecsp.Config{})
	ctx := context.Background()
	card, err := f.p.Card(ctx, "")
	require.NoError(t, err)
	roots, err := card.RootCertificates(ctx)
	require.NoError(t, err)
	assert.Empty(t, roots)
	want := []*x509.Certificate{selfSigned(t, softKey(t), "root 1"), selfSigned(t, softKey(t), "root 2")}
	require.NoError(t, card.SetRootCertificates(ctx, want))
	roots, err = card.RootCertificates(ctx)
	require.NoError(t, err)
	require.Len(t, roots, 2)
	assert.Equal(t, want[1].Raw, roots[1].Raw)
}

func TestTwoProvidersSeparateCaches(t *testing.T) {
	f := newFixture(t, basecsp.Config{})
	ctx := context.Background()
	other := f.open(t, basecsp.Config{CacheDir: t.TempDir()})

	k1 := f.create(t, "shared", minidriver.ECDSAP256, nil)
	ct2, err := other.Container(ctx, "shared")
	require.NoError(t, err, "a container created by one provider is seen by the other")
	k2, err := ct2.Key(minidriver.ECDSAP256)
	require.NoError(t, err)
	_, err = k2.Certificate(ctx)
	require.ErrorIs(t, err, keystore.ErrNoCertificate, "cached as absent in the second provider")
	certs, err := other.Certificates(ctx)
	require.NoError(t, err)
	require.Empty(t, certs)

	cert := selfSigned(t, k1, "shared")
	require.NoError(t, k1.SetCertificate(ctx, cert))
	got, err := k2.Certificate(ctx)
	require.NoError(t, err, "the write bumped cardcf: the second provider re-reads")
	assert.Equal(t, cert.Raw, got.Raw)
	certs, err = other.Certificates(ctx)
	require.NoError(t, err)
	assert.Len(t, certs, 1)

	// A container deleted by one is gone for the other.
	require.NoError(t, f.p.DeleteContainer(ctx, "shared"))
	digest := sha256.Sum256(nil)
	_, err = k2.Sign(rand.Reader, digest[:], crypto.SHA256)
	assert.ErrorIs(t, err, minidriver.ErrNoKeyContainer)
}

func TestChangeAndUnblockPIN(t *testing.T) {
	f := newFixture(t, basecsp.Config{})
	ctx := context.Background()
	k := f.create(t, "ec", minidriver.ECDSAP256, nil)
	card := k.Container().Card()
	digest := sha256.Sum256(nil)
	sign := func() error { _, err := k.Sign(rand.Reader, digest[:], crypto.SHA256); return err }

	require.NoError(t, card.ChangePIN(ctx, minidriver.RoleUser, []byte(simpiv.DefaultPIN), []byte("24680135")))
	err := card.ChangePIN(ctx, minidriver.RoleUser, []byte(simpiv.DefaultPIN), []byte("11111111"))
	assert.ErrorIs(t, err, minidriver.ErrWrongPIN)
	assert.NotContains(t, err.Error(), simpiv.DefaultPIN)

	f.prompt.Answer.Store("24680135")
	before := f.prompt.Count.Load()
	require.NoError(t, sign())
	assert.Equal(t, before+1, f.prompt.Count.Load(), "the cached PIN was dropped: asked again")

	// Block the PIN (three wrong tries), then unblock with the PUK.
	for range 3 {
		assert.Error(t, card.ChangePIN(ctx, minidriver.RoleUser, []byte("99999999"), []byte("11111111")))
	}
	assert.ErrorIs(t, sign(), minidriver.ErrPINBlocked)
	require.NoError(t, card.UnblockPIN(ctx, minidriver.RoleUser, piv.PINPUK, []byte("12345678"), []byte("13572468")))
	f.prompt.Answer.Store("13572468")
	require.NoError(t, sign())
	assert.ErrorIs(t, card.UnblockPIN(ctx, minidriver.RoleUser, minidriver.RoleUser, nil, nil), minidriver.ErrInvalidParameter)
}

func TestCardInfo(t *testing.T) {
	f := newFixture(t, basecsp.Config{})
	ctx := context.Background()
	cards, err := f.p.Cards(ctx)
	require.NoError(t, err)
	require.Len(t, cards, 1)
	info, err := cards[0].Info(ctx)
	require.NoError(t, err)
	assert.Equal(t, readerName, info.Reader)
	assert.Equal(t, cards[0].ID(), info.ID)
	assert.Equal(t, "PIV", info.Plugin)
	assert.NotEmpty(t, info.Serial)
	assert.False(t, info.ReadOnly)
	assert.Positive(t, info.FreeSpace.ContainersAvailable)
	assert.True(t, info.KeySizes[minidriver.KeyExchange].Supports(2048))
	assert.True(t, info.KeySizes[minidriver.ECDSAP256].Supports(256))
}

func TestCardFoundAgainAfterRemoval(t *testing.T) {
	f := newFixture(t, basecsp.Config{})
	k := f.create(t, "ec", minidriver.ECDSAP256, nil)
	pub := k.Public().(*ecdsa.PublicKey)
	digest := sha256.Sum256(nil)

	// Removed and put into another reader: the next operation finds it by
	// its card id.
	f.reader.Remove()
	f.b.AddReader("Virtual Reader 1").Insert(f.sim)
	sig, err := k.Sign(rand.Reader, digest[:], crypto.SHA256)
	require.NoError(t, err)
	assert.True(t, ecdsa.VerifyASN1(pub, digest[:], sig))
	assert.Equal(t, "Virtual Reader 1", k.Container().Reader())

	// Removed in the middle of an operation: a clear error, then the card
	// is found again.
	r1 := f.b.Reader("Virtual Reader 1")
	require.NotNil(t, r1)
	r1.RemoveOnNext()
	_, err = k.Sign(rand.Reader, digest[:], crypto.SHA256)
	assert.True(t, errors.Is(err, scrm.ErrRemovedCard) || errors.Is(err, scrm.ErrNoSmartcard), "%v", err)
	r1.Insert(f.sim)
	sig, err = k.Sign(rand.Reader, digest[:], crypto.SHA256)
	require.NoError(t, err)
	assert.True(t, ecdsa.VerifyASN1(pub, digest[:], sig))
}

// tlsHandshake runs a TLS handshake in which the client authenticates
// with key and its certificate.
func tlsHandshake(t *testing.T, version uint16, key crypto.Signer, cert *x509.Certificate) {
	csptest.TLSHandshake(t, version, key, cert)
}

func TestTLSClientAuthentication(t *testing.T) {
	f, rk := rsaFixture(t)
	ek := f.create(t, "ec", minidriver.ECDSAP256, nil)
	ctx := context.Background()
	for _, k := range []*basecsp.Key{rk, ek} {
		require.NoError(t, k.SetCertificate(ctx, selfSigned(t, k, "client "+k.Spec().String())))
	}
	for _, k := range []*basecsp.Key{rk, ek} {
		cert, err := k.Certificate(ctx) // as a client would: from the card
		require.NoError(t, err)
		for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
			t.Run(k.Spec().String()+" "+tls.VersionName(v), func(t *testing.T) {
				tlsHandshake(t, v, k, cert)
			})
		}
	}
}

func TestPINChangedByAnotherProvider(t *testing.T) {
	f := newFixture(t, basecsp.Config{})
	ctx := context.Background()
	k := f.create(t, "ec", minidriver.ECDSAP256, nil)
	digest := sha256.Sum256(nil)
	_, err := k.Sign(rand.Reader, digest[:], crypto.SHA256)
	require.NoError(t, err)
	asked := f.prompt.Count.Load()

	otherPrompt := newPrompt(simpiv.DefaultPIN)
	other := f.open(t, basecsp.Config{Prompt: otherPrompt})
	card, err := other.Card(ctx, readerName)
	require.NoError(t, err)
	require.NoError(t, card.ChangePIN(ctx, minidriver.RoleUser, []byte(simpiv.DefaultPIN), []byte("97531864")))

	// The first provider sees cardcf's PIN counter move: its cached PIN is
	// dropped without being tried, and it asks for the new one.
	f.prompt.Answer.Store("97531864")
	_, err = k.Sign(rand.Reader, digest[:], crypto.SHA256)
	require.NoError(t, err)
	assert.Equal(t, asked+1, f.prompt.Count.Load())
}

func TestResetInTheMiddle(t *testing.T) {
	f := newFixture(t, basecsp.Config{})
	k := f.create(t, "ec", minidriver.ECDSAP256, nil)
	pub := k.Public().(*ecdsa.PublicKey)
	digest := sha256.Sum256(nil)
	for range 3 {
		f.reader.ResetOnNext()
		sig, err := k.Sign(rand.Reader, digest[:], crypto.SHA256)
		if err == nil {
			assert.True(t, ecdsa.VerifyASN1(pub, digest[:], sig), "a clean retry, never a wrong result")
		}
		sig, err = k.Sign(rand.Reader, digest[:], crypto.SHA256)
		require.NoError(t, err, "the next operation works")
		assert.True(t, ecdsa.VerifyASN1(pub, digest[:], sig))
	}
}

func TestCertificateOfECDHKey(t *testing.T) {
	f := newFixture(t, basecsp.Config{})
	ctx := context.Background()
	soft := softKey(t)
	dh, err := soft.ECDH()
	require.NoError(t, err)
	k := f.create(t, "dh", minidriver.ECDHP256, dh)
	cert := selfSigned(t, soft, "ecdh") // issued for the same EC key
	require.NoError(t, k.SetCertificate(ctx, cert))
	got, err := k.Certificate(ctx)
	require.NoError(t, err)
	assert.Equal(t, cert.Raw, got.Raw)
	certs, err := f.p.Certificates(ctx)
	require.NoError(t, err)
	require.Len(t, certs, 1)
	assert.Equal(t, minidriver.ECDHP256, certs[0].KeySpec)
}

// TestProviderCardInfo: Provider.CardInfo gives what Card and Info give,
// for a reader named and for "" (the first card), and a new provider's
// CardInfo opens the card in the information's transaction: one SELECT
// fewer than Card, then Info. A reader without a card is an error.
func TestProviderCardInfo(t *testing.T) {
	f := newFixture(t, basecsp.Config{})
	ctx := context.Background()
	card, err := f.p.Card(ctx, readerName)
	require.NoError(t, err)
	want, err := card.Info(ctx)
	require.NoError(t, err)
	for _, reader := range []string{readerName, ""} {
		p, err := basecsp.Open(basecsp.Config{Backend: f.b, Prompt: newPrompt(simpiv.DefaultPIN)})
		require.NoError(t, err)
		got, err := p.CardInfo(ctx, reader)
		require.NoError(t, err)
		assert.Equal(t, want, got, "reader %q", reader)
		require.NoError(t, p.Close())
	}

	count := func(fn func(p *basecsp.Provider)) uint64 {
		p, err := basecsp.Open(basecsp.Config{Backend: f.b, Prompt: newPrompt(simpiv.DefaultPIN)})
		require.NoError(t, err)
		defer func() { require.NoError(t, p.Close()) }()
		fn(p)
		c, err := p.Card(ctx, readerName) // open already: no APDU
		require.NoError(t, err)
		return c.Stats().APDUs
	}
	two := count(func(p *basecsp.Provider) {
		c, err := p.Card(ctx, readerName)
		require.NoError(t, err)
		_, err = c.Info(ctx)
		require.NoError(t, err)
	})
	one := count(func(p *basecsp.Provider) {
		_, err := p.CardInfo(ctx, readerName)
		require.NoError(t, err)
	})
	assert.Equal(t, two-1, one, "CardInfo: Open's transaction, no second SELECT")

	f.b.AddReader("Empty Reader")
	_, err = f.p.CardInfo(ctx, "Empty Reader")
	assert.Error(t, err)
}

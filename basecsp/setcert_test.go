package basecsp_test

import (
	"context"
	"crypto/x509"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cardmod/cardmod/basecsp"
	simpiv "github.com/cardmod/cardmod/cardsim/piv"
	"github.com/cardmod/cardmod/keystore"
	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/minidriver/piv"
	"github.com/cardmod/cardmod/scrm/virtual"
)

// Provider.SetCertificate finds the key a certificate is for and stores
// the certificate in the look-up's transaction: a new process spends one
// APDU fewer than with Container, Key and Key.SetCertificate (the second
// transaction's first APDU). With no container named it finds the key by
// the certificate's public key; a certificate of no key on the card, and
// one the query's Public contradicts, store nothing.
func TestSetCertificateInOneCall(t *testing.T) {
	sim, err := simpiv.New(simpiv.Config{})
	require.NoError(t, err)
	card := &countingCard{Card: sim}
	b := virtual.NewBackend()
	b.AddReader(readerName).Insert(card)
	open := func() *basecsp.Provider {
		p, err := basecsp.Open(basecsp.Config{Backend: b, Prompt: newPrompt(simpiv.DefaultPIN),
			AdminResponse: piv.ManagementKey(simpiv.DefaultManagementKey)})
		require.NoError(t, err)
		t.Cleanup(func() { _ = p.Close() })
		return p
	}
	ctx := context.Background()
	setup := open()
	first, err := setup.CreateContainer(ctx, "first", minidriver.ECDSAP256, 0, nil)
	require.NoError(t, err)
	second, err := setup.CreateContainer(ctx, "second", minidriver.ECDSAP256, 0, nil)
	require.NoError(t, err)
	k1, err := first.Key(minidriver.ECDSAP256)
	require.NoError(t, err)
	k2, err := second.Key(minidriver.ECDSAP256)
	require.NoError(t, err)
	c2 := selfSigned(t, k2, "second's")
	twoCalls, oneCall := selfSigned(t, k1, "two calls"), selfSigned(t, k1, "one call")
	require.NoError(t, setup.Close())

	count := func(fn func(p *basecsp.Provider)) uint64 {
		p := open()
		before := card.n.Load()
		fn(p)
		require.NoError(t, p.Close())
		return card.n.Load() - before
	}

	// Refused before the card is asked.
	tests := []struct {
		name string
		q    basecsp.KeyQuery
		cert func() *x509.Certificate
	}{
		{"no certificate", basecsp.KeyQuery{Container: "first"}, func() *x509.Certificate { return nil }},
		{"Public is not the certificate's key", basecsp.KeyQuery{Public: k2.Public()}, func() *x509.Certificate { return twoCalls }},
	}
	for _, tt := range tests {
		n := count(func(p *basecsp.Provider) {
			_, err := p.SetCertificate(ctx, tt.q, tt.cert())
			assert.ErrorIs(t, err, minidriver.ErrInvalidParameter, tt.name)
		})
		assert.Zero(t, n, "%s: no APDU", tt.name)
	}
	count(func(p *basecsp.Provider) {
		_, err := p.SetCertificate(ctx, basecsp.KeyQuery{}, selfSigned(t, softKey(t), "no such key"))
		assert.ErrorIs(t, err, minidriver.ErrNoKeyContainer, "a certificate of a key the card does not hold")
	})

	// Found by the certificate's key alone: the second container's.
	count(func(p *basecsp.Provider) {
		k, err := p.SetCertificate(ctx, basecsp.KeyQuery{}, c2)
		require.NoError(t, err)
		assert.Equal(t, "second", k.Container().Name())
		got, err := k.Certificate(ctx)
		require.NoError(t, err)
		assert.Equal(t, c2.Raw, got.Raw)
	})
	count(func(p *basecsp.Provider) {
		c, err := p.Container(ctx, "first")
		require.NoError(t, err)
		k, err := c.Key(minidriver.ECDSAP256)
		require.NoError(t, err)
		_, err = k.Certificate(ctx)
		assert.ErrorIs(t, err, keystore.ErrNoCertificate, "the other key has none")
	})

	// One transaction against two, each a new process writing a new
	// certificate (the map's fingerprint changes every time).
	q := basecsp.KeyQuery{Container: "first"}
	two := count(func(p *basecsp.Provider) {
		c, err := p.Container(ctx, "first")
		require.NoError(t, err)
		k, err := c.Key(minidriver.ECDSAP256)
		require.NoError(t, err)
		require.NoError(t, k.SetCertificate(ctx, twoCalls))
	})
	one := count(func(p *basecsp.Provider) {
		k, err := p.SetCertificate(ctx, q, oneCall)
		require.NoError(t, err)
		assert.Equal(t, "first", k.Container().Name())
	})
	assert.Equal(t, two-1, one, "the second transaction's first APDU is saved")
	count(func(p *basecsp.Provider) {
		certs, err := p.Certificates(ctx)
		require.NoError(t, err)
		var got []string
		for _, c := range certs {
			got = append(got, c.Container+": "+c.Certificate.Subject.CommonName)
		}
		assert.ElementsMatch(t, []string{"first: one call", "second: second's"}, got)
	})
}

package csptest

import (
	"context"
	"crypto/rsa"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cardmod/cardmod/cardfs"
	"github.com/cardmod/cardmod/internal/cspcore"
	"github.com/cardmod/cardmod/minidriver"
)

// testListKeys: ListKeys in a new provider lists every key the card holds
// with its card (reader, identity, plug-in), container, plug-in address,
// size, public key, certificate and PIN; FindKey finds each key by its
// address (a PIV slot, a GIDS key reference), and by its container and
// spec.
func testListKeys(t *testing.T, c *suiteCard) {
	ctx := context.Background()
	keys := c.provisioned(t)
	var certified Entry
	var certKey Key
	if !c.p.ReadOnly {
		for _, spec := range []minidriver.KeySpec{minidriver.ECDSAP256, minidriver.KeyExchange} {
			if e, ok := keys[spec]; ok {
				certified = e
				break
			}
		}
		p, _ := c.open(t, c.p.PIN)
		k, err := p.Open(ctx, certified.Name, certified.Spec)
		require.NoError(t, err)
		require.NoError(t, k.SetCertificate(ctx, SelfSigned(t, k, "listed "+c.p.Name)))
		certKey = k
	}

	p, prompt := c.open(t, c.p.PIN)
	list, err := p.ListKeys(ctx)
	require.NoError(t, err)
	require.Len(t, list, c.p.Present+len(c.p.Generate), "every key is listed")
	entries, err := p.Keys(ctx)
	require.NoError(t, err)
	require.Len(t, entries, len(list), "ListKeys and Keys list the same keys")
	addresses := map[minidriver.KeyAddress]string{}
	certs := 0
	for i, k := range list {
		assert.Equal(t, SuiteReader, k.Reader, "%s: reader", k.Container)
		assert.NotEqual(t, cardfs.CardID{}, k.CardID, "%s: card identity", k.Container)
		assert.Equal(t, c.p.Plugin, k.Plugin, "%s: plug-in", k.Container)
		assert.Equal(t, entries[i].Name, k.FullName(), "in the order Keys lists them")
		assert.Equal(t, entries[i].Spec, k.KeySpec)
		assert.True(t, sameKey(k.Public, entries[i].Public), "%s: the public key Keys lists", k.Container)
		if pub, ok := k.Public.(*rsa.PublicKey); ok {
			assert.Equal(t, pub.N.BitLen(), k.Bits, "%s: size", k.Container)
		} else {
			assert.Equal(t, k.KeySpec.CurveBits(), k.Bits, "%s: size", k.Container)
		}
		// GIDS keys all need the user PIN (minidriver/gids ContainerPIN);
		// no key of any card needs the admin key.
		assert.True(t, k.PIN.Valid(), "%s: PIN %d", k.Container, k.PIN)
		assert.NotEqual(t, minidriver.RoleAdmin, k.PIN, "%s: PIN", k.Container)
		if c.p.Plugin == "GIDS" {
			assert.Equal(t, minidriver.RoleUser, k.PIN, "%s: PIN", k.Container)
		}
		require.NotNil(t, k.Address, "%s: the plug-in's address", k.Container)
		if other, ok := addresses[k.Address]; ok && other != k.Container {
			assert.Failf(t, "one address, two containers", "%v: %s and %s", k.Address, other, k.Container)
		}
		addresses[k.Address] = k.Container
		if k.Certificate != nil {
			certs++
			assert.True(t, cspcore.SamePublic(k.Certificate.PublicKey, k.Public), "%s: the certificate is the key's: %T %T", k.Container, k.Certificate.PublicKey, k.Public)
		}
		if certKey != nil && k.FullName() == certified.Name && k.KeySpec == certified.Spec {
			require.NotNil(t, k.Certificate, "%s: the certificate written", k.Container)
			have, err := certKey.Certificate(ctx)
			require.NoError(t, err)
			assert.True(t, have.Equal(k.Certificate))
		}

		found, err := p.Find(ctx, cspcore.Query{Address: k.Address, KeySpec: k.KeySpec})
		require.NoError(t, err, "FindKey at %v", k.Address)
		assert.True(t, sameKey(found.Public(), k.Public), "FindKey at %v finds the key listed there", k.Address)
		found, err = p.Find(ctx, cspcore.Query{Reader: k.Reader, Container: k.Container, KeySpec: k.KeySpec})
		require.NoError(t, err, "FindKey of %s", k.Container)
		assert.True(t, sameKey(found.Public(), k.Public))
	}
	want := c.p.Present
	if certKey != nil {
		want++
	}
	assert.Equal(t, want, certs, "the keys with certificates")
	assert.Zero(t, prompt.Count.Load(), "listing and finding ask for no PIN")
}

package basecsp_test

import (
	"context"
	"crypto/tls"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cardmod/cardmod/basecsp"
	simpiv "github.com/cardmod/cardmod/cardsim/piv"
	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/minidriver/piv"
	"github.com/cardmod/cardmod/scrm/pcsc/pcscdtest"
)

// TestTLSClientAuthenticationPCSCD runs the TLS client authentication of
// TestTLSClientAuthentication on a simulated YubiKey presented to a real
// pcscd through vpcd (scripts/test.sh sets it up; skipped otherwise).
func TestTLSClientAuthenticationPCSCD(t *testing.T) {
	env := pcscdtest.Require(t)
	sim, err := simpiv.New(simpiv.Config{Serial: 41000001})
	require.NoError(t, err)
	reader := env.Insert(t, sim)
	p, err := basecsp.Open(basecsp.Config{
		Backend:       env.Isolated(t),
		Prompt:        newPrompt(simpiv.DefaultPIN),
		AdminResponse: piv.ManagementKey(simpiv.DefaultManagementKey),
	})
	require.NoError(t, err)
	ctx := context.Background()
	// Names carry the reader: other tests' cards may sit in other readers.
	var keys []*basecsp.Key
	for _, c := range []struct {
		name string
		spec minidriver.KeySpec
		key  any
	}{{"rsa", minidriver.KeyExchange, rsaKey(t)}, {"ec", minidriver.ECDSAP256, nil}} {
		ct, err := p.CreateContainer(ctx, `\\.\`+reader+`\`+c.name, c.spec, 0, c.key)
		require.NoError(t, err)
		k, err := ct.Key(c.spec)
		require.NoError(t, err)
		require.NoError(t, k.SetCertificate(ctx, selfSigned(t, k, "client "+c.name)))
		keys = append(keys, k)
	}
	for _, k := range keys {
		cert, err := k.Certificate(ctx)
		require.NoError(t, err)
		for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
			t.Run(k.Spec().String()+" "+tls.VersionName(v), func(t *testing.T) {
				tlsHandshake(t, v, k, cert)
			})
		}
	}
}

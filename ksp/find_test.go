package ksp_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cardmod/cardmod/ksp"
	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/minidriver/piv"
)

// The KSP finds keys by what users know of them, as the Base CSP does
// (basecsp TestFindKey has every field).
func TestFindKey(t *testing.T) {
	f := newFixture(t, ksp.Config{})
	ctx := context.Background()
	sig := f.create(t, "signing", ksp.ECDSAP256, nil) // slot 9A
	dh := f.create(t, "agreement", ksp.ECDHP256, nil) // slot 9C
	cert := selfSigned(t, sig, "alice")
	require.NoError(t, sig.SetProperty(ctx, ksp.PropSmartCardKeyCertificate, cert))
	fp := sha256.Sum256(cert.Raw)

	for _, c := range []struct {
		name string
		q    ksp.KeyQuery
		want *ksp.Key // nil: not found
	}{
		{"slot 9A", ksp.KeyQuery{Address: piv.SlotAuthentication}, sig},
		{"slot 9C", ksp.KeyQuery{Address: piv.SlotSignature}, dh},
		{"empty slot", ksp.KeyQuery{Address: piv.SlotKeyManagement}, nil},
		{"name", ksp.KeyQuery{Container: "agreement"}, dh},
		{"public key", ksp.KeyQuery{Public: dh.Public()}, dh},
		{"subject", ksp.KeyQuery{Subject: "alice"}, sig},
		{"fingerprint", ksp.KeyQuery{Fingerprint: fp[:]}, sig},
		{"certificate of another key", ksp.KeyQuery{Subject: "alice", Container: "agreement"}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			k, err := f.p.FindKey(ctx, c.q)
			if c.want == nil {
				assert.ErrorIs(t, err, minidriver.ErrNoKeyContainer)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, c.want.FullName(), k.FullName())
			assert.Equal(t, c.want.Algorithm(), k.Algorithm())
		})
	}

	// The key found signs.
	k, err := f.p.FindKey(ctx, ksp.KeyQuery{Address: piv.SlotAuthentication})
	require.NoError(t, err)
	digest := sha256.Sum256([]byte("hello"))
	s, err := k.SignContext(ctx, nil, digest[:], nil)
	require.NoError(t, err)
	assert.True(t, ecdsa.VerifyASN1(k.Public().(*ecdsa.PublicKey), digest[:], s))
}

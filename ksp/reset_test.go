package ksp_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cardmod/cardmod/basecsp"
	"github.com/cardmod/cardmod/ksp"
	"github.com/cardmod/cardmod/minidriver"
)

// TestResetsAreNoFailures: 16 goroutines write certificates (every
// admin-authenticated PIV write ends with a reset: the management key
// cannot be logged out) while 16 sign, through the Base CSP and the KSP,
// two connections to one card. Every reset costs a reconnection and a
// re-selection, never an operation: 0 failures.
func TestResetsAreNoFailures(t *testing.T) {
	f := newFixture(t, ksp.Config{})
	ctx := context.Background()
	base := f.baseCSP(t)
	sk := f.create(t, "sig", ksp.ECDSAP256, nil)
	bsk, err := base.Container(ctx, "sig")
	require.NoError(t, err)
	bsig, err := bsk.Key(minidriver.ECDSAP256)
	require.NoError(t, err)
	pub := sk.Public().(*ecdsa.PublicKey)

	const writeKeys = 4
	type target struct {
		kk    *ksp.Key
		bk    *basecsp.Key
		certs []*x509.Certificate
	}
	targets := make([]target, writeKeys)
	for i := range targets {
		name := fmt.Sprintf("w%d", i)
		kk := f.create(t, name, ksp.ECDSAP256, nil)
		ct, err := base.Container(ctx, name)
		require.NoError(t, err)
		bk, err := ct.Key(minidriver.ECDSAP256)
		require.NoError(t, err)
		certs := []*x509.Certificate{selfSigned(t, kk, name+"-a"), selfSigned(t, kk, name+"-b")}
		targets[i] = target{kk: kk, bk: bk, certs: certs}
	}

	const rounds = 4
	var failed, done atomic.Int32
	var wg sync.WaitGroup
	report := func(what string, err error) {
		if err != nil {
			failed.Add(1)
			t.Errorf("%s: %v", what, err)
			return
		}
		done.Add(1)
	}
	for g := range 16 {
		wg.Add(2)
		go func() { // writer
			defer wg.Done()
			tg := targets[g%writeKeys]
			for r := range rounds {
				cert := tg.certs[(g+r)%2]
				var err error
				if g%2 == 0 {
					err = tg.bk.SetCertificate(ctx, cert)
				} else {
					err = tg.kk.SetProperty(ctx, ksp.PropSmartCardKeyCertificate, cert)
				}
				report(fmt.Sprintf("writer %d round %d", g, r), err)
			}
		}()
		go func() { // signer
			defer wg.Done()
			for r := range rounds {
				digest := sha256.Sum256([]byte{byte(g), byte(r)})
				var signer crypto.Signer = sk
				if g%2 == 0 {
					signer = bsig
				}
				sig, err := signer.Sign(rand.Reader, digest[:], crypto.SHA256)
				if err == nil && !ecdsa.VerifyASN1(pub, digest[:], sig) {
					err = fmt.Errorf("bad signature")
				}
				report(fmt.Sprintf("signer %d round %d", g, r), err)
			}
		}()
	}
	wg.Wait()
	assert.Zero(t, failed.Load(), "failed operations")
	assert.Equal(t, int32(32*rounds), done.Load())

	// What each provider and a fresh one read is one of the certificates
	// written.
	fresh := f.open(t, ksp.Config{NoCache: true})
	for i, tg := range targets {
		fk, err := fresh.OpenKey(ctx, fmt.Sprintf("w%d", i))
		require.NoError(t, err)
		want, err := fk.Property(ctx, ksp.PropSmartCardKeyCertificate)
		require.NoError(t, err)
		got := want.(*x509.Certificate)
		assert.True(t, got.Equal(tg.certs[0]) || got.Equal(tg.certs[1]))
		bc, err := tg.bk.Certificate(ctx)
		require.NoError(t, err)
		assert.True(t, bc.Equal(got), "the Base CSP reads what the card holds")
		kc, err := tg.kk.Property(ctx, ksp.PropSmartCardKeyCertificate)
		require.NoError(t, err)
		assert.True(t, kc.(*x509.Certificate).Equal(got), "the KSP reads what the card holds")
	}
}

package ksp_test

import (
	"context"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cardmod/cardmod/keystore"
	"github.com/cardmod/cardmod/ksp"
	"github.com/cardmod/cardmod/minidriver"
)

func TestCreateFinalizeAlgorithms(t *testing.T) {
	f := newFixture(t, ksp.Config{})
	ctx := context.Background()
	for _, c := range []struct {
		alg  ksp.Algorithm
		spec minidriver.KeySpec
		bits int
	}{
		{ksp.ECDSAP256, minidriver.ECDSAP256, 256},
		{ksp.ECDSAP384, minidriver.ECDSAP384, 384},
		{ksp.ECDHP256, minidriver.ECDHP256, 256},
		{ksp.ECDHP384, minidriver.ECDHP384, 384},
	} {
		t.Run(string(c.alg), func(t *testing.T) {
			k, err := f.p.CreatePersistedKey(ctx, "gen-"+string(c.alg), c.alg)
			require.NoError(t, err)
			assert.Nil(t, k.Public(), "nothing on the card before Finalize")
			_, err = k.Sign(rand.Reader, make([]byte, 32), crypto.SHA256)
			assert.ErrorIs(t, err, ksp.ErrNotFinalized)
			require.NoError(t, k.Finalize(ctx))
			assert.ErrorIs(t, k.Finalize(ctx), ksp.ErrFinalized)
			assert.Equal(t, c.spec, k.Spec())
			assert.Equal(t, c.bits, k.Bits())
			assert.NotNil(t, k.Public())
			opened, err := f.p.OpenKey(ctx, `\\.\`+readerName+`\gen-`+string(c.alg))
			require.NoError(t, err)
			assert.Equal(t, c.alg, opened.Algorithm())
			assert.Equal(t, k.Public(), opened.Public())
		})
	}
	t.Run("RSA import", func(t *testing.T) {
		k := f.create(t, "rsa", ksp.RSA, rsaKey(t))
		assert.Equal(t, minidriver.KeyExchange, k.Spec())
		assert.Equal(t, 2048, k.Bits())
		assert.True(t, rsaKey(t).PublicKey.Equal(k.Public()))
	})
	t.Run("RSA signature-only usage goes to the signature slot", func(t *testing.T) {
		k, err := f.p.CreatePersistedKey(ctx, "rsa-sig", ksp.RSA)
		require.NoError(t, err)
		require.NoError(t, k.SetProperty(ctx, ksp.PropKeyUsage, ksp.AllowSigning))
		require.NoError(t, k.FinalizeImport(ctx, rsaKey(t)))
		assert.Equal(t, minidriver.Signature, k.Spec())
	})
	t.Run("ECDSA import", func(t *testing.T) {
		soft := softKey(t)
		k := f.create(t, "ec-import", ksp.ECDSAP256, soft)
		assert.True(t, soft.PublicKey.Equal(k.Public()))
	})
}

func TestCreateUnsupported(t *testing.T) {
	f := newFixture(t, ksp.Config{})
	ctx := context.Background()
	// The simulated YubiKey has no P-521: the card says so at Finalize.
	for _, alg := range []ksp.Algorithm{ksp.ECDSAP521, ksp.ECDHP521} {
		k, err := f.p.CreatePersistedKey(ctx, "p521", alg)
		require.NoError(t, err)
		err = k.Finalize(ctx)
		assert.ErrorIs(t, err, ksp.ErrUnsupportedAlgorithm, "%v", err)
		assert.ErrorIs(t, err, minidriver.ErrUnsupported)
	}
	// Nor RSA-8192.
	k, err := f.p.CreatePersistedKey(ctx, "rsa8k", ksp.RSA)
	require.NoError(t, err)
	require.NoError(t, k.SetProperty(ctx, ksp.PropLength, 8192))
	assert.ErrorIs(t, k.Finalize(ctx), ksp.ErrUnsupportedAlgorithm)
	// Nothing was left behind.
	keys, err := f.p.Keys(ctx)
	require.NoError(t, err)
	assert.Empty(t, keys)
	// An algorithm the provider does not know.
	_, err = f.p.CreatePersistedKey(ctx, "dsa", "DSA")
	assert.ErrorIs(t, err, ksp.ErrUnsupportedAlgorithm)
}

func TestCreateRefusesExistingName(t *testing.T) {
	f := newFixture(t, ksp.Config{})
	ctx := context.Background()
	f.create(t, "dup", ksp.ECDSAP256, nil)
	k, err := f.p.CreatePersistedKey(ctx, "dup", ksp.ECDHP256)
	require.NoError(t, err)
	err = k.Finalize(ctx)
	assert.ErrorIs(t, err, keystore.ErrExists)
	k, err = f.p.CreatePersistedKey(ctx, `\\.\`+readerName+`\DUP`, ksp.ECDHP256)
	require.NoError(t, err)
	assert.ErrorIs(t, k.Finalize(ctx), keystore.ErrExists, "names compare case-insensitively")
}

func TestKeysAndDelete(t *testing.T) {
	f := newFixture(t, ksp.Config{})
	ctx := context.Background()
	f.create(t, "a", ksp.ECDSAP256, nil)
	f.create(t, "b", ksp.ECDHP384, nil)
	keys, err := f.p.Keys(ctx)
	require.NoError(t, err)
	require.Len(t, keys, 2)
	byName := map[string]ksp.KeyEntry{}
	for _, e := range keys {
		byName[e.Name] = e
		assert.Equal(t, readerName, e.Reader)
		assert.NotZero(t, e.CardID)
	}
	assert.Equal(t, ksp.ECDSAP256, byName["a"].Algorithm)
	assert.Equal(t, minidriver.ECDSAP256, byName["a"].KeySpec)
	assert.Equal(t, ksp.ECDHP384, byName["b"].Algorithm)
	assert.Equal(t, 384, byName["b"].Bits)
	assert.Equal(t, `\\.\`+readerName+`\b`, byName["b"].FullName())

	require.NoError(t, f.p.DeleteKey(ctx, "a"))
	_, err = f.p.OpenKey(ctx, "a")
	assert.ErrorIs(t, err, minidriver.ErrNoKeyContainer)
	c := f.create(t, "c", ksp.ECDSAP256, nil)
	require.NoError(t, c.Delete(ctx))
	_, err = c.Sign(rand.Reader, make([]byte, 32), crypto.SHA256)
	assert.ErrorIs(t, err, minidriver.ErrNoKeyContainer, "a deleted key is gone")
	keys, err = f.p.Keys(ctx)
	require.NoError(t, err)
	require.Len(t, keys, 1)
	// "" opens the default key: the remaining one.
	k, err := f.p.OpenKey(ctx, "")
	require.NoError(t, err)
	assert.Equal(t, "b", k.Name())
}

func TestSign(t *testing.T) {
	f := newFixture(t, ksp.Config{})
	rk := f.create(t, "rsa", ksp.RSA, rsaKey(t))
	ek := f.create(t, "ec", ksp.ECDSAP256, nil)
	msg := []byte("signed by the KSP")
	digest := sha256.Sum256(msg)
	pub := rsaKey(t).Public().(*rsa.PublicKey)

	t.Run("PKCS1 with DigestInfo", func(t *testing.T) {
		sig, err := rk.Sign(rand.Reader, digest[:], crypto.SHA256)
		require.NoError(t, err)
		assert.NoError(t, rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig))
	})
	t.Run("PKCS1 without DigestInfo", func(t *testing.T) {
		sig, err := rk.Sign(rand.Reader, digest[:], crypto.Hash(0))
		require.NoError(t, err)
		assert.NoError(t, rsa.VerifyPKCS1v15(pub, crypto.Hash(0), digest[:], sig))
	})
	t.Run("PSS", func(t *testing.T) {
		opts := &rsa.PSSOptions{Hash: crypto.SHA256, SaltLength: rsa.PSSSaltLengthEqualsHash}
		sig, err := rk.Sign(rand.Reader, digest[:], opts)
		require.NoError(t, err)
		assert.NoError(t, rsa.VerifyPSS(pub, crypto.SHA256, digest[:], sig, opts))
	})
	t.Run("ECDSA", func(t *testing.T) {
		sig, err := ek.Sign(rand.Reader, digest[:], crypto.SHA256)
		require.NoError(t, err)
		assert.True(t, ecdsa.VerifyASN1(ek.Public().(*ecdsa.PublicKey), digest[:], sig))
	})
}

func TestDecrypt(t *testing.T) {
	f := newFixture(t, ksp.Config{})
	rk := f.create(t, "rsa", ksp.RSA, rsaKey(t))
	pub := rsaKey(t).Public().(*rsa.PublicKey)
	msg := []byte("a secret for the card")

	t.Run("OAEP with label", func(t *testing.T) {
		c, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, pub, msg, []byte("label"))
		require.NoError(t, err)
		got, err := rk.Decrypt(rand.Reader, c, &rsa.OAEPOptions{Hash: crypto.SHA256, Label: []byte("label")})
		require.NoError(t, err)
		assert.Equal(t, msg, got)
		_, err = rk.Decrypt(rand.Reader, c, &rsa.OAEPOptions{Hash: crypto.SHA256, Label: []byte("other")})
		assert.ErrorIs(t, err, minidriver.ErrDecryption)
	})
	t.Run("PKCS1 and raw", func(t *testing.T) {
		// A type 2 block built by hand, so the raw result is known.
		em := make([]byte, pub.Size())
		em[1] = 2
		for i := 2; i < len(em)-len(msg)-1; i++ {
			em[i] = byte(i%250) + 1
		}
		copy(em[len(em)-len(msg):], msg)
		c := new(big.Int).Exp(new(big.Int).SetBytes(em), big.NewInt(int64(pub.E)), pub.N).FillBytes(make([]byte, pub.Size()))
		got, err := rk.Decrypt(rand.Reader, c, nil)
		require.NoError(t, err)
		assert.Equal(t, msg, got)
		raw, err := rk.Decrypt(rand.Reader, c, ksp.RawDecryptOptions{})
		require.NoError(t, err)
		assert.Equal(t, em, raw)
	})
}

func TestECDHRoundTrip(t *testing.T) {
	f := newFixture(t, ksp.Config{})
	for _, c := range []struct {
		alg   ksp.Algorithm
		curve ecdh.Curve
	}{{ksp.ECDHP256, ecdh.P256()}, {ksp.ECDHP384, ecdh.P384()}} {
		t.Run(string(c.alg), func(t *testing.T) {
			k := f.create(t, string(c.alg), c.alg, nil)
			peer, err := c.curve.GenerateKey(rand.Reader)
			require.NoError(t, err)
			z, err := k.ECDH(peer.PublicKey())
			require.NoError(t, err)
			want, err := peer.ECDH(k.Public().(*ecdh.PublicKey))
			require.NoError(t, err)
			assert.Equal(t, want, z)
		})
	}
	t.Run("imported", func(t *testing.T) {
		mine, err := ecdh.P256().GenerateKey(rand.Reader)
		require.NoError(t, err)
		k := f.create(t, "imported-ecdh", ksp.ECDHP256, mine)
		peer, err := ecdh.P256().GenerateKey(rand.Reader)
		require.NoError(t, err)
		z, err := k.ECDH(peer.PublicKey())
		require.NoError(t, err)
		want, err := mine.ECDH(peer.PublicKey())
		require.NoError(t, err)
		assert.Equal(t, want, z)
	})
}

func TestCertificateRequestSignedByKSPKey(t *testing.T) {
	f := newFixture(t, ksp.Config{})
	for _, k := range []*ksp.Key{f.create(t, "rsa", ksp.RSA, rsaKey(t)), f.create(t, "ec", ksp.ECDSAP256, nil)} {
		t.Run(string(k.Algorithm()), func(t *testing.T) {
			der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "card"}}, k)
			require.NoError(t, err)
			csr, err := x509.ParseCertificateRequest(der)
			require.NoError(t, err)
			assert.NoError(t, csr.CheckSignature())
			assert.Equal(t, k.Public(), csr.PublicKey)
		})
	}
}

func TestTLSClientAuthentication(t *testing.T) {
	f := newFixture(t, ksp.Config{})
	ctx := context.Background()
	keys := []*ksp.Key{f.create(t, "rsa", ksp.RSA, rsaKey(t)), f.create(t, "ec", ksp.ECDSAP256, nil)}
	for _, k := range keys {
		require.NoError(t, k.SetProperty(ctx, ksp.PropSmartCardKeyCertificate, selfSigned(t, k, "client "+string(k.Algorithm()))))
	}
	for _, k := range keys {
		v, err := k.Property(ctx, ksp.PropSmartCardKeyCertificate) // as a client would: from the card
		require.NoError(t, err)
		cert := v.(*x509.Certificate)
		for _, ver := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
			t.Run(string(k.Algorithm())+" "+tls.VersionName(ver), func(t *testing.T) {
				tlsHandshake(t, ver, k, cert)
			})
		}
	}
}

func TestPublicNeverTouchesTheCard(t *testing.T) {
	f := newFixture(t, ksp.Config{})
	k := f.create(t, "ec", ksp.ECDSAP256, nil)
	before := k.Stats()
	_ = k.Public()
	_, err := k.PublicBlob()
	require.NoError(t, err)
	v, err := k.Property(context.Background(), ksp.PropAlgorithmGroup)
	require.NoError(t, err)
	assert.Equal(t, "ECDSA", v)
	assert.Equal(t, before, k.Stats())
}

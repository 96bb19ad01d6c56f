package ksp_test

import (
	"context"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cardmod/cardmod/cardfs"
	simpiv "github.com/cardmod/cardmod/cardsim/piv"
	"github.com/cardmod/cardmod/keystore"
	"github.com/cardmod/cardmod/ksp"
	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/pincache"
)

func TestProperties(t *testing.T) {
	f := newFixture(t, ksp.Config{})
	ctx := context.Background()
	k := f.create(t, "props", ksp.ECDHP256, nil)
	get := func(name string) any {
		t.Helper()
		v, err := k.Property(ctx, name)
		require.NoError(t, err, name)
		return v
	}
	assert.Equal(t, "ECDH", get(ksp.PropAlgorithmGroup))
	assert.Equal(t, ksp.ECDHP256, get(ksp.PropAlgorithmName))
	assert.Equal(t, 256, get(ksp.PropLength))
	assert.Equal(t, ksp.AllowKeyAgreement, get(ksp.PropKeyUsage))
	assert.Equal(t, "props", get(ksp.PropUniqueName))
	assert.Equal(t, ksp.ExportPolicy(0), get(ksp.PropExportPolicy))
	assert.Equal(t, readerName, get(ksp.PropSmartCardReader))
	id := get(ksp.PropSmartCardGUID).(cardfs.CardID)
	assert.NotZero(t, id)
	assert.Equal(t, minidriver.RoleUser, get(ksp.PropSmartCardPinID))
	info := get(ksp.PropSmartCardPinInfo).(minidriver.PINInfo)
	assert.Equal(t, minidriver.AlphanumericPIN, info.Type)

	_, err := k.Property(ctx, ksp.PropSmartCardKeyCertificate)
	assert.ErrorIs(t, err, keystore.ErrNoCertificate)
	cert := selfSigned(t, softKey(t), "not this key")
	assert.ErrorIs(t, k.SetProperty(ctx, ksp.PropSmartCardKeyCertificate, cert), minidriver.ErrInvalidParameter)

	// The certificate of an ECDH key carries its EC public key; signed by
	// another key, as the card key cannot sign.
	ca := softKey(t)
	ecdhCert := issue(t, ca, k.Public())
	require.NoError(t, k.SetProperty(ctx, ksp.PropSmartCardKeyCertificate, ecdhCert))
	assert.Equal(t, ecdhCert.Raw, get(ksp.PropSmartCardKeyCertificate).(*x509.Certificate).Raw)
	store := get(ksp.PropSmartCardUserCertStore).([]keystore.CertEntry)
	require.Len(t, store, 1)
	assert.Equal(t, "props", store[0].Container)
	assert.Equal(t, minidriver.ECDHP256, store[0].KeySpec)
	assert.Equal(t, id, store[0].CardID)

	assert.Empty(t, get(ksp.PropSmartCardRootCertStore))
	root := selfSigned(t, ca, "root")
	require.NoError(t, k.SetProperty(ctx, ksp.PropSmartCardRootCertStore, []*x509.Certificate{root}))
	roots := get(ksp.PropSmartCardRootCertStore).([]*x509.Certificate)
	require.Len(t, roots, 1)
	assert.Equal(t, root.Raw, roots[0].Raw)

	// Key properties are fixed once the key is on the card.
	assert.ErrorIs(t, k.SetProperty(ctx, ksp.PropLength, 256), ksp.ErrReadOnly)
	assert.ErrorIs(t, k.SetProperty(ctx, ksp.PropSmartCardReader, "x"), ksp.ErrReadOnly)
}

func TestPropertiesBeforeFinalize(t *testing.T) {
	f := newFixture(t, ksp.Config{})
	ctx := context.Background()
	k, err := f.p.CreatePersistedKey(ctx, "later", ksp.RSA)
	require.NoError(t, err)
	require.NoError(t, k.SetProperty(ctx, ksp.PropLength, 2048))
	require.NoError(t, k.SetProperty(ctx, ksp.PropKeyUsage, ksp.AllowDecrypt|ksp.AllowSigning))
	require.NoError(t, k.SetProperty(ctx, ksp.PropSmartCardPinID, minidriver.RoleUser))
	v, err := k.Property(ctx, ksp.PropLength)
	require.NoError(t, err)
	assert.Equal(t, 2048, v)
	v, err = k.Property(ctx, ksp.PropSmartCardReader)
	require.NoError(t, err)
	assert.Equal(t, readerName, v)
	_, err = k.Property(ctx, ksp.PropSmartCardKeyCertificate)
	assert.ErrorIs(t, err, ksp.ErrNotFinalized)
	_, err = k.PublicBlob()
	assert.ErrorIs(t, err, ksp.ErrNotFinalized)
	// An ECC key's length is its curve's.
	ek, err := f.p.CreatePersistedKey(ctx, "ec", ksp.ECDSAP384)
	require.NoError(t, err)
	assert.NoError(t, ek.SetProperty(ctx, ksp.PropLength, 384))
	assert.ErrorIs(t, ek.SetProperty(ctx, ksp.PropLength, 256), ksp.ErrUnsupportedAlgorithm)
}

func TestExportPolicy(t *testing.T) {
	f := newFixture(t, ksp.Config{})
	ctx := context.Background()
	k := f.create(t, "ec", ksp.ECDSAP256, nil)
	assert.NoError(t, k.SetProperty(ctx, ksp.PropExportPolicy, ksp.ExportPolicy(0)))
	for _, p := range []ksp.ExportPolicy{ksp.AllowExport, ksp.AllowPlaintextExport, ksp.AllowArchiving, ksp.AllowPlaintextArchiving} {
		err := k.SetProperty(ctx, ksp.PropExportPolicy, p)
		assert.ErrorIs(t, err, ksp.ErrNotExportable)
		assert.ErrorIs(t, err, minidriver.ErrUnsupported)
	}
}

// TestSmartCardPinInSilentMode: a silent provider cannot prompt; setting
// "SmartCardPin", or calling VerifyPIN, verifies and caches the PIN, after
// which the key signs; a wrong PIN is refused and not cached.
func TestSmartCardPinInSilentMode(t *testing.T) {
	ctx := context.Background()
	for name, setPIN := range map[string]func(k *ksp.Key, pin string) error{
		"SmartCardPin": func(k *ksp.Key, pin string) error { return k.SetProperty(ctx, ksp.PropSmartCardPin, pin) },
		"VerifyPIN":    func(k *ksp.Key, pin string) error { return k.VerifyPIN(ctx, []byte(pin)) },
	} {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, ksp.Config{})
			f.create(t, "ec", ksp.ECDSAP256, nil)
			silent := f.open(t, ksp.Config{Silent: true})
			k, err := silent.OpenKey(ctx, "ec")
			require.NoError(t, err)
			digest := sha256.Sum256([]byte("silent"))
			_, err = k.SignContext(ctx, rand.Reader, digest[:], nil)
			assert.ErrorIs(t, err, pincache.ErrSilent)

			err = setPIN(k, "999999")
			assert.ErrorIs(t, err, minidriver.ErrWrongPIN)
			assert.NotContains(t, err.Error(), "999999", "no PIN in error text")
			_, err = k.SignContext(ctx, rand.Reader, digest[:], nil)
			assert.ErrorIs(t, err, pincache.ErrSilent, "a wrong PIN is not cached")
			require.NoError(t, setPIN(k, simpiv.DefaultPIN))
			_, err = k.SignContext(ctx, rand.Reader, digest[:], nil)
			assert.NoError(t, err)
			_, err = k.Property(ctx, ksp.PropSmartCardPin)
			assert.ErrorIs(t, err, ksp.ErrWriteOnly)
		})
	}
}

// TestBadInput: every kind of bad input gives a typed error.
func TestBadInput(t *testing.T) {
	f := newFixture(t, ksp.Config{})
	ctx := context.Background()
	k := f.create(t, "ec", ksp.ECDSAP256, nil)
	var pe *ksp.PropertyError

	_, err := k.Property(ctx, "No Such Property")
	assert.ErrorIs(t, err, ksp.ErrUnknownProperty)
	require.True(t, errors.As(err, &pe))
	assert.Equal(t, "No Such Property", pe.Name)
	assert.ErrorIs(t, k.SetProperty(ctx, "No Such Property", 1), ksp.ErrUnknownProperty)

	for _, c := range []struct {
		name  string
		value any
	}{
		{ksp.PropSmartCardPin, 123456},
		{ksp.PropSmartCardKeyCertificate, []byte{1}},
		{ksp.PropSmartCardRootCertStore, "roots"},
		{ksp.PropExportPolicy, 0},
	} {
		err := k.SetProperty(ctx, c.name, c.value)
		assert.ErrorIs(t, err, ksp.ErrPropertyType, c.name)
		assert.True(t, errors.As(err, &pe), c.name)
	}
	nk, err := f.p.CreatePersistedKey(ctx, "n", ksp.RSA)
	require.NoError(t, err)
	assert.ErrorIs(t, nk.SetProperty(ctx, ksp.PropLength, "2048"), ksp.ErrPropertyType)
	assert.ErrorIs(t, nk.SetProperty(ctx, ksp.PropKeyUsage, 1), ksp.ErrPropertyType)
	assert.ErrorIs(t, nk.SetProperty(ctx, ksp.PropSmartCardPinID, 1), ksp.ErrPropertyType)

	for _, name := range []string{`a\b`, `\\.\` + readerName + `\a\b`, `\\.\`} {
		_, err := f.p.CreatePersistedKey(ctx, name, ksp.ECDSAP256)
		assert.ErrorIs(t, err, keystore.ErrBadName, name)
		_, err = f.p.OpenKey(ctx, name)
		assert.ErrorIs(t, err, keystore.ErrBadName, name)
		assert.ErrorIs(t, f.p.DeleteKey(ctx, name), keystore.ErrBadName, name)
	}
	_, err = f.p.CreatePersistedKey(ctx, "x", "ECDSA_P224")
	assert.ErrorIs(t, err, ksp.ErrUnsupportedAlgorithm)

	// An ECDSA key does not agree secrets; decrypting needs an RSA key.
	peer := softKey(t)
	pk, err := peer.PublicKey.ECDH()
	require.NoError(t, err)
	_, err = k.ECDH(pk)
	assert.ErrorIs(t, err, ksp.ErrUnsupportedAlgorithm)
	_, err = k.Decrypt(rand.Reader, []byte{1}, nil)
	assert.ErrorIs(t, err, minidriver.ErrInvalidParameter)
}

// issue makes a certificate for pub (an ECDH key is certified as its EC
// key) signed by ca.
func issue(t *testing.T, ca *ecdsa.PrivateKey, pub any) *x509.Certificate {
	t.Helper()
	if dh, ok := pub.(*ecdh.PublicKey); ok {
		ec, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), dh.Bytes())
		require.NoError(t, err)
		pub = ec
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "ecdh"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageKeyAgreement}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, ca)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return cert
}

// TestSilentCreationWithSmartCardPin: the silent creation pattern of
// Microsoft's "Smart Card Architecture" ("Create a new container in silent
// context"): a silent provider cannot prompt, so it creates a key only
// after "SmartCardPin" was set on the key being created.
func TestSilentCreationWithSmartCardPin(t *testing.T) {
	f := newFixture(t, ksp.Config{})
	ctx := context.Background()
	silent := f.open(t, ksp.Config{Silent: true})
	k, err := silent.CreatePersistedKey(ctx, `\\.\`+readerName+`\silent`, ksp.ECDSAP256)
	require.NoError(t, err)
	assert.ErrorIs(t, k.Finalize(ctx), pincache.ErrSilent)

	k, err = silent.CreatePersistedKey(ctx, `\\.\`+readerName+`\silent`, ksp.ECDSAP256)
	require.NoError(t, err)
	require.NoError(t, k.SetProperty(ctx, ksp.PropSmartCardPin, []byte(simpiv.DefaultPIN)))
	require.NoError(t, k.Finalize(ctx))
	digest := sha256.Sum256([]byte("silent"))
	_, err = k.Sign(rand.Reader, digest[:], nil)
	assert.NoError(t, err)
	assert.Zero(t, f.prompt.Count.Load(), "nobody was asked")
}

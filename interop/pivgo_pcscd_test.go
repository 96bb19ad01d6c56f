package interop

import (
	"bytes"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	mrand "math/rand/v2"
	"testing"
	"time"

	"github.com/go-piv/piv-go/v2/piv"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	simpiv "github.com/cardmod/cardmod/cardsim/piv"
	"github.com/cardmod/cardmod/scrm/pcsc/pcscdtest"
)

// step runs a subtest and stops the test at the first failing one: the
// steps share the card's state.
func step(t *testing.T, name string, f func(t *testing.T)) {
	t.Helper()
	if !t.Run(name, f) {
		t.FailNow()
	}
}

// TestPivGo drives a simulated YubiKey 5 (firmware 5.7.1, factory AES-192
// management key) through pcscd and vpcd with piv-go v2.6.0: management key
// change to AES-256, key generation, RSA PKCS#1 v1.5 and PSS signatures,
// RSA decryption, ECDSA, ECDH, Ed25519 and X25519, certificates,
// attestation verified against the card's simulated root, PIN and PUK
// changes, unblocking, and the Yubico reset.
func TestPivGo(t *testing.T) {
	env := pcscdtest.Require(t)
	card, err := simpiv.New(simpiv.Config{})
	require.NoError(t, err)
	reader, _ := env.InsertTB(t, card)

	yk, err := piv.Open(reader)
	require.NoError(t, err, "piv.Open(%q)", reader)
	defer func() { assert.NoError(t, yk.Close()) }()

	mgmt := make([]byte, 32) // AES-256
	_, err = rand.Read(mgmt)
	require.NoError(t, err)

	step(t, "version and serial", func(t *testing.T) {
		assert.Equal(t, piv.Version{Major: 5, Minor: 7, Patch: 1}, yk.Version())
		serial, err := yk.Serial()
		require.NoError(t, err)
		assert.Equal(t, simpiv.DefaultSerial, serial)
		retries, err := yk.Retries()
		require.NoError(t, err)
		assert.Equal(t, simpiv.DefaultTries, retries)
	})
	step(t, "set AES-256 management key", func(t *testing.T) {
		require.NoError(t, yk.SetManagementKey(piv.DefaultManagementKey, mgmt))
		_, err := yk.GenerateKey(piv.DefaultManagementKey, piv.SlotCardAuthentication,
			piv.Key{Algorithm: piv.AlgorithmEC256, PINPolicy: piv.PINPolicyNever, TouchPolicy: piv.TouchPolicyNever})
		assert.Error(t, err, "the old management key still authenticates")
	})

	var rsaPub *rsa.PublicKey
	var sigPub, kmPub *ecdsa.PublicKey
	step(t, "generate keys", func(t *testing.T) {
		pub, err := yk.GenerateKey(mgmt, piv.SlotAuthentication,
			piv.Key{Algorithm: piv.AlgorithmRSA2048, PINPolicy: piv.PINPolicyOnce, TouchPolicy: piv.TouchPolicyNever})
		require.NoError(t, err)
		var ok bool
		rsaPub, ok = pub.(*rsa.PublicKey)
		require.True(t, ok, "9a: %T", pub)
		assert.Equal(t, 2048, rsaPub.N.BitLen())

		pub, err = yk.GenerateKey(mgmt, piv.SlotSignature,
			piv.Key{Algorithm: piv.AlgorithmEC256, PINPolicy: piv.PINPolicyAlways, TouchPolicy: piv.TouchPolicyNever})
		require.NoError(t, err)
		sigPub, ok = pub.(*ecdsa.PublicKey)
		require.True(t, ok, "9c: %T", pub)
		assert.Equal(t, elliptic.P256(), sigPub.Curve)

		pub, err = yk.GenerateKey(mgmt, piv.SlotKeyManagement,
			piv.Key{Algorithm: piv.AlgorithmEC384, PINPolicy: piv.PINPolicyOnce, TouchPolicy: piv.TouchPolicyNever})
		require.NoError(t, err)
		kmPub, ok = pub.(*ecdsa.PublicKey)
		require.True(t, ok, "9d: %T", pub)
		assert.Equal(t, elliptic.P384(), kmPub.Curve)

		info, err := yk.KeyInfo(piv.SlotSignature)
		require.NoError(t, err)
		assert.Equal(t, piv.AlgorithmEC256, info.Algorithm)
		assert.Equal(t, piv.PINPolicyAlways, info.PINPolicy)
		assert.Equal(t, piv.OriginGenerated, info.Origin)
		assert.True(t, sigPub.Equal(info.PublicKey))
	})

	auth := piv.KeyAuth{PIN: piv.DefaultPIN}
	digest := sha256.Sum256([]byte("cardmod interop: piv-go"))
	step(t, "sign RSA PKCS#1 v1.5", func(t *testing.T) {
		priv, err := yk.PrivateKey(piv.SlotAuthentication, rsaPub, auth)
		require.NoError(t, err)
		sig, err := priv.(crypto.Signer).Sign(rand.Reader, digest[:], crypto.SHA256)
		require.NoError(t, err)
		assert.NoError(t, rsa.VerifyPKCS1v15(rsaPub, crypto.SHA256, digest[:], sig))
	})
	step(t, "sign RSA-PSS", func(t *testing.T) {
		priv, err := yk.PrivateKey(piv.SlotAuthentication, rsaPub, auth)
		require.NoError(t, err)
		opts := &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: crypto.SHA256}
		sig, err := priv.(crypto.Signer).Sign(rand.Reader, digest[:], opts)
		require.NoError(t, err)
		assert.NoError(t, rsa.VerifyPSS(rsaPub, crypto.SHA256, digest[:], sig, opts))
	})
	step(t, "decrypt RSA", func(t *testing.T) {
		priv, err := yk.PrivateKey(piv.SlotAuthentication, rsaPub, auth)
		require.NoError(t, err)
		msg := []byte("a session key, say")
		ct := encryptPKCS1v15(t, rsaPub, msg)
		pt, err := priv.(crypto.Decrypter).Decrypt(rand.Reader, ct, nil)
		require.NoError(t, err)
		assert.Equal(t, msg, pt)
	})
	step(t, "sign ECDSA P-256 (PIN always)", func(t *testing.T) {
		priv, err := yk.PrivateKey(piv.SlotSignature, sigPub, auth)
		require.NoError(t, err)
		for range 2 { // a PIN before each signature
			sig, err := priv.(crypto.Signer).Sign(rand.Reader, digest[:], crypto.SHA256)
			require.NoError(t, err)
			assert.True(t, ecdsa.VerifyASN1(sigPub, digest[:], sig))
		}
	})
	step(t, "ECDH P-384 SharedKey", func(t *testing.T) {
		priv, err := yk.PrivateKey(piv.SlotKeyManagement, kmPub, auth)
		require.NoError(t, err)
		ecPriv, ok := priv.(*piv.ECDSAPrivateKey)
		require.True(t, ok, "%T", priv)
		peer, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
		require.NoError(t, err)
		got, err := ecPriv.SharedKey(&peer.PublicKey)
		require.NoError(t, err)

		peerECDH, err := peer.ECDH()
		require.NoError(t, err)
		cardECDH, err := kmPub.ECDH()
		require.NoError(t, err)
		want, err := peerECDH.ECDH(cardECDH)
		require.NoError(t, err)
		assert.Equal(t, want, got)

	})
	step(t, "Ed25519 and X25519 (firmware 5.7)", func(t *testing.T) {
		pub, err := yk.GenerateKey(mgmt, piv.SlotCardAuthentication,
			piv.Key{Algorithm: piv.AlgorithmEd25519, PINPolicy: piv.PINPolicyNever, TouchPolicy: piv.TouchPolicyNever})
		require.NoError(t, err)
		edPub, ok := pub.(ed25519.PublicKey)
		require.True(t, ok, "9e: %T", pub)
		priv, err := yk.PrivateKey(piv.SlotCardAuthentication, edPub, piv.KeyAuth{})
		require.NoError(t, err)
		msg := []byte("cardmod interop: Ed25519 signs the message itself")
		sig, err := priv.(crypto.Signer).Sign(rand.Reader, msg, crypto.Hash(0))
		require.NoError(t, err)
		assert.True(t, ed25519.Verify(edPub, msg, sig))

		slot, ok := piv.RetiredKeyManagementSlot(0x82)
		require.True(t, ok)
		pub, err = yk.GenerateKey(mgmt, slot,
			piv.Key{Algorithm: piv.AlgorithmX25519, PINPolicy: piv.PINPolicyOnce, TouchPolicy: piv.TouchPolicyNever})
		require.NoError(t, err)
		xPub, ok := pub.(*ecdh.PublicKey)
		require.True(t, ok, "82: %T", pub)
		priv, err = yk.PrivateKey(slot, xPub, auth)
		require.NoError(t, err)
		xPriv, ok := priv.(*piv.X25519PrivateKey)
		require.True(t, ok, "%T", priv)
		peer, err := ecdh.X25519().GenerateKey(rand.Reader)
		require.NoError(t, err)
		got, err := xPriv.ECDH(peer.PublicKey())
		require.NoError(t, err)
		want, err := peer.ECDH(xPub)
		require.NoError(t, err)
		assert.Equal(t, want, got)
	})
	step(t, "set and read a certificate", func(t *testing.T) {
		caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		require.NoError(t, err)
		ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "cardmod interop CA"}}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(2),
			Subject:      pkix.Name{CommonName: "piv-go 9a"},
			NotBefore:    time.Now().Add(-time.Hour),
			NotAfter:     time.Now().Add(24 * time.Hour),
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, rsaPub, caKey)
		require.NoError(t, err)
		cert, err := x509.ParseCertificate(der)
		require.NoError(t, err)
		require.NoError(t, yk.SetCertificate(mgmt, piv.SlotAuthentication, cert))
		got, err := yk.Certificate(piv.SlotAuthentication)
		require.NoError(t, err)
		assert.True(t, bytes.Equal(der, got.Raw), "certificate read back differs")
	})
	step(t, "attestation", func(t *testing.T) {
		attCert, err := yk.AttestationCertificate()
		require.NoError(t, err)
		slotCert, err := yk.Attest(piv.SlotSignature)
		require.NoError(t, err)
		assert.True(t, sigPub.Equal(slotCert.PublicKey), "attested key is not the slot's")

		roots := x509.NewCertPool()
		roots.AddCert(card.AttestationRoot())
		v := piv.Verifier{Roots: roots}
		a, err := v.Verify(attCert, slotCert)
		require.NoError(t, err)
		assert.Equal(t, piv.Version{Major: 5, Minor: 7, Patch: 1}, a.Version)
		assert.Equal(t, simpiv.DefaultSerial, a.Serial)
		assert.Equal(t, piv.Formfactor(simpiv.DefaultFormFactor), a.Formfactor)
		assert.Equal(t, piv.PINPolicyAlways, a.PINPolicy)
		assert.Equal(t, piv.TouchPolicyNever, a.TouchPolicy)
		assert.Equal(t, piv.SlotSignature, a.Slot)

		// Not Yubico's root: the default verifier must refuse it.
		_, err = piv.Verify(attCert, slotCert)
		assert.Error(t, err)
	})
	step(t, "change PIN and PUK, unblock", func(t *testing.T) {
		require.NoError(t, yk.SetPIN(piv.DefaultPIN, "654321"))
		assert.Error(t, yk.VerifyPIN(piv.DefaultPIN))
		require.NoError(t, yk.VerifyPIN("654321"))
		require.NoError(t, yk.SetPUK(piv.DefaultPUK, "87654321"))

		for range simpiv.DefaultTries {
			assert.Error(t, yk.VerifyPIN("000000"))
		}
		retries, err := yk.Retries()
		require.NoError(t, err)
		assert.Zero(t, retries)
		assert.Error(t, yk.VerifyPIN("654321"), "a blocked PIN verifies")

		assert.Error(t, yk.Unblock(piv.DefaultPUK, "111111"), "the old PUK unblocks")
		require.NoError(t, yk.Unblock("87654321", "111111"))
		// Asked before VerifyPIN: once the PIN is verified, the empty
		// VERIFY answers 9000 and piv-go's Retries reports an error.
		retries, err = yk.Retries()
		require.NoError(t, err)
		assert.Equal(t, simpiv.DefaultTries, retries)
		require.NoError(t, yk.VerifyPIN("111111"))
	})
	step(t, "reset", func(t *testing.T) {
		require.NoError(t, yk.Reset()) // blocks PIN and PUK, then resets
		retries, err := yk.Retries()
		require.NoError(t, err)
		assert.Equal(t, simpiv.DefaultTries, retries)
		require.NoError(t, yk.VerifyPIN(piv.DefaultPIN))
		_, err = yk.Certificate(piv.SlotAuthentication)
		assert.ErrorIs(t, err, piv.ErrNotFound)
		_, err = yk.GenerateKey(piv.DefaultManagementKey, piv.SlotAuthentication,
			piv.Key{Algorithm: piv.AlgorithmEC256, PINPolicy: piv.PINPolicyOnce, TouchPolicy: piv.TouchPolicyNever})
		assert.NoError(t, err, "the factory management key after reset")
	})
}

// encryptPKCS1v15 encrypts msg to pub with PKCS#1 v1.5 padding (RFC 8017,
// 7.2.1), the only RSA decryption piv-go offers. crypto/rsa's own
// EncryptPKCS1v15 is deprecated; this test needs the padding, not its
// security.
func encryptPKCS1v15(t *testing.T, pub *rsa.PublicKey, msg []byte) []byte {
	t.Helper()
	k := pub.Size()
	require.LessOrEqual(t, len(msg), k-11)
	em := make([]byte, k)
	em[1] = 0x02
	ps := em[2 : k-len(msg)-1]
	_, err := rand.Read(ps)
	require.NoError(t, err)
	for i := range ps {
		for ps[i] == 0 {
			ps[i] = byte(mrand.IntN(255) + 1)
		}
	}
	copy(em[k-len(msg):], msg)
	c := new(big.Int).Exp(new(big.Int).SetBytes(em), big.NewInt(int64(pub.E)), pub.N)
	return c.FillBytes(make([]byte, k))
}

// TestPivGoTripleDES drives a card with firmware 5.4.3 (factory 3DES
// management key) with piv-go: 3DES authentication, a change to an AES-192
// key (AES from 5.4), and the PIN-protected management key that piv-go
// (like ykman) keeps in the Printed Information object.
func TestPivGoTripleDES(t *testing.T) {
	env := pcscdtest.Require(t)
	card, err := simpiv.New(simpiv.Config{Version: simpiv.Version{Major: 5, Minor: 4, Patch: 3}})
	require.NoError(t, err)
	reader, _ := env.InsertTB(t, card)
	yk, err := piv.Open(reader)
	require.NoError(t, err, "piv.Open(%q)", reader)
	defer func() { assert.NoError(t, yk.Close()) }()

	ecKey := piv.Key{Algorithm: piv.AlgorithmEC256, PINPolicy: piv.PINPolicyOnce, TouchPolicy: piv.TouchPolicyNever}
	step(t, "3DES management key", func(t *testing.T) {
		_, err := yk.GenerateKey(piv.DefaultManagementKey, piv.SlotAuthentication, ecKey)
		require.NoError(t, err)
	})
	newKey := make([]byte, 24)
	_, err = rand.Read(newKey)
	require.NoError(t, err)
	step(t, "AES-192 management key", func(t *testing.T) {
		require.NoError(t, yk.SetManagementKey(piv.DefaultManagementKey, newKey))
		_, err := yk.GenerateKey(piv.DefaultManagementKey, piv.SlotAuthentication, ecKey)
		assert.Error(t, err, "the old key still authenticates")
		_, err = yk.GenerateKey(newKey, piv.SlotAuthentication, ecKey)
		require.NoError(t, err)
	})
	step(t, "PIN-protected management key", func(t *testing.T) {
		m, err := yk.Metadata(piv.DefaultPIN)
		require.NoError(t, err)
		assert.Nil(t, m.ManagementKey, "a fresh card has no protected metadata")
		require.NoError(t, yk.SetMetadata(newKey, &piv.Metadata{ManagementKey: &newKey}))
		m, err = yk.Metadata(piv.DefaultPIN)
		require.NoError(t, err)
		require.NotNil(t, m.ManagementKey)
		assert.Equal(t, newKey, *m.ManagementKey)
		_, err = yk.Metadata("000000")
		assert.Error(t, err, "the metadata without the PIN")
	})
}

package piv_test

import (
	"context"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"fmt"
	"math/big"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cardmod/cardmod/cardfs"
	simpiv "github.com/cardmod/cardmod/cardsim/piv"
	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/minidriver/piv"
	"github.com/cardmod/cardmod/scrm"
	"github.com/cardmod/cardmod/scrm/virtual"
)

func TestPluginMatchesByATRAndProbe(t *testing.T) {
	e := newEnv(t, nil, piv.Plugin{})
	assert.True(t, e.match.ByATR, e.match.Reason)
	assert.Equal(t, "PIV", e.match.Plugin.Name())

	g := newEnv(t, genericPIV{newSim(t, simpiv.Config{})}, piv.Plugin{})
	assert.False(t, g.match.ByATR)
	assert.Contains(t, g.match.Reason, "PIV")

	for _, m := range (piv.Plugin{}).ATRs() {
		assert.True(t, m.Valid(), m.String())
	}
}

func TestProbeRejectsOtherCards(t *testing.T) {
	ctx := context.Background()
	b := virtual.NewBackend()
	b.AddReader("R").Insert(notPIV{})
	card, err := scrm.NewContext(b).Connect(ctx, "R", nil)
	require.NoError(t, err)
	defer func() { _ = card.Close(scrm.LeaveCard) }()
	_, _, err = minidriver.NewRegistry(piv.Plugin{}).Open(ctx, card, minidriver.Env{})
	assert.ErrorIs(t, err, minidriver.ErrUnknownCard)
}

type notPIV struct{}

func (notPIV) ATR() []byte                 { return []byte{0x3B, 0x00} }
func (notPIV) Reset()                      {}
func (notPIV) Transmit(apdu []byte) []byte { return []byte{0x6A, 0x82} }

func TestCardIDFromCHUIDAndSerial(t *testing.T) {
	sim := newSim(t, simpiv.Config{Serial: 4242})
	e := newEnv(t, sim, piv.Plugin{})
	var derived []byte
	e.run(t, func(ctx context.Context, tx *scrm.Tx) {
		id, err := e.md.ReadFile(ctx, tx, "", "cardid")
		require.NoError(t, err)
		require.Len(t, id, 16)
		derived = id
		p, err := e.md.Properties(ctx, tx)
		require.NoError(t, err)
		assert.Equal(t, id, p.GUID[:])
		assert.Equal(t, []byte{0, 0, 0x10, 0x92}, p.Serial)
		assert.Equal(t, minidriver.CacheGlobal, p.CacheMode)
	})
	// The same card opened again has the same identity; another serial
	// another one.
	cardid := func(sim *simpiv.Card) []byte {
		t.Helper()
		fresh := newEnv(t, sim, piv.Plugin{})
		var id []byte
		fresh.run(t, func(ctx context.Context, tx *scrm.Tx) {
			var err error
			id, err = fresh.md.ReadFile(ctx, tx, "", "cardid")
			require.NoError(t, err)
		})
		return id
	}
	assert.Equal(t, derived, cardid(sim))
	assert.NotEqual(t, derived, cardid(newSim(t, simpiv.Config{Serial: 4243})))

	// A CHUID with a GUID gives the GUID on a card without GET SERIAL
	// (a YubiKey 4 here); a YubiKey 5 keeps its serial's identity, which
	// no application can rewrite (Open reads no CHUID there).
	guid := []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	chuid := append(berTLV(0x30, make([]byte, 25)), berTLV(0x34, guid)...)
	chuid = append(chuid, berTLV(0x35, []byte("20991231"))...)
	chuid = append(chuid, 0x3E, 0x00, 0xFE, 0x00)
	writeCHUID := func(sim *simpiv.Card) {
		t.Helper()
		w := newEnv(t, sim, piv.Plugin{})
		w.run(t, func(ctx context.Context, tx *scrm.Tx) {
			admin(t, ctx, w.md, tx, simpiv.DefaultManagementKey)
			putData(t, ctx, tx, 0x5FC102, chuid)
		})
	}
	writeCHUID(sim)
	assert.Equal(t, derived, cardid(sim), "a YubiKey 5 is known by its serial")
	yk4 := newSim(t, simpiv.Config{Profile: simpiv.ProfileYubiKey4()})
	writeCHUID(yk4)
	assert.Equal(t, guid, cardid(yk4))
}

func TestPINInfoAndKeySizes(t *testing.T) {
	e := newEnv(t, nil, piv.Plugin{})
	e.run(t, func(ctx context.Context, tx *scrm.Tx) {
		p, err := e.md.Properties(ctx, tx)
		require.NoError(t, err)
		assert.Equal(t, minidriver.NewPinSet(0, 1, 2, 3, 4), p.PINs)
		assert.False(t, p.ReadOnly)
		assert.True(t, p.KeyImport)
		assert.Equal(t, 24, p.MaxContainers)

		for _, tc := range []struct {
			id      minidriver.PinID
			typ     minidriver.PINType
			purpose minidriver.PINPurpose
			cache   minidriver.PINCachePolicyType
		}{
			{piv.PINUser, minidriver.AlphanumericPIN, minidriver.PrimaryCardPIN, minidriver.PINCacheNormal},
			{piv.PINAdmin, minidriver.ChallengeResponsePIN, minidriver.AdministratorPIN, minidriver.PINCacheNone},
			{piv.PINPUK, minidriver.AlphanumericPIN, minidriver.UnblockOnlyPIN, minidriver.PINCacheNone},
			{piv.PINSignature, minidriver.AlphanumericPIN, minidriver.DigitalSignaturePIN, minidriver.PINCacheAlwaysPrompt},
		} {
			info, err := e.md.PINInfo(ctx, tx, tc.id)
			require.NoError(t, err)
			assert.NoError(t, info.Validate())
			assert.Equal(t, tc.typ, info.Type, "PIN %d", tc.id)
			assert.Equal(t, tc.purpose, info.Purpose, "PIN %d", tc.id)
			assert.Equal(t, tc.cache, info.CachePolicy.Type, "PIN %d", tc.id)
		}
		info, err := e.md.PINInfo(ctx, tx, piv.PINUser)
		require.NoError(t, err)
		assert.True(t, info.UnblockPermission.Has(piv.PINPUK))
		_, err = e.md.PINInfo(ctx, tx, 5)
		assert.ErrorIs(t, err, minidriver.ErrInvalidParameter)

		ks, err := e.md.KeySizes(ctx, tx, minidriver.KeyExchange)
		require.NoError(t, err)
		assert.Equal(t, minidriver.KeySizes{Min: 1024, Default: 2048, Max: 4096, Increment: 1024}, ks)
		ks, err = e.md.KeySizes(ctx, tx, minidriver.ECDSAP384)
		require.NoError(t, err)
		assert.Equal(t, minidriver.KeySizes{Min: 384, Default: 384, Max: 384, Increment: 1}, ks)
		_, err = e.md.KeySizes(ctx, tx, minidriver.ECDHP521)
		assert.ErrorIs(t, err, minidriver.ErrUnsupported)
		_, err = e.md.KeySizes(ctx, tx, 99)
		assert.ErrorIs(t, err, minidriver.ErrInvalidParameter)

		caps := e.md.Capabilities()
		assert.True(t, caps.CertificateCompression)
		assert.True(t, caps.KeyGen)
	})
}

func TestEmptyCardFileSystem(t *testing.T) {
	e := newEnv(t, nil, piv.Plugin{})
	e.run(t, func(ctx context.Context, tx *scrm.Tx) {
		root, err := e.md.ListFiles(ctx, tx, "")
		require.NoError(t, err)
		assert.Equal(t, []string{"cardapps", "cardcf", "cardid"}, root)
		mscp, err := e.md.ListFiles(ctx, tx, "mscp")
		require.NoError(t, err)
		assert.Equal(t, []string{"cmapfile"}, mscp)

		cf, err := e.md.ReadFile(ctx, tx, "", "cardcf")
		require.NoError(t, err)
		assert.Equal(t, make([]byte, 6), cf)
		apps, err := e.md.ReadFile(ctx, tx, "", "CARDAPPS")
		require.NoError(t, err)
		assert.Equal(t, []byte("mscp\x00\x00\x00\x00"), apps)
		cmap, err := e.md.ReadFile(ctx, tx, "mscp", "cmapfile")
		require.NoError(t, err)
		assert.Empty(t, cmap)

		_, err = e.md.ReadFile(ctx, tx, "mscp", "kxc00")
		assert.ErrorIs(t, err, minidriver.ErrFileNotFound)
		_, err = e.md.ReadFile(ctx, tx, "mscp", "msroots")
		assert.ErrorIs(t, err, minidriver.ErrFileNotFound)
		_, err = e.md.ReadFile(ctx, tx, "nodir", "x")
		assert.ErrorIs(t, err, minidriver.ErrDirNotFound)

		fi, err := e.md.FileInfo(ctx, tx, "", "cardid")
		require.NoError(t, err)
		assert.Equal(t, 16, fi.Size)
		assert.Equal(t, cardfs.EveryoneReadAdminWriteAc, fi.AccessCondition)
		fi, err = e.md.FileInfo(ctx, tx, "", "cardcf")
		require.NoError(t, err)
		assert.Equal(t, cardfs.EveryoneReadUserWriteAc, fi.AccessCondition)

		_, err = e.md.ContainerInfo(ctx, tx, 0)
		assert.ErrorIs(t, err, minidriver.ErrNoKeyContainer)
		_, err = e.md.ContainerInfo(ctx, tx, 200)
		assert.ErrorIs(t, err, minidriver.ErrNoKeyContainer)

		fs, err := e.md.FreeSpace(ctx, tx)
		require.NoError(t, err)
		assert.Equal(t, 24, fs.ContainersAvailable)
		assert.Equal(t, 24, fs.MaxContainers)
		assert.Greater(t, fs.BytesAvailable, 2000)
	})
}

func TestGenerateECDSAAndSign(t *testing.T) {
	e := newEnv(t, nil, piv.Plugin{})
	e.run(t, func(ctx context.Context, tx *scrm.Tx) {
		err := minidriver.CreateContainer(ctx, e.md, tx, minidriver.CreateContainerRequest{Index: 0, KeySpec: minidriver.ECDSAP256})
		assert.ErrorIs(t, err, minidriver.ErrSecurityViolation, "generation needs the management key")
		admin(t, ctx, e.md, tx, simpiv.DefaultManagementKey)
		require.NoError(t, minidriver.CreateContainer(ctx, e.md, tx, minidriver.CreateContainerRequest{Index: 0, KeySpec: minidriver.ECDSAP256}))
		require.NoError(t, minidriver.CreateContainer(ctx, e.md, tx, minidriver.CreateContainerRequest{Index: 1, KeySpec: minidriver.ECDSAP384}))
	})
	e.run(t, func(ctx context.Context, tx *scrm.Tx) {
		info, err := e.md.ContainerInfo(ctx, tx, 0)
		require.NoError(t, err)
		pub, ok := info.Signature.(*ecdsa.PublicKey)
		require.True(t, ok)
		assert.Equal(t, elliptic.P256(), pub.Curve)
		assert.Equal(t, minidriver.ECDSAP256, info.SignatureSpec)
		assert.Nil(t, info.KeyExchange)

		digest := sha256.Sum256([]byte("hello"))
		req := minidriver.SignRequest{Container: 0, KeySpec: minidriver.ECDSAP256, Digest: digest[:]}
		_, err = e.md.SignData(ctx, tx, req)
		assert.ErrorIs(t, err, minidriver.ErrSecurityViolation, "the PIN is needed")
		userPIN(t, ctx, e.md, tx)
		sig, err := e.md.SignData(ctx, tx, req)
		require.NoError(t, err)
		assert.True(t, ecdsa.VerifyASN1(pub, digest[:], sig))

		// P-384 in slot 9C: PIN policy always, PINSignature.
		pin, err := e.md.ContainerPIN(ctx, tx, 1)
		require.NoError(t, err)
		assert.Equal(t, piv.PINSignature, pin)
		pin, err = e.md.ContainerPIN(ctx, tx, 0)
		require.NoError(t, err)
		assert.Equal(t, piv.PINUser, pin)
		info, err = e.md.ContainerInfo(ctx, tx, 1)
		require.NoError(t, err)
		pub384 := info.Signature.(*ecdsa.PublicKey)
		_, err = e.md.Authenticate(ctx, tx, piv.PINSignature, []byte(simpiv.DefaultPIN), 0)
		require.NoError(t, err)
		sig, err = e.md.SignData(ctx, tx, minidriver.SignRequest{Container: 1, KeySpec: minidriver.ECDSAP384, Digest: digest[:]})
		require.NoError(t, err)
		assert.True(t, ecdsa.VerifyASN1(pub384, digest[:], sig))
		_, err = e.md.SignData(ctx, tx, minidriver.SignRequest{Container: 1, KeySpec: minidriver.ECDSAP384, Digest: digest[:]})
		assert.ErrorIs(t, err, minidriver.ErrSecurityViolation, "9C wants the PIN again")

		_, err = e.md.SignData(ctx, tx, minidriver.SignRequest{Container: 5, Digest: digest[:]})
		assert.ErrorIs(t, err, minidriver.ErrNoKeyContainer)
		_, err = e.md.SignData(ctx, tx, minidriver.SignRequest{Container: 0, KeySpec: minidriver.KeyExchange, Digest: digest[:]})
		assert.ErrorIs(t, err, minidriver.ErrNoKeyContainer)

		// The synthesized map shows both containers, 0 the default.
		m := containerMap(t, ctx, e.md, tx)
		recs := m.ValidRecords()
		require.Len(t, recs, 2)
		assert.True(t, recs[0].Default())
		assert.Equal(t, uint16(256), recs[0].SigKeySizeBits)
		assert.Equal(t, uint16(384), recs[1].SigKeySizeBits)
	})
	// Names are stable across openings.
	var first []byte
	e.run(t, func(ctx context.Context, tx *scrm.Tx) {
		b, err := e.md.ReadFile(ctx, tx, "mscp", "cmapfile")
		require.NoError(t, err)
		first = b
	})
	again := newEnv(t, e.sim, piv.Plugin{})
	again.run(t, func(ctx context.Context, tx *scrm.Tx) {
		b, err := again.md.ReadFile(ctx, tx, "mscp", "cmapfile")
		require.NoError(t, err)
		assert.Equal(t, first, b)
	})
}

func TestRSAImportSignDecrypt(t *testing.T) {
	key := testRSAKey(t)
	e := newEnv(t, nil, piv.Plugin{})
	e.run(t, func(ctx context.Context, tx *scrm.Tx) {
		admin(t, ctx, e.md, tx, simpiv.DefaultManagementKey)
		require.NoError(t, minidriver.CreateContainer(ctx, e.md, tx, minidriver.CreateContainerRequest{Index: 2, KeySpec: minidriver.KeyExchange, Key: key}))
		err := minidriver.CreateContainer(ctx, e.md, tx, minidriver.CreateContainerRequest{Index: 3, KeySpec: minidriver.ECDSAP256, Key: key})
		assert.ErrorIs(t, err, minidriver.ErrInvalidParameter)
	})
	e.run(t, func(ctx context.Context, tx *scrm.Tx) {
		info, err := e.md.ContainerInfo(ctx, tx, 2)
		require.NoError(t, err)
		assert.Equal(t, &key.PublicKey, info.KeyExchange)
		assert.Equal(t, minidriver.KeyExchange, info.KeyExchangeSpec)
		userPIN(t, ctx, e.md, tx)

		digest := sha256.Sum256([]byte("message"))
		sig, err := e.md.SignData(ctx, tx, minidriver.SignRequest{Container: 2, KeySpec: minidriver.KeyExchange, Digest: digest[:], Padding: minidriver.PaddingPKCS1, Hash: crypto.SHA256})
		require.NoError(t, err)
		assert.NoError(t, rsa.VerifyPKCS1v15(&key.PublicKey, crypto.SHA256, digest[:], sig))
		sig, err = e.md.SignData(ctx, tx, minidriver.SignRequest{Container: 2, KeySpec: minidriver.KeyExchange, Digest: digest[:], Padding: minidriver.PaddingPSS, Hash: crypto.SHA256, SaltLength: 32})
		require.NoError(t, err)
		assert.NoError(t, rsa.VerifyPSS(&key.PublicKey, crypto.SHA256, digest[:], sig, &rsa.PSSOptions{SaltLength: 32}))

		msg := []byte("secret session key")
		ct := encryptPKCS1(t, &key.PublicKey, msg)
		block, err := minidriver.RSADecrypt(ctx, e.md, tx, minidriver.DecryptRequest{Container: 2, KeySpec: minidriver.KeyExchange, Ciphertext: ct, Padding: minidriver.PaddingNone})
		require.NoError(t, err)
		require.Len(t, block, 256)
		assert.Equal(t, []byte{0x00, 0x02}, block[:2])
		plain, err := minidriver.UnpadPKCS1v15(block)
		require.NoError(t, err)
		assert.Equal(t, msg, plain)
		plain, err = minidriver.RSADecrypt(ctx, e.md, tx, minidriver.DecryptRequest{Container: 2, KeySpec: minidriver.KeyExchange, Ciphertext: ct, Padding: minidriver.PaddingPKCS1})
		require.NoError(t, err)
		assert.Equal(t, msg, plain)

		oaep, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, &key.PublicKey, msg, []byte("label"))
		require.NoError(t, err)
		plain, err = minidriver.RSADecrypt(ctx, e.md, tx, minidriver.DecryptRequest{Container: 2, KeySpec: minidriver.KeyExchange, Ciphertext: oaep, Padding: minidriver.PaddingOAEP, OAEPHash: crypto.SHA256, Label: []byte("label")})
		require.NoError(t, err)
		assert.Equal(t, msg, plain)

		_, err = minidriver.RSADecrypt(ctx, e.md, tx, minidriver.DecryptRequest{Container: 2, KeySpec: minidriver.KeyExchange, Ciphertext: ct[:100]})
		assert.ErrorIs(t, err, minidriver.ErrInsufficientBuffer)
	})
}

func TestGenerateRSA(t *testing.T) {
	e := newEnv(t, nil, piv.Plugin{})
	e.run(t, func(ctx context.Context, tx *scrm.Tx) {
		admin(t, ctx, e.md, tx, simpiv.DefaultManagementKey)
		require.NoError(t, minidriver.CreateContainer(ctx, e.md, tx, minidriver.CreateContainerRequest{Index: 0, KeySpec: minidriver.KeyExchange, Bits: 2048}))
		err := minidriver.CreateContainer(ctx, e.md, tx, minidriver.CreateContainerRequest{Index: 1, KeySpec: minidriver.Signature, Bits: 1536})
		assert.ErrorIs(t, err, minidriver.ErrUnsupported)
		info, err := e.md.ContainerInfo(ctx, tx, 0)
		require.NoError(t, err)
		pub := info.KeyExchange.(*rsa.PublicKey)
		assert.Equal(t, 2048, pub.N.BitLen())
		userPIN(t, ctx, e.md, tx)
		digest := sha256.Sum256([]byte("generated"))
		sig, err := e.md.SignData(ctx, tx, minidriver.SignRequest{Container: 0, KeySpec: minidriver.KeyExchange, Digest: digest[:], Padding: minidriver.PaddingPKCS1, Hash: crypto.SHA256})
		require.NoError(t, err)
		assert.NoError(t, rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig))
	})
}

// encryptPKCS1 is RSAES-PKCS1-v1_5 encryption (RFC 8017 §7.2.1), which
// crypto/rsa deprecates, for the decryption tests.
func encryptPKCS1(t *testing.T, pub *rsa.PublicKey, msg []byte) []byte {
	k := pub.Size()
	em := make([]byte, k)
	em[1] = 2
	ps := em[2 : k-len(msg)-1]
	_, err := rand.Read(ps)
	require.NoError(t, err)
	for i := range ps {
		if ps[i] == 0 {
			ps[i] = 1
		}
	}
	copy(em[k-len(msg):], msg)
	c := new(big.Int).Exp(new(big.Int).SetBytes(em), big.NewInt(int64(pub.E)), pub.N)
	return c.FillBytes(make([]byte, k))
}

// rawKDF is a KDF for the tests: the secret itself.
type rawKDF struct{}

func (rawKDF) Derive(secret []byte) ([]byte, error) { return append([]byte(nil), secret...), nil }

func TestECDHAgreement(t *testing.T) {
	e := newEnv(t, nil, piv.Plugin{})
	own, err := ecdh.P256().GenerateKey(rand.Reader)
	require.NoError(t, err)
	e.run(t, func(ctx context.Context, tx *scrm.Tx) {
		admin(t, ctx, e.md, tx, simpiv.DefaultManagementKey)
		// Slot 9D (container 2) holds a key agreement key: ECDH.
		require.NoError(t, minidriver.CreateContainer(ctx, e.md, tx, minidriver.CreateContainerRequest{Index: 2, KeySpec: minidriver.ECDHP256}))
	})
	e.run(t, func(ctx context.Context, tx *scrm.Tx) {
		info, err := e.md.ContainerInfo(ctx, tx, 2)
		require.NoError(t, err)
		assert.Equal(t, minidriver.ECDHP256, info.KeyExchangeSpec)
		cardPub, ok := info.KeyExchange.(*ecdh.PublicKey)
		require.True(t, ok)
		userPIN(t, ctx, e.md, tx)
		idx, err := minidriver.Agree(ctx, e.md, tx, 2, own.PublicKey())
		require.NoError(t, err)
		ka := e.md.(minidriver.KeyAgreer)
		got, err := ka.DeriveKey(idx, rawKDF{})
		require.NoError(t, err)
		want, err := own.ECDH(cardPub)
		require.NoError(t, err)
		assert.Equal(t, want, got)
		require.NoError(t, ka.DestroyAgreement(idx))
		_, err = ka.DeriveKey(idx, rawKDF{})
		assert.ErrorIs(t, err, minidriver.ErrInvalidParameter)

		p384, err := ecdh.P384().GenerateKey(rand.Reader)
		require.NoError(t, err)
		_, err = minidriver.Agree(ctx, e.md, tx, 2, p384.PublicKey())
		assert.ErrorIs(t, err, minidriver.ErrInvalidParameter)
		_, err = e.md.SignData(ctx, tx, minidriver.SignRequest{Container: 2, Digest: make([]byte, 32)})
		assert.ErrorIs(t, err, minidriver.ErrNoKeyContainer)
	})
}

// An ECDSA key created in a slot whose default is key exchange (9D, the
// retired slots) is reported as the ECDSA key that was asked for.
func TestCreatedSpecInKeyExchangeSlots(t *testing.T) {
	e := newEnv(t, nil, piv.Plugin{})
	e.run(t, func(ctx context.Context, tx *scrm.Tx) {
		admin(t, ctx, e.md, tx, simpiv.DefaultManagementKey)
		require.NoError(t, minidriver.CreateContainer(ctx, e.md, tx, minidriver.CreateContainerRequest{Index: 2, KeySpec: minidriver.ECDSAP256}))
		require.NoError(t, minidriver.CreateContainer(ctx, e.md, tx, minidriver.CreateContainerRequest{Index: 5, KeySpec: minidriver.ECDSAP384}))
		require.NoError(t, minidriver.CreateContainer(ctx, e.md, tx, minidriver.CreateContainerRequest{Index: 6, KeySpec: minidriver.ECDHP256}))
	})
	e.run(t, func(ctx context.Context, tx *scrm.Tx) {
		for _, tc := range []struct {
			idx  int
			spec minidriver.KeySpec
		}{{2, minidriver.ECDSAP256}, {5, minidriver.ECDSAP384}, {6, minidriver.ECDHP256}} {
			info, err := e.md.ContainerInfo(ctx, tx, tc.idx)
			require.NoError(t, err)
			if tc.spec.IsECDSA() {
				assert.Equal(t, tc.spec, info.SignatureSpec, "container %d", tc.idx)
				assert.IsType(t, &ecdsa.PublicKey{}, info.Signature)
				assert.Nil(t, info.KeyExchange)
			} else {
				assert.Equal(t, tc.spec, info.KeyExchangeSpec, "container %d", tc.idx)
				assert.Nil(t, info.Signature)
			}
		}
		userPIN(t, ctx, e.md, tx)
		digest := sha256.Sum256([]byte("retired slot"))
		info, err := e.md.ContainerInfo(ctx, tx, 5)
		require.NoError(t, err)
		sig, err := e.md.SignData(ctx, tx, minidriver.SignRequest{Container: 5, KeySpec: minidriver.ECDSAP384, Digest: digest[:]})
		require.NoError(t, err)
		assert.True(t, ecdsa.VerifyASN1(info.Signature.(*ecdsa.PublicKey), digest[:], sig))
	})
}

// TestOTPSerial: a YubiKey without GET SERIAL (4, NEO) and without a
// CHUID is identified by the serial number its OTP application gives, as
// libykpiv reads it (SELECT A0 00 00 05 27 20 01 01, 00 01 10 00, SELECT
// PIV again), and so is cached like any card with an identity; another
// serial gives another identity. A card whose OTP application does not
// answer (none, or the serial hidden) still opens, uncached. A card with
// a CHUID or GET SERIAL is not asked.
func TestOTPSerial(t *testing.T) {
	otpSelect := []byte{0x00, 0xA4, 0x04, 0x00, 0x08, 0xA0, 0x00, 0x00, 0x05, 0x27, 0x20, 0x01, 0x01}
	noOTP := simpiv.ProfileYubiKey4()
	noOTP.OTPSerial = false
	for _, tc := range []struct {
		name      string
		cfg       simpiv.Config
		asked     bool
		serial    []byte
		cacheMode minidriver.CacheMode
	}{
		{"yubikey-4", simpiv.Config{Profile: simpiv.ProfileYubiKey4(), Serial: 0x01020304}, true, []byte{1, 2, 3, 4}, minidriver.CacheGlobal},
		{"yubikey-neo", simpiv.Config{Profile: simpiv.ProfileYubiKeyNEO(), Serial: 0x0A0B0C0D}, true, []byte{0x0A, 0x0B, 0x0C, 0x0D}, minidriver.CacheGlobal},
		{"yubikey-4 without the OTP application", simpiv.Config{Profile: noOTP, Serial: 0x01020304}, true, nil, minidriver.CacheNone},
		{"yubikey-5.7 (GET SERIAL)", simpiv.Config{Profile: simpiv.ProfileYubiKey57(), Serial: 0x01020304}, false, []byte{1, 2, 3, 4}, minidriver.CacheGlobal},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &countingSim{Card: newSim(t, tc.cfg)}
			e := newEnv(t, rec, piv.Plugin{})
			sent := strings.Join(rec.take(), "\n")
			assert.Equal(t, tc.asked, strings.Contains(sent, fmt.Sprintf("% X", otpSelect[:12])), "the OTP application asked:\n%s", sent)
			e.run(t, func(ctx context.Context, tx *scrm.Tx) {
				p, err := e.md.Properties(ctx, tx)
				require.NoError(t, err)
				assert.Equal(t, tc.serial, p.Serial)
				assert.Equal(t, tc.cacheMode, p.CacheMode)
				// The PIV application is selected again: its objects read.
				_, err = e.md.ReadFile(ctx, tx, "", "cardid")
				require.NoError(t, err)
			})
		})
	}
	// The identity follows the serial.
	ids := map[uint32][]byte{}
	for _, serial := range []uint32{7, 8} {
		e := newEnv(t, newSim(t, simpiv.Config{Profile: simpiv.ProfileYubiKey4(), Serial: serial}), piv.Plugin{})
		e.run(t, func(ctx context.Context, tx *scrm.Tx) {
			id, err := e.md.ReadFile(ctx, tx, "", "cardid")
			require.NoError(t, err)
			ids[serial] = id
		})
	}
	assert.NotEqual(t, ids[7], ids[8])
}

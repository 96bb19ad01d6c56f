package basecsp_test

import (
	"context"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"math/big"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cardmod/cardmod/basecsp"
	simpiv "github.com/cardmod/cardmod/cardsim/piv"
	"github.com/cardmod/cardmod/internal/csptest"
	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/scrm"
	"github.com/cardmod/cardmod/scrm/virtual"
)

// newCountingFixture is newFixture with the simulated card behind a
// csptest.CountingCard.
func newCountingFixture(t *testing.T) (*fixture, *csptest.CountingCard) {
	t.Helper()
	sim, err := simpiv.New(simpiv.Config{})
	require.NoError(t, err)
	cc := csptest.NewCountingCard(sim)
	b := virtual.NewBackend()
	r := b.AddReader(readerName)
	r.Insert(cc)
	f := &fixture{b: b, reader: r, sim: sim, prompt: newPrompt(simpiv.DefaultPIN)}
	f.p = f.open(t, basecsp.Config{})
	return f, cc
}

// TestCallerInputCheckedBeforeTheCard: every argument a caller can get
// wrong (keys to import, sizes, hashes, options, PIN arguments,
// certificates) is refused with a typed error, without a panic and
// without a single APDU or PIN prompt.
func TestCallerInputCheckedBeforeTheCard(t *testing.T) {
	f, cc := newCountingFixture(t)
	ctx := context.Background()
	rsaK := f.create(t, "rsa", minidriver.KeyExchange, rsaKey(t))
	ecK := f.create(t, "ec", minidriver.ECDSAP256, softKey(t))
	card := rsaK.Container().Card()
	digest := sha256.Sum256([]byte("data"))

	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	require.NoError(t, err)
	mismatched := *softKey(t)
	other := softKey(t)
	mismatched.PublicKey = other.PublicKey
	threePrimes := *rsaKey(t)
	threePrimes.Primes = append(append([]*big.Int(nil), threePrimes.Primes...), big.NewInt(7))
	noN := *rsaKey(t)
	noN.N = nil
	ecCert := selfSigned(t, ecK, "ec")

	create := func(spec minidriver.KeySpec, key crypto.PrivateKey) func() error {
		return func() error {
			_, err := f.p.CreateContainer(ctx, "", spec, 0, key)
			return err
		}
	}
	sign := func(k *basecsp.Key, d []byte, opts crypto.SignerOpts) func() error {
		return func() error { _, err := k.SignContext(ctx, nil, d, opts); return err }
	}
	decrypt := func(msg []byte, opts crypto.DecrypterOpts) func() error {
		return func() error { _, err := rsaK.DecryptContext(ctx, nil, msg, opts); return err }
	}
	block := make([]byte, 256)
	block[1] = 1
	tests := []struct {
		name string
		call func() error
		want error
	}{
		{"import nil RSA key", create(minidriver.KeyExchange, (*rsa.PrivateKey)(nil)), minidriver.ErrInvalidParameter},
		{"import empty RSA key", create(minidriver.KeyExchange, &rsa.PrivateKey{}), minidriver.ErrInvalidParameter},
		{"import RSA key without modulus", create(minidriver.KeyExchange, &noN), minidriver.ErrInvalidParameter},
		{"import three-prime RSA key", create(minidriver.KeyExchange, &threePrimes), minidriver.ErrInvalidParameter},
		{"import nil ECDSA key", create(minidriver.ECDSAP256, (*ecdsa.PrivateKey)(nil)), minidriver.ErrInvalidParameter},
		{"import empty ECDSA key", create(minidriver.ECDSAP256, &ecdsa.PrivateKey{}), minidriver.ErrInvalidParameter},
		{"import ECDSA key with another's public key", create(minidriver.ECDSAP256, &mismatched), minidriver.ErrInvalidParameter},
		{"import P-384 key as P-256", create(minidriver.ECDSAP256, p384), minidriver.ErrInvalidParameter},
		{"import nil ECDH key", create(minidriver.ECDHP256, (*ecdh.PrivateKey)(nil)), minidriver.ErrInvalidParameter},
		{"import RSA key as ECDSA", create(minidriver.ECDSAP256, rsaKey(t)), minidriver.ErrInvalidParameter},
		{"unknown key spec", create(99, nil), minidriver.ErrInvalidParameter},

		{"RSA without options", sign(rsaK, digest[:], nil), minidriver.ErrInvalidParameter},
		{"digest not of its hash", sign(rsaK, digest[:20], crypto.SHA256), minidriver.ErrInvalidParameter},
		{"unknown hash", sign(rsaK, digest[:], crypto.Hash(99)), minidriver.ErrInvalidParameter},
		{"raw digest too long for the key", sign(rsaK, make([]byte, 246), crypto.Hash(0)), minidriver.ErrInvalidParameter},
		{"nil PSS options", sign(rsaK, digest[:], (*rsa.PSSOptions)(nil)), minidriver.ErrInvalidParameter},
		{"PSS salt 2^62", sign(rsaK, digest[:], &rsa.PSSOptions{Hash: crypto.SHA256, SaltLength: 1 << 62}), minidriver.ErrInvalidParameter},
		{"PSS salt max int", sign(rsaK, digest[:], &rsa.PSSOptions{Hash: crypto.SHA256, SaltLength: int(^uint(0) >> 1)}), minidriver.ErrInvalidParameter},
		{"PSS salt too long", sign(rsaK, digest[:], &rsa.PSSOptions{Hash: crypto.SHA256, SaltLength: 256 - 32 - 1}), minidriver.ErrInvalidParameter},
		{"PSS negative salt", sign(rsaK, digest[:], &rsa.PSSOptions{Hash: crypto.SHA256, SaltLength: -7}), minidriver.ErrInvalidParameter},
		{"PSS without hash", sign(rsaK, digest[:], &rsa.PSSOptions{}), minidriver.ErrInvalidParameter},
		{"ECDSA empty digest", sign(ecK, nil, crypto.Hash(0)), minidriver.ErrInvalidParameter},

		//lint:ignore SA1019 the options callers pass
		{"session key 2^50", decrypt(block, &rsa.PKCS1v15DecryptOptions{SessionKeyLen: 1 << 50}), minidriver.ErrDecryption},
		//lint:ignore SA1019 the options callers pass
		{"session key 2^31", decrypt(block, &rsa.PKCS1v15DecryptOptions{SessionKeyLen: 1 << 31}), minidriver.ErrDecryption},
		//lint:ignore SA1019 the options callers pass
		{"session key longer than the padding allows", decrypt(block, &rsa.PKCS1v15DecryptOptions{SessionKeyLen: 256 - 10}), minidriver.ErrDecryption},
		{"nil OAEP options", decrypt(block, (*rsa.OAEPOptions)(nil)), minidriver.ErrInvalidParameter},
		{"OAEP without hash", decrypt(block, &rsa.OAEPOptions{}), minidriver.ErrUnsupported},
		{"ciphertext longer than the modulus", decrypt(make([]byte, 257), nil), minidriver.ErrDecryption},
		{"unknown decrypter options", decrypt(block, struct{}{}), minidriver.ErrInvalidParameter},
		{"decrypt with an EC key", func() error { _, err := ecK.DecryptContext(ctx, nil, block, nil); return err }, minidriver.ErrInvalidParameter},

		{"certificate without DER", func() error {
			return rsaK.SetCertificate(ctx, &x509.Certificate{PublicKey: rsaK.Public()})
		}, minidriver.ErrInvalidParameter},
		{"certificate of another key", func() error {
			return rsaK.SetCertificate(ctx, ecCert)
		}, minidriver.ErrInvalidParameter},
		{"change PIN to nothing", func() error {
			return card.ChangePIN(ctx, minidriver.RoleUser, []byte(simpiv.DefaultPIN), nil)
		}, minidriver.ErrInvalidParameter},
		{"change PIN with no old PIN", func() error {
			return card.ChangePIN(ctx, minidriver.RoleUser, nil, []byte("654321"))
		}, minidriver.ErrInvalidParameter},
		{"change PIN to a megabyte", func() error {
			return card.ChangePIN(ctx, minidriver.RoleUser, []byte(simpiv.DefaultPIN), make([]byte, 1<<20))
		}, minidriver.ErrInvalidParameter},
		{"change PIN 9", func() error {
			return card.ChangePIN(ctx, 9, []byte(simpiv.DefaultPIN), []byte("654321"))
		}, minidriver.ErrInvalidParameter},
		{"change the everyone PIN", func() error {
			return card.ChangePIN(ctx, minidriver.RoleEveryone, []byte("1"), []byte("2"))
		}, minidriver.ErrInvalidParameter},
		{"unblock with no PIN", func() error {
			return card.UnblockPIN(ctx, minidriver.RoleUser, minidriver.RoleEveryone, []byte("1"), []byte("654321"))
		}, minidriver.ErrInvalidParameter},
		{"export under no key", func() error {
			sk, err := f.p.GenerateSessionKey(basecsp.AES128)
			require.NoError(t, err)
			_, err = sk.Export(nil, basecsp.WrapPKCS1)
			return err
		}, minidriver.ErrInvalidParameter},
		{"sign a hash with no key", func() error {
			h, err := basecsp.NewHash(crypto.SHA256)
			require.NoError(t, err)
			_, err = h.Sign(ctx, nil)
			return err
		}, minidriver.ErrInvalidParameter},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			apdus, prompts := cc.APDUs(), f.prompt.Count.Load()
			var err error
			require.NotPanics(t, func() { err = tc.call() })
			require.Error(t, err)
			assert.ErrorIs(t, err, tc.want)
			assert.Equal(t, apdus, cc.APDUs(), "the card was asked")
			assert.Equal(t, prompts, f.prompt.Count.Load(), "the PIN was asked for")
		})
	}

	// The same keys still work, and a digest longer than the curve is cut
	// as ECDSA itself cuts it: the signature verifies, and the card gets
	// 32 bytes, not a megabyte.
	long := make([]byte, 1<<20)
	copy(long, digest[:])
	before := cc.APDUs()
	sig, err := ecK.SignContext(ctx, nil, long, crypto.Hash(0))
	require.NoError(t, err)
	assert.True(t, ecdsa.VerifyASN1(ecK.Public().(*ecdsa.PublicKey), long, sig), "verifies as crypto/ecdsa reads the digest")
	assert.Less(t, cc.APDUs()-before, int64(20), "no megabyte sent by chaining")
	_, err = rsaK.SignContext(ctx, nil, digest[:], crypto.SHA256)
	require.NoError(t, err)
}

// TestExclusiveOpenWhileHeld: a provider that wants the card exclusively
// while another application has it, or any provider while another holds
// it exclusively, says sharing violation, not "no card present".
func TestExclusiveOpenWhileHeld(t *testing.T) {
	for _, tc := range []struct {
		name        string
		other       scrm.ShareMode
		exclusiveUs bool
	}{
		{"we want it exclusively, another shares it", scrm.ShareShared, true},
		{"another holds it exclusively", scrm.ShareExclusive, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sim, err := simpiv.New(simpiv.Config{})
			require.NoError(t, err)
			b := virtual.NewBackend()
			b.AddReader(readerName).Insert(sim)
			ctx := context.Background()
			held, err := scrm.NewContext(b).Connect(ctx, readerName, &scrm.ConnectOptions{Share: tc.other})
			require.NoError(t, err)
			f := &fixture{b: b, prompt: newPrompt(simpiv.DefaultPIN)}
			p := f.open(t, basecsp.Config{Exclusive: tc.exclusiveUs})

			_, err = p.Container(ctx, "")
			require.Error(t, err)
			assert.ErrorIs(t, err, scrm.ErrSharingViolation)
			assert.NotErrorIs(t, err, scrm.ErrNoSmartcard, "the card is there")
			assert.NotContains(t, err.Error(), "no card present")
			_, err = p.CreateContainer(ctx, "", minidriver.ECDSAP256, 0, nil)
			assert.ErrorIs(t, err, scrm.ErrSharingViolation)

			require.NoError(t, held.Close(scrm.LeaveCard))
			_, err = p.CreateContainer(ctx, "", minidriver.ECDSAP256, 0, nil)
			require.NoError(t, err, "once the other application lets go")
		})
	}
}

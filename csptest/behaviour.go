package csptest

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"reflect"
	"sort"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cardmod/cardmod/cardfs"
	simgids "github.com/cardmod/cardmod/cardsim/gids"
	simpiv "github.com/cardmod/cardmod/cardsim/piv"
	"github.com/cardmod/cardmod/internal/cspcore"
	"github.com/cardmod/cardmod/keystore"
	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/scrm/virtual"
)

// This file holds the behaviours both providers show through different
// APIs, written once: Close (RunClosed), listings that meet a card or an
// object they cannot read (RunListing), and caller input refused before
// the card (RunInput). Each provider's tests run them with their Suite
// adapter and add the calls only their API has.

// pivCard is a fresh simulated YubiKey behind a CountingCard in
// SuiteReader of a new backend, and a provider opened on it.
type pivCard struct {
	sim    *simpiv.Card
	cc     *CountingCard
	b      *virtual.Backend
	prompt *Prompt
	p      Provider
}

func newPIVCard(t *testing.T, s Suite) *pivCard {
	t.Helper()
	sim, err := simpiv.New(simpiv.Config{})
	require.NoError(t, err)
	c := &pivCard{sim: sim, cc: NewCountingCard(sim), b: virtual.NewBackend(), prompt: NewPrompt(simpiv.DefaultPIN)}
	c.b.AddReader(SuiteReader).Insert(c.cc)
	c.p = s.Open(t, OpenConfig{Backend: c.b, Prompt: c.prompt, Admin: Admin()})
	return c
}

// Closed is a provider after Close, as RunClosed checks it.
type Closed struct {
	// Close closes the provider.
	Close func() error
	// Values are the provider's objects (provider, keys, ...): every
	// exported method of their types that returns an error must be in
	// Calls, but those in Exempt.
	Values []any
	// Calls call each method ("Type.Method") after Close.
	Calls map[string]func() error
	// Exempt names methods that need not fail after Close, each with why.
	Exempt map[string]string
	// After runs at the end (a check of what Exempt let through).
	After func(t *testing.T)
}

// ExportedErrorMethods lists "Type.Method" for every exported method of
// the values' types that returns an error.
func ExportedErrorMethods(values ...any) []string {
	errType := reflect.TypeFor[error]()
	var out []string
	for _, v := range values {
		t := reflect.TypeOf(v)
		for i := range t.NumMethod() {
			m := t.Method(i)
			if n := m.Type.NumOut(); n > 0 && m.Type.Out(n-1) == errType {
				out = append(out, t.Elem().Name()+"."+m.Name)
			}
		}
	}
	return out
}

// RunClosed: after Close, every method of the provider and of what it
// made fails with s.ErrClosed, sends nothing to the card and asks for no
// PIN. setup makes the provider's objects on a simulated YubiKey (through
// p, the Suite adapter) and returns them with a call of every method.
func RunClosed(t *testing.T, s Suite, setup func(t *testing.T, p Provider) Closed) {
	require.NotNil(t, s.ErrClosed, "Suite.ErrClosed")
	card := newPIVCard(t, s)
	c := setup(t, card.p)

	require.NoError(t, c.Close())
	apdus, prompts := card.cc.APDUs(), card.prompt.Count.Load()

	methods := ExportedErrorMethods(c.Values...)
	require.GreaterOrEqual(t, len(methods), 20)
	for _, name := range methods {
		if _, ok := c.Exempt[name]; ok {
			continue
		}
		assert.Contains(t, c.Calls, name, "the table covers every method that returns an error")
	}
	for name, call := range c.Calls {
		t.Run(name, func(t *testing.T) {
			assert.ErrorIs(t, call(), s.ErrClosed)
		})
	}
	if c.After != nil {
		c.After(t)
	}
	assert.Equal(t, apdus, card.cc.APDUs(), "no APDU after Close")
	assert.Equal(t, prompts, card.prompt.Count.Load(), "no PIN asked after Close")
}

// ListingLayout is where RunListing put its two cards.
type ListingLayout struct {
	// PIVReader holds a PIV card with one P-256 key, "one", with a
	// certificate; GIDSReader a blank GIDS card (no master file: it
	// cannot be opened).
	PIVReader, GIDSReader string
}

// RunListing puts a PIV card and a blank GIDS card in two readers, in
// both orders: a key created without a reader goes to the card that can
// be read, and every listing (Keys, ListKeys, Certificates, and what own
// lists through the provider's own API, checking its error with check)
// returns what the PIV card holds and reports the GIDS card, by reader,
// as a CardError; the key is opened by its name. Then one of two
// certificates of a card is corrupted: the certificate store lists the
// good one and reports the bad one by container and key spec, and
// ListKeys lists both keys, the bad one without its certificate.
func RunListing(t *testing.T, s Suite, own func(t *testing.T, p Provider, l ListingLayout, check func(*testing.T, error))) {
	for _, tc := range []struct {
		name string
		l    ListingLayout
	}{
		{"PIV first", ListingLayout{PIVReader: "Reader A", GIDSReader: "Reader B"}},
		{"GIDS first", ListingLayout{PIVReader: "Reader B", GIDSReader: "Reader A"}},
	} {
		t.Run(tc.name, func(t *testing.T) { testUnreadableCard(t, s, tc.l, own) })
	}
	t.Run("corrupt certificate", func(t *testing.T) { testCorruptCertificate(t, s) })
}

func testUnreadableCard(t *testing.T, s Suite, l ListingLayout, own func(t *testing.T, p Provider, l ListingLayout, check func(*testing.T, error))) {
	ctx := context.Background()
	sim, err := simpiv.New(simpiv.Config{})
	require.NoError(t, err)
	blank, err := simgids.New(simgids.Config{})
	require.NoError(t, err)
	b := virtual.NewBackend()
	b.AddReader(l.PIVReader).Insert(sim)
	b.AddReader(l.GIDSReader).Insert(blank)
	p := s.Open(t, OpenConfig{Backend: b, Prompt: NewPrompt(simpiv.DefaultPIN), Admin: Admin()})

	// Without a reader, the key goes to the card that can be read.
	k, err := p.Generate(ctx, "one", KeyCase{Spec: minidriver.ECDSAP256})
	require.NoError(t, err)
	require.NoError(t, k.SetCertificate(ctx, SelfSigned(t, k, "one")))

	check := func(t *testing.T, err error) {
		t.Helper()
		var ce cspcore.CardErrors
		require.ErrorAs(t, err, &ce, "%v", err)
		require.Len(t, ce, 1)
		assert.Equal(t, l.GIDSReader, ce[0].Reader)
		assert.Empty(t, ce[0].Container, "the whole card failed")
		assert.ErrorIs(t, ce[0].Err, minidriver.ErrNotInitialized, "a blank card: InitializeCard can initialize it")
		assert.ErrorIs(t, ce[0].Err, cardfs.ErrFileNotFound)
		assert.ErrorIs(t, err, cardfs.ErrFileNotFound, "the causes are in the error's tree")
		var one *cspcore.CardError
		require.ErrorAs(t, err, &one)
		assert.Equal(t, l.GIDSReader, one.Reader)
		assert.Contains(t, err.Error(), l.GIDSReader)
	}

	keys, err := p.Keys(ctx)
	check(t, err)
	require.Len(t, keys, 1)
	assert.Equal(t, keystore.FullName(l.PIVReader, "one"), keys[0].Name)

	infos, err := p.ListKeys(ctx)
	check(t, err)
	require.Len(t, infos, 1)
	assert.Equal(t, "one", infos[0].Container)
	assert.Equal(t, l.PIVReader, infos[0].Reader)
	assert.Equal(t, "PIV", infos[0].Plugin)
	assert.NotNil(t, infos[0].Certificate)

	certs, err := p.Certificates(ctx)
	check(t, err)
	require.Len(t, certs, 1)
	assert.Equal(t, "one", certs[0].Container)
	assert.Equal(t, l.PIVReader, certs[0].Reader)

	// Opening by name still finds the key on the good card.
	got, err := p.Open(ctx, "one", minidriver.ECDSAP256)
	require.NoError(t, err)
	assert.True(t, sameKey(got.Public(), k.Public()))

	own(t, p, l, check)
}

func testCorruptCertificate(t *testing.T, s Suite) {
	ctx := context.Background()
	card := newPIVCard(t, s)
	good, err := card.p.Generate(ctx, "good", KeyCase{Spec: minidriver.ECDSAP256})
	require.NoError(t, err)
	bad, err := card.p.Generate(ctx, "bad", KeyCase{Spec: minidriver.ECDSAP256})
	require.NoError(t, err)
	goodCert := SelfSigned(t, good, "good")
	badCert := SelfSigned(t, bad, "bad")
	require.NoError(t, good.SetCertificate(ctx, goodCert))
	require.NoError(t, bad.SetCertificate(ctx, badCert))

	// Break the DER inside the PIV object holding the bad certificate.
	var state bytes.Buffer
	require.NoError(t, card.sim.Save(&state))
	var doc map[string]any
	require.NoError(t, json.Unmarshal(state.Bytes(), &doc))
	broken := 0
	for _, o := range doc["objects"].([]any) {
		obj := o.(map[string]any)
		data, err := base64.StdEncoding.DecodeString(obj["data"].(string))
		require.NoError(t, err)
		if i := bytes.Index(data, badCert.Raw); i >= 0 {
			data[i+4] ^= 0xFF // inside the certificate's outer SEQUENCE
			obj["data"] = data
			broken++
		}
	}
	require.Equal(t, 1, broken, "the bad certificate is stored uncompressed in one object")
	out, err := json.Marshal(doc)
	require.NoError(t, err)
	sim, err := simpiv.Load(bytes.NewReader(out), simpiv.Config{})
	require.NoError(t, err)
	b := virtual.NewBackend()
	b.AddReader(SuiteReader).Insert(sim)
	p := s.Open(t, OpenConfig{Backend: b, Prompt: NewPrompt(simpiv.DefaultPIN)})

	checkBad := func(t *testing.T, err error, cardID cardfs.CardID) {
		t.Helper()
		var ce cspcore.CardErrors
		require.ErrorAs(t, err, &ce, "%v", err)
		require.Len(t, ce, 1)
		assert.Equal(t, SuiteReader, ce[0].Reader)
		assert.Equal(t, "bad", ce[0].Container)
		assert.Equal(t, minidriver.ECDSAP256, ce[0].KeySpec)
		assert.Equal(t, cardID, ce[0].CardID)
		assert.ErrorIs(t, err, minidriver.ErrCommDataLost)
		if s.ErrNoCertificate != nil {
			assert.False(t, errors.Is(err, s.ErrNoCertificate))
		}
	}
	certs, err := p.Certificates(ctx)
	require.Len(t, certs, 1, "the good certificate is listed: %v", err)
	assert.Equal(t, goodCert.Raw, certs[0].Certificate.Raw)
	checkBad(t, err, certs[0].CardID)

	keys, err := p.ListKeys(ctx)
	require.Len(t, keys, 2, "both keys are listed: %v", err)
	checkBad(t, err, keys[0].CardID)
	sort.Slice(keys, func(i, j int) bool { return keys[i].Container < keys[j].Container })
	assert.Equal(t, "bad", keys[0].Container)
	assert.Nil(t, keys[0].Certificate, "a certificate that cannot be read is left out")
	assert.True(t, sameKey(keys[0].Public, bad.Public()), "the key is listed")
	assert.Equal(t, "good", keys[1].Container)
	require.NotNil(t, keys[1].Certificate)
	assert.Equal(t, goodCert.Raw, keys[1].Certificate.Raw)
}

// InputKeys are the keys of RunInput's calls, imported on a simulated
// YubiKey: RSA-2048 (RSAKey), P-256 ECDSA and, where Suite.ECDH, P-256
// ECDH (SoftKey).
type InputKeys struct {
	RSA, EC, DH Key
}

// InputCase is one call a caller can get wrong and the error it must
// match.
type InputCase struct {
	Name string
	Call func() error
	Want error
}

// RunInput: every argument a caller can get wrong (keys to import,
// hashes, signature and decryption options, certificates, and what own
// adds for the provider's own API) is refused with a typed error, without
// a panic and without a single APDU or PIN prompt; then the same keys
// still work, and a digest longer than the curve is cut as ECDSA itself
// cuts it (the signature verifies, and the card gets 32 bytes, not a
// megabyte).
func RunInput(t *testing.T, s Suite, own func(t *testing.T, p Provider, k InputKeys) []InputCase) {
	ctx := context.Background()
	card := newPIVCard(t, s)
	p := card.p
	var k InputKeys
	var err error
	k.RSA, err = p.Import(ctx, "rsa", minidriver.KeyExchange, RSAKey(t))
	require.NoError(t, err)
	k.EC, err = p.Import(ctx, "ec", minidriver.ECDSAP256, SoftKey(t))
	require.NoError(t, err)
	if s.ECDH {
		k.DH, err = p.Import(ctx, "dh", minidriver.ECDHP256, SoftKey(t))
		require.NoError(t, err)
	}
	digest := sha256.Sum256([]byte("data"))

	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	require.NoError(t, err)
	mismatched := *SoftKey(t)
	mismatched.PublicKey = SoftKey(t).PublicKey
	threePrimes := *RSAKey(t)
	threePrimes.Primes = append(append([]*big.Int(nil), threePrimes.Primes...), big.NewInt(7))
	noN := *RSAKey(t)
	noN.N = nil
	ecCert := SelfSigned(t, k.EC, "ec")

	create := func(spec minidriver.KeySpec, key crypto.PrivateKey) func() error {
		return func() error {
			_, err := p.Import(ctx, "", spec, key)
			return err
		}
	}
	sign := func(key Key, d []byte, opts crypto.SignerOpts) func() error {
		return func() error { _, err := key.SignContext(ctx, nil, d, opts); return err }
	}
	decrypt := func(msg []byte, opts crypto.DecrypterOpts) func() error {
		return func() error { _, err := k.RSA.DecryptContext(ctx, nil, msg, opts); return err }
	}
	block := make([]byte, 256)
	block[1] = 1
	tests := []InputCase{
		{"import nil RSA key", create(minidriver.KeyExchange, (*rsa.PrivateKey)(nil)), minidriver.ErrInvalidParameter},
		{"import empty RSA key", create(minidriver.KeyExchange, &rsa.PrivateKey{}), minidriver.ErrInvalidParameter},
		{"import RSA key without modulus", create(minidriver.KeyExchange, &noN), minidriver.ErrInvalidParameter},
		{"import three-prime RSA key", create(minidriver.KeyExchange, &threePrimes), minidriver.ErrInvalidParameter},
		{"import nil ECDSA key", create(minidriver.ECDSAP256, (*ecdsa.PrivateKey)(nil)), minidriver.ErrInvalidParameter},
		{"import empty ECDSA key", create(minidriver.ECDSAP256, &ecdsa.PrivateKey{}), minidriver.ErrInvalidParameter},
		{"import ECDSA key with another's public key", create(minidriver.ECDSAP256, &mismatched), minidriver.ErrInvalidParameter},
		{"import P-384 key as P-256", create(minidriver.ECDSAP256, p384), minidriver.ErrInvalidParameter},
		{"import nil ECDH key", create(minidriver.ECDHP256, (*ecdh.PrivateKey)(nil)), minidriver.ErrInvalidParameter},
		{"import nil ECDSA key as ECDH", create(minidriver.ECDHP256, (*ecdsa.PrivateKey)(nil)), minidriver.ErrInvalidParameter},
		{"import empty ECDSA key as ECDH", create(minidriver.ECDHP256, &ecdsa.PrivateKey{}), minidriver.ErrInvalidParameter},
		{"import RSA key as ECDSA", create(minidriver.ECDSAP256, RSAKey(t)), minidriver.ErrInvalidParameter},

		{"RSA without options", sign(k.RSA, digest[:], nil), minidriver.ErrInvalidParameter},
		{"digest not of its hash", sign(k.RSA, digest[:20], crypto.SHA256), minidriver.ErrInvalidParameter},
		{"unknown hash", sign(k.RSA, digest[:], crypto.Hash(99)), minidriver.ErrInvalidParameter},
		{"raw digest too long for the key", sign(k.RSA, make([]byte, 246), crypto.Hash(0)), minidriver.ErrInvalidParameter},
		{"nil PSS options", sign(k.RSA, digest[:], (*rsa.PSSOptions)(nil)), minidriver.ErrInvalidParameter},
		{"PSS salt 2^62", sign(k.RSA, digest[:], &rsa.PSSOptions{Hash: crypto.SHA256, SaltLength: 1 << 62}), minidriver.ErrInvalidParameter},
		{"PSS salt max int", sign(k.RSA, digest[:], &rsa.PSSOptions{Hash: crypto.SHA256, SaltLength: int(^uint(0) >> 1)}), minidriver.ErrInvalidParameter},
		{"PSS salt too long", sign(k.RSA, digest[:], &rsa.PSSOptions{Hash: crypto.SHA256, SaltLength: 256 - 32 - 1}), minidriver.ErrInvalidParameter},
		{"PSS negative salt", sign(k.RSA, digest[:], &rsa.PSSOptions{Hash: crypto.SHA256, SaltLength: -7}), minidriver.ErrInvalidParameter},
		{"PSS without hash", sign(k.RSA, digest[:], &rsa.PSSOptions{}), minidriver.ErrInvalidParameter},
		{"ECDSA empty digest", sign(k.EC, nil, crypto.Hash(0)), minidriver.ErrInvalidParameter},

		//lint:ignore SA1019 the options callers pass
		{"session key 2^50", decrypt(block, &rsa.PKCS1v15DecryptOptions{SessionKeyLen: 1 << 50}), minidriver.ErrDecryption},
		//lint:ignore SA1019 the options callers pass
		{"session key 2^50, zero block", decrypt(make([]byte, 256), &rsa.PKCS1v15DecryptOptions{SessionKeyLen: 1 << 50}), minidriver.ErrDecryption},
		//lint:ignore SA1019 the options callers pass
		{"session key 2^31", decrypt(block, &rsa.PKCS1v15DecryptOptions{SessionKeyLen: 1 << 31}), minidriver.ErrDecryption},
		//lint:ignore SA1019 the options callers pass
		{"session key longer than the padding allows", decrypt(block, &rsa.PKCS1v15DecryptOptions{SessionKeyLen: 256 - 10}), minidriver.ErrDecryption},
		{"nil OAEP options", decrypt(block, (*rsa.OAEPOptions)(nil)), minidriver.ErrInvalidParameter},
		{"OAEP without hash", decrypt(block, &rsa.OAEPOptions{}), minidriver.ErrUnsupported},
		{"ciphertext longer than the modulus", decrypt(make([]byte, 257), nil), minidriver.ErrDecryption},
		{"unknown decrypter options", decrypt(block, struct{}{}), minidriver.ErrInvalidParameter},
		{"decrypt with an EC key", func() error { _, err := k.EC.DecryptContext(ctx, nil, block, nil); return err }, minidriver.ErrInvalidParameter},

		{"certificate without DER", func() error {
			return k.RSA.SetCertificate(ctx, &x509.Certificate{PublicKey: k.RSA.Public()})
		}, minidriver.ErrInvalidParameter},
		{"certificate of another key", func() error {
			return k.RSA.SetCertificate(ctx, ecCert)
		}, minidriver.ErrInvalidParameter},
	}
	if own != nil {
		tests = append(tests, own(t, p, k)...)
	}
	for _, tc := range tests {
		t.Run(tc.Name, func(t *testing.T) {
			apdus, prompts := card.cc.APDUs(), card.prompt.Count.Load()
			var err error
			require.NotPanics(t, func() { err = tc.Call() })
			require.Error(t, err)
			assert.ErrorIs(t, err, tc.Want)
			assert.Equal(t, apdus, card.cc.APDUs(), "the card was asked")
			assert.Equal(t, prompts, card.prompt.Count.Load(), "the PIN was asked for")
		})
	}

	long := make([]byte, 1<<20)
	copy(long, digest[:])
	before := card.cc.APDUs()
	sig, err := k.EC.SignContext(ctx, nil, long, crypto.Hash(0))
	require.NoError(t, err, "the keys still work")
	assert.True(t, ecdsa.VerifyASN1(k.EC.Public().(*ecdsa.PublicKey), long, sig), "verifies as crypto/ecdsa reads the digest")
	assert.Less(t, card.cc.APDUs()-before, int64(20), "no megabyte sent by chaining")
	_, err = k.RSA.SignContext(ctx, nil, digest[:], crypto.SHA256)
	require.NoError(t, err)
}

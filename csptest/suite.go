package csptest

import (
	"context"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cardmod/cardmod/internal/cspcore"
	"github.com/cardmod/cardmod/keystore"
	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/pincache"
	"github.com/cardmod/cardmod/scrm"
	"github.com/cardmod/cardmod/scrm/virtual"
)

// SuiteReader is the reader the suite's cards sit in.
const SuiteReader = "Virtual Reader 0"

// OpenConfig is what the suite opens a provider with.
type OpenConfig struct {
	Backend scrm.Backend
	Prompt  pincache.Prompt
	Admin   minidriver.AdminResponder
}

// Entry is one key a provider lists: its full name (`\\.\Reader\Name`,
// as Provider.Open takes it), spec and public key.
type Entry struct {
	Name   string
	Spec   minidriver.KeySpec
	Public crypto.PublicKey
}

// Provider is one provider package's API as the suite drives it; each
// provider's tests adapt theirs.
type Provider interface {
	// Generate creates a key called name (a container name without a
	// reader) of spec, generated on the card.
	Generate(ctx context.Context, name string, k KeyCase) (Key, error)
	// Keys lists the keys of every card; beside a CardErrors, the keys of
	// the cards it could read.
	Keys(ctx context.Context) ([]Entry, error)
	// Open opens the key of spec called name (an Entry's Name).
	Open(ctx context.Context, name string, spec minidriver.KeySpec) (Key, error)
	// Import creates a key called name (with or without a reader; "" for
	// a new GUID) of spec holding the software key priv.
	Import(ctx context.Context, name string, spec minidriver.KeySpec, priv crypto.PrivateKey) (Key, error)
	// Certificates is the provider's user certificate store.
	Certificates(ctx context.Context) ([]cspcore.CertEntry, error)
	// ListKeys is the provider's ListKeys: every key with its card,
	// address, certificate and PIN.
	ListKeys(ctx context.Context) ([]keystore.KeyInfo, error)
	// Find is the provider's FindKey.
	Find(ctx context.Context, q cspcore.Query) (Key, error)
}

// Key is one key on a card.
type Key interface {
	crypto.Signer
	crypto.Decrypter
	SignContext(ctx context.Context, rand io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error)
	DecryptContext(ctx context.Context, rand io.Reader, msg []byte, opts crypto.DecrypterOpts) ([]byte, error)
	SetCertificate(ctx context.Context, cert *x509.Certificate) error
	Certificate(ctx context.Context) (*x509.Certificate, error)
}

// ECDHKey is a Key of a provider with key agreement (ksp).
type ECDHKey interface {
	ECDH(peer *ecdh.PublicKey) ([]byte, error)
}

// PINChanger is a Provider that changes and unblocks the user PIN of its
// card (basecsp's Card).
type PINChanger interface {
	ChangePIN(ctx context.Context, old, new []byte) error
	UnblockPIN(ctx context.Context, by minidriver.PinID, secret, new []byte) error
}

// Suite is what Run needs of a provider package.
type Suite struct {
	// Open opens a provider; each call is a new process's provider (no
	// data shared with the others but the card).
	Open func(t *testing.T, cfg OpenConfig) Provider
	// ECDH: the provider's keys agree keys (Key implements ECDHKey).
	// PINChange: the provider implements PINChanger.
	ECDH, PINChange bool
	// ErrClosed and ErrNoCertificate are the provider's sentinels
	// (RunClosed, RunListing).
	ErrClosed, ErrNoCertificate error
}

// Run runs the provider behaviour suite on every simulated card profile
// (Profiles), each case on a fresh card: listing (ListKeys with every
// key's card, plug-in address, size, certificate and PIN; FindKey by
// each key's address), key generation (and
// the typed refusal of what the card cannot make), ECDSA and RSA
// PKCS #1 v1.5 and PSS signatures, RSA PKCS #1 v1.5 and OAEP decryption,
// ECDH (where s.ECDH), certificate writes and reads, and the PIN: a wrong
// PIN with the tries left, the tries restored by the right one, blocking,
// and (where s.PINChange) change and unblock. Every operation runs in a
// provider other than the one that made the key. On a read-only card the
// keys it holds are read and used, and every write is refused with an
// error matching minidriver.ErrReadOnly.
func Run(t *testing.T, s Suite) {
	var serial atomic.Uint32
	serial.Store(61000000)
	for _, p := range Profiles() {
		t.Run(p.Name, func(t *testing.T) {
			t.Parallel()
			newCard := func(t *testing.T) *suiteCard {
				sim, err := p.New(serial.Add(1))
				require.NoError(t, err)
				b := virtual.NewBackend()
				b.AddReader(SuiteReader).Insert(sim)
				return &suiteCard{s: s, p: p, b: b}
			}
			t.Run("keys", func(t *testing.T) { testKeys(t, newCard(t)) })
			if p.ReadOnly || len(p.Refused) > 0 {
				t.Run("refused", func(t *testing.T) { testRefused(t, newCard(t)) })
			}
			t.Run("certificates", func(t *testing.T) { testCertificates(t, newCard(t)) })
			t.Run("list and find", func(t *testing.T) { testListKeys(t, newCard(t)) })
			t.Run("PIN", func(t *testing.T) { testPIN(t, newCard(t)) })
		})
	}
}

// suiteCard is one fresh card of a profile in its own backend.
type suiteCard struct {
	s Suite
	p Profile
	b *virtual.Backend
}

// open opens a new provider answering pin.
func (c *suiteCard) open(t *testing.T, pin string) (Provider, *Prompt) {
	pr := NewPrompt(pin)
	return c.s.Open(t, OpenConfig{Backend: c.b, Prompt: pr, Admin: Admin()}), pr
}

// provisioned returns the card's keys as a new provider lists them, after
// generating the profile's keys (on a writable card) in another
// provider: by spec, the first of each.
func (c *suiteCard) provisioned(t *testing.T) map[minidriver.KeySpec]Entry {
	ctx := context.Background()
	made := map[string]crypto.PublicKey{}
	if len(c.p.Generate) > 0 {
		gen, _ := c.open(t, c.p.PIN)
		for _, k := range c.p.Generate {
			key, err := gen.Generate(ctx, "suite "+k.String(), k)
			require.NoError(t, err, "generate %v", k)
			made[k.String()] = key.Public()
		}
	}
	p, _ := c.open(t, c.p.PIN)
	list, err := p.Keys(ctx)
	require.NoError(t, err)
	want := c.p.Present + len(c.p.Generate)
	require.Len(t, list, want, "keys listed by a new provider")
	out := map[minidriver.KeySpec]Entry{}
	for _, e := range list {
		if _, ok := out[e.Spec]; !ok {
			out[e.Spec] = e
		}
	}
	for _, k := range c.p.Generate {
		e, ok := out[k.Spec]
		require.True(t, ok, "no %v listed", k)
		assert.True(t, sameKey(e.Public, made[k.String()]), "%v: the key listed is the key generated", k)
		if k.Spec.IsRSA() {
			assert.Equal(t, k.Bits, e.Public.(*rsa.PublicKey).N.BitLen())
		}
	}
	return out
}

func sameKey(a, b crypto.PublicKey) bool {
	k, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && k.Equal(b)
}

// testKeys: every key signs, decrypts and agrees keys in a new provider.
func testKeys(t *testing.T, c *suiteCard) {
	ctx := context.Background()
	keys := c.provisioned(t)
	p, _ := c.open(t, c.p.PIN)
	tested := 0
	for spec, e := range keys {
		k, err := p.Open(ctx, e.Name, spec)
		require.NoError(t, err, "open %s", e.Name)
		assert.True(t, sameKey(k.Public(), e.Public), "%s: the key opened is the key listed", e.Name)
		switch {
		case spec.IsECDSA():
			checkECDSA(t, k)
		case spec.IsRSA():
			checkRSA(t, k)
		case spec.IsECDH():
			if c.s.ECDH {
				checkECDH(t, k)
			} else {
				continue
			}
		}
		tested++
	}
	assert.NotZero(t, tested, "no key exercised")
}

func checkECDSA(t *testing.T, k Key) {
	t.Helper()
	pub := k.Public().(*ecdsa.PublicKey)
	d256 := sha256.Sum256([]byte("suite ECDSA"))
	sig, err := k.Sign(rand.Reader, d256[:], crypto.SHA256)
	require.NoError(t, err, "ECDSA sign")
	assert.True(t, ecdsa.VerifyASN1(pub, d256[:], sig), "ECDSA-SHA256 verifies")
	d384 := sha512.Sum384([]byte("suite ECDSA"))
	sig, err = k.Sign(rand.Reader, d384[:], crypto.SHA384)
	require.NoError(t, err, "ECDSA sign")
	assert.True(t, ecdsa.VerifyASN1(pub, d384[:], sig), "ECDSA-SHA384 verifies")
}

func checkRSA(t *testing.T, k Key) {
	t.Helper()
	pub := k.Public().(*rsa.PublicKey)
	d := sha256.Sum256([]byte("suite RSA"))
	sig, err := k.Sign(rand.Reader, d[:], crypto.SHA256)
	require.NoError(t, err, "PKCS #1 v1.5 sign")
	assert.NoError(t, rsa.VerifyPKCS1v15(pub, crypto.SHA256, d[:], sig))
	pss := &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: crypto.SHA256}
	sig, err = k.Sign(rand.Reader, d[:], pss)
	require.NoError(t, err, "PSS sign")
	assert.NoError(t, rsa.VerifyPSS(pub, crypto.SHA256, d[:], sig, pss))

	secret := []byte("suite secret 16b")
	ct := EncryptPKCS1v15(t, pub, secret)
	pt, err := k.Decrypt(rand.Reader, ct, nil)
	require.NoError(t, err, "PKCS #1 v1.5 decrypt")
	assert.Equal(t, secret, pt)
	label := []byte("suite label")
	ct, err = rsa.EncryptOAEP(sha256.New(), rand.Reader, pub, secret, label)
	require.NoError(t, err)
	pt, err = k.Decrypt(rand.Reader, ct, &rsa.OAEPOptions{Hash: crypto.SHA256, Label: label})
	require.NoError(t, err, "OAEP decrypt")
	assert.Equal(t, secret, pt)
}

func checkECDH(t *testing.T, k Key) {
	t.Helper()
	ek, ok := k.(ECDHKey)
	require.True(t, ok, "%T has no ECDH", k)
	var pub *ecdh.PublicKey
	switch kp := k.Public().(type) {
	case *ecdh.PublicKey:
		pub = kp
	case *ecdsa.PublicKey:
		var err error
		pub, err = kp.ECDH()
		require.NoError(t, err)
	default:
		require.Failf(t, "not an EC key", "%T", kp)
	}
	peer, err := pub.Curve().GenerateKey(rand.Reader)
	require.NoError(t, err)
	z, err := ek.ECDH(peer.PublicKey())
	require.NoError(t, err, "ECDH")
	want, err := peer.ECDH(pub)
	require.NoError(t, err)
	assert.Equal(t, want, z)
}

// testRefused: what the card cannot make is refused, typed, and nothing
// is left behind: a read-only card refuses every creation, a card
// without an algorithm refuses its keys.
func testRefused(t *testing.T, c *suiteCard) {
	ctx := context.Background()
	p, _ := c.open(t, c.p.PIN)
	if c.p.ReadOnly {
		for _, k := range []KeyCase{{Spec: minidriver.ECDSAP256}, rsa2048} {
			_, err := p.Generate(ctx, "refused", k)
			assert.ErrorIs(t, err, minidriver.ErrReadOnly, "generate %v", k)
		}
	}
	for _, k := range c.p.Refused {
		_, err := p.Generate(ctx, "refused", k)
		assert.ErrorIs(t, err, minidriver.ErrUnsupported, "generate %v", k)
	}
	list, err := p.Keys(ctx)
	require.NoError(t, err)
	assert.Len(t, list, c.p.Present, "a refused creation leaves no key")
	fresh, _ := c.open(t, c.p.PIN)
	list, err = fresh.Keys(ctx)
	require.NoError(t, err)
	assert.Len(t, list, c.p.Present, "a refused creation leaves no key (new provider)")
}

// testCertificates: a certificate written to a key is read by a new
// provider and listed; on a read-only card the issuer's certificates are
// read and a write is refused.
func testCertificates(t *testing.T, c *suiteCard) {
	ctx := context.Background()
	keys := c.provisioned(t)
	var e Entry
	for _, spec := range []minidriver.KeySpec{minidriver.ECDSAP256, minidriver.KeyExchange} {
		if x, ok := keys[spec]; ok {
			e = x
			break
		}
	}
	require.NotEmpty(t, e.Name, "no key to certify")
	p, _ := c.open(t, c.p.PIN)
	certs, err := p.Certificates(ctx)
	require.NoError(t, err)
	assert.Len(t, certs, c.p.Present, "certificates of a fresh card")
	k, err := p.Open(ctx, e.Name, e.Spec)
	require.NoError(t, err)
	if c.p.ReadOnly {
		have, err := k.Certificate(ctx)
		require.NoError(t, err, "the issuer's certificate")
		assert.True(t, sameKey(have.PublicKey, k.Public()), "the certificate is the key's")
		err = k.SetCertificate(ctx, issued(t, k.Public(), "refused"))
		assert.ErrorIs(t, err, minidriver.ErrReadOnly, "certificate write")
		again, err := c.s.Open(t, OpenConfig{Backend: c.b, Prompt: NewPrompt(c.p.PIN)}).Certificates(ctx)
		require.NoError(t, err)
		assert.Len(t, again, c.p.Present)
		return
	}
	_, err = k.Certificate(ctx)
	assert.Error(t, err, "no certificate yet")
	cert := SelfSigned(t, k, "suite "+c.p.Name)
	require.NoError(t, k.SetCertificate(ctx, cert))

	other, _ := c.open(t, c.p.PIN)
	k2, err := other.Open(ctx, e.Name, e.Spec)
	require.NoError(t, err)
	got, err := k2.Certificate(ctx)
	require.NoError(t, err, "a new provider reads the certificate")
	assert.True(t, cert.Equal(got))
	certs, err = other.Certificates(ctx)
	require.NoError(t, err)
	require.Len(t, certs, 1)
	assert.True(t, cert.Equal(certs[0].Certificate))
}

// issued is a certificate for pub, issued by a throwaway software CA.
func issued(t *testing.T, pub crypto.PublicKey, cn string) *x509.Certificate {
	t.Helper()
	ca := SoftKey(t)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	parent := &x509.Certificate{Subject: pkix.Name{CommonName: "suite CA"}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, ca)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return cert
}

// testPIN: a wrong PIN fails typed with the tries left and no PIN in the
// error; the right one restores the tries; Tries wrong ones block the
// PIN; where the provider can, the PIN is changed and unblocked.
func testPIN(t *testing.T, c *suiteCard) {
	ctx := context.Background()
	keys := c.provisioned(t)
	e, ok := keys[minidriver.ECDSAP256]
	if !ok {
		e, ok = keys[minidriver.KeyExchange]
	}
	require.True(t, ok, "no signing key")
	sign := func(pin string) error {
		p, _ := c.open(t, pin)
		k, err := p.Open(ctx, e.Name, e.Spec)
		if err != nil {
			return err
		}
		d := sha256.Sum256([]byte("suite PIN"))
		_, err = k.Sign(rand.Reader, d[:], crypto.SHA256)
		return err
	}
	const wrong = "99999999"
	triesLeft := func(err error) int {
		t.Helper()
		require.ErrorIs(t, err, minidriver.ErrWrongPIN)
		assert.NotContains(t, err.Error(), wrong, "no PIN in the error")
		var se *scrm.StatusError
		require.True(t, errors.As(err, &se), "the card's status word is in %v", err)
		n, ok := se.RetriesLeft()
		require.True(t, ok)
		return n
	}
	assert.Equal(t, c.p.Tries-1, triesLeft(sign(wrong)), "tries left after a wrong PIN")
	require.NoError(t, sign(c.p.PIN), "the right PIN")
	assert.Equal(t, c.p.Tries-1, triesLeft(sign(wrong)), "the right PIN restored the tries")
	for n := c.p.Tries - 2; n > 0; n-- {
		assert.Equal(t, n, triesLeft(sign(wrong)))
	}
	assert.ErrorIs(t, sign(wrong), minidriver.ErrPINBlocked, "the last try blocks the PIN")
	assert.ErrorIs(t, sign(c.p.PIN), minidriver.ErrPINBlocked, "blocked for the right PIN too")
	if !c.s.PINChange {
		return
	}
	p, _ := c.open(t, c.p.PIN)
	pc := p.(PINChanger)
	const unblocked, changed = "13572468", "24681357"
	require.NoError(t, pc.UnblockPIN(ctx, c.p.UnblockBy, c.p.UnblockSecret, []byte(unblocked)), "unblock")
	require.NoError(t, sign(unblocked), "the PIN set by the unblock")
	require.NoError(t, pc.ChangePIN(ctx, []byte(unblocked), []byte(changed)), "change")
	assert.Equal(t, c.p.Tries-1, triesLeft(sign(unblocked)), "the old PIN is wrong")
	require.NoError(t, sign(changed), "the new PIN")
	err := pc.ChangePIN(ctx, []byte(wrong), []byte(unblocked))
	assert.Equal(t, c.p.Tries-1, triesLeft(err), "change with a wrong PIN")
}

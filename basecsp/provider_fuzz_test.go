package basecsp_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cardmod/cardmod/basecsp"
	"github.com/cardmod/cardmod/cardsim"
	simgids "github.com/cardmod/cardmod/cardsim/gids"
	simpiv "github.com/cardmod/cardmod/cardsim/piv"
	"github.com/cardmod/cardmod/csptest"
	"github.com/cardmod/cardmod/internal/cspcore"
	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/minidriver/piv"
	"github.com/cardmod/cardmod/scrm/virtual"
)

// providerFixture is a card set up once per fuzz target (keys made,
// certificates written) and saved, so that every run starts from the
// same state without generating keys.
type providerFixture struct {
	name    string
	state   []byte                                // the saved simulator
	load    func(io.Reader) (cardsim.Card, error) // loads state
	cfg     basecsp.Config                        // Prompt, AdminResponse
	pin     string                                // the user PIN
	cert    *x509.Certificate                     // a certificate of the "ec" key, for the write path
	cipher  []byte                                // PKCS #1 v1.5 ciphertext under the "rsa" key
	message []byte                                // its plaintext
}

// setUp makes the fixture's card: an imported RSA-2048 key-exchange key
// ("rsa", with a certificate) and a P-256 key ("ec"), through the
// provider with no faults.
func setUp(t testing.TB, fx *providerFixture, card interface {
	cardsim.Card
	Save(io.Writer) error
}) {
	b := virtual.NewBackend()
	b.AddReader("R").Insert(card)
	cfg := fx.cfg
	cfg.Backend = b
	p, err := basecsp.Open(cfg)
	require.NoError(t, err)
	defer p.Close()
	ctx := context.Background()
	rsaCt, err := p.CreateContainer(ctx, "rsa", minidriver.KeyExchange, 0, csptest.RSAKey(t))
	require.NoError(t, err)
	rk, err := rsaCt.Key(minidriver.KeyExchange)
	require.NoError(t, err)
	require.NoError(t, rk.SetCertificate(ctx, csptest.SelfSigned(t, rk, "rsa")))
	ecCt, err := p.CreateContainer(ctx, "ec", minidriver.ECDSAP256, 0, csptest.SoftKey(t))
	require.NoError(t, err)
	ek, err := ecCt.Key(minidriver.ECDSAP256)
	require.NoError(t, err)
	fx.cert = csptest.SelfSigned(t, ek, "ec")
	fx.message = []byte("a session key!!!")
	fx.cipher = encryptPKCS1v15(t, rk.Public().(*rsa.PublicKey), fx.message)
	var buf bytes.Buffer
	require.NoError(t, card.Save(&buf))
	fx.state = buf.Bytes()
}

// notLoggedIn checks with an empty VERIFY of the PIN (reference 80, the
// PIV and GIDS user PIN) sent to the card itself that no PIN is verified:
// 9000 would mean a login outlived the operation.
func notLoggedIn(t *testing.T, c *csptest.FaultCard, what string) {
	rsp := c.Direct([]byte{0x00, 0x20, 0x00, 0x80})
	if len(rsp) >= 2 && rsp[len(rsp)-2] == 0x90 && rsp[len(rsp)-1] == 0x00 {
		t.Fatalf("after %s the card is left with its PIN verified", what)
	}
}

// fuzzProvider runs a whole provider (open, list, sign, decrypt, read
// certificates, write a certificate, the certificate store, a second
// provider with a disk cache, PIN change) against fx's card behind a
// csptest.FaultCard playing script, checking after each step:
//   - a signature returned verifies under the key's Public();
//   - a certificate returned is the key's;
//   - a decryption in a step without faults returns the plaintext;
//   - the card is never left logged in.
func fuzzProvider(t *testing.T, fx *providerFixture, script []byte) {
	card, err := fx.load(bytes.NewReader(fx.state))
	require.NoError(t, err)
	fc := csptest.NewFaultCard(card, script)
	b := virtual.NewBackend()
	b.AddReader("R").Insert(fc)
	seed := sha256.Sum256(script)
	cfg := fx.cfg
	cfg.Backend = b
	cfg.Prompt = csptest.NewPrompt(fx.pin)
	cfg.Rand = rand.NewChaCha8(seed)
	p, err := basecsp.Open(cfg)
	require.NoError(t, err)
	defer p.Close()
	ctx := context.Background()
	step := func(what string, fn func()) {
		fn()
		notLoggedIn(t, fc, what)
	}
	digest := sha256.Sum256([]byte("fuzz"))

	step("listing", func() { _, _ = p.Containers(ctx) })
	keyOf := func(name string, spec minidriver.KeySpec) *basecsp.Key {
		ct, err := p.Container(ctx, name)
		if err != nil {
			return nil
		}
		k, err := ct.Key(spec)
		if err != nil {
			return nil
		}
		return k
	}
	var ec, rk *basecsp.Key
	step("open", func() { ec, rk = keyOf("ec", minidriver.ECDSAP256), keyOf("rsa", minidriver.KeyExchange) })
	signs := func(k *basecsp.Key, what string, opts crypto.SignerOpts) {
		step(what, func() {
			sig, err := k.SignContext(ctx, nil, digest[:], opts)
			if err != nil {
				return
			}
			var ok bool
			switch pub := k.Public().(type) {
			case *ecdsa.PublicKey:
				ok = ecdsa.VerifyASN1(pub, digest[:], sig)
			case *rsa.PublicKey:
				if pss, isPSS := opts.(*rsa.PSSOptions); isPSS {
					ok = rsa.VerifyPSS(pub, crypto.SHA256, digest[:], sig, pss) == nil
				} else {
					ok = rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig) == nil
				}
			}
			if !ok {
				t.Fatalf("%s: the signature returned does not verify under Public()", what)
			}
		})
	}
	certOf := func(k *basecsp.Key, what string) {
		step(what, func() {
			cert, err := k.Certificate(ctx)
			if err == nil && (cert == nil || !cspcore.SamePublic(cert.PublicKey, k.Public())) {
				t.Fatalf("%s: the certificate returned is not the key's", what)
			}
		})
	}
	if ec != nil {
		signs(ec, "ECDSA signature", crypto.SHA256)
		certOf(ec, "certificate read")
		step("certificate write", func() { _ = ec.SetCertificate(ctx, fx.cert) })
		certOf(ec, "certificate read after the write")
	}
	if rk != nil {
		signs(rk, "RSA PKCS #1 v1.5 signature", crypto.SHA256)
		signs(rk, "RSA PSS signature", &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
		certOf(rk, "RSA certificate read")
		step("decryption", func() {
			before := fc.Faults()
			out, err := rk.DecryptContext(ctx, nil, fx.cipher, nil)
			if err == nil && fc.Faults() == before && !bytes.Equal(out, fx.message) {
				t.Fatalf("decryption without a fault returned %x", out)
			}
		})
	}
	step("certificate store", func() {
		entries, _ := p.Certificates(ctx)
		for _, e := range entries {
			if e.Certificate == nil {
				t.Fatal("a store entry without a certificate")
			}
		}
	})
	// Another provider with its own disk cache: cardcf decides what it
	// may reuse.
	step("second provider", func() {
		cfg2 := cfg
		cfg2.CacheDir = t.TempDir()
		q, err := basecsp.Open(cfg2)
		require.NoError(t, err)
		defer q.Close()
		for range 2 {
			ct, err := q.Container(ctx, "ec")
			if err != nil {
				continue
			}
			if k, err := ct.Key(minidriver.ECDSAP256); err == nil {
				if cert, err := k.Certificate(ctx); err == nil && !cspcore.SamePublic(cert.PublicKey, k.Public()) {
					t.Fatal("second provider: the certificate returned is not the key's")
				}
			}
		}
	})
	step("PIN change", func() {
		cards, err := p.Cards(ctx)
		if err != nil || len(cards) == 0 {
			return
		}
		if cards[0].ChangePIN(ctx, minidriver.RoleUser, []byte(fx.pin), []byte("87654321")) == nil {
			_ = cards[0].ChangePIN(ctx, minidriver.RoleUser, []byte("87654321"), []byte(fx.pin))
		}
	})
}

// seedPositions is how many command positions the seeds put a fault at.
// From position 18 on the faults reach the first PIN VERIFY, where an
// answer lost would leave the card logged in without the reset of a
// login whose outcome is unknown (issue 10 §1).
const seedPositions = 40

// providerSeeds are scripts that reach the interesting places: none
// (everything works), a fault at each of the first commands, answers lost
// and corrupted later.
func providerSeeds(f *testing.F) {
	f.Add([]byte{})
	for i := range seedPositions {
		for _, fault := range [][]byte{{0xA0}, {0xC0, 0x63, 0xC2}, {0xD1}, {0xE0, 0x05, 0x80}, {0xF0}, {0xF8, 2, 0x90, 0x00}} {
			f.Add(append(make([]byte, i), fault...))
		}
	}
}

var pivFixture, gidsFixture providerFixture

// FuzzProviderPIV is fuzzProvider on a simulated YubiKey (PIV).
func FuzzProviderPIV(f *testing.F) {
	fx := &pivFixture
	if fx.state == nil {
		*fx = providerFixture{
			name: "PIV",
			load: func(r io.Reader) (cardsim.Card, error) { return simpiv.Load(r, simpiv.Config{}) },
			cfg:  basecsp.Config{AdminResponse: piv.ManagementKey(simpiv.DefaultManagementKey), Prompt: csptest.NewPrompt(simpiv.DefaultPIN)},
			pin:  simpiv.DefaultPIN,
		}
		sim, err := simpiv.New(simpiv.Config{})
		require.NoError(f, err)
		setUp(f, fx, sim)
	}
	providerSeeds(f)
	f.Fuzz(func(t *testing.T, script []byte) { fuzzProvider(t, fx, script) })
}

// FuzzProviderGIDS is fuzzProvider on a simulated GIDS card.
func FuzzProviderGIDS(f *testing.F) {
	fx := &gidsFixture
	if fx.state == nil {
		*fx = providerFixture{
			name: "GIDS",
			load: func(r io.Reader) (cardsim.Card, error) { return simgids.Load(r, simgids.Config{}) },
			cfg:  basecsp.Config{Prompt: csptest.NewPrompt(simgids.DefaultPIN)},
			pin:  simgids.DefaultPIN,
		}
		sim, err := simgids.New(simgids.Config{Initialized: true})
		require.NoError(f, err)
		setUp(f, fx, sim)
	}
	providerSeeds(f)
	f.Fuzz(func(t *testing.T, script []byte) { fuzzProvider(t, fx, script) })
}

package cspcore_test

import (
	"context"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cardmod/cardmod/basecsp"
	simgids "github.com/cardmod/cardmod/cardsim/gids"
	simpiv "github.com/cardmod/cardmod/cardsim/piv"
	"github.com/cardmod/cardmod/csptest"
	"github.com/cardmod/cardmod/internal/bertlv"
	"github.com/cardmod/cardmod/ksp"
	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/minidriver/piv"
	"github.com/cardmod/cardmod/scrm/virtual"
)

// The APDU budgets of warm key operations (issue 12), on every PIV profile
// of cardsim/piv, on cards provisioned by cardmod and by another
// application (keys and certificates only), and on GIDS. Counted on the
// card's side: what the simulated card receives.

const budgetReader = "Budget Reader"

// budgetKeyDef is one key a budget card holds.
type budgetKeyDef struct {
	slot byte
	alg  byte
	spec minidriver.KeySpec
}

// budgetDefs: an ECDSA key in 9A (PIN once), RSA-2048 in 9D (PIN once),
// an ECDH key in 82 (PIN once) and an ECDSA key in 9E (no PIN).
var budgetDefs = []budgetKeyDef{
	{0x9A, simpiv.AlgECCP256, minidriver.ECDSAP256},
	{0x9D, simpiv.AlgRSA2048, minidriver.KeyExchange},
	{0x82, simpiv.AlgECCP256, minidriver.ECDHP256},
	{0x9E, simpiv.AlgECCP256, minidriver.ECDSAP256},
}

// budgetCard is a provisioned card in a virtual reader.
type budgetCard struct {
	lc      *logCard
	backend *virtual.Backend
	pubs    map[minidriver.KeySpec]crypto.PublicKey // by key spec; 9E is ECDSAP256 too: keyed apart
	noPIN   crypto.PublicKey                        // 9E's
	gids    bool
}

func newPIVBudgetCard(t *testing.T, p simpiv.Profile, byPeer bool) *budgetCard {
	t.Helper()
	sim, err := simpiv.New(simpiv.Config{Profile: p, ManagementKeyAlgorithm: simpiv.AlgTDES})
	require.NoError(t, err)
	bc := &budgetCard{lc: &logCard{Card: sim}, backend: virtual.NewBackend(), pubs: map[minidriver.KeySpec]crypto.PublicKey{}}
	bc.backend.AddReader(budgetReader).Insert(bc.lc)
	switch {
	case p.Issued:
		// The issuer's keys: P-256 everywhere, found by their slots below.
	case byPeer:
		raw := rawPIV{t: t, card: sim}
		for _, d := range budgetDefs {
			if !hasAlg(p, d.alg) {
				continue
			}
			pub := raw.generate(d.slot, d.alg)
			if pub == nil {
				continue
			}
			if d.slot == 0x9E {
				bc.noPIN = pub
			} else {
				bc.pubs[d.spec] = pub
			}
		}
		sim.Reset()
	default:
		pr, err := basecsp.Open(basecsp.Config{Backend: bc.backend, Prompt: csptest.NewPrompt(simpiv.DefaultPIN),
			AdminResponse: piv.ManagementKey(simpiv.DefaultManagementKey)})
		require.NoError(t, err)
		for _, d := range budgetDefs {
			if d.slot == 0x9E || !hasAlg(p, d.alg) {
				continue // cardmod picks the slots: no 9E key of its own
			}
			bits := 0
			if d.spec.IsRSA() {
				bits = 2048
			}
			ct, err := pr.CreateContainer(context.Background(), `\\.\`+budgetReader+`\budget `+d.spec.String(), d.spec, bits, nil)
			require.NoError(t, err)
			k, err := ct.Key(d.spec)
			require.NoError(t, err)
			bc.pubs[d.spec] = k.Public()
		}
		require.NoError(t, pr.Close())
	}
	bc.lc.take()
	return bc
}

func hasAlg(p simpiv.Profile, alg byte) bool {
	for _, a := range p.Algorithms {
		if a == alg {
			return true
		}
	}
	return len(p.Algorithms) == 0
}

// budgetSession is one provider's open keys on a budget card.
type budgetSession struct {
	sign, signNoPIN, decrypt crypto.Signer
	dec                      crypto.Decrypter
	agree                    *ksp.Key
	pr                       *ksp.Provider
	prompt                   *csptest.Prompt
}

func (s *budgetSession) close(t *testing.T) { require.NoError(t, s.pr.Close()) }

// openBudgetSession opens basecsp and ksp over the card and finds each
// key by its public key (the issued card's by their slots' order).
func openBudgetSession(t *testing.T, bc *budgetCard, exclusive bool) *budgetSession {
	t.Helper()
	ctx := context.Background()
	prompt := csptest.NewPrompt(simpiv.DefaultPIN)
	if bc.gids {
		prompt = csptest.NewPrompt(simgids.DefaultPIN)
	}
	pr, err := ksp.Open(ksp.Config{Backend: bc.backend, Prompt: prompt, Exclusive: exclusive})
	require.NoError(t, err)
	t.Cleanup(func() { _ = pr.Close() })
	keys, err := pr.Keys(ctx)
	require.NoError(t, err)
	s := &budgetSession{pr: pr, prompt: prompt}
	for _, e := range keys {
		k, err := pr.OpenKeySpec(ctx, `\\.\`+budgetReader+`\`+e.Name, e.KeySpec)
		if err != nil {
			continue
		}
		pub := k.Public()
		switch {
		case e.KeySpec.IsECDH():
			if want, ok := bc.pubs[minidriver.ECDHP256]; (!ok && s.agree == nil) || (ok && samePub(pub, want)) {
				s.agree = k
			}
		case e.KeySpec.IsRSA():
			if samePub(pub, bc.pubs[e.KeySpec]) {
				s.dec, s.decrypt = k, k
			}
		case e.KeySpec.IsECDSA():
			want, ok := bc.pubs[minidriver.ECDSAP256]
			switch {
			case bc.noPIN != nil && samePub(pub, bc.noPIN):
				s.signNoPIN = k
			case ok && samePub(pub, want), !ok && s.sign == nil:
				s.sign = k
			}
		}
	}
	return s
}

func samePub(a, b crypto.PublicKey) bool {
	type eq interface{ Equal(crypto.PublicKey) bool }
	x, ok := a.(eq)
	if !ok || b == nil {
		return false
	}
	if ek, ok := a.(*ecdh.PublicKey); ok {
		if bk, ok := b.(*ecdsa.PublicKey); ok {
			if bb, err := bk.ECDH(); err == nil {
				return ek.Equal(bb)
			}
		}
	}
	return x.Equal(b)
}

// warm runs op three times and returns what the card received the third
// time.
func warm(t *testing.T, bc *budgetCard, op func() error) []apduLog {
	t.Helper()
	for range 2 {
		require.NoError(t, op())
	}
	bc.lc.take()
	require.NoError(t, op())
	return bc.lc.take()
}

type budgetOp struct {
	name string
	run  func(s *budgetSession) (func() error, bool)
}

var budgetOps = []budgetOp{
	{"sign ECDSA (PIN once)", func(s *budgetSession) (func() error, bool) {
		if s.sign == nil {
			return nil, false
		}
		d := sha256.Sum256([]byte("budget"))
		return func() error {
			sig, err := s.sign.Sign(rand.Reader, d[:], crypto.SHA256)
			if err == nil && !ecdsa.VerifyASN1(s.sign.Public().(*ecdsa.PublicKey), d[:], sig) {
				return assert.AnError
			}
			return err
		}, true
	}},
	{"sign ECDSA (no PIN)", func(s *budgetSession) (func() error, bool) {
		if s.signNoPIN == nil {
			return nil, false
		}
		d := sha256.Sum256([]byte("budget"))
		return func() error { _, err := s.signNoPIN.Sign(rand.Reader, d[:], crypto.SHA256); return err }, true
	}},
	{"sign RSA", func(s *budgetSession) (func() error, bool) {
		if s.decrypt == nil {
			return nil, false
		}
		d := sha256.Sum256([]byte("budget"))
		return func() error {
			sig, err := s.decrypt.Sign(rand.Reader, d[:], crypto.SHA256)
			if err == nil {
				err = rsa.VerifyPKCS1v15(s.decrypt.Public().(*rsa.PublicKey), crypto.SHA256, d[:], sig)
			}
			return err
		}, true
	}},
	{"decrypt RSA", func(s *budgetSession) (func() error, bool) {
		if s.dec == nil {
			return nil, false
		}
		msg := []byte("budget plaintext")
		opts := &rsa.OAEPOptions{Hash: crypto.SHA256}
		ct, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, s.dec.Public().(*rsa.PublicKey), msg, nil)
		if err != nil {
			return nil, false
		}
		return func() error {
			pt, err := s.dec.Decrypt(rand.Reader, ct, opts)
			if err == nil && string(pt) != string(msg) {
				return assert.AnError
			}
			return err
		}, true
	}},
	{"ECDH", func(s *budgetSession) (func() error, bool) {
		if s.agree == nil {
			return nil, false
		}
		peer, err := ecdh.P256().GenerateKey(rand.Reader)
		if err != nil {
			return nil, false
		}
		return func() error {
			z, err := s.agree.ECDH(peer.PublicKey())
			if err == nil {
				var want []byte
				if want, err = peer.ECDH(s.agree.Public().(*ecdh.PublicKey)); err == nil && string(want) != string(z) {
					return assert.AnError
				}
			}
			return err
		}, true
	}},
}

// sharedOpen lists the cards where shared-mode agreements still cost
// more than their budget, with the reason; TestWarmBudgetsPIV checks
// that they still do, so that the entry goes once they meet it. They are
// the cards the PIV plug-in declares CP_CACHE_MODE no cache
// (Card.Properties: no stable identity, no room for cardcf, or made
// read-only by the plug-in's configuration; an issuer's card is session
// only, and meets them): nothing is cached for them across transactions, so an
// operation whose result cannot be checked on the host (an ECDH
// agreement) probes cardmod's file store (GET DATA 5FFF20) and resolves
// its container again (on cards without GET METADATA from the
// certificates), with the default flag's probes of the slots before it
// (docs/benchmarks.md, "Where cardmod still spends more than the best peer, and why"). Signatures and decryptions meet
// their budget on them too: they are checked on the host (a decryption's
// raw result raised to the public exponent), and use the card's hints
// (internal/engine DoChecked).
var sharedOpen = map[string]string{
	"piv-applet/cardmod": "no room for cardcf: cache mode none",
	"piv-applet/peer":    "no room for cardcf: cache mode none",
}

// TestWarmBudgetsPIV: on every PIV profile, provisioned by cardmod and by
// another application, warm operations cost at most (and on the default
// YubiKey 5.7 profile a warm ECDSA signature sends and receives at most
// issue 12's 1.5 × piv-go's bytes, 72/118, on either card):
//
//   - exclusive mode: 2 commands (chained parts and GET RESPONSE rounds of
//     a card without extended lengths left out), 1 where the key's PIN
//     stays verified (every key of a peer-provisioned card here: PIN
//     policy once or never);
//   - shared mode, in commands as above: 4, the budget (on a
//     cardmod card GET DATA of cardcf's object in place of the SELECT,
//     VERIFY, the operation, the logout; on a peer card SELECT, VERIFY,
//     the operation, the logout); a signature with a key that needs no
//     PIN 2 (SELECT, GENERAL AUTHENTICATE: signatures run with DoChecked).
//     sharedOpen lists the cards where agreements cost more. On a peer
//     card decryptions and agreements run without the cardcf read (GET
//     DATA 5FFF20 → 6A82) they used to send, as signatures do:
//     internal/engine DoChecked and DoCached, which read it after a card
//     reset (TestPeerCardFirstWriteSeenByDecryptAndECDH).
func TestWarmBudgetsPIV(t *testing.T) {
	for _, p := range simpiv.Profiles() {
		for _, byPeer := range []bool{false, true} {
			if p.Issued && !byPeer {
				continue
			}
			who := "cardmod"
			if byPeer {
				who = "peer"
			}
			name := p.Name + "/" + who
			t.Run(name, func(t *testing.T) {
				bc := newPIVBudgetCard(t, p, byPeer)
				over := false
				for _, exclusive := range []bool{false, true} {
					s := openBudgetSession(t, bc, exclusive)
					for _, op := range budgetOps {
						run, ok := op.run(s)
						if !ok {
							continue
						}
						l := warm(t, bc, run)
						sent, recv := bytesOf(l)
						t.Logf("exclusive=%v %s: %d APDUs (%d/%d B)%s", exclusive, op.name, len(l), sent, recv, traceOf(l))
						if p.Name == simpiv.ProfileYubiKey57().Name && op.name == "sign ECDSA (PIN once)" {
							// Issue 12's bytes, on the card piv-go's
							// were measured on, provisioned either way.
							assert.LessOrEqual(t, float64(sent), 1.5*pivGoWarmSent, "exclusive=%v: bytes sent per warm signature", exclusive)
							assert.LessOrEqual(t, float64(recv), 1.5*pivGoWarmReceived, "exclusive=%v: bytes received per warm signature", exclusive)
						}
						switch {
						case exclusive && byPeer:
							assert.Equal(t, 1, commands(l), "exclusive %s", op.name)
						case exclusive:
							assert.LessOrEqual(t, commands(l), 2, "exclusive %s", op.name)
						case sharedOpen[name] != "" && op.name == "ECDH":
							over = over || commands(l) > sharedBudget(op.name)
						default:
							assert.LessOrEqual(t, commands(l), sharedBudget(op.name), "shared %s", op.name)
						}
					}
					s.close(t)
				}
				if why := sharedOpen[name]; why != "" {
					assert.True(t, over, "%s meets its shared-mode budgets now: remove it from sharedOpen (%s)", name, why)
				}
			})
		}
	}
}

// sharedBudget is the shared-mode budget of op in commands: a signature
// without a PIN 2 (SELECT or GET DATA of cardcf's object, GENERAL
// AUTHENTICATE), every other operation 4, the (SELECT or GET
// DATA of cardcf's object, VERIFY, the operation, the logout).
func sharedBudget(op string) int {
	if op == "sign ECDSA (no PIN)" {
		return 2
	}
	return 4
}

// TestReplacedKeyNeverUsedStale: another application replaces the key of
// an open container between two shared-mode signatures (on a card it
// provisioned, without cardcf, and on a card cardmod provisioned, whose
// cardcf it does not bump). The signature made with cached data does not
// verify under the key's public key, so it is made again on data read
// afresh; the key is still not the one opened, so no signature is
// returned, the error says the key is gone, the PIN is not asked for
// again and no PIN try is spent. Opened again, the container has the new
// key, which signs.
func TestReplacedKeyNeverUsedStale(t *testing.T) {
	p := simpiv.ProfileYubiKey57()
	for _, byPeer := range []bool{true, false} {
		t.Run(map[bool]string{true: "peer", false: "cardmod"}[byPeer], func(t *testing.T) {
			bc := newPIVBudgetCard(t, p, byPeer)
			ctx := context.Background()
			prompt := csptest.NewPrompt(simpiv.DefaultPIN)
			pr, err := ksp.Open(ksp.Config{Backend: bc.backend, Prompt: prompt})
			require.NoError(t, err)
			defer func() { assert.NoError(t, pr.Close()) }()
			s := openBudgetSession(t, bc, false)
			require.NotNil(t, s.sign)
			k, err := pr.OpenKey(ctx, s.sign.(*ksp.Key).Name())
			require.NoError(t, err)
			d := sha256.Sum256([]byte("replaced"))
			_, err = k.Sign(rand.Reader, d[:], crypto.SHA256)
			require.NoError(t, err)
			asked := prompt.Count.Load()

			// Another application generates a new key where k's is.
			slot := byte(0x9A)
			if !byPeer {
				slot = slotOf(t, bc, k.Public())
			}
			raw := rawPIV{t: t, card: bc.lc.Card}
			newPub := raw.generate(slot, simpiv.AlgECCP256)
			bc.lc.Card.Reset()

			sig, err := k.Sign(rand.Reader, d[:], crypto.SHA256)
			require.Error(t, err)
			assert.Nil(t, sig)
			assert.ErrorIs(t, err, minidriver.ErrNoKeyContainer)
			assert.Equal(t, asked, prompt.Count.Load(), "the cached PIN, accepted, is not asked for again")
			_, sw := raw.do(0x20, 0x00, 0x80, nil)
			assert.Equal(t, uint16(0x63C3), sw, "no PIN try spent")

			again, err := pr.OpenKey(ctx, k.Name())
			require.NoError(t, err)
			assert.True(t, samePub(again.Public(), newPub), "the container now has the new key")
			sig, err = again.Sign(rand.Reader, d[:], crypto.SHA256)
			require.NoError(t, err)
			assert.True(t, ecdsa.VerifyASN1(newPub.(*ecdsa.PublicKey), d[:], sig))
		})
	}
}

// slotOf finds the slot holding pub by GET METADATA (Yubico), sent
// directly to the simulated card.
func slotOf(t *testing.T, bc *budgetCard, pub crypto.PublicKey) byte {
	t.Helper()
	raw := rawPIV{t: t, card: bc.lc.Card}
	raw.must(0xA4, 0x04, 0x00, simpiv.AID)
	for _, slot := range []byte{0x9A, 0x9C, 0x9D, 0x9E, 0x82, 0x83} {
		md, sw := raw.do(0xF7, 0x00, slot, nil)
		if sw != 0x9000 {
			continue
		}
		v, ok := bertlv.Find(md, 0x04)
		if !ok {
			continue
		}
		pt, ok := bertlv.Find(v, 0x86)
		if !ok {
			continue
		}
		k, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), pt)
		if err == nil && samePub(k, pub) {
			return slot
		}
	}
	t.Fatal("no slot holds the key")
	return 0
}

// TestWarmBudgetsGIDS: on a GIDS card of every cardsim/gids profile
// (cardmod made its RSA key), a warm
// signature or decryption costs at most 5 APDUs in shared mode, the
// issue's budget (GET DATA of cardcf in place of the SELECT, VERIFY, MSE,
// PSO, the logout), and in exclusive mode 2
// (MSE, PSO; the login is kept), where every other operation used to fail
// (the re-SELECT ended the kept login).
func TestWarmBudgetsGIDS(t *testing.T) {
	for _, p := range simgids.Profiles() {
		t.Run(p.Name, func(t *testing.T) { warmBudgetsGIDS(t, p) })
	}
}

func warmBudgetsGIDS(t *testing.T, p simgids.Profile) {
	sim, err := simgids.New(simgids.Config{Initialized: true, Profile: p})
	require.NoError(t, err)
	bc := &budgetCard{lc: &logCard{Card: sim}, backend: virtual.NewBackend(), pubs: map[minidriver.KeySpec]crypto.PublicKey{}, gids: true}
	bc.backend.AddReader(budgetReader).Insert(bc.lc)
	pr, err := basecsp.Open(basecsp.Config{Backend: bc.backend, Prompt: csptest.NewPrompt(simgids.DefaultPIN)})
	require.NoError(t, err)
	ct, err := pr.CreateContainer(context.Background(), `\\.\`+budgetReader+`\budget rsa`, minidriver.KeyExchange, 2048, csptest.RSAKey(t))
	require.NoError(t, err)
	k, err := ct.Key(minidriver.KeyExchange)
	require.NoError(t, err)
	bc.pubs[minidriver.KeyExchange] = k.Public()
	require.NoError(t, pr.Close())
	for _, exclusive := range []bool{false, true} {
		s := openBudgetSession(t, bc, exclusive)
		require.NotNil(t, s.dec)
		// Alternate, as the interop harness does: sign, decrypt, sign.
		for _, op := range []budgetOp{budgetOps[2], budgetOps[3], budgetOps[2], budgetOps[3]} {
			run, ok := op.run(s)
			require.True(t, ok)
			l := warm(t, bc, run)
			sent, recv := bytesOf(l)
			t.Logf("exclusive=%v %s: %d APDUs (%d/%d B)%s", exclusive, op.name, len(l), sent, recv, traceOf(l))
			switch {
			case exclusive:
				assert.LessOrEqual(t, commands(l), 2, "exclusive %s", op.name)
			default:
				assert.LessOrEqual(t, commands(l), 5, "shared %s", op.name)
			}
		}
		s.close(t)
	}
}

// TestOtherApplicationSelectedBetweenSignatures: another application
// selects another application of the card (sent to the simulated card
// directly) between two shared-mode signatures. The next signature sends
// no VERIFY before a SELECT of PIV has succeeded in its transaction: on a
// cardmod card its first command, GET DATA of cardcf's object, is not
// answered with that object (the card has no PIV application selected, or
// Yubico's OTP application is), so the SELECT follows and cardcf is read
// behind it; on a peer card the transaction starts with the SELECT. The
// signature is made and verifies.
func TestOtherApplicationSelectedBetweenSignatures(t *testing.T) {
	openPGP := []byte{0xD2, 0x76, 0x00, 0x01, 0x24, 0x01} // an application the card lacks
	otp := []byte{0xA0, 0x00, 0x00, 0x05, 0x27, 0x20, 0x01}
	// A YubiKey 5 has Yubico's OTP application too; the simulated card
	// answers its SELECT with the profile flag set (the YubiKey 4
	// profile's, where logouts are resets and so every transaction
	// selects anyway).
	withOTP := simpiv.ProfileYubiKey57()
	withOTP.OTPSerial = true
	for _, tc := range []struct {
		name    string
		profile simpiv.Profile
		aid     []byte
	}{
		{"yubikey-5.7, unknown AID", simpiv.ProfileYubiKey57(), openPGP},
		{"yubikey-5.7, OTP application", withOTP, otp},
	} {
		for _, byPeer := range []bool{false, true} {
			t.Run(tc.name+map[bool]string{true: "/peer", false: "/cardmod"}[byPeer], func(t *testing.T) {
				bc := newPIVBudgetCard(t, tc.profile, byPeer)
				s := openBudgetSession(t, bc, false)
				defer s.close(t)
				require.NotNil(t, s.sign)
				pub := s.sign.Public().(*ecdsa.PublicKey)
				d := sha256.Sum256([]byte("other application"))
				for range 2 {
					_, err := s.sign.Sign(rand.Reader, d[:], crypto.SHA256)
					require.NoError(t, err)
				}
				raw := rawPIV{t: t, card: bc.lc.Card}
				_, sw := raw.do(0xA4, 0x04, 0x00, tc.aid)
				t.Logf("SELECT of the other application: %04X", sw)
				bc.lc.take()

				sig, err := s.sign.Sign(rand.Reader, d[:], crypto.SHA256)
				require.NoError(t, err)
				assert.True(t, ecdsa.VerifyASN1(pub, d[:], sig))
				l := bc.lc.take()
				t.Logf("%d APDUs%s", len(l), traceOf(l))
				selected, verified := false, false
				for _, x := range l {
					switch {
					case x.INS == 0xA4 && x.SW == 0x9000:
						selected = true
					case x.INS == 0x20 && x.P1 == 0x00:
						assert.True(t, selected, "VERIFY sent before a SELECT of PIV succeeded")
						verified = true
					}
				}
				assert.True(t, verified, "the signature's PIN was verified")
				require.NotEmpty(t, l)
				if byPeer {
					assert.Equal(t, byte(0xA4), l[0].INS, "a peer card's transaction starts with the SELECT")
				} else {
					assert.Equal(t, byte(0xCB), l[0].INS, "a cardmod card's transaction starts with GET DATA of cardcf's object")
					assert.NotEqual(t, uint16(0x9000), l[0].SW, "which another application does not answer")
				}

				// The next signature starts from PIV selected again.
				_, err = s.sign.Sign(rand.Reader, d[:], crypto.SHA256)
				require.NoError(t, err)
				assert.LessOrEqual(t, commands(bc.lc.take()), sharedBudget("sign ECDSA (PIN once)"))
			})
		}
	}
}

// TestCardCFChangeDropsCachedPINBeforeUse: another cardmod process
// changes the PIN between two shared-mode operations, bumping cardcf's
// PIN counter first. Its transaction ends with a card reset (the PIV
// management key has no logout), so the next operation starts with the
// SELECT and reads cardcf behind it before any PIN is sent: the cached
// PIN is dropped untried, the new one is asked for, and no PIN try is
// spent, whether a signature or a decryption comes first. On the peer
// card the change is the first cardmod write, which gives the card its
// cardcf; a signature or a decryption, which on such a card reads cardcf
// before a cached PIN only after a card reset (internal/engine
// DoChecked), reads it after the reset that ended the change and sees it
// appear. (A change of cardcf without a reset, which makes the
// transaction's first GET DATA differ: TestResumeProbesTheFileStore in
// minidriver/piv.)
func TestCardCFChangeDropsCachedPINBeforeUse(t *testing.T) {
	const newPIN = "97531864"
	// Not a decryption first on the cardmod card: its decryption key is
	// in 9C, whose PIN policy (always) caches no PIN, so the signature
	// after it asks again.
	for _, tc := range []struct{ byPeer, decryptFirst bool }{{false, false}, {true, false}, {true, true}} {
		byPeer := tc.byPeer
		name := map[bool]string{true: "peer", false: "cardmod"}[byPeer] + map[bool]string{true: "/decrypt", false: "/sign"}[tc.decryptFirst]
		t.Run(name, func(t *testing.T) {
			bc := newPIVBudgetCard(t, simpiv.ProfileYubiKey57(), byPeer)
			ctx := context.Background()
			prompt := csptest.NewPrompt(simpiv.DefaultPIN)
			pr, err := ksp.Open(ksp.Config{Backend: bc.backend, Prompt: prompt})
			require.NoError(t, err)
			defer func() { assert.NoError(t, pr.Close()) }()
			s := openBudgetSession(t, bc, false)
			require.NotNil(t, s.sign)
			require.NotNil(t, s.dec)
			sign, err := pr.OpenKey(ctx, s.sign.(*ksp.Key).Name())
			require.NoError(t, err)
			dec, err := pr.OpenKey(ctx, s.dec.(*ksp.Key).Name())
			require.NoError(t, err)
			s.close(t)
			d := sha256.Sum256([]byte("pin changed"))
			for range 2 {
				_, err = sign.Sign(rand.Reader, d[:], crypto.SHA256)
				require.NoError(t, err)
			}
			asked := prompt.Count.Load()

			other, err := basecsp.Open(basecsp.Config{Backend: bc.backend, Prompt: csptest.NewPrompt(simpiv.DefaultPIN),
				AdminResponse: piv.ManagementKey(simpiv.DefaultManagementKey)})
			require.NoError(t, err)
			card, err := other.Card(ctx, budgetReader)
			require.NoError(t, err)
			require.NoError(t, card.ChangePIN(ctx, minidriver.RoleUser, []byte(simpiv.DefaultPIN), []byte(newPIN)))
			require.NoError(t, other.Close())
			prompt.Answer.Store(newPIN)
			bc.lc.take()

			if tc.decryptFirst {
				msg := []byte("after the change")
				ct, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, dec.Public().(*rsa.PublicKey), msg, nil)
				require.NoError(t, err)
				pt, err := dec.Decrypt(rand.Reader, ct, &rsa.OAEPOptions{Hash: crypto.SHA256})
				require.NoError(t, err)
				assert.Equal(t, msg, pt)
			} else {
				sig, err := sign.Sign(rand.Reader, d[:], crypto.SHA256)
				require.NoError(t, err)
				assert.True(t, ecdsa.VerifyASN1(sign.Public().(*ecdsa.PublicKey), d[:], sig))
			}
			l := bc.lc.take()
			t.Logf("%d APDUs%s", len(l), traceOf(l))
			assert.Equal(t, asked+1, prompt.Count.Load(), "the cached PIN is dropped, the new one asked for")
			cfRead, selected := false, false
			for _, x := range l {
				switch {
				case x.INS == 0xA4 && x.SW == 0x9000:
					selected = true
				case x.INS == 0xCB && x.SW == 0x9000 && selected:
					cfRead = true
				case x.INS == 0x20 && x.P1 == 0x00:
					assert.True(t, cfRead, "cardcf read behind a SELECT before the PIN")
					assert.Equal(t, uint16(0x9000), x.SW, "only the new PIN is sent")
				}
			}
			raw := rawPIV{t: t, card: bc.lc.Card}
			raw.must(0xA4, 0x04, 0x00, simpiv.AID)
			_, sw := raw.do(0x20, 0x00, 0x80, nil)
			assert.Equal(t, uint16(0x63C3), sw, "no PIN try spent")

			// Signatures go on with the new PIN, now without a prompt.
			_, err = sign.Sign(rand.Reader, d[:], crypto.SHA256)
			require.NoError(t, err)
			assert.Equal(t, asked+1, prompt.Count.Load())
		})
	}
}

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
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cardmod/cardmod/basecsp"
	simpiv "github.com/cardmod/cardmod/cardsim/piv"
	"github.com/cardmod/cardmod/csptest"
	"github.com/cardmod/cardmod/internal/cspcore"
	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/minidriver/piv"
)

// peerIndexes lists, through a new basecsp provider, every container of
// the budget card: its index in the container map and its keys' public
// keys, by name.
func peerIndexes(t *testing.T, bc *budgetCard) map[string]peerEntry {
	t.Helper()
	ctx := context.Background()
	pr, err := basecsp.Open(basecsp.Config{Backend: bc.backend, Prompt: csptest.NewPrompt(simpiv.DefaultPIN)})
	require.NoError(t, err)
	defer func() { require.NoError(t, pr.Close()) }()
	entries, err := pr.Containers(ctx)
	require.NoError(t, err)
	out := map[string]peerEntry{}
	for _, e := range entries {
		ct, err := pr.Container(ctx, `\\.\`+budgetReader+`\`+e.Name)
		require.NoError(t, err)
		var pub crypto.PublicKey
		for _, spec := range ct.KeySpecs() {
			k, err := ct.Key(spec)
			require.NoError(t, err)
			pub = k.Public()
		}
		out[e.Name] = peerEntry{index: e.Index, pub: pub}
	}
	return out
}

type peerEntry struct {
	index int
	pub   crypto.PublicKey
}

// certFor is a certificate for pub, issued by a throwaway CA.
func certFor(t *testing.T, pub crypto.PublicKey) *x509.Certificate {
	t.Helper()
	ca, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "written by another cardmod process"},
		NotBefore: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), NotAfter: time.Date(2036, 1, 1, 0, 0, 0, 0, time.UTC)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, ca)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return cert
}

// cardcfRead reports whether l holds a GET DATA the card answered 9000
// (on these peer cards only the file store object 5FFF20, cardcf's, is
// read with GET DATA in a warm operation) before the PIN's VERIFY.
func cardcfRead(l []apduLog) bool {
	for _, x := range l {
		switch {
		case x.INS == 0xCB && x.SW == 0x9000:
			return true
		case x.INS == 0x20 && x.P1 == 0x00:
			return false
		}
	}
	return false
}

// TestPeerCardFirstWriteSeenByDecryptAndECDH: process A (ksp, shared
// mode) uses the decryption key (9D) and the ECDH key (82) of a card
// provisioned by another application (no container map, no cardcf),
// warm: 4 APDUs each, SELECT, VERIFY, GENERAL AUTHENTICATE, VERIFY FF 80,
// no cardcf read (internal/engine DoChecked for the decryption, whose raw
// result is checked against the public key, DoCached for the agreement).
// Process B (basecsp with the
// management key, another connection to the same card) then makes the
// first cardmod write to the card: a key generated in a free slot, or a
// certificate written for A's decryption key. That write gives the card
// its cardcf (and with a new key its container map, 5FFF10), and its
// transaction ends with a card reset (the management key has no
// logout), which A's next transaction is told of: A's next decryption
// reads cardcf behind the SELECT before it sends the cached PIN (a
// checked operation after a reset, as the agreement would at its start),
// sees it appear and reads again what it had cached (the container map,
// the slot's metadata: once per key, so the first two operations after
// it cost 5), and from then on A's transactions start with GET DATA of
// cardcf's object (4). A's results are right throughout, with its old
// keys; so they are when a signature (which sends the PIN the same way)
// comes first after B's write.
//
// The write keeps every container where it was: the container map B
// creates gives container i the slot the plug-in assigns it on a card
// without a map (slotTable[i], minidriver/piv writeCmapfile), so the
// index A cached for each of its keys, and the slot behind it, are still
// right after the write (checked against a new process's listing).
func TestPeerCardFirstWriteSeenByDecryptAndECDH(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name      string
		signFirst bool
		write     func(t *testing.T, b *basecsp.Provider, decName string, decPub crypto.PublicKey)
	}{
		{"key generated in a free slot", false, func(t *testing.T, b *basecsp.Provider, _ string, _ crypto.PublicKey) {
			_, err := b.CreateContainer(ctx, `\\.\`+budgetReader+`\made by B`, minidriver.ECDSAP256, 0, nil)
			require.NoError(t, err)
		}},
		{"certificate written", false, func(t *testing.T, b *basecsp.Provider, decName string, decPub crypto.PublicKey) {
			ct, err := b.Container(ctx, `\\.\`+budgetReader+`\`+decName)
			require.NoError(t, err)
			k, err := ct.Key(minidriver.KeyExchange)
			require.NoError(t, err)
			require.NoError(t, k.SetCertificate(ctx, certFor(t, decPub)))
		}},
		{"key generated, then a signature first", true, func(t *testing.T, b *basecsp.Provider, _ string, _ crypto.PublicKey) {
			_, err := b.CreateContainer(ctx, `\\.\`+budgetReader+`\made by B`, minidriver.ECDSAP256, 0, nil)
			require.NoError(t, err)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bc := newPIVBudgetCard(t, simpiv.ProfileYubiKey57(), true)
			before := peerIndexes(t, bc)
			a := openBudgetSession(t, bc, false)
			defer a.close(t)
			require.NotNil(t, a.dec)
			require.NotNil(t, a.agree)
			require.NotNil(t, a.sign)
			decName, agreeName := a.dec.(interface{ Name() string }).Name(), a.agree.Name()
			// A's keys are where the plug-in puts them on a card without
			// a map: container 2 is slot 9D, container 4 slot 82.
			require.Equal(t, 2, before[decName].index)
			require.Equal(t, 4, before[agreeName].index)

			decrypt, ok := budgetOps[3].run(a)
			require.True(t, ok)
			agree, ok := budgetOps[4].run(a)
			require.True(t, ok)
			sign, ok := budgetOps[0].run(a)
			require.True(t, ok)
			for _, run := range []func() error{decrypt, agree} {
				l := warm(t, bc, run)
				t.Logf("A warm, before B's write: %d APDUs%s", len(l), traceOf(l))
				assert.Equal(t, 4, commands(l))
				assert.False(t, cardcfRead(l), "no cardcf read on a card without one")
				assert.Equal(t, byte(0xA4), l[0].INS, "the SELECT stays")
			}

			b, err := basecsp.Open(basecsp.Config{Backend: bc.backend, Prompt: csptest.NewPrompt(simpiv.DefaultPIN),
				AdminResponse: piv.ManagementKey(simpiv.DefaultManagementKey)})
			require.NoError(t, err)
			tc.write(t, b, decName, a.dec.Public())
			require.NoError(t, b.Close())
			raw := rawPIV{t: t, card: bc.lc.Card}
			raw.must(0xA4, 0x04, 0x00, simpiv.AID)
			_, sw := raw.do(0xCB, 0x3F, 0xFF, []byte{0x5C, 0x03, 0x5F, 0xFF, 0x20})
			require.Equal(t, uint16(0x9000), sw, "B's write gave the card its cardcf")
			_, sw = raw.do(0xCB, 0x3F, 0xFF, []byte{0x5C, 0x03, 0x5F, 0xFF, 0x10})
			t.Logf("container map 5FFF10 after B's write: %04X", sw)
			bc.lc.take()

			if tc.signFirst {
				require.NoError(t, sign())
				l := bc.lc.take()
				t.Logf("A's signature after B's write: %d APDUs%s", len(l), traceOf(l))
			}
			require.NoError(t, decrypt(), "A decrypts with its old key")
			l := bc.lc.take()
			t.Logf("A's decryption after B's write: %d APDUs%s", len(l), traceOf(l))
			assert.True(t, cardcfRead(l), "cardcf read before the PIN: the card was reset since")

			// cardcf appeared: what A cached is dropped and read again
			// once (the container map, each slot's metadata), after which
			// warm operations cost 4 again.
			for i, run := range []func() error{agree, decrypt, agree, decrypt} {
				require.NoError(t, run(), "A's results are right")
				l = bc.lc.take()
				t.Logf("A after: %d APDUs%s", len(l), traceOf(l))
				require.NotEmpty(t, l)
				assert.Equal(t, byte(0xCB), l[0].INS, "a card with cardcf: GET DATA of its object first")
				assert.Equal(t, uint16(0x9000), l[0].SW)
				if i > 1 {
					assert.Equal(t, 4, commands(l))
				} else {
					assert.LessOrEqual(t, commands(l), 5, "the slot's metadata read again once")
				}
			}

			after := peerIndexes(t, bc)
			for name, e := range before {
				got, ok := after[name]
				if assert.True(t, ok, "container %q kept", name) {
					assert.Equal(t, e.index, got.index, "container %q keeps its index", name)
					assert.True(t, samePub(got.pub, e.pub), "container %q keeps its key", name)
				}
			}
			for name, e := range after {
				if _, old := before[name]; !old {
					assert.Equal(t, 1, e.index, "B's new container takes the first free index (9C's)")
				}
			}
		})
	}
}

// TestKeyReplacedByPeerToolSeenByDecryptNotByECDH: another application
// (piv-go, yubico-piv-tool, ykman: raw APDUs here) generates new keys in
// the slots of A's open decryption and ECDH keys. It writes no cardcf,
// so no cardcf read could see the change. A's decryption sees it: the
// card's raw result does not check out under the opened key's public key
// (or the card refuses the block, above its new modulus, with 6A80), on
// cached data and again on data read afresh, so it fails with
// ErrNoKeyContainer, no plaintext, the PIN neither asked for again nor a
// try spent (as a signature, TestReplacedKeyNeverUsedStale). An
// agreement's result cannot be checked on the host: it gives the secret
// of the new key (what docs/benchmarks.md says of peer cards). Opened
// again, the containers have the new keys, which work.
func TestKeyReplacedByPeerToolSeenByDecryptNotByECDH(t *testing.T) {
	ctx := context.Background()
	bc := newPIVBudgetCard(t, simpiv.ProfileYubiKey57(), true)
	a := openBudgetSession(t, bc, false)
	defer a.close(t)
	require.NotNil(t, a.dec)
	require.NotNil(t, a.agree)
	decrypt, ok := budgetOps[3].run(a)
	require.True(t, ok)
	agree, ok := budgetOps[4].run(a)
	require.True(t, ok)
	require.NoError(t, decrypt())
	require.NoError(t, agree())
	asked := a.prompt.Count.Load()

	raw := rawPIV{t: t, card: bc.lc.Card}
	oldN := a.dec.Public().(*rsa.PublicKey).N
	// A new modulus below the old one, so that both kinds of block below
	// are possible (a try succeeds with probability about 1/2).
	var newDec crypto.PublicKey
	for range 64 {
		newDec = raw.generate(0x9D, simpiv.AlgRSA2048)
		if newDec.(*rsa.PublicKey).N.Cmp(oldN) < 0 {
			break
		}
	}
	newN := newDec.(*rsa.PublicKey).N
	require.Negative(t, newN.Cmp(oldN), "a new key with a smaller modulus")
	newAgree := raw.generate(0x82, simpiv.AlgECCP256)
	bc.lc.Card.Reset()

	msg := []byte("for the old key")
	ct, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, a.dec.Public().(*rsa.PublicKey), msg, nil)
	require.NoError(t, err)
	t.Logf("the block is below the new key's modulus: %v", new(big.Int).SetBytes(ct).Cmp(newN) < 0)
	pt, err := a.dec.Decrypt(rand.Reader, ct, &rsa.OAEPOptions{Hash: crypto.SHA256})
	require.Error(t, err)
	assert.Nil(t, pt)
	assert.ErrorIs(t, err, minidriver.ErrNoKeyContainer)
	assert.NotErrorIs(t, err, minidriver.ErrDecryption, "no padding was looked at")
	assert.Equal(t, asked, a.prompt.Count.Load(), "the cached PIN, accepted, is not asked for again")
	raw.must(0xA4, 0x04, 0x00, simpiv.AID)
	_, sw := raw.do(0x20, 0x00, 0x80, nil)
	assert.Equal(t, uint16(0x63C3), sw, "no PIN try spent")

	// Both kinds of block below the opened key's modulus: one below the
	// new modulus too, whose result does not check out, and one not,
	// which the card refuses (6A80).
	for _, above := range []bool{false, true} {
		var m *big.Int
		if above {
			d, err := rand.Int(rand.Reader, new(big.Int).Sub(oldN, newN))
			require.NoError(t, err)
			m = d.Add(d, newN)
		} else {
			m, err = rand.Int(rand.Reader, newN)
			require.NoError(t, err)
		}
		out, err := a.dec.Decrypt(rand.Reader, m.FillBytes(make([]byte, 256)), cspcore.RawDecrypt{})
		assert.Nil(t, out, "above the new modulus: %v", above)
		assert.ErrorIs(t, err, minidriver.ErrNoKeyContainer, "above the new modulus: %v", above)
	}
	assert.Equal(t, asked, a.prompt.Count.Load())

	peer, err := ecdh.P256().GenerateKey(rand.Reader)
	require.NoError(t, err)
	z, err := a.agree.ECDH(peer.PublicKey())
	require.NoError(t, err)
	old, err := peer.ECDH(a.agree.Public().(*ecdh.PublicKey))
	require.NoError(t, err)
	assert.NotEqual(t, old, z, "the replaced key's secret")
	np, err := newAgree.(*ecdsa.PublicKey).ECDH()
	require.NoError(t, err)
	fresh, err := peer.ECDH(np)
	require.NoError(t, err)
	assert.Equal(t, fresh, z, "made with the new key in the slot")

	b := openBudgetSession(t, &budgetCard{lc: bc.lc, backend: bc.backend,
		pubs: map[minidriver.KeySpec]crypto.PublicKey{minidriver.KeyExchange: newDec, minidriver.ECDHP256: newAgree}}, false)
	defer b.close(t)
	require.NotNil(t, b.dec, "opened again: the new decryption key")
	require.NotNil(t, b.agree, "opened again: the new ECDH key")
	run, ok := budgetOps[3].run(b)
	require.True(t, ok)
	require.NoError(t, run())
	run, ok = budgetOps[4].run(b)
	require.True(t, ok)
	require.NoError(t, run())
	_ = ctx
}

// TestCertificatesAfterPeerReplacesKeyAndCertificate: another
// application replaces the P-256 key of 9A on a card cardmod provisioned
// with an RSA-2048 key and writes its certificate, leaving cardmod's
// container map (which still gives the container a 256-bit ECDSA key)
// and cardcf as they were. The certificate listing, which takes a key's
// spec from the map's key sizes, sees that the certificate is not of such
// a key and asks the plug-in instead, which presents the key as the card
// has it: an RSA key in the container's signature slot (AT_SIGNATURE,
// the certificate file keeping its name). ListKeys lists it the same way,
// with the new public key, and the key signs, the signature verifying
// under the new key.
func TestCertificatesAfterPeerReplacesKeyAndCertificate(t *testing.T) {
	ctx := context.Background()
	bc := newPIVBudgetCard(t, simpiv.ProfileYubiKey57(), false)
	raw := rawPIV{t: t, card: bc.lc.Card}
	pub := raw.generate(0x9A, simpiv.AlgRSA2048)
	raw.putCert(0x9A, pub)
	bc.lc.Card.Reset()

	pr, err := basecsp.Open(basecsp.Config{Backend: bc.backend, Prompt: csptest.NewPrompt(simpiv.DefaultPIN)})
	require.NoError(t, err)
	defer func() { require.NoError(t, pr.Close()) }()
	certs, err := pr.Certificates(ctx)
	require.NoError(t, err)
	keys, err := pr.ListKeys(ctx)
	require.NoError(t, err)
	var found bool
	for _, c := range certs {
		if !cspcore.SamePublic(c.Certificate.PublicKey, pub) {
			continue
		}
		found = true
		assert.Equal(t, minidriver.Signature, c.KeySpec, "an RSA key in the signature slot")
		var listed bool
		for _, k := range keys {
			if k.Container != c.Container || k.KeySpec != c.KeySpec {
				continue
			}
			listed = true
			assert.True(t, samePub(k.Public, pub), "ListKeys: the new key")
			assert.Equal(t, 2048, k.Bits)
			if assert.NotNil(t, k.Certificate) {
				assert.True(t, k.Certificate.Equal(c.Certificate), "ListKeys: the same certificate")
			}
			ct, err := pr.Container(ctx, k.FullName())
			require.NoError(t, err)
			key, err := ct.Key(k.KeySpec)
			require.NoError(t, err)
			d := sha256.Sum256([]byte("the replaced key signs"))
			sig, err := key.Sign(rand.Reader, d[:], crypto.SHA256)
			require.NoError(t, err)
			assert.NoError(t, rsa.VerifyPKCS1v15(pub.(*rsa.PublicKey), crypto.SHA256, d[:], sig))
		}
		assert.True(t, listed, "ListKeys lists the key the certificate is listed with")
	}
	assert.True(t, found, "the new certificate is listed")
}

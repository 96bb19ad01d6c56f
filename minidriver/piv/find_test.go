package piv_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cardmod/cardmod/basecsp"
	"github.com/cardmod/cardmod/cardfs"
	simpiv "github.com/cardmod/cardmod/cardsim/piv"
	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/minidriver/piv"
	"github.com/cardmod/cardmod/pincache"
	"github.com/cardmod/cardmod/scrm"
)

// FindContainer answers what cmapfile says, on a card with cardmod's map
// and on one a peer provisioned (no map), for every container, the
// default and a name the card does not have.
func TestFindContainerAgreesWithCmapfile(t *testing.T) {
	for _, peer := range []bool{false, true} {
		f := newBudgetFixture(t, simpiv.ProfileYubiKey57(), peer)
		r := f.start(t)
		card, err := scrm.NewContext(r.b).Connect(context.Background(), r.reader, nil)
		require.NoError(t, err)
		md, _, err := minidriver.NewRegistry(piv.Plugin{}).Open(context.Background(), card, minidriver.Env{})
		require.NoError(t, err)
		ctx := context.Background()
		tx, err := card.Begin(ctx)
		require.NoError(t, err)
		require.NoError(t, md.Resume(ctx, tx))
		b, err := md.ReadFile(ctx, tx, cardfs.MSCPDir, cardfs.ContainerMapFile)
		require.NoError(t, err)
		m, err := cardfs.ParseContainerMap(b)
		require.NoError(t, err)
		recs := m.ValidRecords()
		require.NotEmpty(t, recs)
		for _, want := range recs {
			got, err := minidriver.FindContainer(ctx, md, tx, want.Name)
			require.NoError(t, err, "peer %v, %s", peer, want.Name)
			assert.Equal(t, want, got, "peer %v", peer)
		}
		def, ok := m.Default()
		require.True(t, ok)
		got, err := minidriver.FindContainer(ctx, md, tx, "")
		require.NoError(t, err)
		assert.Equal(t, def, got, "default, peer %v", peer)
		_, err = minidriver.FindContainer(ctx, md, tx, "no-such-container")
		assert.ErrorIs(t, err, minidriver.ErrNoKeyContainer)
		require.NoError(t, tx.End(scrm.LeaveCard))
		require.NoError(t, card.Close(scrm.LeaveCard))
	}
}

// What the plug-in keeps in the disk cache is not used once another
// process changed the key: that process bumped cardcf, and a new process
// with the cache signs with the new key.
func TestPluginCacheFollowsCardcf(t *testing.T) {
	f := newBudgetFixture(t, simpiv.ProfileYubiKey57(), false)
	r := f.start(t)
	r.signNew(true) // fills the disk cache
	ctx := context.Background()
	other, err := basecsp.Open(basecsp.Config{Backend: r.b, Prompt: pincache.NewFixed([]byte(simpiv.DefaultPIN)),
		AdminResponse: piv.ManagementKey(simpiv.DefaultManagementKey)})
	require.NoError(t, err)
	c, err := other.Container(ctx, f.sign)
	require.NoError(t, err)
	require.NoError(t, c.Delete(ctx))
	c, err = other.CreateContainer(ctx, f.sign, minidriver.ECDSAP256, 0, nil)
	require.NoError(t, err)
	k, err := c.Key(minidriver.ECDSAP256)
	require.NoError(t, err)
	fresh := k.Public().(*ecdsa.PublicKey)
	require.False(t, fresh.Equal(f.pub), "the new key differs")
	require.NoError(t, other.Close())

	p := r.process(true)
	c, err = p.Container(ctx, f.sign)
	require.NoError(t, err)
	k, err = c.Key(minidriver.ECDSAP256)
	require.NoError(t, err)
	assert.True(t, fresh.Equal(k.Public()), "the public key is the new one")
	d := sha256.Sum256([]byte("after"))
	sig, err := k.SignContext(ctx, rand.Reader, d[:], crypto.SHA256)
	require.NoError(t, err)
	assert.True(t, ecdsa.VerifyASN1(fresh, d[:], sig), "signed by the new key")
}

// The default container found through the disk cache follows a change of
// default made by another process (a cmapfile write, which bumps cardcf's
// files counter).
func TestFoundDefaultFollowsCardcf(t *testing.T) {
	f := newBudgetFixture(t, simpiv.ProfileYubiKey57(), false)
	r := f.start(t)
	ctx := context.Background()
	def := func() string {
		p := r.process(true)
		c, err := p.Container(ctx, `\\.\`+r.reader+`\`)
		require.NoError(t, err)
		name := c.FullName()
		require.NoError(t, p.Close())
		return name
	}
	require.Equal(t, f.sign, def(), "the 9A container is the default")
	other := r.process(false)
	list, err := other.Containers(ctx)
	require.NoError(t, err)
	var second string
	for _, e := range list {
		if e.Index == 1 {
			second = e.FullName()
		}
	}
	require.NotEmpty(t, second)
	c, err := other.Container(ctx, second)
	require.NoError(t, err)
	require.NoError(t, c.SetDefault(ctx))
	require.NoError(t, other.Close())
	assert.Equal(t, second, def(), "the new default")
}

// The management key's algorithm kept in the disk cache saves GET METADATA
// 9B in a new process, and a key another application changed to another
// algorithm (without touching cardcf, as yubico-piv-tool does) is still
// authenticated: the card refuses the kept algorithm and the plug-in asks
// again. A YubiKey 5 is opened without GET VERSION, so its factory
// algorithm is not known: the first process, whose look-up got an answer
// to GET METADATA, asks with 3DES and then AES-192 (the card refuses the
// one that is not its key's: one APDU, in place of the key's GET
// METADATA), and the next has the algorithm the card took from the disk
// cache.
func TestManagementAlgorithmCachedAndRecovered(t *testing.T) {
	f := newBudgetFixture(t, simpiv.ProfileYubiKey57(), true)
	r := f.start(t)
	ctx := context.Background()
	writeCert := func(key []byte) []string {
		p, err := basecsp.Open(basecsp.Config{Backend: r.b, Prompt: pincache.NewFixed([]byte(simpiv.DefaultPIN)),
			AdminResponse: piv.ManagementKey(key), CacheDir: r.cache})
		require.NoError(t, err)
		defer func() { _ = p.Close() }()
		c, err := p.Container(ctx, f.sign)
		require.NoError(t, err)
		k, err := c.Key(minidriver.ECDSAP256)
		require.NoError(t, err)
		cert, err := x509.ParseCertificate(makeCert(t, k.Public(), "again"))
		require.NoError(t, err)
		r.sim.take()
		require.NoError(t, k.SetCertificate(ctx, cert))
		return r.sim.take()
	}
	askedAlg := func(log []string) bool {
		for _, l := range log {
			if strings.HasPrefix(l, "00 F7 00 9B") {
				return true
			}
		}
		return false
	}
	refused := func(log []string) int {
		n := 0
		for _, l := range log {
			if strings.HasPrefix(l, "00 87 ") && !strings.HasSuffix(l, "9000") {
				n++
			}
		}
		return n
	}
	first := writeCert(simpiv.DefaultManagementKey)
	assert.False(t, askedAlg(first), "the first process, whose look-up had an answer to GET METADATA, guesses the algorithm")
	assert.Equal(t, 1, refused(first), "3DES first, refused by the 5.7's factory AES-192 key, which the card takes next")
	second := writeCert(simpiv.DefaultManagementKey)
	assert.False(t, askedAlg(second), "the next one has it from the disk cache")
	assert.Zero(t, refused(second))

	// Another application sets the management key (without touching
	// cardcf): old is the key now, alg its algorithm.
	setKey := func(old []byte, alg byte, key []byte) { setManagementKey(t, r, old, alg, key) }
	aes256 := bytes.Repeat([]byte{0x24}, 32)
	setKey(simpiv.DefaultManagementKey, simpiv.AlgAES256, aes256)
	log := writeCert(aes256)
	assert.True(t, askedAlg(log), "the kept algorithm is asked for again")
	assert.Equal(t, 1, refused(log), "after the card refused it")
	log = writeCert(aes256)
	assert.False(t, askedAlg(log), "the next one has it from the disk cache")
	assert.Zero(t, refused(log))

	// Another application makes the management key a 3DES key.
	tdes := bytes.Repeat([]byte{0x42}, 24)
	setKey(aes256, simpiv.AlgTDES, tdes)
	assert.True(t, askedAlg(writeCert(tdes)), "the refused algorithm is asked for again")
}

// setManagementKey makes key (of algorithm alg) the management key of r's
// card, authenticating with old, as another application would: without
// touching cardcf.
func setManagementKey(t *testing.T, r *budgetRun, old []byte, alg byte, key []byte) {
	t.Helper()
	ctx := context.Background()
	card, err := scrm.NewContext(r.b).Connect(ctx, r.reader, nil)
	require.NoError(t, err)
	tx, err := card.Begin(ctx)
	require.NoError(t, err)
	md, _, err := minidriver.NewRegistry(piv.Plugin{}).OpenTx(ctx, tx, minidriver.Env{})
	require.NoError(t, err)
	admin(t, ctx, md, tx, old)
	_, err = tx.Do(ctx, scrm.Command{INS: 0xFF, P1: 0xFF, P2: 0xFF, Data: append([]byte{alg, 0x9B, byte(len(key))}, key...)})
	require.NoError(t, err)
	require.NoError(t, tx.End(scrm.ResetCard))
	require.NoError(t, card.Close(scrm.LeaveCard))
}

// A YubiKey 5 opened by its serial does not say its management key's
// algorithm. Once the card has answered a GET METADATA (the look-up's, of
// the key's slot), a certificate write asks the challenge with 3DES, then
// AES-192, and reads the key's metadata only when the card refused both
// (challengeAlgorithms): against the metadata first (the key's GET
// METADATA, the witness, the response: 3), a 3DES key costs 2, an
// AES-192 key 3, an AES-128 or AES-256 key 5, and the next write of the
// provider nothing more than the witness and the response.
func TestManagementAlgorithmGuesses(t *testing.T) {
	tests := []struct {
		name    string
		alg     byte
		size    int
		refused int
		meta    bool
		sw      []byte // the refusal's status word, when not the simulator's 6A86
	}{
		{"3DES", simpiv.AlgTDES, 24, 0, false, nil},
		{"AES-192", simpiv.AlgAES192, 24, 1, false, nil},
		{"AES-192, refused with 6A80", simpiv.AlgAES192, 24, 1, false, []byte{0x6A, 0x80}},
		{"AES-192, refused with 6982", simpiv.AlgAES192, 24, 1, false, []byte{0x69, 0x82}},
		{"AES-128", simpiv.AlgAES128, 16, 2, true, nil},
		{"AES-256", simpiv.AlgAES256, 32, 2, true, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newBudgetFixture(t, simpiv.ProfileYubiKey57(), true)
			r := f.start(t)
			ctx := context.Background()
			key := bytes.Repeat([]byte{0x5A}, tt.size)
			setManagementKey(t, r, simpiv.DefaultManagementKey, tt.alg, key)
			if tt.sw != nil {
				// A card that refuses a witness request of another
				// algorithm with another status word: still a refusal.
				r.sim.answer = func(apdu, rsp []byte) []byte {
					if len(apdu) > 3 && apdu[1] == 0x87 && apdu[3] == 0x9B && bytes.HasSuffix(rsp, []byte{0x6A, 0x86}) {
						return tt.sw
					}
					return rsp
				}
			}
			p, err := basecsp.Open(basecsp.Config{Backend: r.b, Prompt: pincache.NewFixed([]byte(simpiv.DefaultPIN)),
				AdminResponse: piv.ManagementKey(key)})
			require.NoError(t, err)
			defer func() { _ = p.Close() }()
			c, err := p.Container(ctx, f.sign)
			require.NoError(t, err)
			k, err := c.Key(minidriver.ECDSAP256)
			require.NoError(t, err)
			var auth []string
			for i, subject := range []string{"first", "second"} {
				cert, err := x509.ParseCertificate(makeCert(t, k.Public(), subject))
				require.NoError(t, err)
				r.sim.take()
				require.NoError(t, k.SetCertificate(ctx, cert))
				log := r.sim.take()
				auth = auth[:0]
				for _, l := range log {
					if strings.HasPrefix(l, "00 87 ") || strings.HasPrefix(l, "00 F7 00 9B") {
						auth = append(auth, l)
					}
				}
				want := 2
				if i == 0 {
					want += tt.refused
					if tt.meta {
						want++
					}
				}
				assert.Len(t, auth, want, "write %d: the management key's commands\n\t%s", i+1, strings.Join(log, "\n\t"))
				assert.True(t, strings.HasPrefix(auth[len(auth)-1], fmt.Sprintf("00 87 %02X 9B", tt.alg)), "the response, with the key's algorithm: %s", auth[len(auth)-1])
			}
			got, err := k.Certificate(ctx)
			require.NoError(t, err)
			assert.Equal(t, "second", got.Subject.CommonName)
		})
	}
}

// A YubiKey NEO has no retired slots: with its four slots taken, a fifth
// key is refused for want of room (the card answers 6A86 to GENERATE in
// slot 82), and the container map is left as it was.
func TestNEOWithoutRoomRefusesAKey(t *testing.T) {
	f := newBudgetFixture(t, simpiv.ProfileYubiKeyNEO(), false)
	r := f.start(t)
	ctx := context.Background()
	p := r.process(false)
	before, err := p.Containers(ctx)
	require.NoError(t, err)
	require.Len(t, before, 4)
	_, err = p.CreateContainer(ctx, `\\.\`+r.reader+`\fifth`, minidriver.ECDSAP256, 0, nil)
	require.ErrorIs(t, err, minidriver.ErrNoSpace)
	after, err := r.process(false).Containers(ctx)
	require.NoError(t, err)
	assert.Equal(t, before, after)
}

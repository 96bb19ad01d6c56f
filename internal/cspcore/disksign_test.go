package cspcore_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cardmod/cardmod/basecsp"
	simpiv "github.com/cardmod/cardmod/cardsim/piv"
	"github.com/cardmod/cardmod/csptest"
	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/minidriver/piv"
)

// diskProcess is a new process (a provider of its own) sharing the disk
// cache in dir.
func diskProcess(t *testing.T, bc *budgetCard, dir string) (*basecsp.Provider, *csptest.Prompt) {
	t.Helper()
	prompt := csptest.NewPrompt(simpiv.DefaultPIN)
	p, err := basecsp.Open(basecsp.Config{Backend: bc.backend, Prompt: prompt, CacheDir: dir})
	require.NoError(t, err)
	t.Cleanup(func() { _ = p.Close() })
	return p, prompt
}

// TestOneCallSignFromDiskCache: Provider.Sign in a new process uses the
// container record an earlier process left in the disk cache without
// reading cardcf (the signature, checked against the cached public key,
// is the check): SELECT, GET SERIAL, VERIFY, GENERAL AUTHENTICATE, the
// logout, issue 12's budget of 5 on a YubiKey 5. When another
// application (which writes no cardcf) replaced the key between the two
// processes, the signature made on the cached record does not verify, and
// it is made again on data read afresh: what is returned is a signature
// of the new key, beside the new key, with the PIN asked for once and no
// try spent. A slot the cache says is empty, where the other application
// has since put a key, is asked of the card again rather than reported
// as no key.
func TestOneCallSignFromDiskCache(t *testing.T) {
	prof := simpiv.ProfileYubiKey57()
	d := sha256.Sum256([]byte("from the disk cache"))
	for _, byPeer := range []bool{true, false} {
		t.Run(map[bool]string{true: "peer", false: "cardmod"}[byPeer], func(t *testing.T) {
			ctx := context.Background()
			bc := newPIVBudgetCard(t, prof, byPeer)
			dir := t.TempDir()
			old := bc.pubs[minidriver.ECDSAP256]
			slot := slotOf(t, bc, old)
			q := basecsp.KeyQuery{Address: piv.Slot(slot)}

			// The first process fills the disk cache (and lists every
			// key: on the peer card, slot 9C is recorded as empty).
			p1, _ := diskProcess(t, bc, dir)
			_, err := p1.ListKeys(ctx)
			require.NoError(t, err)
			_, k, err := p1.Sign(ctx, q, rand.Reader, d[:], crypto.SHA256)
			require.NoError(t, err)
			require.True(t, samePub(k.Public(), old))
			require.NoError(t, p1.Close())

			p2, _ := diskProcess(t, bc, dir)
			bc.lc.take()
			sig, k, err := p2.Sign(ctx, q, rand.Reader, d[:], crypto.SHA256)
			require.NoError(t, err)
			l := bc.lc.take()
			t.Logf("one call, disk cache: %d APDUs%s", len(l), traceOf(l))
			assert.Equal(t, 5, commands(l), "SELECT, GET SERIAL, VERIFY, GENERAL AUTHENTICATE, logout")
			assert.True(t, ecdsa.VerifyASN1(old.(*ecdsa.PublicKey), d[:], sig))
			assert.True(t, samePub(k.Public(), old))
			require.NoError(t, p2.Close())

			raw := rawPIV{t: t, card: bc.lc.Card}
			if byPeer {
				// Another application fills 9C, which the disk cache
				// records as empty: the look-up that finds nothing there
				// in the cached data asks the card again.
				in9C := raw.generate(0x9C, simpiv.AlgECCP256)
				bc.lc.Card.Reset()
				p, _ := diskProcess(t, bc, dir)
				sig, k, err := p.Sign(ctx, basecsp.KeyQuery{Address: piv.SlotSignature}, rand.Reader, d[:], crypto.SHA256)
				require.NoError(t, err, "9C, empty in the disk cache, is asked again")
				assert.True(t, samePub(k.Public(), in9C))
				assert.True(t, ecdsa.VerifyASN1(in9C.(*ecdsa.PublicKey), d[:], sig))
				require.NoError(t, p.Close())
			}

			// Another application replaces the key.
			newPub := raw.generate(slot, simpiv.AlgECCP256)
			bc.lc.Card.Reset()
			p3, prompt := diskProcess(t, bc, dir)
			sig, k, err = p3.Sign(ctx, q, rand.Reader, d[:], crypto.SHA256)
			require.NoError(t, err)
			assert.True(t, samePub(k.Public(), newPub), "the key returned is the slot's new key")
			assert.True(t, ecdsa.VerifyASN1(newPub.(*ecdsa.PublicKey), d[:], sig), "the signature is the new key's")
			assert.Equal(t, int32(1), prompt.Count.Load(), "the PIN the card accepted is not asked for again")
			_, sw := raw.do(0x20, 0x00, 0x80, nil)
			assert.Equal(t, uint16(0x63C3), sw, "no PIN try spent")
		})
	}
}

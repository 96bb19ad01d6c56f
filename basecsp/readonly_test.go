package basecsp_test

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cardmod/cardmod/basecsp"
	"github.com/cardmod/cardmod/cardsim"
	simpiv "github.com/cardmod/cardmod/cardsim/piv"
	"github.com/cardmod/cardmod/keystore"
	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/minidriver/piv"
	"github.com/cardmod/cardmod/scrm"
	"github.com/cardmod/cardmod/scrm/scrmtest"
	"github.com/cardmod/cardmod/scrm/virtual"
)

// insCounter counts the commands a card receives, by instruction.
type insCounter struct {
	cardsim.Card
	mu  sync.Mutex
	ins map[byte]int
}

func (c *insCounter) Transmit(apdu []byte) []byte {
	if len(apdu) >= 4 {
		c.mu.Lock()
		c.ins[apdu[1]]++
		c.mu.Unlock()
	}
	return c.Card.Transmit(apdu)
}

func (c *insCounter) count(ins byte) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ins[ins]
}

// TestCreateOnReadOnlyCardRefusedFirst: with piv.Plugin{ReadOnly: true},
// on an issued (read-only) PIV card and on a YubiKey 5 whose CHUID its
// issuer signed (read-only as the plug-in learns at the write, before any
// login: minidriver.WriteChecker), CreateContainer is refused before
// any PIN is asked for, verified or the management key authenticated, and
// before the slots are scanned (issue 15, item 8).
func TestCreateOnReadOnlyCardRefusedFirst(t *testing.T) {
	for _, tc := range []struct {
		name   string
		plugin piv.Plugin
		cfg    simpiv.Config
	}{
		{"Plugin.ReadOnly", piv.Plugin{ReadOnly: true}, simpiv.Config{}},
		{"issued card", piv.Plugin{}, simpiv.Config{Profile: simpiv.ProfileIssued()}},
		{"issuer-signed YubiKey 5", piv.Plugin{}, simpiv.Config{Profile: issuedYubiKey()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sim, err := simpiv.New(tc.cfg)
			require.NoError(t, err)
			card := &insCounter{Card: sim, ins: map[byte]int{}}
			b := virtual.NewBackend()
			b.AddReader(readerName).Insert(card)
			pr := newPrompt(simpiv.DefaultPIN)
			p, err := basecsp.Open(basecsp.Config{Backend: b, Prompt: pr, Registry: minidriver.NewRegistry(tc.plugin),
				AdminResponse: piv.ManagementKey(simpiv.DefaultManagementKey)})
			require.NoError(t, err)
			t.Cleanup(func() { _ = p.Close() })
			_, err = p.CreateContainer(context.Background(), "new", minidriver.ECDSAP256, 0, nil)
			require.ErrorIs(t, err, minidriver.ErrReadOnly)
			assert.Zero(t, pr.Count.Load(), "no PIN asked for")
			assert.Zero(t, card.count(0x20), "no VERIFY")
			assert.Zero(t, card.count(0x87), "no GENERAL AUTHENTICATE (management key)")
			assert.Zero(t, card.count(0xF7), "no GET METADATA scan")
			assert.Zero(t, card.count(0x47), "no GENERATE")
		})
	}
}

// TestCreateWithoutReaderPassesOverReadOnlyCard: with no reader in the
// name, a read-only card ahead of a writable one (by reader order) does
// not fail the create: the key is made on the writable card. Its
// containers' names are still looked at: one of them is refused with
// ErrExists on every card.
func TestCreateWithoutReaderPassesOverReadOnlyCard(t *testing.T) {
	issued, err := simpiv.New(simpiv.Config{Profile: simpiv.ProfileIssued()})
	require.NoError(t, err)
	writable, err := simpiv.New(simpiv.Config{})
	require.NoError(t, err)
	b := virtual.NewBackend()
	b.AddReader("A Issued").Insert(issued)
	b.AddReader("B Writable").Insert(writable)
	p, err := basecsp.Open(basecsp.Config{Backend: b, Prompt: newPrompt(simpiv.DefaultPIN),
		AdminResponse: piv.ManagementKey(simpiv.DefaultManagementKey)})
	require.NoError(t, err)
	t.Cleanup(func() { _ = p.Close() })
	ctx := context.Background()

	c, err := p.CreateContainer(ctx, "new", minidriver.ECDSAP256, 0, nil)
	require.NoError(t, err)
	assert.Equal(t, "B Writable", c.Card().Reader())

	entries, err := p.Containers(ctx)
	require.NoError(t, err)
	var onIssued string
	for _, e := range entries {
		if e.Reader == "A Issued" {
			onIssued = e.Name
			break
		}
	}
	require.NotEmpty(t, onIssued, "the issued card lists its containers")
	_, err = p.CreateContainer(ctx, onIssued, minidriver.ECDSAP256, 0, nil)
	assert.ErrorIs(t, err, keystore.ErrExists)
}

// TestCreateWithoutReaderOnAnUnknownCard: with the name alone and the only
// reader holding a card no plug-in takes, the create fails as when that
// card is one of several: no card present that a plug-in takes.
func TestCreateWithoutReaderOnAnUnknownCard(t *testing.T) {
	b := virtual.NewBackend()
	b.AddReader("Unknown").Insert(scrmtest.NewTestCard())
	p, err := basecsp.Open(basecsp.Config{Backend: b, Prompt: newPrompt(simpiv.DefaultPIN)})
	require.NoError(t, err)
	t.Cleanup(func() { _ = p.Close() })
	_, err = p.CreateContainer(context.Background(), "new", minidriver.ECDSAP256, 0, nil)
	assert.ErrorIs(t, err, scrm.ErrNoSmartcard)
}

// issuedYubiKey is a YubiKey 5.7 personalised by an issuer: its CHUID
// carries the issuer's signature (SP 800-73-4 part 1, 3.1.2) and the
// management key is the issuer's. It is opened by its serial alone, so
// its properties cannot say yet that its holder cannot write it: the
// plug-in learns it from the CHUID before any login of a write
// (minidriver.WriteChecker).
func issuedYubiKey() simpiv.Profile {
	p := simpiv.ProfileYubiKey57()
	p.Issued = true
	return p
}

// TestIssuerSignedYubiKeyInfo: Card.Info reports an issuer-signed
// YubiKey 5 read-only, asking the plug-in where the properties of a card
// opened by its serial cannot say.
func TestIssuerSignedYubiKeyInfo(t *testing.T) {
	sim, err := simpiv.New(simpiv.Config{Profile: issuedYubiKey()})
	require.NoError(t, err)
	b := virtual.NewBackend()
	b.AddReader(readerName).Insert(sim)
	p, err := basecsp.Open(basecsp.Config{Backend: b, Prompt: newPrompt(simpiv.DefaultPIN)})
	require.NoError(t, err)
	t.Cleanup(func() { _ = p.Close() })
	ctx := context.Background()
	pc, err := p.Card(ctx, "")
	require.NoError(t, err)
	info, err := pc.Info(ctx)
	require.NoError(t, err)
	assert.True(t, info.ReadOnly)
	assert.Zero(t, info.FreeSpace.ContainersAvailable, "a read-only card has no room")
}

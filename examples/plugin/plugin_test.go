package plugin_test

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cardmod/cardmod/cardfs"
	"github.com/cardmod/cardmod/examples/plugin"
	"github.com/cardmod/cardmod/examples/plugin/token"
	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/minidriver/minidrivertest"
	"github.com/cardmod/cardmod/scrm"
	"github.com/cardmod/cardmod/scrm/virtual"
)

var readers atomic.Int64

// newToken returns a connection to a fresh, initialized token in a
// virtual reader of its own (minidrivertest.Harness.NewCard).
func newToken(t *testing.T) *scrm.Card { return newTokenTB(t) }

func newTokenTB(t testing.TB) *scrm.Card {
	t.Helper()
	tok, err := token.New(token.Config{})
	require.NoError(t, err)
	b := virtual.NewBackend()
	name := fmt.Sprintf("Virtual Reader %d", readers.Add(1))
	b.AddReader(name).Insert(tok)
	card, err := scrm.NewContext(b).Connect(t.Context(), name, nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = card.Close(scrm.LeaveCard) })
	require.NoError(t, plugin.Initialize(t.Context(), card, []byte(token.DefaultPIN), nil))
	return card
}

// TestConformance runs the minidriver conformance suite on the plug-in.
func TestConformance(t *testing.T) {
	minidrivertest.Run(t, minidrivertest.Harness{
		Plugin:  plugin.Plugin{},
		NewCard: newToken,
		PINs:    map[minidriver.PinID][]byte{minidriver.RoleUser: []byte(token.DefaultPIN)},
		Keys: []minidrivertest.Key{
			{Container: 0, Spec: minidriver.ECDSAP256},
			{Container: 3, Spec: minidriver.ECDSAP256},
		},
		Features: minidrivertest.Features{WriteFiles: true, Generate: true},
	})
}

// The plug-in declares the token's AID and ATR itself (it does not import
// the simulator); they must agree with the card's.
func TestAgreesWithToken(t *testing.T) {
	assert.Equal(t, token.AID, plugin.AID)
	atrs := plugin.Plugin{}.ATRs()
	require.Len(t, atrs, 1)
	assert.True(t, atrs[0].Match(token.ATR), "the plug-in's ATR mask takes the token")
	assert.Equal(t, token.Slots, plugin.Slots)
}

// A token whose file store is full answers 6A84, and the plug-in's copy of
// the file system stays as the card has it.
func TestStoreFull(t *testing.T) {
	tok, err := token.New(token.Config{StoreCapacity: 600})
	require.NoError(t, err)
	b := virtual.NewBackend()
	b.AddReader("r").Insert(tok)
	card, err := scrm.NewContext(b).Connect(t.Context(), "r", nil)
	require.NoError(t, err)
	defer card.Close(scrm.LeaveCard)
	require.NoError(t, plugin.Initialize(t.Context(), card, []byte(token.DefaultPIN), nil))
	md, _, err := minidriver.NewRegistry(plugin.Plugin{}).Open(t.Context(), card, minidriver.Env{})
	require.NoError(t, err)
	tx, err := card.Begin(t.Context())
	require.NoError(t, err)
	defer tx.End(scrm.ResetCard)
	require.NoError(t, md.Resume(t.Context(), tx))
	_, err = md.Authenticate(t.Context(), tx, minidriver.RoleUser, []byte(token.DefaultPIN), 0)
	require.NoError(t, err)
	require.NoError(t, minidriver.CreateFile(t.Context(), md, tx, cardfs.MSCPDir, "big", cardfs.EveryoneReadUserWriteAc))
	err = minidriver.WriteFile(t.Context(), md, tx, cardfs.MSCPDir, "big", make([]byte, 1000))
	assert.ErrorIs(t, err, minidriver.ErrNoSpace)
	assert.Equal(t, uint32(0x80100028), minidriver.SCardCode(err), "SCARD_E_WRITE_TOO_MANY")
	got, err := md.ReadFile(t.Context(), tx, cardfs.MSCPDir, "big")
	require.NoError(t, err)
	assert.Empty(t, got, "the file as the token holds it")
}

// TestAPDUBudget pins what a transaction costs: SELECT in Resume, the file
// store read again only after another context wrote it.
func TestAPDUBudget(t *testing.T) {
	sc := newToken(t)
	reg := minidriver.NewRegistry(plugin.Plugin{})
	a, _, err := reg.Open(t.Context(), sc, minidriver.Env{})
	require.NoError(t, err)
	b, _, err := reg.Open(t.Context(), sc, minidriver.Env{})
	require.NoError(t, err)
	pin := []byte(token.DefaultPIN)
	apdus := func(md minidriver.Card, f func(tx *scrm.Tx)) uint64 {
		before := sc.Stats()
		tx, err := sc.Begin(t.Context())
		require.NoError(t, err)
		require.NoError(t, md.Resume(t.Context(), tx))
		f(tx)
		require.NoError(t, tx.End(scrm.LeaveCard))
		return sc.Stats().Sub(before).APDUs
	}
	read := func(md minidriver.Card) func(tx *scrm.Tx) {
		return func(tx *scrm.Tx) {
			_, err := md.ReadFile(t.Context(), tx, cardfs.RootDir, cardfs.CardCFFile)
			require.NoError(t, err)
		}
	}
	assert.Equal(t, uint64(1), apdus(a, read(a)), "SELECT, then cardcf from the copy")
	assert.Equal(t, uint64(4), apdus(a, func(tx *scrm.Tx) {
		_, err := a.Authenticate(t.Context(), tx, minidriver.RoleUser, pin, 0)
		require.NoError(t, err)
		require.NoError(t, minidriver.WriteFile(t.Context(), a, tx, cardfs.RootDir, cardfs.CardCFFile, make([]byte, cardfs.CardCFSize)))
		require.NoError(t, a.Deauthenticate(t.Context(), tx, minidriver.NewPinSet(minidriver.RoleUser)))
	}), "SELECT, VERIFY, PUT DATA, log out")
	assert.Equal(t, uint64(1), apdus(a, read(a)), "the writer's copy is current")
	assert.Equal(t, uint64(2), apdus(b, read(b)), "the other context reads the store again (GET DATA)")
	assert.Equal(t, uint64(1), apdus(b, read(b)), "and then no more")
}

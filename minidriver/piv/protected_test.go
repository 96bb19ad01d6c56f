package piv_test

import (
	"bytes"
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	simpiv "github.com/cardmod/cardmod/cardsim/piv"
	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/minidriver/piv"
	"github.com/cardmod/cardmod/scrm"
	"github.com/cardmod/cardmod/scrm/virtual"
)

func TestPINProtectedManagementKey(t *testing.T) {
	sim := newSim(t, simpiv.Config{})
	e := newEnv(t, sim, piv.Plugin{ProtectedManagementKey: true})
	key := []byte("protected-mgmt-key-24byt")
	e.runEnd(t, scrm.ResetCard, func(ctx context.Context, tx *scrm.Tx) {
		admin(t, ctx, e.md, tx, simpiv.DefaultManagementKey)
		putData(t, ctx, tx, 0x5FFF00, berTLV(0x80, berTLV(0x81, []byte{0x02})))
		putData(t, ctx, tx, 0x5FC109, berTLV(0x88, berTLV(0x89, key)))
		require.NoError(t, minidriver.ChangeAuthenticator(ctx, e.md, tx, minidriver.ChangeRequest{Mode: minidriver.ChangePIN, AuthPIN: piv.PINAdmin, Target: piv.PINAdmin, NewData: key}))
	})
	cf := []byte{0, 1, 0, 0, 1, 0}
	e.run(t, func(ctx context.Context, tx *scrm.Tx) {
		err := minidriver.WriteFile(ctx, e.md, tx, "", "cardcf", cf)
		assert.ErrorIs(t, err, minidriver.ErrSecurityViolation, "no PIN, no key")
	})
	e.run(t, func(ctx context.Context, tx *scrm.Tx) {
		userPIN(t, ctx, e.md, tx)
		require.NoError(t, minidriver.WriteFile(ctx, e.md, tx, "", "cardcf", cf))
		require.NoError(t, minidriver.CreateContainer(ctx, e.md, tx, minidriver.CreateContainerRequest{Index: 0, KeySpec: minidriver.ECDSAP256}))
		got, err := e.md.ReadFile(ctx, tx, "", "cardcf")
		require.NoError(t, err)
		assert.Equal(t, cf, got)
		// The management key login is the plug-in's: only a reset ends it.
		err = e.md.Deauthenticate(ctx, tx, minidriver.NewPinSet(piv.PINUser))
		assert.ErrorIs(t, err, minidriver.ErrUnsupported)
	})
	// Off by default.
	off := newEnv(t, sim, piv.Plugin{})
	off.runEnd(t, scrm.ResetCard, func(ctx context.Context, tx *scrm.Tx) {})
	off.run(t, func(ctx context.Context, tx *scrm.Tx) {
		userPIN(t, ctx, off.md, tx)
		assert.ErrorIs(t, minidriver.WriteFile(ctx, off.md, tx, "", "cardcf", cf), minidriver.ErrSecurityViolation)
	})
}

// The PIN-protected management key never reaches the connection's tracer,
// neither when it is written nor when the plug-in reads it to write files.
func TestProtectedManagementKeyNotTraced(t *testing.T) {
	sim := newSim(t, simpiv.Config{})
	b := virtual.NewBackend()
	b.AddReader("R").Insert(sim)
	key := []byte("protected-mgmt-key-24byt")
	var mu sync.Mutex
	var traced [][]byte
	tracer := scrm.TracerFunc(func(e *scrm.TraceEvent) {
		mu.Lock()
		defer mu.Unlock()
		traced = append(traced, bytes.Clone(e.Command), bytes.Clone(e.Response))
	})
	ctx := context.Background()
	card, err := scrm.NewContext(b).Connect(ctx, "R", &scrm.ConnectOptions{Tracer: tracer})
	require.NoError(t, err)
	defer card.Close(scrm.LeaveCard)
	md, _, err := minidriver.NewRegistry(piv.Plugin{ProtectedManagementKey: true}).Open(ctx, card, minidriver.Env{})
	require.NoError(t, err)
	defer md.Close()
	run := func(f func(tx *scrm.Tx)) {
		tx, err := card.Begin(ctx)
		require.NoError(t, err)
		defer tx.End(scrm.ResetCard)
		require.NoError(t, md.Resume(ctx, tx))
		f(tx)
	}
	run(func(tx *scrm.Tx) {
		admin(t, ctx, md, tx, simpiv.DefaultManagementKey)
		putData(t, ctx, tx, 0x5FFF00, berTLV(0x80, berTLV(0x81, []byte{0x02})))
		putData(t, ctx, tx, 0x5FC109, berTLV(0x88, berTLV(0x89, key)))
		require.NoError(t, minidriver.ChangeAuthenticator(ctx, md, tx, minidriver.ChangeRequest{Mode: minidriver.ChangePIN, AuthPIN: piv.PINAdmin, Target: piv.PINAdmin, NewData: key}))
	})
	run(func(tx *scrm.Tx) {
		userPIN(t, ctx, md, tx)
		require.NoError(t, minidriver.WriteFile(ctx, md, tx, "", "cardcf", []byte{0, 1, 0, 0, 1, 0}), "written with the protected key")
	})
	mu.Lock()
	defer mu.Unlock()
	require.NotEmpty(t, traced)
	for _, b := range traced {
		assert.False(t, bytes.Contains(b, key), "the management key in a trace: % X", b)
	}
}

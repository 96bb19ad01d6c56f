package piv_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	simpiv "github.com/cardmod/cardmod/cardsim/piv"
	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/minidriver/piv"
	"github.com/cardmod/cardmod/scrm"
)

// apdus counts the APDUs f sends.
func apdus(e *env, f func()) uint64 {
	s := e.card.Stats()
	f()
	return e.card.Stats().Sub(s).APDUs
}

func TestAPDUBudget(t *testing.T) {
	sim := newSim(t, simpiv.Config{})
	var e *env
	b := func() { e = newEnv(t, sim, piv.Plugin{}) }
	b()
	assert.Equal(t, uint64(2), e.card.Stats().APDUs, "Open of a YubiKey 5: SELECT, GET SERIAL")
	e.run(t, func(ctx context.Context, tx *scrm.Tx) {
		admin(t, ctx, e.md, tx, simpiv.DefaultManagementKey)
		require.NoError(t, minidriver.CreateContainer(ctx, e.md, tx, minidriver.CreateContainerRequest{Index: 3, KeySpec: minidriver.ECDSAP256}))
	})
	digest := sha256.Sum256([]byte("budget"))
	e.run(t, func(ctx context.Context, tx *scrm.Tx) {
		// Nothing is read twice in a transaction.
		first := apdus(e, func() {
			_, err := e.md.ReadFile(ctx, tx, "mscp", "cmapfile")
			require.NoError(t, err)
		})
		assert.Positive(t, first)
		assert.Zero(t, apdus(e, func() {
			_, err := e.md.ReadFile(ctx, tx, "mscp", "cmapfile")
			require.NoError(t, err)
			_, err = e.md.ContainerInfo(ctx, tx, 3)
			require.NoError(t, err)
			_, err = e.md.ContainerPIN(ctx, tx, 3)
			require.NoError(t, err)
		}))
		// A signature with the key's algorithm known is one APDU.
		assert.Equal(t, uint64(1), apdus(e, func() {
			_, err := e.md.SignData(ctx, tx, minidriver.SignRequest{Container: 3, Digest: digest[:]})
			require.NoError(t, err)
		}))
	})
	// In a new transaction: GET DATA of the file store in place of the
	// SELECT (the object as the last transaction saw it: the PIV
	// application is still selected), which is also the map check, then
	// the signature.
	ctx := context.Background()
	tx, err := e.card.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = tx.End(scrm.LeaveCard) }()
	assert.Equal(t, uint64(1), apdus(e, func() { require.NoError(t, e.md.Resume(ctx, tx)) }))
	assert.Equal(t, uint64(1), apdus(e, func() {
		_, err := e.md.SignData(ctx, tx, minidriver.SignRequest{Container: 3, Digest: digest[:]})
		require.NoError(t, err)
	}))
}

// TestMapKeptUnderCardCF: once the caller has read cardcf in a
// transaction, the container map read under the same cardcf is not read
// again; a change of cardcf by another process makes it read again.
func TestMapKeptUnderCardCF(t *testing.T) {
	sim := newSim(t, simpiv.Config{})
	e := newEnv(t, sim, piv.Plugin{})
	other := newEnv(t, sim, piv.Plugin{})
	digest := sha256.Sum256([]byte("kept"))
	engineTx := func(e *env, f func(ctx context.Context, tx *scrm.Tx)) {
		e.run(t, func(ctx context.Context, tx *scrm.Tx) {
			_, err := e.md.ReadFile(ctx, tx, "", "cardcf")
			require.NoError(t, err)
			f(ctx, tx)
		})
	}
	engineTx(e, func(ctx context.Context, tx *scrm.Tx) {
		admin(t, ctx, e.md, tx, simpiv.DefaultManagementKey)
		require.NoError(t, minidriver.CreateContainer(ctx, e.md, tx, minidriver.CreateContainerRequest{Index: 3, KeySpec: minidriver.ECDSAP256}))
		_, err := e.md.SignData(ctx, tx, minidriver.SignRequest{Container: 3, Digest: digest[:]})
		require.NoError(t, err)
	})
	engineTx(e, func(ctx context.Context, tx *scrm.Tx) {
		assert.Equal(t, uint64(1), apdus(e, func() {
			_, err := e.md.SignData(ctx, tx, minidriver.SignRequest{Container: 3, Digest: digest[:]})
			require.NoError(t, err)
		}), "the map is known under this cardcf")
	})
	// Another process moves container 3 to a stored map naming slot 9A,
	// bumping cardcf first as the engine does.
	engineTx(other, func(ctx context.Context, tx *scrm.Tx) {
		admin(t, ctx, other.md, tx, simpiv.DefaultManagementKey)
		require.NoError(t, minidriver.WriteFile(ctx, other.md, tx, "", "cardcf", []byte{0, 0, 1, 0, 1, 0}))
		require.NoError(t, minidriver.CreateContainer(ctx, other.md, tx, minidriver.CreateContainerRequest{Index: 0, KeySpec: minidriver.ECDSAP384}))
		putData(t, ctx, tx, 0x5FFF10, berTLV(0x81, append(make([]byte, 3*107), ykRecord("moved", 0x9A, 4, 384, 3, 1)...)))
	})
	engineTx(e, func(ctx context.Context, tx *scrm.Tx) {
		info, err := e.md.ContainerInfo(ctx, tx, 3)
		require.NoError(t, err)
		assert.Equal(t, minidriver.ECDSAP384, info.SignatureSpec, "the new map was read")
		userPIN(t, ctx, e.md, tx)
		sig, err := e.md.SignData(ctx, tx, minidriver.SignRequest{Container: 3, Digest: digest[:]})
		require.NoError(t, err)
		assert.True(t, verifyECDSA(info.Signature, digest[:], sig))
	})
}

func TestStaleAlgorithmIsReRead(t *testing.T) {
	sim := newSim(t, simpiv.Config{})
	e := newEnv(t, sim, piv.Plugin{})
	other := newEnv(t, sim, piv.Plugin{})
	digest := sha256.Sum256([]byte("stale"))
	e.run(t, func(ctx context.Context, tx *scrm.Tx) {
		admin(t, ctx, e.md, tx, simpiv.DefaultManagementKey)
		require.NoError(t, minidriver.CreateContainer(ctx, e.md, tx, minidriver.CreateContainerRequest{Index: 3, KeySpec: minidriver.ECDSAP256}))
		_, err := e.md.SignData(ctx, tx, minidriver.SignRequest{Container: 3, Digest: digest[:]})
		require.NoError(t, err)
	})
	// Another process replaces the key with a P-384 one.
	other.run(t, func(ctx context.Context, tx *scrm.Tx) {
		admin(t, ctx, other.md, tx, simpiv.DefaultManagementKey)
		require.NoError(t, minidriver.CreateContainer(ctx, other.md, tx, minidriver.CreateContainerRequest{Index: 3, KeySpec: minidriver.ECDSAP384}))
	})
	e.run(t, func(ctx context.Context, tx *scrm.Tx) {
		sig, err := e.md.SignData(ctx, tx, minidriver.SignRequest{Container: 3, Digest: digest[:]})
		require.NoError(t, err)
		info, err := e.md.ContainerInfo(ctx, tx, 3)
		require.NoError(t, err)
		assert.True(t, verifyECDSA(info.Signature, digest[:], sig))
	})
}

func TestNEOFirmware(t *testing.T) {
	sim := newSim(t, simpiv.Config{Version: simpiv.Version{Major: 3, Minor: 4, Patch: 9}, Serial: 0x01020304})
	e := newEnv(t, sim, piv.Plugin{})
	e.run(t, func(ctx context.Context, tx *scrm.Tx) {
		_, err := e.md.KeySizes(ctx, tx, minidriver.ECDSAP384)
		assert.ErrorIs(t, err, minidriver.ErrUnsupported)
		p, err := e.md.Properties(ctx, tx)
		require.NoError(t, err)
		// No GET SERIAL before 5.0: the serial comes from the OTP
		// application, as libykpiv reads it (TestOTPSerial).
		assert.Equal(t, []byte{1, 2, 3, 4}, p.Serial)
		assert.False(t, p.ReadOnly)
		admin(t, ctx, e.md, tx, simpiv.DefaultManagementKey)
		require.NoError(t, minidriver.CreateFile(ctx, e.md, tx, "mscp", "f", 1))
		assert.ErrorIs(t, minidriver.WriteFile(ctx, e.md, tx, "mscp", "f", make([]byte, 2100)), minidriver.ErrNoSpace)
	})
}

// On a card without GET METADATA a key the plug-in just generated or
// imported has no certificate yet; its public key is still known.
func TestNEOKeyWithoutCertificate(t *testing.T) {
	sim := newSim(t, simpiv.Config{Version: simpiv.Version{Major: 3, Minor: 4, Patch: 9}, Serial: 0x01020304})
	e := newEnv(t, sim, piv.Plugin{})
	imported := testRSAKey(t)
	e.run(t, func(ctx context.Context, tx *scrm.Tx) {
		admin(t, ctx, e.md, tx, simpiv.DefaultManagementKey)
		require.NoError(t, minidriver.CreateContainer(ctx, e.md, tx, minidriver.CreateContainerRequest{Index: 0, KeySpec: minidriver.ECDSAP256}))
		require.NoError(t, minidriver.CreateContainer(ctx, e.md, tx, minidriver.CreateContainerRequest{Index: 2, KeySpec: minidriver.KeyExchange, Key: imported}))
	})
	e.run(t, func(ctx context.Context, tx *scrm.Tx) {
		info, err := e.md.ContainerInfo(ctx, tx, 0)
		require.NoError(t, err)
		pub, ok := info.Signature.(*ecdsa.PublicKey)
		require.True(t, ok, "%T", info.Signature)
		userPIN(t, ctx, e.md, tx)
		digest := sha256.Sum256([]byte("neo"))
		sig, err := e.md.SignData(ctx, tx, minidriver.SignRequest{Container: 0, KeySpec: minidriver.ECDSAP256, Digest: digest[:]})
		require.NoError(t, err)
		assert.True(t, ecdsa.VerifyASN1(pub, digest[:], sig))

		info, err = e.md.ContainerInfo(ctx, tx, 2)
		require.NoError(t, err)
		assert.True(t, imported.PublicKey.Equal(info.KeyExchange))
	})
}

// TestResumeProbesTheFileStore: Resume sends GET DATA of the file store
// object (which holds cardcf) in place of the SELECT when the last
// transaction saw it, and the answer counts as the transaction's read of
// it only when it is the object as last seen. Another answer, because
// another process changed cardcf or another application is selected, is
// followed by the SELECT and the object is read again behind it.
func TestResumeProbesTheFileStore(t *testing.T) {
	sim := newSim(t, simpiv.Config{})
	e := newEnv(t, sim, piv.Plugin{})
	other := newEnv(t, sim, piv.Plugin{})
	readCF := func(ctx context.Context, tx *scrm.Tx) []byte {
		b, err := e.md.ReadFile(ctx, tx, "", "cardcf")
		require.NoError(t, err)
		return b
	}
	e.run(t, func(ctx context.Context, tx *scrm.Tx) {
		admin(t, ctx, e.md, tx, simpiv.DefaultManagementKey)
		require.NoError(t, minidriver.CreateContainer(ctx, e.md, tx, minidriver.CreateContainerRequest{Index: 3, KeySpec: minidriver.ECDSAP256}))
	})
	var first []byte
	e.run(t, func(ctx context.Context, tx *scrm.Tx) { first = readCF(ctx, tx) })

	ctx := context.Background()
	resume := func(wantResume, wantRead uint64) []byte {
		t.Helper()
		tx, err := e.card.Begin(ctx)
		require.NoError(t, err)
		defer func() { _ = tx.End(scrm.LeaveCard) }()
		assert.Equal(t, wantResume, apdus(e, func() { require.NoError(t, e.md.Resume(ctx, tx)) }), "Resume")
		var cf []byte
		assert.Equal(t, wantRead, apdus(e, func() { cf = readCF(ctx, tx) }), "the cardcf read")
		return cf
	}
	// Unchanged: one GET DATA, which is also the transaction's cardcf read.
	assert.Equal(t, first, resume(1, 0))

	// Another process bumps cardcf (no reset): the GET DATA answers other
	// bytes, so SELECT, and cardcf is read again.
	other.run(t, func(ctx context.Context, tx *scrm.Tx) {
		admin(t, ctx, other.md, tx, simpiv.DefaultManagementKey)
		require.NoError(t, minidriver.WriteFile(ctx, other.md, tx, "", "cardcf", []byte{7, 0, 7, 0, 7, 0}))
	})
	assert.Equal(t, []byte{7, 0, 7, 0, 7, 0}, resume(2, 1))
	assert.Equal(t, []byte{7, 0, 7, 0, 7, 0}, resume(1, 0), "the new object is the one last seen")

	// Another application selects an AID the card lacks: no application
	// is selected, the GET DATA is refused (6D00), SELECT follows.
	require.Equal(t, []byte{0x6A, 0x82}, sim.Transmit([]byte{0x00, 0xA4, 0x04, 0x00, 0x06, 0xD2, 0x76, 0x00, 0x01, 0x24, 0x01, 0x00}))
	assert.Equal(t, []byte{7, 0, 7, 0, 7, 0}, resume(2, 1))

	// After a reset the transaction starts with the SELECT.
	e.reader.Reset()
	assert.Equal(t, []byte{7, 0, 7, 0, 7, 0}, resume(1, 1))
}

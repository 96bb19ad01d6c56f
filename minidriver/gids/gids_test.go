package gids_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cardmod/cardmod/cardfs"
	simgids "github.com/cardmod/cardmod/cardsim/gids"
	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/minidriver/gids"
	"github.com/cardmod/cardmod/scrm"
	"github.com/cardmod/cardmod/scrm/virtual"
)

// TestPluginMatch checks that the registry takes the simulated card by its
// ATR and any other GIDS card by the AID probe.
func TestPluginMatch(t *testing.T) {
	e := newEnv(t, nil)
	assert.True(t, e.match.ByATR)
	assert.Equal(t, "GIDS", e.match.Plugin.Name())

	sim, err := simgids.New(simgids.Config{Initialized: true, ATR: []byte{0x3B, 0x81, 0x80, 0x01, 0x80, 0x80}, Rand: seeded(99)})
	require.NoError(t, err)
	e2 := newEnv(t, sim)
	assert.False(t, e2.match.ByATR, "found by the probe")
}

// TestLayoutOfInitializedCard reads the file system gids-tool leaves.
func TestLayoutOfInitializedCard(t *testing.T) {
	e := newEnv(t, nil)
	e.run(t, func(ctx context.Context, tx *scrm.Tx) {
		root, err := e.md.ListFiles(ctx, tx, "")
		require.NoError(t, err)
		assert.Equal(t, []string{"cardid", "cardapps", "cardcf"}, root)
		mscp, err := e.md.ListFiles(ctx, tx, "mscp")
		require.NoError(t, err)
		assert.Equal(t, []string{"cmapfile"}, mscp)
		cf, err := e.md.ReadFile(ctx, tx, "", "cardcf")
		require.NoError(t, err)
		assert.Equal(t, make([]byte, 6), cf)
		apps, err := e.md.ReadFile(ctx, tx, "", "CardApps")
		require.NoError(t, err)
		assert.Equal(t, []byte("mscp\x00\x00\x00\x00"), apps)
		fi, err := e.md.FileInfo(ctx, tx, "", "cardid")
		require.NoError(t, err)
		assert.Equal(t, minidriver.FileInfo{Size: 16, AccessCondition: cardfs.EveryoneReadAdminWriteAc}, fi)
		_, err = e.md.ReadFile(ctx, tx, "nodir", "x")
		assert.ErrorIs(t, err, minidriver.ErrDirNotFound)
		_, err = e.md.ReadFile(ctx, tx, "mscp", "ksc00")
		assert.ErrorIs(t, err, minidriver.ErrFileNotFound)
	})
}

// TestNewFileGoesToNextFreeDO checks that a certificate file lands on DO
// DF24 of A010, where OpenSC and the Windows minidriver put the first one.
func TestNewFileGoesToNextFreeDO(t *testing.T) {
	e := newEnv(t, nil)
	e.run(t, func(ctx context.Context, tx *scrm.Tx) {
		userPIN(t, ctx, e.md, tx)
		require.NoError(t, minidriver.CreateFile(ctx, e.md, tx, "mscp", "ksc00", cardfs.EveryoneReadUserWriteAc))
		require.NoError(t, minidriver.WriteFile(ctx, e.md, tx, "mscp", "ksc00", []byte("certificate")))
		rsp, err := tx.Do(ctx, scrm.Command{INS: 0xCB, P1: 0xA0, P2: 0x10, Data: []byte{0x5C, 0x02, 0xDF, 0x24}, Ne: 256})
		require.NoError(t, err)
		assert.Equal(t, append([]byte{0xDF, 0x24, 11}, "certificate"...), rsp.Data)
		require.NoError(t, minidriver.CreateFile(ctx, e.md, tx, "", "secret", cardfs.UserReadWriteAc))
		fi, err := e.md.FileInfo(ctx, tx, "", "secret")
		require.NoError(t, err)
		assert.Equal(t, cardfs.UserReadWriteAc, fi.AccessCondition)
	})
}

// TestInitialize initializes a blank card and compares it with a card
// gids-tool initialized.
func TestInitialize(t *testing.T) {
	e := newEnv(t, newSim(t, true))
	id := bytes.Repeat([]byte{0x42}, 16)
	aes := bytes.Repeat([]byte{7}, 32)
	e.run(t, func(ctx context.Context, tx *scrm.Tx) {
		_, err := e.md.ListFiles(ctx, tx, "")
		assert.ErrorIs(t, err, minidriver.ErrFileNotFound, "blank")
		g := e.md.(*gids.Card)
		require.NoError(t, g.Initialize(ctx, tx, gids.InitParams{PIN: []byte("12345678"), AdminKey: aes, CardID: id}))
		err = g.Initialize(ctx, tx, gids.InitParams{PIN: []byte("12345678"), AdminKey: aes})
		assert.ErrorIs(t, err, minidriver.ErrFileExists)
	})
	ref := newEnv(t, nil)
	e.run(t, func(ctx context.Context, tx *scrm.Tx) {
		p, err := e.md.Properties(ctx, tx)
		require.NoError(t, err)
		assert.Equal(t, id, p.GUID[:])
		for _, dir := range []string{"", "mscp"} {
			got, err := e.md.ListFiles(ctx, tx, dir)
			require.NoError(t, err)
			var want []string
			ref.run(t, func(ctx context.Context, tx *scrm.Tx) {
				want, err = ref.md.ListFiles(ctx, tx, dir)
				require.NoError(t, err)
			})
			assert.Equal(t, want, got)
		}
		_, err = e.md.Authenticate(ctx, tx, gids.PINUser, []byte("12345678"), 0)
		require.NoError(t, err)
		admin(t, ctx, e.md, tx, aes)
	})
	assert.Equal(t, simgids.LifeCycleOperational, e.sim.LifeCycle())
}

// TestPINErrors checks wrong PINs, blocking and unblocking with the admin
// key.
func TestPINErrors(t *testing.T) {
	e := newEnv(t, nil)
	e.run(t, func(ctx context.Context, tx *scrm.Tx) {
		for left := simgids.DefaultPINTries - 1; left >= 0; left-- {
			_, err := e.md.Authenticate(ctx, tx, gids.PINUser, []byte("000000"), 0)
			var pe *minidriver.PINError
			require.ErrorAs(t, err, &pe)
			assert.Equal(t, left, pe.AttemptsLeft)
			assert.Equal(t, left == 0, pe.Blocked)
			assert.Contains(t, err.Error(), "user PIN", "the PIN is named")
		}
		_, err := e.md.Authenticate(ctx, tx, gids.PINUser, []byte(simgids.DefaultPIN), 0)
		assert.ErrorIs(t, err, minidriver.ErrPINBlocked)
		ch, err := minidriver.Challenge(ctx, e.md, tx, gids.PINAdmin)
		require.NoError(t, err)
		resp, err := gids.AdminKeyResponse(simgids.DefaultAdminKey, ch)
		require.NoError(t, err)
		require.NoError(t, minidriver.ChangeAuthenticator(ctx, e.md, tx, minidriver.ChangeRequest{
			Mode: minidriver.Unblock, AuthPIN: gids.PINAdmin, AuthData: resp, Target: gids.PINUser, NewData: []byte("654321"),
		}))
		_, err = e.md.Authenticate(ctx, tx, gids.PINUser, []byte("654321"), 0)
		require.NoError(t, err)
	})
}

// TestChangeAdminKey changes the 3DES admin key to an AES-128 key.
func TestChangeAdminKey(t *testing.T) {
	e := newEnv(t, nil)
	newKey := bytes.Repeat([]byte{0x5A}, 16)
	e.run(t, func(ctx context.Context, tx *scrm.Tx) {
		ch, err := minidriver.Challenge(ctx, e.md, tx, gids.PINAdmin)
		require.NoError(t, err)
		resp, err := gids.AdminKeyResponse(simgids.DefaultAdminKey, ch)
		require.NoError(t, err)
		require.NoError(t, minidriver.ChangeAuthenticator(ctx, e.md, tx, minidriver.ChangeRequest{
			Mode: minidriver.ChangePIN, AuthPIN: gids.PINAdmin, AuthData: resp, Target: gids.PINAdmin, NewData: newKey,
		}))
	})
	e.run(t, func(ctx context.Context, tx *scrm.Tx) {
		ch, err := minidriver.Challenge(ctx, e.md, tx, gids.PINAdmin)
		require.NoError(t, err)
		resp, err := gids.AdminKeyResponse(simgids.DefaultAdminKey, ch)
		require.NoError(t, err)
		_, err = e.md.Authenticate(ctx, tx, gids.PINAdmin, resp, 0)
		assert.ErrorIs(t, err, minidriver.ErrWrongPIN, "the old key")
		admin(t, ctx, e.md, tx, newKey)
	})
}

// TestAdminKeyResponse checks the helper's arguments and the form of its
// answer.
func TestAdminKeyResponse(t *testing.T) {
	ch := make([]byte, 32)
	for _, tc := range []struct {
		key  int
		want int
	}{{24, 40}, {16, 48}, {32, 48}} {
		r, err := gids.AdminKeyResponse(make([]byte, tc.key), ch)
		require.NoError(t, err)
		assert.Len(t, r, tc.want)
	}
	_, err := gids.AdminKeyResponse(make([]byte, 8), ch)
	assert.ErrorIs(t, err, minidriver.ErrInvalidParameter)
	_, err = gids.AdminKeyResponse(make([]byte, 24), ch[:8])
	assert.ErrorIs(t, err, minidriver.ErrInvalidParameter)
}

// TestSignAndDecrypt generates keys and checks their signatures and a
// decryption with the public keys read back.
func TestSignAndDecrypt(t *testing.T) {
	e := newEnv(t, nil)
	digest := sha256.Sum256([]byte("hello"))
	e.run(t, func(ctx context.Context, tx *scrm.Tx) {
		userPIN(t, ctx, e.md, tx)
		require.NoError(t, minidriver.CreateContainer(ctx, e.md, tx, minidriver.CreateContainerRequest{Index: 0, KeySpec: minidriver.KeyExchange, Bits: 1024}))
		require.NoError(t, minidriver.CreateContainer(ctx, e.md, tx, minidriver.CreateContainerRequest{Index: 1, KeySpec: minidriver.ECDSAP384}))
		info, err := e.md.ContainerInfo(ctx, tx, 0)
		require.NoError(t, err)
		pub := info.KeyExchange.(*rsa.PublicKey)
		sig, err := e.md.SignData(ctx, tx, minidriver.SignRequest{Container: 0, KeySpec: minidriver.KeyExchange, Digest: digest[:], Padding: minidriver.PaddingPKCS1, Hash: crypto.SHA256})
		require.NoError(t, err)
		require.NoError(t, rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig))
		ct, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, pub, []byte("secret"), nil)
		require.NoError(t, err)
		pt, err := minidriver.RSADecrypt(ctx, e.md, tx, minidriver.DecryptRequest{Container: 0, KeySpec: minidriver.KeyExchange, Ciphertext: ct, Padding: minidriver.PaddingOAEP, OAEPHash: crypto.SHA256})
		require.NoError(t, err)
		assert.Equal(t, []byte("secret"), pt)

		info, err = e.md.ContainerInfo(ctx, tx, 1)
		require.NoError(t, err)
		sig, err = e.md.SignData(ctx, tx, minidriver.SignRequest{Container: 1, KeySpec: minidriver.ECDSAP384, Digest: digest[:]})
		require.NoError(t, err)
		assert.True(t, ecdsa.VerifyASN1(info.Signature.(*ecdsa.PublicKey), digest[:], sig))
		_, err = e.md.SignData(ctx, tx, minidriver.SignRequest{Container: 1, KeySpec: minidriver.ECDSAP256, Digest: digest[:]})
		assert.ErrorIs(t, err, minidriver.ErrNoKeyContainer, "another spec")
	})
}

// TestKeptMasterFile checks that the master file kept across transactions
// is trusted only while cardcf is unchanged: a file another context creates
// (bumping cardcf first, as every writer must) is seen.
func TestKeptMasterFile(t *testing.T) {
	e := newEnv(t, nil)
	other, _, err := minidriver.NewRegistry(gids.Plugin{}).Open(context.Background(), e.card, minidriver.Env{})
	require.NoError(t, err)
	defer func() { _ = other.Close() }()
	// list reads cardcf and lists mscp, as the engine does, and counts
	// the APDUs.
	list := func() ([]string, uint64) {
		var files []string
		var n uint64
		e.run(t, func(ctx context.Context, tx *scrm.Tx) {
			before := e.card.Stats()
			_, err := e.md.ReadFile(ctx, tx, "", "cardcf")
			require.NoError(t, err)
			files, err = e.md.ListFiles(ctx, tx, "mscp")
			require.NoError(t, err)
			n = e.card.Stats().Sub(before).APDUs
		})
		return files, n
	}
	files, n := list()
	assert.Equal(t, []string{"cmapfile"}, files)
	assert.Equal(t, uint64(2), n, "master file and cardcf")
	files, n = list()
	assert.Equal(t, []string{"cmapfile"}, files)
	assert.Equal(t, uint64(1), n, "cardcf alone: the kept master file is used")
	ctx := context.Background()
	tx, err := e.card.Begin(ctx)
	require.NoError(t, err)
	require.NoError(t, other.Resume(ctx, tx))
	userPIN(t, ctx, other, tx)
	cf, err := other.ReadFile(ctx, tx, "", "cardcf")
	require.NoError(t, err)
	cf[4]++
	require.NoError(t, minidriver.WriteFile(ctx, other, tx, "", "cardcf", cf))
	require.NoError(t, minidriver.CreateFile(ctx, other, tx, "mscp", "msroots", cardfs.EveryoneReadUserWriteAc))
	require.NoError(t, tx.End(scrm.ResetCard))
	files, n = list()
	assert.Equal(t, []string{"cmapfile", "msroots"}, files)
	assert.Equal(t, uint64(2), n, "cardcf changed: the master file is read again")
}

// TestAccessConditions checks that the card's access rules come through
// as the contract's errors.
func TestAccessConditions(t *testing.T) {
	e := newEnv(t, nil)
	e.run(t, func(ctx context.Context, tx *scrm.Tx) {
		err := minidriver.WriteFile(ctx, e.md, tx, "", "cardcf", make([]byte, 6))
		assert.ErrorIs(t, err, minidriver.ErrSecurityViolation, "no PIN")
		userPIN(t, ctx, e.md, tx)
		require.NoError(t, minidriver.WriteFile(ctx, e.md, tx, "", "cardcf", make([]byte, 6)))
		err = minidriver.WriteFile(ctx, e.md, tx, "", "cardid", make([]byte, 16))
		assert.ErrorIs(t, err, minidriver.ErrSecurityViolation, "cardid needs the admin key")
		admin(t, ctx, e.md, tx, simgids.DefaultAdminKey)
		require.NoError(t, minidriver.WriteFile(ctx, e.md, tx, "", "cardid", bytes.Repeat([]byte{1}, 16)))
		require.NoError(t, e.md.Deauthenticate(ctx, tx, minidriver.NewPinSet(gids.PINUser, gids.PINAdmin)))
		err = minidriver.CreateContainer(ctx, e.md, tx, minidriver.CreateContainerRequest{Index: 0, KeySpec: minidriver.ECDSAP256})
		assert.ErrorIs(t, err, minidriver.ErrSecurityViolation, "logged out")
		_, err = e.md.ContainerInfo(ctx, tx, 0)
		assert.ErrorIs(t, err, minidriver.ErrNoKeyContainer)
	})
}

// TestRefusedKeySize checks that a key size the card refuses leaves no key
// file behind and the container empty.
func TestRefusedKeySize(t *testing.T) {
	n := cardSeq.Add(1)
	sim, err := simgids.New(simgids.Config{Initialized: true, MaxRSABits: 2048, CardID: bytes.Repeat([]byte{byte(n)}, 16), Rand: seeded(n)})
	require.NoError(t, err)
	e := newEnv(t, sim)
	e.run(t, func(ctx context.Context, tx *scrm.Tx) {
		userPIN(t, ctx, e.md, tx)
		err := minidriver.CreateContainer(ctx, e.md, tx, minidriver.CreateContainerRequest{Index: 0, KeySpec: minidriver.Signature, Bits: 4096})
		assert.ErrorIs(t, err, minidriver.ErrUnsupported)
		_, err = e.md.ContainerInfo(ctx, tx, 0)
		assert.ErrorIs(t, err, minidriver.ErrNoKeyContainer)
		_, err = tx.Do(ctx, scrm.Command{INS: 0xA4, P1: 0x00, P2: 0x0C, Data: []byte{0xB0, 0x81}})
		assert.ErrorIs(t, err, scrm.ErrNotFound, "no key file left")
		err = minidriver.CreateContainer(ctx, e.md, tx, minidriver.CreateContainerRequest{Index: 0, KeySpec: minidriver.Signature, Bits: 512})
		assert.ErrorIs(t, err, minidriver.ErrUnsupported)
	})
}

// TestSecretsNotTraced checks that the tracer of the connection never sees
// an imported private key, the admin key or a user-only file's content.
func TestSecretsNotTraced(t *testing.T) {
	b := virtual.NewBackend()
	b.AddReader("R").Insert(newSim(t, false))
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
	defer func() { _ = card.Close(scrm.LeaveCard) }()
	md, _, err := minidriver.NewRegistry(gids.Plugin{}).Open(ctx, card, minidriver.Env{})
	require.NoError(t, err)
	defer func() { _ = md.Close() }()
	e := &env{card: card, md: md}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	newAdmin := []byte("a new admin key, 24 byte")
	wallet := []byte("password wallet content")
	e.run(t, func(ctx context.Context, tx *scrm.Tx) {
		userPIN(t, ctx, md, tx)
		require.NoError(t, minidriver.CreateContainer(ctx, md, tx, minidriver.CreateContainerRequest{Index: 0, KeySpec: minidriver.ECDSAP256, Key: key}))
		require.NoError(t, minidriver.CreateFile(ctx, md, tx, "", "wallet", cardfs.UserReadWriteAc))
		require.NoError(t, minidriver.WriteFile(ctx, md, tx, "", "wallet", wallet))
		got, err := md.ReadFile(ctx, tx, "", "wallet")
		require.NoError(t, err)
		assert.Equal(t, wallet, got)
		ch, err := minidriver.Challenge(ctx, md, tx, gids.PINAdmin)
		require.NoError(t, err)
		resp, err := gids.AdminKeyResponse(simgids.DefaultAdminKey, ch)
		require.NoError(t, err)
		require.NoError(t, minidriver.ChangeAuthenticator(ctx, md, tx, minidriver.ChangeRequest{Mode: minidriver.ChangePIN, AuthPIN: gids.PINAdmin, AuthData: resp, Target: gids.PINAdmin, NewData: newAdmin}))
	})
	mu.Lock()
	defer mu.Unlock()
	require.NotEmpty(t, traced)
	d, err := key.Bytes()
	require.NoError(t, err)
	for _, b := range traced {
		assert.False(t, bytes.Contains(b, d), "the private key in a trace")
		assert.False(t, bytes.Contains(b, newAdmin), "the admin key in a trace")
		assert.False(t, bytes.Contains(b, wallet), "a user-only file in a trace")
		assert.False(t, bytes.Contains(b, []byte(simgids.DefaultPIN)), "the PIN in a trace")
	}
}

// TestResumeProbesCardCF: Resume sends GET DATA of cardcf in place of the
// SELECT when the last transaction saw cardcf, and the answer counts as
// the transaction's cardcf read only when it is cardcf as last seen.
// Another answer, because another process changed cardcf or another
// application is selected, is followed by the SELECT and cardcf is read
// again behind it.
func TestResumeProbesCardCF(t *testing.T) {
	e := newEnv(t, nil)
	other, _, err := minidriver.NewRegistry(gids.Plugin{}).Open(context.Background(), e.card, minidriver.Env{})
	require.NoError(t, err)
	defer func() { _ = other.Close() }()
	ctx := context.Background()
	// tx runs f after md's Resume in a transaction that ends leaving the
	// card as it is, and counts Resume's APDUs and those of the cardcf
	// read that follows it.
	tx := func(md minidriver.Card, f func(tx *scrm.Tx)) (resume, read uint64, cf []byte) {
		t.Helper()
		tx, err := e.card.Begin(ctx)
		require.NoError(t, err)
		defer func() { require.NoError(t, tx.End(scrm.LeaveCard)) }()
		s := e.card.Stats()
		require.NoError(t, md.Resume(ctx, tx))
		m := e.card.Stats()
		cf, err = md.ReadFile(ctx, tx, "", "cardcf")
		require.NoError(t, err)
		resume, read = m.Sub(s).APDUs, e.card.Stats().Sub(m).APDUs
		if f != nil {
			f(tx)
		}
		return resume, read, cf
	}
	_, _, first := tx(e.md, nil)
	resume, read, cf := tx(e.md, nil)
	assert.Equal(t, uint64(1), resume, "GET DATA of cardcf in place of the SELECT")
	assert.Zero(t, read, "which is the transaction's cardcf read")
	assert.Equal(t, first, cf)

	// Another process bumps cardcf and logs out (no reset).
	changed := append([]byte{}, first...)
	changed[4]++
	tx(other, func(tx *scrm.Tx) {
		userPIN(t, ctx, other, tx)
		require.NoError(t, minidriver.WriteFile(ctx, other, tx, "", "cardcf", changed))
		require.NoError(t, other.Deauthenticate(ctx, tx, minidriver.NewPinSet(gids.PINUser)))
	})
	resume, read, cf = tx(e.md, nil)
	assert.Equal(t, uint64(2), resume, "other bytes: the SELECT follows")
	assert.Equal(t, uint64(1), read, "and cardcf is read behind it")
	assert.Equal(t, changed, cf)
	// The master file kept under the old cardcf went with it: read again
	// once (SELECT, master file, cardcf), then the GET DATA serves again.
	resume, read, _ = tx(e.md, nil)
	assert.Equal(t, uint64(1), resume)
	assert.Equal(t, uint64(2), read)
	resume, read, cf = tx(e.md, nil)
	assert.Equal(t, uint64(1), resume)
	assert.Zero(t, read)
	assert.Equal(t, changed, cf)

	// Another application selects an AID the card lacks: nothing is
	// selected, the GET DATA is refused, the SELECT follows.
	e.sim.Transmit([]byte{0x00, 0xA4, 0x04, 0x00, 0x06, 0xD2, 0x76, 0x00, 0x01, 0x24, 0x01, 0x00})
	resume, read, cf = tx(e.md, nil)
	assert.Equal(t, uint64(2), resume)
	assert.Equal(t, uint64(1), read)
	assert.Equal(t, changed, cf)
}

package piv_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"testing"

	"github.com/cardmod/cardmod/cardfs"
	"github.com/cardmod/cardmod/cardsim"
	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/minidriver/piv"
	"github.com/cardmod/cardmod/scrm"
	"github.com/cardmod/cardmod/scrm/virtual"
)

// replayATR is the ATR of the replaying card.
var replayATR = []byte{0x3B, 0xFD, 0x13, 0x00, 0x00, 0x81, 0x31, 0xFE, 0x15, 0x80, 0x73, 0xC0, 0x21, 0xC0, 0x57, 0x59, 0x75, 0x62, 0x69, 0x4B, 0x65, 0x79, 0x40}

func answer(b ...byte) []byte { return cardsim.ReplayAnswer(b...) }

// FuzzCardAnswers drives the plug-in against a card whose answers come from
// the fuzz input, as OpenSC fuzzes its drivers with a replaying reader:
// whatever the card says, the plug-in must not panic.
func FuzzCardAnswers(f *testing.F) {
	var seed []byte
	seed = append(seed, answer(0x90, 0x00)...)          // SELECT
	seed = append(seed, answer(5, 7, 1, 0x90, 0x00)...) // GET VERSION
	seed = append(seed, answer(0, 0x98, 0x96, 0x81, 0x90, 0x00)...)
	seed = append(seed, answer(0x53, 0x12, 0x34, 0x10, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 0x90, 0x00)...)
	seed = append(seed, answer(0x90, 0x00)...) // Resume
	f.Add(seed)
	f.Add(append(append([]byte{}, seed...), answer(0x53, 0x05, 0x81, 0x03, 1, 2, 3, 0x90, 0x00)...))
	f.Add(append(append([]byte{}, seed...), answer(0x01, 0x01, 0x11, 0x04, 0x43, 0x86, 0x41, 0x04, 0x90, 0x00)...))
	f.Add([]byte{})
	// A card that says yes to everything after opening: the write paths.
	f.Add(append(append([]byte{}, seed...), bytes.Repeat(answer(0x90, 0x00), 80)...))
	f.Fuzz(func(t *testing.T, data []byte) {
		ctx := context.Background()
		b := virtual.NewBackend()
		b.AddReader("R").Insert(cardsim.NewReplay(replayATR, data))
		card, err := scrm.NewContext(b).Connect(ctx, "R", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer card.Close(scrm.LeaveCard)
		tx, err := card.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.End(scrm.LeaveCard)
		md, err := piv.Plugin{}.Open(ctx, tx, minidriver.Env{})
		if err != nil {
			return
		}
		defer md.Close()
		_ = md.Resume(ctx, tx)
		for _, p := range [][2]string{{"", "cardid"}, {"", "cardcf"}, {"mscp", "cmapfile"}, {"mscp", "msroots"}, {"mscp", "ksc00"}, {"mscp", "kxc02"}, {"app", "x"}} {
			_, _ = md.ReadFile(ctx, tx, p[0], p[1])
		}
		_, _ = md.ListFiles(ctx, tx, "mscp")
		_, _ = md.FreeSpace(ctx, tx)
		for i := range 4 {
			_, _ = md.ContainerInfo(ctx, tx, i)
			_, _ = md.ContainerPIN(ctx, tx, i)
		}
		d := sha256.Sum256(data)
		_, _ = md.SignData(ctx, tx, minidriver.SignRequest{Container: 0, Digest: d[:], Padding: minidriver.PaddingNone})
		_, _ = minidriver.RSADecrypt(ctx, md, tx, minidriver.DecryptRequest{Container: 2, Ciphertext: make([]byte, 256), Padding: minidriver.PaddingNone})
		_, _ = minidriver.Challenge(ctx, md, tx, piv.PINAdmin)
		_, _ = md.Authenticate(ctx, tx, piv.PINAdmin, make([]byte, 24), 0)
		_, _ = md.Authenticate(ctx, tx, piv.PINUser, []byte("123456"), 0)

		// The write paths: files (certificates, the container map, the
		// file store), containers (generated and imported), PINs.
		_ = minidriver.CreateFile(ctx, md, tx, "mscp", "kxc01", cardfs.EveryoneReadUserWriteAc)
		_ = minidriver.WriteFile(ctx, md, tx, "mscp", "kxc01", d[:])
		_ = minidriver.WriteFile(ctx, md, tx, "mscp", "cmapfile", make([]byte, 86))
		_ = minidriver.WriteFile(ctx, md, tx, "", "cardcf", []byte{0, 0, 1, 0, 0, 0})
		_ = minidriver.CreateFile(ctx, md, tx, "app", "data", cardfs.EveryoneReadUserWriteAc)
		_ = minidriver.WriteFile(ctx, md, tx, "app", "data", data[:min(len(data), 600)])
		_ = minidriver.DeleteFile(ctx, md, tx, "app", "data")
		_ = minidriver.DeleteFile(ctx, md, tx, "mscp", "kxc01")
		_ = minidriver.CreateContainer(ctx, md, tx, minidriver.CreateContainerRequest{Index: 1, KeySpec: minidriver.ECDSAP256})
		_ = minidriver.CreateContainer(ctx, md, tx, minidriver.CreateContainerRequest{Index: 2, KeySpec: minidriver.ECDSAP256, Key: replayKey})
		_ = minidriver.DeleteContainer(ctx, md, tx, 1)
		_ = minidriver.ChangeAuthenticator(ctx, md, tx, minidriver.ChangeRequest{Mode: minidriver.ChangePIN, AuthPIN: piv.PINUser, AuthData: []byte("123456"), Target: piv.PINUser, NewData: []byte("654321")})
		_ = minidriver.ChangeAuthenticator(ctx, md, tx, minidriver.ChangeRequest{Mode: minidriver.Unblock, AuthPIN: piv.PINPUK, AuthData: []byte("12345678"), Target: piv.PINUser, NewData: []byte("123456")})
		_ = md.Deauthenticate(ctx, tx, 0xFF)
	})
}

// replayKey is the key the replay fuzzer imports.
var replayKey = func() *ecdsa.PrivateKey {
	k, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), bytes.Repeat([]byte{0x11}, 32))
	if err != nil {
		panic(err)
	}
	return k
}()

package gids_test

import (
	"context"
	"crypto/ecdh"
	"crypto/sha256"
	"testing"

	"github.com/cardmod/cardmod/cardfs"
	"github.com/cardmod/cardmod/cardsim"
	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/minidriver/gids"
	"github.com/cardmod/cardmod/scrm"
	"github.com/cardmod/cardmod/scrm/virtual"
)

// replayATR is the ATR of the replaying card.
var replayATR = []byte{0x3B, 0x89, 0x80, 0x01, 0x80, 0x31, 0x80, 0x65, 0x47, 0x49, 0x44, 0x53, 0x53, 0x16}

func answer(b ...byte) []byte { return cardsim.ReplayAnswer(b...) }

// FuzzCardAnswers drives the plug-in against a card whose answers come from
// the fuzz input: whatever the card says, the plug-in must not panic.
func FuzzCardAnswers(f *testing.F) {
	var seed []byte
	seed = append(seed, answer(0x61, 0x03, 0x4F, 0x01, 0xA0, 0x90, 0x00)...)                                              // SELECT
	seed = append(seed, answer(0x47, 0x03, 0xD0, 0x01, 0xC0, 0x90, 0x00)...)                                              // EF.ATR
	seed = append(seed, answer(0x90, 0x00)...)                                                                            // Resume
	seed = append(seed, answer(0xDF, 0x1F, 0x01, 0x01, 0x90, 0x00)...)                                                    // master file
	seed = append(seed, answer(0xDF, 0x20, 0x0D, 0x01, 1, 0, 0, 0, 7, 0x9A, 0x81, 0xB0, 0xFF, 0xFF, 0, 0, 0x90, 0x00)...) // key map
	seed = append(seed, answer(0x7F, 0x49, 0x06, 0x81, 0x01, 0x81, 0x82, 0x01, 0x03, 0x90, 0x00)...)
	f.Add(seed)
	mf := []byte{0x01, 'm', 's', 'c', 'p', 0, 0, 0, 0, 0, 'c', 'm', 'a', 'p', 0, 0, 0, 0, 0, 0, 0, 0x23, 0xDF, 0, 0, 0x10, 0xA0, 0, 0}
	seed2 := append([]byte{}, seed[:len(answer(0x61, 0x03, 0x4F, 0x01, 0xA0, 0x90, 0x00))+len(answer(0x47, 0x03, 0xD0, 0x01, 0xC0, 0x90, 0x00))+3]...)
	seed2 = append(seed2, answer(append(append([]byte{0xDF, 0x1F, byte(len(mf))}, mf...), 0x90, 0x00)...)...)
	f.Add(seed2)
	f.Add([]byte{})
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
		md, err := gids.Plugin{}.Open(ctx, tx, minidriver.Env{})
		if err != nil {
			return
		}
		defer md.Close()
		_ = md.Resume(ctx, tx)
		for _, p := range [][2]string{{"", "cardid"}, {"", "cardcf"}, {"mscp", "cmapfile"}, {"mscp", "kxc00"}, {"app", "x"}} {
			_, _ = md.ReadFile(ctx, tx, p[0], p[1])
		}
		_, _ = md.ListFiles(ctx, tx, "mscp")
		_, _ = md.FileInfo(ctx, tx, "mscp", "cmapfile")
		_, _ = md.Properties(ctx, tx)
		_, _ = md.FreeSpace(ctx, tx)
		for i := range 3 {
			_, _ = md.ContainerInfo(ctx, tx, i)
			_, _ = md.ContainerPIN(ctx, tx, i)
		}
		d := sha256.Sum256(data)
		_, _ = md.SignData(ctx, tx, minidriver.SignRequest{Container: 0, KeySpec: minidriver.KeyExchange, Digest: d[:], Padding: minidriver.PaddingNone})
		_, _ = minidriver.RSADecrypt(ctx, md, tx, minidriver.DecryptRequest{Container: 0, KeySpec: minidriver.KeyExchange, Ciphertext: make([]byte, 128), Padding: minidriver.PaddingPKCS1})
		if k, err := ecdh.P256().GenerateKey(onesReader{}); err == nil {
			_, _ = minidriver.Agree(ctx, md, tx, 0, k.PublicKey())
		}
		_ = minidriver.CreateFile(ctx, md, tx, "mscp", "ksc01", cardfs.EveryoneReadUserWriteAc)
		_ = minidriver.CreateContainer(ctx, md, tx, minidriver.CreateContainerRequest{Index: 1, KeySpec: minidriver.ECDSAP256})
		_ = minidriver.DeleteContainer(ctx, md, tx, 0)
		if ch, err := minidriver.Challenge(ctx, md, tx, gids.PINAdmin); err == nil {
			_, _ = md.Authenticate(ctx, tx, gids.PINAdmin, ch, 0)
		}
		_, _ = md.Authenticate(ctx, tx, gids.PINUser, []byte("123456"), 0)
		_ = md.Deauthenticate(ctx, tx, 0xFF)
	})
}

// onesReader reads 01 bytes, for a fixed ECDH key.
type onesReader struct{}

func (onesReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 1
	}
	return len(p), nil
}

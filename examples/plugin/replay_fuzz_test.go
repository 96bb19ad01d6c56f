package plugin_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"testing"

	"github.com/cardmod/cardmod/cardfs"
	"github.com/cardmod/cardmod/cardsim"
	"github.com/cardmod/cardmod/examples/plugin"
	"github.com/cardmod/cardmod/examples/plugin/token"
	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/scrm"
	"github.com/cardmod/cardmod/scrm/virtual"
)

func answer(b ...byte) []byte { return cardsim.ReplayAnswer(b...) }

// FuzzCardAnswers drives the plug-in against a card whose answers come from
// the fuzz input (cardsim.Replay), as OpenSC fuzzes its drivers with a
// replaying reader: whatever the card says, the plug-in must not panic.
func FuzzCardAnswers(f *testing.F) {
	selectOK := answer(1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 1, 0x20, 0x00, 0x90, 0x00)
	fs := cardfs.NewMemFS(cardfs.MemFSConfig{})
	if _, err := cardfs.Format(fs, rand.Reader); err != nil {
		f.Fatal(err)
	}
	snap := fs.Snapshot()
	var store []byte // the snapshot in answers of at most 253 data bytes, 61xx between
	for len(snap) > 0 {
		n := min(len(snap), 200)
		sw := []byte{0x90, 0x00}
		if len(snap) > n {
			sw = []byte{0x61, byte(min(len(snap)-n, 200))}
		}
		store = append(store, answer(append(append([]byte{}, snap[:n]...), sw...)...)...)
		snap = snap[n:]
	}
	seed := append(append(append([]byte{}, selectOK...), store...), selectOK...)
	f.Add(seed)
	f.Add(append(append([]byte{}, seed...), answer(0x63, 0xC2)...))
	f.Add(append(append([]byte{}, seed...), answer(0x04, 1, 2, 3, 0x90, 0x00)...))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		ctx := context.Background()
		b := virtual.NewBackend()
		b.AddReader("R").Insert(cardsim.NewReplay(token.ATR, data))
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
		md, err := plugin.Plugin{}.Open(ctx, tx, minidriver.Env{})
		if err != nil {
			return
		}
		defer md.Close()
		_ = md.Resume(ctx, tx)
		_, _ = md.Properties(ctx, tx)
		_, _ = md.Authenticate(ctx, tx, minidriver.RoleUser, []byte(token.DefaultPIN), 0)
		for _, p := range [][2]string{{"", "cardid"}, {"", "cardcf"}, {"mscp", "cmapfile"}, {"mscp", "ksc00"}} {
			_, _ = md.ReadFile(ctx, tx, p[0], p[1])
		}
		_, _ = md.FreeSpace(ctx, tx)
		for i := range plugin.Slots {
			_, _ = md.ContainerInfo(ctx, tx, i)
		}
		d := sha256.Sum256(data)
		_, _ = md.SignData(ctx, tx, minidriver.SignRequest{Container: 0, KeySpec: minidriver.ECDSAP256, Digest: d[:]})
		_ = minidriver.CreateContainer(ctx, md, tx, minidriver.CreateContainerRequest{Index: 1, KeySpec: minidriver.ECDSAP256})
		_ = minidriver.WriteFile(ctx, md, tx, cardfs.RootDir, cardfs.CardCFFile, make([]byte, cardfs.CardCFSize))
		_ = md.Deauthenticate(ctx, tx, 0xFF)
	})
}

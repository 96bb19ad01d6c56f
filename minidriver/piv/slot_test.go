package piv_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/minidriver/piv"
	"github.com/cardmod/cardmod/scrm"
)

func TestSlotNames(t *testing.T) {
	for _, c := range []struct {
		slot piv.Slot
		want string
	}{
		{piv.SlotAuthentication, "9A"},
		{piv.SlotSignature, "9C"},
		{piv.SlotKeyManagement, "9D"},
		{piv.SlotCardAuthentication, "9E"},
		{piv.RetiredSlot(1), "82"},
		{piv.RetiredSlot(20), "95"},
		{piv.RetiredSlot(0), "00"},
		{piv.RetiredSlot(21), "00"},
	} {
		assert.Equal(t, c.want, c.slot.String())
	}
}

// On a card without a stored container map (as piv-go and ykman leave a
// YubiKey), container i is the i-th slot of docs/piv-mapping.md.
func TestContainerAddressWithoutStoredMap(t *testing.T) {
	e := newEnv(t, nil, piv.Plugin{})
	want := []piv.Slot{piv.SlotAuthentication, piv.SlotSignature, piv.SlotKeyManagement, piv.SlotCardAuthentication}
	for n := 1; n <= 20; n++ {
		want = append(want, piv.RetiredSlot(n))
	}
	e.run(t, func(ctx context.Context, tx *scrm.Tx) {
		for i, s := range want {
			a, err := minidriver.ContainerAddress(ctx, e.md, tx, i)
			require.NoError(t, err, "container %d", i)
			assert.Equal(t, minidriver.KeyAddress(s), a, "container %d", i)
		}
		for _, i := range []int{-1, len(want), 255} {
			_, err := minidriver.ContainerAddress(ctx, e.md, tx, i)
			assert.ErrorIs(t, err, minidriver.ErrNoKeyContainer, "container %d", i)
		}
	})
}

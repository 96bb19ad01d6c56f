package minidrivertest

import (
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"errors"
	"reflect"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cardmod/cardmod/cardfs"
	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/scrm"
)

// testOptional checks that the package functions of every optional
// interface the card lacks answer ErrUnsupported, and that the Features
// the Harness claims come with their interfaces.
func (s *suite) testOptional(t *testing.T) {
	f := s.open(t)
	peer, err := ecdh.P256().GenerateKey(rand.Reader)
	require.NoError(t, err)
	type call func(ctx context.Context, tx *scrm.Tx) error
	checks := []struct {
		name    string
		present bool
		feature bool
		calls   []call
	}{
		{"FileWriter", is[minidriver.FileWriter](f.card), s.h.Features.WriteFiles, []call{
			func(ctx context.Context, tx *scrm.Tx) error {
				return minidriver.CreateDirectory(ctx, f.card, tx, "x", cardfs.UserCreateDeleteDirAc)
			},
			func(ctx context.Context, tx *scrm.Tx) error { return minidriver.DeleteDirectory(ctx, f.card, tx, "x") },
			func(ctx context.Context, tx *scrm.Tx) error {
				return minidriver.CreateFile(ctx, f.card, tx, "", "x", cardfs.EveryoneReadUserWriteAc)
			},
			func(ctx context.Context, tx *scrm.Tx) error {
				return minidriver.WriteFile(ctx, f.card, tx, "", "x", nil)
			},
			func(ctx context.Context, tx *scrm.Tx) error { return minidriver.DeleteFile(ctx, f.card, tx, "", "x") },
		}},
		{"ContainerManager", is[minidriver.ContainerManager](f.card), s.h.Features.Generate || s.h.Features.Import, []call{
			func(ctx context.Context, tx *scrm.Tx) error {
				return minidriver.CreateContainer(ctx, f.card, tx, minidriver.CreateContainerRequest{KeySpec: minidriver.ECDSAP256})
			},
			func(ctx context.Context, tx *scrm.Tx) error { return minidriver.DeleteContainer(ctx, f.card, tx, 0) },
		}},
		{"Decrypter", is[minidriver.Decrypter](f.card), false, []call{
			func(ctx context.Context, tx *scrm.Tx) error {
				_, err := minidriver.RSADecrypt(ctx, f.card, tx, minidriver.DecryptRequest{KeySpec: minidriver.KeyExchange, Ciphertext: make([]byte, 256), Padding: minidriver.PaddingNone})
				return err
			},
		}},
		{"KeyAgreer", is[minidriver.KeyAgreer](f.card), false, []call{
			func(ctx context.Context, tx *scrm.Tx) error {
				_, err := minidriver.Agree(ctx, f.card, tx, 0, peer.PublicKey())
				return err
			},
		}},
		{"ChallengeResponder", is[minidriver.ChallengeResponder](f.card), false, []call{
			func(ctx context.Context, tx *scrm.Tx) error {
				_, err := minidriver.Challenge(ctx, f.card, tx, minidriver.RoleAdmin)
				return err
			},
		}},
		{"AuthenticatorChanger", is[minidriver.AuthenticatorChanger](f.card), s.h.Features.ChangePIN, []call{
			func(ctx context.Context, tx *scrm.Tx) error {
				return minidriver.ChangeAuthenticator(ctx, f.card, tx, minidriver.ChangeRequest{Mode: minidriver.ChangePIN, AuthPIN: minidriver.RoleUser, Target: minidriver.RoleUser})
			},
		}},
		{"PropertySetter", is[minidriver.PropertySetter](f.card), false, []call{
			func(ctx context.Context, tx *scrm.Tx) error {
				return minidriver.SetContainerPIN(ctx, f.card, tx, 0, minidriver.RoleUser)
			},
		}},
		{"ContainerAddresser", is[minidriver.ContainerAddresser](f.card), false, []call{
			func(ctx context.Context, tx *scrm.Tx) error {
				_, err := minidriver.ContainerAddress(ctx, f.card, tx, 0)
				return err
			},
		}},
		{"WriteChecker", is[minidriver.WriteChecker](f.card), false, []call{
			func(ctx context.Context, tx *scrm.Tx) error { return minidriver.CheckWritable(ctx, f.card, tx) },
		}},
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			f := f.with(t)
			if c.present {
				t.Logf("the card is a minidriver.%s", c.name)
				switch c.name {
				case "ContainerAddresser":
					s.testAddresses(t, f)
				case "WriteChecker":
					testWriteChecker(t, f)
				}
				return
			}
			assert.False(t, c.feature, "Harness.Features needs minidriver.%s, which the card lacks", c.name)
			f.do(func(ctx context.Context, tx *scrm.Tx) {
				for i, call := range c.calls {
					assert.ErrorIs(t, call(ctx, tx), minidriver.ErrUnsupported, "call %d without minidriver.%s", i, c.name)
				}
			})
		})
	}
}

// testWriteChecker checks a WriteChecker: CheckWritable is ErrReadOnly on
// a card whose Properties say ReadOnly; where it is ErrReadOnly, the
// Properties say ReadOnly afterwards and CreateContainer is refused with
// ErrReadOnly; otherwise it is nil.
func testWriteChecker(t *testing.T, f *fixture) {
	f.do(func(ctx context.Context, tx *scrm.Tx) {
		before, err := f.card.Properties(ctx, tx)
		require.NoError(t, err, "Properties")
		err = minidriver.CheckWritable(ctx, f.card, tx)
		if before.ReadOnly {
			assert.ErrorIs(t, err, minidriver.ErrReadOnly, "CheckWritable on a card whose Properties say ReadOnly")
			return
		}
		if !errors.Is(err, minidriver.ErrReadOnly) {
			assert.NoError(t, err, "CheckWritable")
			return
		}
		after, err := f.card.Properties(ctx, tx)
		require.NoError(t, err, "Properties")
		assert.True(t, after.ReadOnly, "Properties say ReadOnly after CheckWritable said so")
		err = minidriver.CreateContainer(ctx, f.card, tx, minidriver.CreateContainerRequest{KeySpec: minidriver.ECDSAP256})
		assert.ErrorIs(t, err, minidriver.ErrReadOnly, "CreateContainer on a card CheckWritable calls read-only")
	})
}

// testAddresses checks a ContainerAddresser's addresses: for the
// container of every Harness key, ErrNoKeyContainer or a comparable
// address with a String, the same when asked again, and different for
// different containers; for an index no container has, ErrNoKeyContainer.
func (s *suite) testAddresses(t *testing.T, f *fixture) {
	f.do(func(ctx context.Context, tx *scrm.Tx) {
		seen := map[minidriver.KeyAddress]int{}
		for _, k := range s.h.Keys {
			a, err := minidriver.ContainerAddress(ctx, f.card, tx, k.Container)
			if errors.Is(err, minidriver.ErrNoKeyContainer) {
				continue
			}
			require.NoError(t, err, "ContainerAddress(%d)", k.Container)
			require.NotNil(t, a, "ContainerAddress(%d)", k.Container)
			require.True(t, reflect.TypeOf(a).Comparable(), "ContainerAddress(%d): a %T is not comparable", k.Container, a)
			assert.NotEmpty(t, a.String(), "ContainerAddress(%d).String()", k.Container)
			again, err := minidriver.ContainerAddress(ctx, f.card, tx, k.Container)
			require.NoError(t, err)
			assert.Equal(t, a, again, "ContainerAddress(%d) asked twice", k.Container)
			if i, ok := seen[a]; ok && i != k.Container {
				t.Errorf("containers %d and %d have one address, %v", i, k.Container, a)
			}
			seen[a] = k.Container
		}
		_, err := minidriver.ContainerAddress(ctx, f.card, tx, -1)
		assert.ErrorIs(t, err, minidriver.ErrNoKeyContainer, "ContainerAddress(-1)")
	})
}

// is reports whether card implements interface T.
func is[T any](card minidriver.Card) bool {
	_, ok := card.(T)
	return ok
}

package minidrivertest

import (
	"context"
	"crypto/ecdh"
	"crypto/rand"
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
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			f := f.with(t)
			if c.present {
				t.Logf("the card is a minidriver.%s", c.name)
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

// is reports whether card implements interface T.
func is[T any](card minidriver.Card) bool {
	_, ok := card.(T)
	return ok
}

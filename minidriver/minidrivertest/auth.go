package minidrivertest

import (
	"context"
	"crypto"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/scrm"
)

// maxTries bounds the wrong PINs the suite enters before it expects a PIN
// to be blocked.
const maxTries = 16

// authUser tries secret as the user PIN.
func (f *fixture) authUser(ctx context.Context, tx *scrm.Tx, secret []byte) error {
	_, err := f.card.Authenticate(ctx, tx, minidriver.RoleUser, secret, 0)
	return err
}

// blockUser enters wrong user PINs until the PIN is blocked.
func (f *fixture) blockUser() {
	f.t.Helper()
	wrong := otherPIN(f.secret(minidriver.RoleUser), 1)
	f.do(func(ctx context.Context, tx *scrm.Tx) {
		for range maxTries {
			pe := pinError(f.t, f.authUser(ctx, tx, wrong))
			if pe.Blocked {
				assert.ErrorIs(f.t, pe, minidriver.ErrPINBlocked)
				return
			}
		}
		f.t.Fatalf("the user PIN is not blocked after %d wrong PINs", maxTries)
	})
}

// testAuthenticate checks wrong PINs counting down, the right PIN
// resetting the counter, blocking, and the parameter errors.
func (s *suite) testAuthenticate(t *testing.T) {
	pin := s.h.PINs[minidriver.RoleUser]
	wrong := otherPIN(pin, 1)
	t.Run("WrongPINCountsDown", func(t *testing.T) {
		f := s.open(t)
		f.do(func(ctx context.Context, tx *scrm.Tx) {
			first := pinError(t, f.authUser(ctx, tx, wrong))
			assert.ErrorIs(t, first, minidriver.ErrWrongPIN)
			assert.Equal(t, minidriver.RoleUser, first.PIN)
			assert.False(t, first.Blocked)
			assert.NotContains(t, first.Error(), string(wrong), "the error text carries the PIN")
			assert.Contains(t, first.Error(), "user PIN", "the error names the PIN, not its id")
			second := pinError(t, f.authUser(ctx, tx, wrong))
			if first.AttemptsLeft >= 0 {
				assert.Equal(t, first.AttemptsLeft-1, second.AttemptsLeft, "attempts left after a second wrong PIN")
			}
			require.NoError(t, f.authUser(ctx, tx, pin), "the right PIN")
			third := pinError(t, f.authUser(ctx, tx, wrong))
			assert.Equal(t, first.AttemptsLeft, third.AttemptsLeft, "the right PIN resets the counter")
			require.NoError(t, f.authUser(ctx, tx, pin))
		})
	})
	t.Run("Blocks", func(t *testing.T) {
		f := s.open(t)
		f.blockUser()
		f.do(func(ctx context.Context, tx *scrm.Tx) {
			err := f.authUser(ctx, tx, pin)
			assert.ErrorIs(t, err, minidriver.ErrPINBlocked, "the right PIN on a blocked card")
			pe := pinError(t, err)
			assert.True(t, pe.Blocked)
			assert.Equal(t, 0, pe.AttemptsLeft)
			assert.Equal(t, uint32(0x8010006C), minidriver.SCardCode(err), "SCARD_W_CHV_BLOCKED")
		})
		g := s.openOn(t, f.sc)
		g.do(func(ctx context.Context, tx *scrm.Tx) {
			assert.ErrorIs(t, g.authUser(ctx, tx, pin), minidriver.ErrPINBlocked, "blocked for another context too")
		})
	})
	t.Run("Parameters", func(t *testing.T) {
		f := s.open(t)
		f.do(func(ctx context.Context, tx *scrm.Tx) {
			_, err := f.card.Authenticate(ctx, tx, minidriver.RoleUser, pin, minidriver.AuthFlags(0x80000000))
			assert.ErrorIs(t, err, minidriver.ErrInvalidParameter, "unknown flag")
			_, err = f.card.Authenticate(ctx, tx, minidriver.RoleUser, pin, minidriver.GenerateSessionPIN|minidriver.UseSessionPIN)
			assert.ErrorIs(t, err, minidriver.ErrInvalidParameter, "generate and use a session PIN at once")
			for id := minidriver.PinID(0); id <= minidriver.MaxPins; id++ {
				if !f.props.PINs.Has(id) {
					_, err = f.card.Authenticate(ctx, tx, id, pin, 0)
					assert.ErrorIs(t, err, minidriver.ErrInvalidParameter, "unlisted PIN %d", id)
				}
			}
			// Nothing above counted as a wrong PIN.
			require.NoError(t, f.authUser(ctx, tx, pin))
		})
	})
	t.Run("SessionPIN", func(t *testing.T) {
		f := s.open(t)
		f.do(func(ctx context.Context, tx *scrm.Tx) {
			sp, err := f.card.Authenticate(ctx, tx, minidriver.RoleUser, pin, minidriver.GenerateSessionPIN)
			if errorIsAny(err, minidriver.ErrUnsupported) {
				t.Logf("no session PINs: %v", err)
				return
			}
			require.NoError(t, err, "generate a session PIN")
			assert.NotEmpty(t, sp, "session PIN")
			assert.NotEqual(t, pin, sp, "the session PIN is the PIN")
			_, err = f.card.Authenticate(ctx, tx, minidriver.RoleUser, sp, minidriver.UseSessionPIN)
			assert.NoError(t, err, "authenticate with the session PIN")
		})
	})
}

// testUnblock unblocks the blocked user PIN with every PIN allowed to.
func (s *suite) testUnblock(t *testing.T) {
	if !s.h.Features.ChangePIN {
		t.Skip("harness: PINs cannot be changed or unblocked")
	}
	f0 := s.open(t)
	var user minidriver.PINInfo
	f0.do(func(ctx context.Context, tx *scrm.Tx) {
		var err error
		user, err = f0.card.PINInfo(ctx, tx, minidriver.RoleUser)
		require.NoError(t, err)
	})
	ids := user.UnblockPermission.IDs()
	require.NotEmpty(t, ids, "nobody may unblock the user PIN (PIN_INFO.dwUnblockPermission)")
	for _, id := range ids {
		if id == minidriver.RoleUser {
			continue
		}
		t.Run(unblockerName(f0, id), func(t *testing.T) {
			f := s.open(t)
			var info minidriver.PINInfo
			f.do(func(ctx context.Context, tx *scrm.Tx) {
				var err error
				info, err = f.card.PINInfo(ctx, tx, id)
				require.NoError(t, err)
			})
			auth := func(ctx context.Context, tx *scrm.Tx, wrong bool) []byte {
				switch info.Type {
				case minidriver.ChallengeResponsePIN:
					if s.h.AdminResponse == nil {
						t.Skipf("harness: no response for challenge-response PIN %d", id)
					}
					ch, err := minidriver.Challenge(ctx, f.card, tx, id)
					require.NoError(t, err)
					r := s.h.AdminResponse(ch)
					if wrong {
						r = flipped(r)
					}
					return r
				case minidriver.AlphanumericPIN:
					secret, ok := s.h.PINs[id]
					if !ok {
						t.Skipf("harness: no secret for PIN %d", id)
					}
					if wrong {
						return otherPIN(secret, 1)
					}
					return secret
				}
				t.Skipf("unblocking PIN %d of type %d is not tested", id, info.Type)
				return nil
			}
			f.blockUser()
			newPIN := otherPIN(s.h.PINs[minidriver.RoleUser], 2)
			f.do(func(ctx context.Context, tx *scrm.Tx) {
				err := minidriver.ChangeAuthenticator(ctx, f.card, tx, minidriver.ChangeRequest{
					Mode: minidriver.Unblock, AuthPIN: id, AuthData: auth(ctx, tx, true), Target: minidriver.RoleUser, NewData: newPIN})
				pe := pinError(t, err)
				assert.ErrorIs(t, err, minidriver.ErrWrongPIN, "unblock with a wrong secret")
				assert.Equal(t, id, pe.PIN, "the PIN that failed")
				assert.ErrorIs(t, f.authUser(ctx, tx, newPIN), minidriver.ErrPINBlocked, "still blocked")
				err = minidriver.ChangeAuthenticator(ctx, f.card, tx, minidriver.ChangeRequest{
					Mode: minidriver.Unblock, AuthPIN: id, AuthData: auth(ctx, tx, false), Target: minidriver.RoleUser, NewData: newPIN})
				require.NoError(t, err, "unblock")
			})
			f.do(func(ctx context.Context, tx *scrm.Tx) {
				require.NoError(t, f.authUser(ctx, tx, newPIN), "the new PIN after unblocking")
				pe := pinError(t, f.authUser(ctx, tx, s.h.PINs[minidriver.RoleUser]))
				assert.ErrorIs(t, pe, minidriver.ErrWrongPIN, "the old PIN after unblocking")
				require.NoError(t, f.authUser(ctx, tx, newPIN))
			})
		})
	}
}

// unblockerName names the subtest of unblocking with PIN id: ByAdmin,
// ByPUK (an unblock-only PIN) or ByPIN<id>.
func unblockerName(f *fixture, id minidriver.PinID) string {
	if id == minidriver.RoleAdmin {
		return "ByAdmin"
	}
	name := fmt.Sprintf("ByPIN%d", id)
	f.do(func(ctx context.Context, tx *scrm.Tx) {
		if info, err := f.card.PINInfo(ctx, tx, id); err == nil && info.Purpose == minidriver.UnblockOnlyPIN {
			name = fmt.Sprintf("ByPUK%d", id)
		}
	})
	return name
}

// flipped returns b with its bits inverted.
func flipped(b []byte) []byte {
	out := make([]byte, len(b))
	for i := range b {
		out[i] = ^b[i]
	}
	if len(out) == 0 {
		out = []byte{0}
	}
	return out
}

// testChangePIN changes the user PIN.
func (s *suite) testChangePIN(t *testing.T) {
	if !s.h.Features.ChangePIN {
		t.Skip("harness: PINs cannot be changed or unblocked")
	}
	pin := s.h.PINs[minidriver.RoleUser]
	newPIN := otherPIN(pin, 2)
	f := s.open(t)
	_, ok := f.card.(minidriver.AuthenticatorChanger)
	require.True(t, ok, "Features.ChangePIN but the card is not a minidriver.AuthenticatorChanger")
	change := func(ctx context.Context, tx *scrm.Tx, cur, next []byte) error {
		return minidriver.ChangeAuthenticator(ctx, f.card, tx, minidriver.ChangeRequest{
			Mode: minidriver.ChangePIN, AuthPIN: minidriver.RoleUser, AuthData: cur, Target: minidriver.RoleUser, NewData: next})
	}
	f.do(func(ctx context.Context, tx *scrm.Tx) {
		err := change(ctx, tx, otherPIN(pin, 1), newPIN)
		assert.ErrorIs(t, err, minidriver.ErrWrongPIN, "change with a wrong current PIN")
		require.NoError(t, change(ctx, tx, pin, newPIN), "change")
	})
	f.do(func(ctx context.Context, tx *scrm.Tx) {
		assert.ErrorIs(t, f.authUser(ctx, tx, pin), minidriver.ErrWrongPIN, "the old PIN")
		require.NoError(t, f.authUser(ctx, tx, newPIN), "the new PIN")
		err := minidriver.ChangeAuthenticator(ctx, f.card, tx, minidriver.ChangeRequest{Mode: 0x7, AuthPIN: minidriver.RoleUser, AuthData: newPIN, Target: minidriver.RoleUser, NewData: pin})
		assert.ErrorIs(t, err, minidriver.ErrInvalidParameter, "unknown change mode")
		require.NoError(t, change(ctx, tx, newPIN, pin), "change back")
	})
	f.do(func(ctx context.Context, tx *scrm.Tx) {
		require.NoError(t, f.authUser(ctx, tx, pin))
	})
}

// testAdmin checks the challenge-response admin PIN.
func (s *suite) testAdmin(t *testing.T) {
	f := s.open(t)
	if !f.props.PINs.Has(minidriver.RoleAdmin) {
		t.Skip("the card has no admin PIN")
	}
	var info minidriver.PINInfo
	f.do(func(ctx context.Context, tx *scrm.Tx) {
		var err error
		info, err = f.card.PINInfo(ctx, tx, minidriver.RoleAdmin)
		require.NoError(t, err)
	})
	if info.Type != minidriver.ChallengeResponsePIN {
		t.Skipf("the admin PIN is of type %d, not challenge-response", info.Type)
	}
	if s.h.AdminResponse == nil {
		t.Skip("harness: no admin challenge response")
	}
	_, ok := f.card.(minidriver.ChallengeResponder)
	require.True(t, ok, "a challenge-response PIN needs a minidriver.ChallengeResponder")
	f.do(func(ctx context.Context, tx *scrm.Tx) {
		c1, err := minidriver.Challenge(ctx, f.card, tx, minidriver.RoleAdmin)
		require.NoError(t, err)
		assert.NotEmpty(t, c1)
		_, err = f.card.Authenticate(ctx, tx, minidriver.RoleAdmin, flipped(s.h.AdminResponse(c1)), 0)
		assert.ErrorIs(t, err, minidriver.ErrWrongPIN, "a wrong response")
		c2, err := minidriver.Challenge(ctx, f.card, tx, minidriver.RoleAdmin)
		require.NoError(t, err)
		assert.NotEqual(t, c1, c2, "two challenges alike")
		_, err = f.card.Authenticate(ctx, tx, minidriver.RoleAdmin, s.h.AdminResponse(c2), 0)
		require.NoError(t, err, "the right response")
	})
	f.do(func(ctx context.Context, tx *scrm.Tx) {
		c, err := minidriver.Challenge(ctx, f.card, tx, minidriver.RoleAdmin)
		require.NoError(t, err)
		_, err = f.card.Authenticate(ctx, tx, minidriver.RoleAdmin, s.h.AdminResponse(c), 0)
		require.NoError(t, err, "the admin counter was reset")
		_, err = f.card.Authenticate(ctx, tx, minidriver.RoleAdmin, s.h.AdminResponse(c), 0)
		assert.Error(t, err, "a response used twice")
	})
}

// testDeauthenticate checks that a login ends with Deauthenticate and
// with a card reset, as the engine relies on.
func (s *suite) testDeauthenticate(t *testing.T) {
	ks := s.keys(func(k Key) bool { return k.Spec.IsRSA() || k.Spec.IsECDSA() })
	if len(ks) == 0 {
		t.Skip("harness: no signature key")
	}
	k := ks[0]
	req := minidriver.SignRequest{Container: k.Container, KeySpec: k.Spec, Digest: digestOf(crypto.SHA256, []byte("x")), Padding: minidriver.PaddingPKCS1, Hash: crypto.SHA256}
	prepare := func(t *testing.T) *fixture {
		f := s.open(t)
		f.provision(k)
		f.do(func(ctx context.Context, tx *scrm.Tx) {
			if !f.needsPIN(ctx, tx, k.Container) {
				t.Skipf("container %d needs no PIN", k.Container)
			}
		})
		return f
	}
	t.Run("Deauthenticate", func(t *testing.T) {
		f := prepare(t)
		tx := f.begin()
		f.loginFor(t.Context(), tx, k.Container)
		_, err := f.card.SignData(t.Context(), tx, req)
		require.NoError(t, err, "sign after login")
		id, err := f.card.ContainerPIN(t.Context(), tx, k.Container)
		require.NoError(t, err)
		tx = f.logout(tx, minidriver.NewPinSet(id))
		_, err = f.card.SignData(t.Context(), tx, req)
		assert.ErrorIs(t, err, minidriver.ErrSecurityViolation, "sign after logging out")
		f.end(tx)
	})
	t.Run("ResetCard", func(t *testing.T) {
		f := prepare(t)
		tx := f.begin()
		f.loginFor(t.Context(), tx, k.Container)
		_, err := f.card.SignData(t.Context(), tx, req)
		require.NoError(t, err, "sign after login")
		require.NoError(t, tx.End(scrm.ResetCard))
		f.do(func(ctx context.Context, tx *scrm.Tx) {
			_, err := f.card.SignData(ctx, tx, req)
			assert.ErrorIs(t, err, minidriver.ErrSecurityViolation, "sign in the transaction after a reset")
		})
	})
	t.Run("EndOfTransaction", func(t *testing.T) {
		f := prepare(t)
		f.do(func(ctx context.Context, tx *scrm.Tx) {
			f.loginFor(ctx, tx, k.Container)
		})
		f.do(func(ctx context.Context, tx *scrm.Tx) {
			_, err := f.card.SignData(ctx, tx, req)
			assert.ErrorIs(t, err, minidriver.ErrSecurityViolation, "sign in the next transaction")
		})
	})
}

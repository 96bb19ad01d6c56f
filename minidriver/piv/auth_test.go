package piv_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	simpiv "github.com/cardmod/cardmod/cardsim/piv"
	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/minidriver/piv"
	"github.com/cardmod/cardmod/scrm"
)

func TestPINWrongBlockedUnblock(t *testing.T) {
	e := newEnv(t, nil, piv.Plugin{})
	e.run(t, func(ctx context.Context, tx *scrm.Tx) {
		for left := 2; left >= 1; left-- {
			_, err := e.md.Authenticate(ctx, tx, piv.PINUser, []byte("000000"), 0)
			var pe *minidriver.PINError
			require.True(t, errors.As(err, &pe), "%v", err)
			assert.ErrorIs(t, err, minidriver.ErrWrongPIN)
			assert.Equal(t, left, pe.AttemptsLeft)
			assert.Equal(t, piv.PINUser, pe.PIN)
			assert.NotContains(t, err.Error(), "000000")
			assert.Contains(t, err.Error(), fmt.Sprintf("wrong user PIN, %d attempts left", left))
		}
		_, err := e.md.Authenticate(ctx, tx, piv.PINUser, []byte("000000"), 0)
		assert.ErrorIs(t, err, minidriver.ErrPINBlocked)
		_, err = e.md.Authenticate(ctx, tx, piv.PINUser, []byte(simpiv.DefaultPIN), 0)
		assert.ErrorIs(t, err, minidriver.ErrPINBlocked)
		assert.Equal(t, uint32(0x8010006C), minidriver.SCardCode(err))

		// A wrong PUK counts down the PUK.
		err = minidriver.ChangeAuthenticator(ctx, e.md, tx, minidriver.ChangeRequest{Mode: minidriver.Unblock, AuthPIN: piv.PINPUK, AuthData: []byte("87654321"), Target: piv.PINUser, NewData: []byte("654321")})
		var pe *minidriver.PINError
		require.True(t, errors.As(err, &pe))
		assert.Equal(t, piv.PINPUK, pe.PIN)
		assert.Equal(t, 2, pe.AttemptsLeft)
		assert.Contains(t, err.Error(), "wrong PUK, 2 attempts left", "the PUK is named")
		assert.NotContains(t, err.Error(), "87654321")
		require.NoError(t, minidriver.ChangeAuthenticator(ctx, e.md, tx, minidriver.ChangeRequest{Mode: minidriver.Unblock, AuthPIN: piv.PINPUK, AuthData: []byte(simpiv.DefaultPUK), Target: piv.PINUser, NewData: []byte("654321")}))
		_, err = e.md.Authenticate(ctx, tx, piv.PINUser, []byte("654321"), 0)
		require.NoError(t, err)

		// Change the PIN and the PUK.
		require.NoError(t, minidriver.ChangeAuthenticator(ctx, e.md, tx, minidriver.ChangeRequest{Mode: minidriver.ChangePIN, AuthPIN: piv.PINUser, AuthData: []byte("654321"), Target: piv.PINUser, NewData: []byte("11223344")}))
		_, err = e.md.Authenticate(ctx, tx, piv.PINSignature, []byte("11223344"), 0)
		require.NoError(t, err)
		require.NoError(t, minidriver.ChangeAuthenticator(ctx, e.md, tx, minidriver.ChangeRequest{Mode: minidriver.ChangePIN, AuthPIN: piv.PINPUK, AuthData: []byte(simpiv.DefaultPUK), Target: piv.PINPUK, NewData: []byte("99887766")}))
		err = minidriver.ChangeAuthenticator(ctx, e.md, tx, minidriver.ChangeRequest{Mode: minidriver.ChangePIN, AuthPIN: piv.PINUser, AuthData: []byte("11223344"), Target: piv.PINUser, NewData: []byte("123")})
		assert.ErrorIs(t, err, minidriver.ErrInvalidParameter)
		err = minidriver.ChangeAuthenticator(ctx, e.md, tx, minidriver.ChangeRequest{Mode: minidriver.Unblock, AuthPIN: piv.PINAdmin, Target: piv.PINUser, NewData: []byte("123456")})
		assert.ErrorIs(t, err, minidriver.ErrInvalidParameter, "PIV cannot unblock with the management key")
	})
}

func TestAuthenticateArguments(t *testing.T) {
	e := newEnv(t, nil, piv.Plugin{})
	e.run(t, func(ctx context.Context, tx *scrm.Tx) {
		_, err := e.md.Authenticate(ctx, tx, piv.PINUser, []byte("123456789"), 0)
		assert.ErrorIs(t, err, minidriver.ErrInvalidParameter)
		_, err = e.md.Authenticate(ctx, tx, piv.PINUser, []byte(simpiv.DefaultPIN), minidriver.GenerateSessionPIN)
		assert.ErrorIs(t, err, minidriver.ErrUnsupported)
		_, err = e.md.Authenticate(ctx, tx, piv.PINUser, []byte(simpiv.DefaultPIN), 0x1)
		assert.ErrorIs(t, err, minidriver.ErrInvalidParameter)
		_, err = e.md.Authenticate(ctx, tx, piv.PINPUK, []byte(simpiv.DefaultPUK), 0)
		assert.ErrorIs(t, err, minidriver.ErrUnsupported)
		_, err = e.md.Authenticate(ctx, tx, 6, nil, 0)
		assert.ErrorIs(t, err, minidriver.ErrInvalidParameter)
		_, err = e.md.Authenticate(ctx, tx, piv.PINAdmin, make([]byte, 16), 0)
		assert.ErrorIs(t, err, minidriver.ErrInvalidParameter, "no challenge pending")
		_, err = minidriver.Challenge(ctx, e.md, tx, piv.PINUser)
		assert.ErrorIs(t, err, minidriver.ErrInvalidParameter)

		// A wrong management key response.
		ch, err := minidriver.Challenge(ctx, e.md, tx, piv.PINAdmin)
		require.NoError(t, err)
		assert.Len(t, ch, 16, "firmware 5.7 defaults to AES-192")
		_, err = e.md.Authenticate(ctx, tx, piv.PINAdmin, make([]byte, 16), 0)
		assert.ErrorIs(t, err, minidriver.ErrWrongPIN)
		var pe *minidriver.PINError
		require.True(t, errors.As(err, &pe))
		assert.Equal(t, -1, pe.AttemptsLeft)
		assert.Contains(t, err.Error(), "wrong management key")
	})
}

func TestManagementKey3DESAndChangeToAES(t *testing.T) {
	sim := newSim(t, simpiv.Config{Version: simpiv.Version{Major: 5, Minor: 4, Patch: 3}})
	e := newEnv(t, sim, piv.Plugin{})
	newKey := []byte("0123456789abcdef0123456789abcdef")
	e.run(t, func(ctx context.Context, tx *scrm.Tx) {
		ch, err := minidriver.Challenge(ctx, e.md, tx, piv.PINAdmin)
		require.NoError(t, err)
		assert.Len(t, ch, 8, "3DES before 5.7")
		resp, err := piv.ManagementKeyResponse(simpiv.DefaultManagementKey, ch)
		require.NoError(t, err)
		// Change to AES-256 with the response as authentication.
		require.NoError(t, minidriver.ChangeAuthenticator(ctx, e.md, tx, minidriver.ChangeRequest{Mode: minidriver.ChangePIN, AuthPIN: piv.PINAdmin, AuthData: resp, Target: piv.PINAdmin, NewData: newKey}))
	})
	e.run(t, func(ctx context.Context, tx *scrm.Tx) {
		ch, err := minidriver.Challenge(ctx, e.md, tx, piv.PINAdmin)
		require.NoError(t, err)
		require.Len(t, ch, 16)
		resp, err := piv.ManagementKeyResponse(newKey, ch)
		require.NoError(t, err)
		_, err = e.md.Authenticate(ctx, tx, piv.PINAdmin, resp, 0)
		require.NoError(t, err)
		// And to AES-128 with an explicit algorithm byte.
		require.NoError(t, minidriver.ChangeAuthenticator(ctx, e.md, tx, minidriver.ChangeRequest{Mode: minidriver.ChangePIN, AuthPIN: piv.PINAdmin, Target: piv.PINAdmin, NewData: append([]byte{0x08}, newKey[:16]...)}))
	})
	// Another process opening the card finds the algorithm by metadata.
	other := newEnv(t, sim, piv.Plugin{})
	other.run(t, func(ctx context.Context, tx *scrm.Tx) {
		admin(t, ctx, other.md, tx, newKey[:16])
	})
	// The first Card's cached algorithm is still right; a change behind
	// its back is noticed.
	other.run(t, func(ctx context.Context, tx *scrm.Tx) {
		admin(t, ctx, other.md, tx, newKey[:16])
		require.NoError(t, minidriver.ChangeAuthenticator(ctx, other.md, tx, minidriver.ChangeRequest{Mode: minidriver.ChangePIN, AuthPIN: piv.PINAdmin, Target: piv.PINAdmin, NewData: simpiv.DefaultManagementKey}))
	})
	e.run(t, func(ctx context.Context, tx *scrm.Tx) {
		admin(t, ctx, e.md, tx, simpiv.DefaultManagementKey)
	})

	_, err := piv.ManagementKeyResponse(newKey, make([]byte, 5))
	assert.ErrorIs(t, err, minidriver.ErrInvalidParameter)
	_, err = piv.ManagementKeyResponse(newKey[:5], make([]byte, 16))
	assert.ErrorIs(t, err, minidriver.ErrInvalidParameter)
}

func TestAESNeedsFirmware54(t *testing.T) {
	sim := newSim(t, simpiv.Config{Version: simpiv.Version{Major: 5, Minor: 2, Patch: 7}})
	e := newEnv(t, sim, piv.Plugin{})
	e.run(t, func(ctx context.Context, tx *scrm.Tx) {
		admin(t, ctx, e.md, tx, simpiv.DefaultManagementKey)
		err := minidriver.ChangeAuthenticator(ctx, e.md, tx, minidriver.ChangeRequest{Mode: minidriver.ChangePIN, AuthPIN: piv.PINAdmin, Target: piv.PINAdmin, NewData: make([]byte, 16)})
		assert.ErrorIs(t, err, minidriver.ErrUnsupported)
	})
}

func TestDeauthenticate(t *testing.T) {
	e := newEnv(t, nil, piv.Plugin{})
	e.run(t, func(ctx context.Context, tx *scrm.Tx) {
		admin(t, ctx, e.md, tx, simpiv.DefaultManagementKey)
		require.NoError(t, minidriver.CreateContainer(ctx, e.md, tx, minidriver.CreateContainerRequest{Index: 0, KeySpec: minidriver.ECDSAP256}))
		err := e.md.Deauthenticate(ctx, tx, minidriver.NewPinSet(piv.PINAdmin))
		assert.ErrorIs(t, err, minidriver.ErrUnsupported, "the caller must reset to drop the management key")
	})
	digest := sha256.Sum256([]byte("x"))
	e.run(t, func(ctx context.Context, tx *scrm.Tx) {
		require.NoError(t, e.md.Deauthenticate(ctx, tx, minidriver.NewPinSet(piv.PINUser)), "nothing to log out")
		userPIN(t, ctx, e.md, tx)
		_, err := e.md.SignData(ctx, tx, minidriver.SignRequest{Container: 0, Digest: digest[:]})
		require.NoError(t, err)
		require.NoError(t, e.md.Deauthenticate(ctx, tx, minidriver.NewPinSet(piv.PINUser)))
		_, err = e.md.SignData(ctx, tx, minidriver.SignRequest{Container: 0, Digest: digest[:]})
		assert.ErrorIs(t, err, minidriver.ErrSecurityViolation)
	})
	// The PIN with the management key: the reset the management key needs
	// ends the PIN's verification too, so no VERIFY FF goes first; the
	// plug-in requires the reset itself.
	cs := &countingSim{Card: newSim(t, simpiv.Config{})}
	both := newEnv(t, cs, piv.Plugin{})
	both.runEnd(t, scrm.ResetCard, func(ctx context.Context, tx *scrm.Tx) {
		userPIN(t, ctx, both.md, tx)
		admin(t, ctx, both.md, tx, simpiv.DefaultManagementKey)
		require.NoError(t, minidriver.CreateContainer(ctx, both.md, tx, minidriver.CreateContainerRequest{Index: 0, KeySpec: minidriver.ECDSAP256}))
		_, err := both.md.SignData(ctx, tx, minidriver.SignRequest{Container: 0, Digest: digest[:]})
		require.NoError(t, err)
		cs.take()
		err = both.md.Deauthenticate(ctx, tx, minidriver.NewPinSet(piv.PINUser, piv.PINAdmin))
		assert.ErrorIs(t, err, minidriver.ErrUnsupported, "the caller must reset")
		assert.Empty(t, cs.take(), "no PIN logout before the reset")
		assert.True(t, tx.ResetRequired(), "the plug-in asks for the reset")
	})
	both.run(t, func(ctx context.Context, tx *scrm.Tx) {
		_, err := both.md.SignData(ctx, tx, minidriver.SignRequest{Container: 0, Digest: digest[:]})
		assert.ErrorIs(t, err, minidriver.ErrSecurityViolation, "the reset ended the PIN's verification")
	})
	// Firmware 4 has no VERIFY P1=FF: the caller is told to reset.
	old := newEnv(t, newSim(t, simpiv.Config{Version: simpiv.Version{Major: 4, Minor: 3, Patch: 7}}), piv.Plugin{})
	old.run(t, func(ctx context.Context, tx *scrm.Tx) {
		userPIN(t, ctx, old.md, tx)
		err := old.md.Deauthenticate(ctx, tx, minidriver.NewPinSet(piv.PINUser))
		assert.ErrorIs(t, err, minidriver.ErrUnsupported)
	})
}

func TestDeleteContainer(t *testing.T) {
	e := newEnv(t, nil, piv.Plugin{})
	e.run(t, func(ctx context.Context, tx *scrm.Tx) {
		admin(t, ctx, e.md, tx, simpiv.DefaultManagementKey)
		require.NoError(t, minidriver.CreateContainer(ctx, e.md, tx, minidriver.CreateContainerRequest{Index: 3, KeySpec: minidriver.ECDSAP256}))
		require.NoError(t, minidriver.DeleteContainer(ctx, e.md, tx, 3))
		_, err := e.md.ContainerInfo(ctx, tx, 3)
		assert.ErrorIs(t, err, minidriver.ErrNoKeyContainer)
		assert.ErrorIs(t, minidriver.DeleteContainer(ctx, e.md, tx, 3), minidriver.ErrNoKeyContainer)
	})
	old := newEnv(t, newSim(t, simpiv.Config{Version: simpiv.Version{Major: 5, Minor: 4, Patch: 3}}), piv.Plugin{})
	old.run(t, func(ctx context.Context, tx *scrm.Tx) {
		admin(t, ctx, old.md, tx, simpiv.DefaultManagementKey)
		require.NoError(t, minidriver.CreateContainer(ctx, old.md, tx, minidriver.CreateContainerRequest{Index: 0, KeySpec: minidriver.ECDSAP256}))
		assert.ErrorIs(t, minidriver.DeleteContainer(ctx, old.md, tx, 0), minidriver.ErrUnsupported)
	})
}

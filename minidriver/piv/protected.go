package piv

import (
	"context"
	"errors"
	"fmt"

	"github.com/cardmod/cardmod/internal/bertlv"
	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/scrm"
)

// Yubico's PIN-protected management key (libykpiv, ykman --protect): the
// admin data object 5FFF00 holds 80 { 81 flags ... } with flag 02 set, and
// the PIN-protected printed information object 5FC109 holds 88 { 89 key }.
const (
	objAdminData       uint32 = 0x5FFF00
	objPrinted         uint32 = 0x5FC109
	tagAdmin                  = 0x80
	tagAdminFlags1            = 0x81
	adminFlagProtected        = 0x02
	tagProtected              = 0x88
	tagProtectedMgmt          = 0x89
)

// parseProtectedKey reads the management key out of object 5FC109.
func parseProtectedKey(b []byte) ([]byte, error) {
	v, err := bertlv.Single(b, tagProtected)
	if err != nil {
		return nil, fmt.Errorf("piv: protected data: %w", err)
	}
	m, err := parseTLVs(v)
	if err != nil {
		return nil, fmt.Errorf("piv: protected data: %w", err)
	}
	key := m[tagProtectedMgmt]
	switch len(key) {
	case 16, 24, 32:
	default:
		return nil, errors.New("piv: protected data without a management key")
	}
	return append([]byte(nil), key...), nil
}

// parseAdminProtected reads whether the admin data says the management key is
// PIN-protected.
func parseAdminProtected(b []byte) bool {
	v, err := bertlv.Single(b, tagAdmin)
	if err != nil {
		return false
	}
	m, err := parseTLVs(v)
	if err != nil {
		return false
	}
	f := m[tagAdminFlags1]
	return len(f) == 1 && f[0]&adminFlagProtected != 0
}

// protectedMgmtAuth authenticates the management key stored on the card
// under the PIN, when the PIN was verified in this transaction and the
// card is set up that way. It reports whether it did; it does not make the
// caller ROLE_ADMIN.
func (c *Card) protectedMgmtAuth(ctx context.Context, tx *scrm.Tx) (bool, error) {
	if !c.useProtected || !c.q.yubiKey || c.roles&minidriver.NewPinSet(PINUser, PINSignature) == 0 || c.protectedTried {
		return false, nil
	}
	c.protectedTried = true
	admin, err := c.getData(ctx, tx, objAdminData)
	if err != nil || !parseAdminProtected(admin) {
		return false, nil
	}
	raw, err := c.getData(ctx, tx, objPrinted)
	if err != nil {
		return false, nil
	}
	key, err := parseProtectedKey(raw)
	if err != nil {
		return false, nil
	}
	defer clear(key)
	delete(c.objs, objPrinted) // keep the key out of the object cache
	hadAdmin := c.roles.Has(PINAdmin)
	ch, err := c.Challenge(ctx, tx, PINAdmin)
	if err != nil {
		return false, err
	}
	resp, err := ManagementKeyResponse(key, ch)
	if err != nil {
		return false, nil
	}
	if _, err := c.Authenticate(ctx, tx, PINAdmin, resp, 0); err != nil {
		return false, nil
	}
	if !hadAdmin {
		// The login is the plug-in's, not the caller's: Deauthenticate
		// will ask for a reset to end it.
		c.roles &^= minidriver.NewPinSet(PINAdmin)
		c.hiddenAdmin = true
	}
	return true, nil
}

// adminDo sends a command that needs the management key; when the card
// refuses it for want of one and a PIN-protected management key can be
// used, it authenticates that and sends the command again.
func (c *Card) adminDo(ctx context.Context, tx *scrm.Tx, cmd scrm.Command) (scrm.Response, error) {
	rsp, err := tx.Do(ctx, cmd)
	if err == nil || !errors.Is(err, scrm.ErrSecurityStatus) {
		return rsp, err
	}
	ok, perr := c.protectedMgmtAuth(ctx, tx)
	if perr != nil || !ok {
		return rsp, err
	}
	return tx.Do(ctx, cmd)
}

package gids

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"crypto/rand"
	"errors"
	"fmt"
	"io"

	"github.com/cardmod/cardmod/internal/bertlv"
	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/scrm"
)

// PIN lengths of GIDS v2.0.
const (
	minPINLen = 4
	maxPINLen = 16
	// challengeLen is the length of each party's challenge in the mutual
	// authentication (R1, R2).
	challengeLen = 16
	// adminKeyRef is the admin key's reference (key file B080).
	adminKeyRef = 0x80
)

// Authenticate verifies the user PIN (VERIFY 00 20 00 80) or, for
// PINAdmin, completes the admin key's mutual authentication begun by
// Challenge with secret = AdminKeyResponse(key, challenge) (GENERAL
// AUTHENTICATE 7C { 82 response }). Session PINs are not supported.
func (c *Card) Authenticate(ctx context.Context, tx *scrm.Tx, id minidriver.PinID, secret []byte, flags minidriver.AuthFlags) ([]byte, error) {
	if err := flags.Validate(); err != nil {
		return nil, err
	}
	if flags&(minidriver.GenerateSessionPIN|minidriver.UseSessionPIN) != 0 {
		return nil, fmt.Errorf("%w: gids: session PINs", minidriver.ErrUnsupported)
	}
	c.use(tx)
	switch id {
	case PINUser:
		if len(secret) == 0 {
			return nil, fmt.Errorf("%w: gids: empty PIN", minidriver.ErrInvalidParameter)
		}
		_, err := tx.Do(ctx, scrm.Command{INS: 0x20, P1: 0x00, P2: 0x80, Data: secret})
		if err != nil {
			unsettled(tx, err)
			return nil, pinErr(PINUser, "verify the PIN", err)
		}
		return nil, nil
	case PINAdmin:
		return nil, c.adminRespond(ctx, tx, secret)
	}
	return nil, fmt.Errorf("%w: gids: no PIN %d", minidriver.ErrInvalidParameter, id)
}

// pinName names a PIN in errors (GIDS v2.0: the user PIN, key reference
// 80, and the administrator key).
func pinName(id minidriver.PinID) string {
	switch id {
	case PINUser:
		return "user PIN"
	case PINAdmin:
		return "admin key"
	}
	return minidriver.PINName(id)
}

// unsettled marks tx for a reset when an authentication command failed
// without a status word that settles its outcome: a lost or malformed
// answer, a transport error, a deadline, or a status word that is neither
// a refusal (63Cx, 64xx, 66xx to 6Fxx: ISO/IEC 7816-4 5.6, nothing
// executed or verification failed) nor success. The card may then hold a
// login nobody knows of; the reset at the end of the transaction drops it
// (the lesson of CVE-2023-40660).
func unsettled(tx *scrm.Tx, err error) {
	if errors.Is(err, scrm.ErrResetCard) || errors.Is(err, scrm.ErrRemovedCard) {
		return // no login survives either
	}
	var se *scrm.StatusError
	if errors.As(err, &se) {
		if s1 := se.SW1; s1 == 0x64 || (s1 >= 0x66 && s1 <= 0x6F) || (s1 == 0x63 && se.SW2&0xF0 == 0xC0) {
			return
		}
	}
	tx.RequireReset()
}

// pinErr maps a failed PIN or key verification to a *minidriver.PINError
// (63Cx: attempts left; 6983: blocked; 6982: a wrong admin response,
// attempts unknown) or to the contract's errors.
func pinErr(id minidriver.PinID, what string, err error) error {
	var se *scrm.StatusError
	if errors.As(err, &se) {
		switch {
		case se.SW1 == 0x63 && se.SW2&0xF0 == 0xC0:
			n := int(se.SW2 & 0x0F)
			return &minidriver.PINError{PIN: id, Name: pinName(id), AttemptsLeft: n, Blocked: n == 0, Err: err}
		case se.SW() == 0x6983 || se.SW() == 0x6984:
			return &minidriver.PINError{PIN: id, Name: pinName(id), Blocked: true, Err: err}
		case se.SW() == 0x6982 && id == PINAdmin:
			return &minidriver.PINError{PIN: id, Name: pinName(id), AttemptsLeft: -1, Err: err}
		}
	}
	return cardErr(what, err)
}

// Challenge begins the admin key's mutual authentication (GIDS v2.0 9.3,
// as the Windows minidriver runs it): MSE SET C1 A4 { 83 80 } selects the
// admin key, GENERAL AUTHENTICATE 7C { 81 R1 } sends 16 random bytes of
// the host and the card answers 7C { 81 R2 } with 16 of its own. The
// challenge returned is R2 || R1 (32 bytes); AdminKeyResponse answers it.
// It lasts until Authenticate or the end of the transaction.
func (c *Card) Challenge(ctx context.Context, tx *scrm.Tx, id minidriver.PinID) ([]byte, error) {
	if id != PINAdmin {
		return nil, fmt.Errorf("%w: gids: PIN %d has no challenge", minidriver.ErrInvalidParameter, id)
	}
	c.use(tx)
	clear(c.challenge)
	c.challenge = nil
	if _, err := tx.Do(ctx, scrm.Command{INS: 0x22, P1: 0xC1, P2: 0xA4, Data: []byte{0x83, 0x01, adminKeyRef}}); err != nil {
		return nil, cardErr("select the admin key", err)
	}
	r1 := make([]byte, challengeLen)
	if _, err := io.ReadFull(randOr(c.env.Rand), r1); err != nil {
		return nil, fmt.Errorf("gids: challenge: %w", err)
	}
	rsp, err := tx.Do(ctx, scrm.Command{INS: 0x87, Data: bertlv.Encode(0x7C, bertlv.Encode(0x81, r1)), Ne: scrm.MaxShortNe})
	if err != nil {
		return nil, cardErr("admin challenge", err)
	}
	dyn, ok := bertlv.Find(rsp.Data, 0x7C)
	var r2 []byte
	if ok {
		r2, ok = bertlv.Find(dyn, 0x81)
	}
	if !ok || len(r2) != challengeLen {
		return nil, fmt.Errorf("%w: gids: admin challenge answer", minidriver.ErrUnexpected)
	}
	c.challenge = cat(r2, r1)
	return append([]byte(nil), c.challenge...), nil
}

// adminRespond sends the response to the pending challenge. The card
// answers E(R1 || R2 || Z2), which only a holder of the key can check:
// the plug-in, which never sees the key, checks its form.
func (c *Card) adminRespond(ctx context.Context, tx *scrm.Tx, resp []byte) error {
	pending := c.challenge
	c.challenge = nil
	if pending == nil {
		return fmt.Errorf("%w: gids: no admin challenge pending", minidriver.ErrInvalidParameter)
	}
	clear(pending)
	if len(resp) == 0 || len(resp) > 64 {
		return &minidriver.PINError{PIN: PINAdmin, Name: pinName(PINAdmin), AttemptsLeft: -1}
	}
	rsp, err := tx.Do(ctx, scrm.Command{INS: 0x87, Data: bertlv.Encode(0x7C, bertlv.Encode(0x82, resp)), Ne: scrm.MaxShortNe})
	if err != nil {
		unsettled(tx, err)
		return pinErr(PINAdmin, "admin authentication", err)
	}
	if dyn, ok := bertlv.Find(rsp.Data, 0x7C); ok {
		if v, ok := bertlv.Find(dyn, 0x82); ok && len(v) == len(resp) {
			return nil
		}
	}
	// The card said 9000, so it may hold the admin login, but its answer
	// is not what it should be: end the transaction with a reset.
	tx.RequireReset()
	return fmt.Errorf("%w: gids: admin authentication answer", minidriver.ErrUnexpected)
}

// AdminKeyResponse computes the response to a challenge of
// Card.Challenge under the admin key: 24 bytes for 3DES (the GIDS
// default), 16 or 32 bytes for AES. The challenge is R2 || R1; the
// response is the CBC encryption with a zero IV of R2 || R1 || Z1, Z1
// being one cipher block of host randomness whose last byte is 80 (what
// the Windows GIDS minidriver sends: OpenSC found it uses CBC and an 8-byte
// Z1 where the GIDS text says ECB and 7 bytes). The result is 40 bytes with
// 3DES, 48 with AES.
func AdminKeyResponse(key, challenge []byte) ([]byte, error) {
	b, err := adminCipher(key)
	if err != nil {
		return nil, err
	}
	if len(challenge) != 2*challengeLen {
		return nil, fmt.Errorf("%w: gids: challenge of %d bytes, want %d", minidriver.ErrInvalidParameter, len(challenge), 2*challengeLen)
	}
	bs := b.BlockSize()
	z1 := make([]byte, bs)
	if _, err := rand.Read(z1[:bs-1]); err != nil {
		return nil, fmt.Errorf("gids: %w", err)
	}
	z1[bs-1] = 0x80
	out := cat(challenge, z1)
	cipher.NewCBCEncrypter(b, make([]byte, bs)).CryptBlocks(out, out)
	return out, nil
}

// adminCipher is the block cipher of an admin key.
func adminCipher(key []byte) (cipher.Block, error) {
	switch len(key) {
	case 24:
		b, err := des.NewTripleDESCipher(key)
		if err != nil {
			return nil, fmt.Errorf("%w: gids: admin key: %w", minidriver.ErrInvalidParameter, err)
		}
		return b, nil
	case 16, 32:
		b, err := aes.NewCipher(key)
		if err != nil {
			return nil, fmt.Errorf("%w: gids: admin key: %w", minidriver.ErrInvalidParameter, err)
		}
		return b, nil
	}
	return nil, fmt.Errorf("%w: gids: admin key of %d bytes (24 for 3DES, 16 or 32 for AES)", minidriver.ErrInvalidParameter, len(key))
}

// Deauthenticate logs out with VERIFY 00 20 00 82, which ends the user
// PIN's and the admin key's authentication together (GIDS has no
// per-PIN logout).
func (c *Card) Deauthenticate(ctx context.Context, tx *scrm.Tx, set minidriver.PinSet) error {
	c.use(tx)
	clear(c.challenge)
	c.challenge = nil
	if !set.Has(PINUser) && !set.Has(PINAdmin) {
		return nil
	}
	if _, err := tx.Do(ctx, scrm.Command{INS: 0x20, P1: 0x00, P2: 0x82}); err != nil {
		tx.RequireReset() // the logins may still be active
		return cardErr("log out", err)
	}
	return nil
}

// ChangeAuthenticator changes the user PIN (CHANGE REFERENCE DATA 00 24
// 00 80 old || new), unblocks it with the admin key (AuthData the response
// to a pending Challenge, then RESET RETRY COUNTER 00 2C 02 80 new PIN) or
// changes the admin key (AuthData the response, NewData the new key of 24,
// 16 or 32 bytes, stored with PUT DATA 3FFF 70 { 84 80, A5 { 87 key } }).
func (c *Card) ChangeAuthenticator(ctx context.Context, tx *scrm.Tx, req minidriver.ChangeRequest) error {
	if err := req.Flags.Validate(); err != nil {
		return err
	}
	c.use(tx)
	switch {
	case req.Mode == minidriver.ChangePIN && req.Target == PINUser && req.AuthPIN == PINUser:
		if err := checkPIN(req.NewData); err != nil {
			return err
		}
		if len(req.AuthData) == 0 {
			return fmt.Errorf("%w: gids: empty PIN", minidriver.ErrInvalidParameter)
		}
		data := cat(req.AuthData, req.NewData)
		defer clear(data)
		if _, err := tx.Do(ctx, scrm.Command{INS: 0x24, P1: 0x00, P2: 0x80, Data: data}); err != nil {
			unsettled(tx, err)
			return pinErr(PINUser, "change the PIN", err)
		}
		return nil
	case req.Mode == minidriver.Unblock && req.Target == PINUser && req.AuthPIN == PINAdmin:
		if err := checkPIN(req.NewData); err != nil {
			return err
		}
		if err := c.adminRespond(ctx, tx, req.AuthData); err != nil {
			return err
		}
		if _, err := tx.Do(ctx, scrm.Command{INS: 0x2C, P1: 0x02, P2: 0x80, Data: req.NewData}); err != nil {
			tx.RequireReset() // the admin key is authenticated
			return cardErr("unblock the PIN", err)
		}
		return nil
	case req.Mode == minidriver.ChangePIN && req.Target == PINAdmin && req.AuthPIN == PINAdmin:
		if _, err := adminCipher(req.NewData); err != nil {
			return err
		}
		if err := c.adminRespond(ctx, tx, req.AuthData); err != nil {
			return err
		}
		return c.putAdminKey(ctx, tx, req.NewData)
	}
	return fmt.Errorf("%w: gids: %#x of PIN %d with PIN %d", minidriver.ErrInvalidParameter, req.Mode, req.Target, req.AuthPIN)
}

// putAdminKey stores a new admin key in key file B080.
func (c *Card) putAdminKey(ctx context.Context, tx *scrm.Tx, key []byte) error {
	data := bertlv.Encode(0x70, cat(bertlv.Encode(0x84, []byte{adminKeyRef}), bertlv.Encode(0xA5, bertlv.Encode(0x87, key))))
	defer clear(data)
	if _, err := tx.Do(ctx, scrm.Command{INS: 0xDB, P1: 0x3F, P2: 0xFF, Data: data}); err != nil {
		tx.RequireReset() // the admin key is authenticated
		return cardErr("store the admin key", err)
	}
	return nil
}

// checkPIN checks a new PIN's length.
func checkPIN(pin []byte) error {
	if len(pin) < minPINLen || len(pin) > maxPINLen {
		return fmt.Errorf("%w: gids: a PIN has %d to %d characters", minidriver.ErrInvalidParameter, minPINLen, maxPINLen)
	}
	return nil
}

// randOr returns r, or crypto/rand's reader when r is nil.
func randOr(r io.Reader) io.Reader {
	if r == nil {
		return rand.Reader
	}
	return r
}

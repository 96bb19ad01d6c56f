package piv

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"errors"
	"fmt"

	"github.com/cardmod/cardmod/cardfs"
	"github.com/cardmod/cardmod/internal/bertlv"
	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/scrm"
)

// Key references of SP 800-73-4 part 1, table 4.
const (
	refPIN  = 0x80
	refPUK  = 0x81
	refMgmt = 0x9B
)

// padPIN pads a PIN or PUK with FF to 8 bytes (SP 800-73-4 part 2, 2.4.3).
func padPIN(pin []byte) ([]byte, error) {
	if len(pin) == 0 || len(pin) > 8 {
		return nil, fmt.Errorf("%w: a PIV PIN has 1 to 8 bytes", minidriver.ErrInvalidParameter)
	}
	b := []byte{0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}
	copy(b, pin)
	return b, nil
}

// pinName names a PIN in errors (SP 800-73-4 Part 1 §2.4.3 and §5.3: the
// PIV Card Application PIN, the PIN Unblocking Key, the card management
// key).
func pinName(id minidriver.PinID) string {
	switch id {
	case PINUser:
		return "user PIN"
	case PINSignature:
		return "user PIN (signature key)"
	case PINPUK:
		return "PUK"
	case PINAdmin:
		return "management key"
	}
	return minidriver.PINName(id)
}

// pinErr turns a refused verification into a *minidriver.PINError.
func pinErr(id minidriver.PinID, err error) error {
	var se *scrm.StatusError
	if errors.As(err, &se) {
		if errors.Is(err, scrm.ErrBlocked) {
			return &minidriver.PINError{PIN: id, Name: pinName(id), Blocked: true, Err: err}
		}
		if errors.Is(err, scrm.ErrWrongPIN) {
			n, ok := se.RetriesLeft()
			if !ok {
				n = -1
			}
			if ok && n == 0 {
				return &minidriver.PINError{PIN: id, Name: pinName(id), Blocked: true, Err: err}
			}
			return &minidriver.PINError{PIN: id, Name: pinName(id), AttemptsLeft: n, Err: err}
		}
	}
	return cardErr("verify", err)
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

// Authenticate verifies a PIN: PINUser and PINSignature with VERIFY of the
// PIV PIN, PINAdmin with the response to the last Challenge. The PUK
// cannot be verified on its own (it only unblocks, see
// ChangeAuthenticator); session PINs are not supported.
func (c *Card) Authenticate(ctx context.Context, tx *scrm.Tx, id minidriver.PinID, secret []byte, flags minidriver.AuthFlags) ([]byte, error) {
	c.begin(tx)
	if err := flags.Validate(); err != nil {
		return nil, err
	}
	if flags&(minidriver.GenerateSessionPIN|minidriver.UseSessionPIN) != 0 {
		return nil, fmt.Errorf("piv: session PINs: %w", minidriver.ErrUnsupported)
	}
	switch id {
	case minidriver.RoleEveryone:
		return nil, nil // an empty PIN: nothing to verify
	case PINUser, PINSignature:
		data, err := padPIN(secret)
		if err != nil {
			return nil, err
		}
		defer clear(data)
		if _, err := tx.Do(ctx, scrm.Command{INS: 0x20, P2: refPIN, Data: data}); err != nil {
			c.roles &^= minidriver.NewPinSet(PINUser, PINSignature)
			unsettled(tx, err)
			return nil, pinErr(id, err)
		}
		c.roles |= minidriver.NewPinSet(id)
		return nil, nil
	case PINAdmin:
		if c.challenge == nil {
			return nil, fmt.Errorf("piv: no pending challenge: %w", minidriver.ErrInvalidParameter)
		}
		alg := c.mgmtAlg
		c.challenge = nil
		if len(secret) != blockSize(alg) {
			return nil, &minidriver.PINError{PIN: id, Name: pinName(id), AttemptsLeft: -1}
		}
		data := bertlv.Encode(0x7C, bertlv.Encode(0x82, secret))
		if _, err := tx.Do(ctx, scrm.Command{INS: 0x87, P1: alg, P2: refMgmt, Data: data}); err != nil {
			c.roles &^= minidriver.NewPinSet(PINAdmin)
			unsettled(tx, err)
			if errors.Is(err, scrm.ErrSecurityStatus) || errors.Is(err, scrm.ErrWrongData) {
				return nil, &minidriver.PINError{PIN: id, Name: pinName(id), AttemptsLeft: -1, Err: err}
			}
			return nil, pinErr(id, err)
		}
		c.roles |= minidriver.NewPinSet(PINAdmin)
		if c.mgmtGuessed && c.q.metadata && c.env.Cache != nil && mgmtAlgKnown(alg) {
			// The card took a guessed algorithm (challengeAlgorithms):
			// kept as GET METADATA's answer would have been.
			c.env.Cache.AddFile(tx, cardfs.StalePins, mgmtAlgItem, []byte{alg})
		}
		c.mgmtGuessed = false
		return nil, nil
	case PINPUK:
		return nil, fmt.Errorf("piv: the PUK only unblocks the PIN: %w", minidriver.ErrUnsupported)
	}
	return nil, fmt.Errorf("%w: PIN %d", minidriver.ErrInvalidParameter, id)
}

// blockSize is the challenge size of a management key algorithm.
func blockSize(alg byte) int {
	if alg == algTDES {
		return 8
	}
	return 16
}

// mgmtAlgorithm returns the management key's algorithm: cached, else from
// GET METADATA of 9B where the card has it, else the firmware's default
// (3DES on a card that turns out to lack GET METADATA, 6D00: firmware
// before 5.3, which has no other management key algorithm; AES keys come
// with 5.4, Yubico PIV documentation).
func (c *Card) mgmtAlgorithm(ctx context.Context, tx *scrm.Tx, refresh bool) (byte, error) {
	if c.mgmtAlg != 0 && !refresh {
		return c.mgmtAlg, nil
	}
	if !refresh && c.q.metadata && c.env.Cache != nil {
		// Kept by an earlier process under cardcf's PIN counter (a change
		// of the management key is an authenticator change); a stale
		// value is refused by the card (6A80/6A86) and read again.
		if b, ok := c.env.Cache.LookupFile(tx, mgmtAlgItem); ok && len(b) == 1 && mgmtAlgKnown(b[0]) {
			c.mgmtAlg = b[0]
			return c.mgmtAlg, nil
		}
	}
	c.mgmtAlg = c.q.defaultMgmt
	if c.q.metadata && !c.metadataRefused(tx) {
		rsp, err := tx.Do(ctx, scrm.Command{INS: 0xF7, P2: refMgmt, Ne: scrm.MaxShortNe})
		switch {
		case lacksInstruction(err):
			c.noMetadata(tx)
		case err != nil:
			return 0, cardErr("management key metadata", err)
		default:
			md, err := parseMetadata(rsp.Data)
			if err != nil {
				return 0, fmt.Errorf("%w: %w", minidriver.ErrCommDataLost, err)
			}
			c.mgmtAlg = md.Alg
			c.metaSeen = true
			if c.env.Cache != nil && mgmtAlgKnown(md.Alg) {
				c.env.Cache.AddFile(tx, cardfs.StalePins, mgmtAlgItem, []byte{md.Alg})
			}
		}
	}
	if c.mgmtAlg == 0 && !c.q.metadata {
		c.mgmtAlg = algTDES
	}
	return c.mgmtAlg, nil
}

// challengeAlgorithms are the algorithms a management key challenge is
// asked with, in turn, before the key's metadata is read: the one known
// (this Card's, or kept by an earlier process), else the firmware's
// factory algorithm (3DES, AES-192 from YubiKey 5.7 on). A YubiKey 5
// opened without GET VERSION, whose factory algorithm is not known, is
// asked GET METADATA of 9B first (none: nil) until it has answered a GET
// METADATA in this Card's lifetime (metaSeen), since that answer also
// tells whether the card has the instruction at all (firmware 5.0 to 5.2
// answer 6D00), which a write needs to know (settleMetadata); once it
// has, the guesses are 3DES and then AES-192, the two algorithms of a
// 24-byte key, 3DES first as the factory algorithm of every firmware
// before 5.7 and the one piv-go and yubico-piv-tool set. A YubiKey
// refuses a witness request whose P1 is not its key's algorithm (6A80 or
// 6A86: piv-go's 3DES request to a 5.7 key with its AES-192 default fails
// with 6A80, sigstore/cosign#3742; yubikey.rs reports the same as an
// incorrect parameter, age-plugin-yubikey#135; Yubico's .NET SDK: for 9B,
// P1 names the key's algorithm, 00 standing for 3DES), changing nothing
// on the card, so a refused guess costs its APDU and no more; Challenge
// then tries the next one, and reads the algorithm from GET METADATA when
// none is left. A challenge the card gives is thus one for the algorithm
// asked with. Against asking the metadata first (three APDUs with the
// witness and the response), a 3DES key costs two, an AES-192 key three,
// an AES-128 or AES-256 key five, once per provider (Authenticate keeps
// what the card took in the caller's cache, as the metadata's answer is
// kept).
func (c *Card) challengeAlgorithms(tx *scrm.Tx) []byte {
	if c.mgmtAlg != 0 {
		return []byte{c.mgmtAlg}
	}
	if c.q.metadata && c.env.Cache != nil {
		if b, ok := c.env.Cache.LookupFile(tx, mgmtAlgItem); ok && len(b) == 1 && mgmtAlgKnown(b[0]) {
			return []byte{b[0]}
		}
	}
	switch {
	case c.q.defaultMgmt != 0:
		return []byte{c.q.defaultMgmt}
	case c.metaSeen:
		return []byte{algTDES, algAES192}
	}
	return nil // GET METADATA first: it also settles whether the card has it
}

// Challenge asks for a management key challenge (PINAdmin): 8 bytes for a
// 3DES key, 16 for AES. The response is the challenge encrypted with the
// key (one block, ECB; see ManagementKeyResponse), given to Authenticate
// or as AuthData of ChangeAuthenticator.
func (c *Card) Challenge(ctx context.Context, tx *scrm.Tx, id minidriver.PinID) ([]byte, error) {
	c.begin(tx)
	if id != PINAdmin {
		return nil, fmt.Errorf("%w: PIN %d has no challenge", minidriver.ErrInvalidParameter, id)
	}
	c.challenge = nil
	if err := c.issuerLocked(ctx, tx); err != nil {
		return nil, err
	}
	guesses := c.challengeAlgorithms(tx)
	var refused []byte
	for {
		var alg byte
		if len(refused) < len(guesses) {
			alg = guesses[len(refused)]
		} else {
			var err error
			if alg, err = c.mgmtAlgorithm(ctx, tx, true); err != nil {
				return nil, err
			}
			if bytes.IndexByte(refused, alg) >= 0 {
				return nil, fmt.Errorf("piv: management key challenge: the card refuses its key's own algorithm %02X: %w", alg, minidriver.ErrUnexpected)
			}
		}
		rsp, err := tx.Do(ctx, scrm.Command{INS: 0x87, P1: alg, P2: refMgmt, Data: bertlv.Encode(0x7C, bertlv.Encode(0x81, nil)), Ne: scrm.MaxShortNe})
		if err != nil {
			if len(refused) < len(guesses) && isStatus(err) {
				// The key's algorithm changed, or is not the one guessed
				// (6A80 or 6A86 from a YubiKey; any refusal is taken as
				// one: the metadata's algorithm is asked last, and its
				// refusal is the error).
				refused = append(refused, alg)
				c.mgmtAlg = 0
				continue
			}
			return nil, cardErr("management key challenge", err)
		}
		c.mgmtGuessed = len(guesses) > 1
		c.mgmtAlg = alg
		v, err := bertlv.Single(rsp.Data, 0x7C)
		if err == nil {
			v, err = bertlv.Single(v, 0x81)
		}
		if err != nil || len(v) != blockSize(alg) {
			return nil, fmt.Errorf("piv: management key challenge: %w", minidriver.ErrUnexpected)
		}
		c.challenge = append([]byte{}, v...)
		return append([]byte{}, v...), nil
	}
}

// ManagementKeyResponse computes the response to a management key
// challenge: the challenge encrypted with key, 3DES for an 8-byte
// challenge (24-byte key), AES for a 16-byte one (16-, 24- or 32-byte
// key).
func ManagementKeyResponse(key, challenge []byte) ([]byte, error) {
	var b cipher.Block
	var err error
	switch len(challenge) {
	case 8:
		b, err = des.NewTripleDESCipher(key)
	case 16:
		b, err = aes.NewCipher(key)
	default:
		return nil, fmt.Errorf("%w: %d-byte challenge", minidriver.ErrInvalidParameter, len(challenge))
	}
	if err != nil {
		return nil, fmt.Errorf("%w: management key of %d bytes", minidriver.ErrInvalidParameter, len(key))
	}
	out := make([]byte, len(challenge))
	b.Encrypt(out, challenge)
	return out, nil
}

// Deauthenticate resets the PIN's verified state with VERIFY P1=FF where
// the card has it. The management key cannot be logged out on PIV, nor the
// PIN on cards without VERIFY P1=FF, nor the management key the plug-in
// authenticated itself with a PIN-protected key (see CreateFile): then the
// error asks the caller to end its transaction with a reset (minidriver
// spec, CardDeauthenticateEx: an error makes the CSP reset the card).
//
// When set names such a management key login, the PIN is not logged out
// first: the reset that has to follow ends every security status of the
// card, the PIN's with the management key's (ISO/IEC 7816-4, 5.4:
// security status is lost at a reset; VERIFY P1=FF, SP 800-73-4 part 2,
// 3.2.1, is the other way to end the PIN's), so a VERIFY FF would be one
// APDU for nothing. The plug-in then requires the reset on tx itself,
// so that the PIN cannot outlive the transaction should a caller skip it.
func (c *Card) Deauthenticate(ctx context.Context, tx *scrm.Tx, set minidriver.PinSet) error {
	c.begin(tx)
	c.challenge = nil
	pins := minidriver.NewPinSet(PINUser, PINSignature)
	if set.Has(PINAdmin) && c.roles.Has(PINAdmin) || set != 0 && c.hiddenAdmin {
		if set&pins != 0 && c.roles&pins != 0 {
			tx.RequireReset()
		}
		return fmt.Errorf("piv: management key logout: %w", minidriver.ErrUnsupported)
	}
	var errs []error
	if set&pins != 0 && c.roles&pins != 0 {
		if !c.q.resetVerify {
			errs = append(errs, fmt.Errorf("piv: PIN logout: %w", minidriver.ErrUnsupported))
		} else if _, err := tx.Do(ctx, scrm.Command{INS: 0x20, P1: 0xFF, P2: refPIN}); err != nil {
			tx.RequireReset() // the PIN may still be verified
			errs = append(errs, cardErr("PIN logout", err))
		} else {
			c.roles &^= pins
		}
	}
	return errors.Join(errs...)
}

// ChangeAuthenticator changes the PIN (PINUser or PINSignature, which are
// the same PIV PIN) or the PUK with CHANGE REFERENCE DATA, unblocks the
// PIN with the PUK (RESET RETRY COUNTER), or changes the management key
// (Target PINAdmin: AuthData is the response to a Challenge, NewData the
// new key, optionally preceded by its algorithm byte 03, 08, 0A or 0C; a
// key without it keeps the current algorithm when the length fits, else
// takes AES for 16 and 32 bytes and the firmware's default algorithm for
// 24).
func (c *Card) ChangeAuthenticator(ctx context.Context, tx *scrm.Tx, req minidriver.ChangeRequest) error {
	c.begin(tx)
	if err := req.Flags.Validate(); err != nil {
		return err
	}
	pinLike := func(id minidriver.PinID) bool { return id == PINUser || id == PINSignature }
	switch {
	case req.Mode == minidriver.ChangePIN && pinLike(req.Target) && pinLike(req.AuthPIN):
		return c.changeRef(ctx, tx, refPIN, req.AuthPIN, req.AuthData, req.NewData)
	case req.Mode == minidriver.ChangePIN && req.Target == PINPUK && req.AuthPIN == PINPUK:
		return c.changeRef(ctx, tx, refPUK, PINPUK, req.AuthData, req.NewData)
	case req.Mode == minidriver.Unblock && pinLike(req.Target) && req.AuthPIN == PINPUK:
		puk, err := padPIN(req.AuthData)
		if err != nil {
			return err
		}
		pin, err := padPIN(req.NewData)
		if err != nil {
			return err
		}
		data := append(puk, pin...)
		defer clear(data)
		if _, err := tx.Do(ctx, scrm.Command{INS: 0x2C, P2: refPIN, Data: data}); err != nil {
			unsettled(tx, err)
			return pinErr(PINPUK, err)
		}
		// A card may leave the new PIN verified: count it as such, so that
		// Deauthenticate logs it out.
		c.roles |= minidriver.NewPinSet(PINUser, PINSignature)
		return nil
	case req.Mode == minidriver.ChangePIN && req.Target == PINAdmin && req.AuthPIN == PINAdmin:
		return c.changeMgmtKey(ctx, tx, req.AuthData, req.NewData)
	}
	return fmt.Errorf("piv: change of PIN %d by PIN %d (mode %d): %w", req.Target, req.AuthPIN, req.Mode, minidriver.ErrInvalidParameter)
}

func (c *Card) changeRef(ctx context.Context, tx *scrm.Tx, ref byte, id minidriver.PinID, old, new []byte) error {
	o, err := padPIN(old)
	if err != nil {
		return err
	}
	if len(new) < 6 {
		return fmt.Errorf("%w: a new PIV PIN or PUK has 6 to 8 bytes", minidriver.ErrInvalidParameter)
	}
	n, err := padPIN(new)
	if err != nil {
		return err
	}
	data := append(o, n...)
	defer clear(data)
	if _, err := tx.Do(ctx, scrm.Command{INS: 0x24, P2: ref, Data: data}); err != nil {
		unsettled(tx, err)
		return pinErr(id, err)
	}
	if ref == refPIN {
		// CHANGE REFERENCE DATA verified the old PIN: a card may leave
		// the PIN verified, so Deauthenticate logs it out.
		c.roles |= minidriver.NewPinSet(PINUser, PINSignature)
	}
	return nil
}

func mgmtKeyLen(alg byte) int {
	switch alg {
	case algTDES, algAES192:
		return 24
	case algAES128:
		return 16
	case algAES256:
		return 32
	}
	return 0
}

func (c *Card) changeMgmtKey(ctx context.Context, tx *scrm.Tx, response, newKey []byte) error {
	if !c.q.setMgmtKey {
		return fmt.Errorf("piv: management key change: %w", minidriver.ErrUnsupported)
	}
	cur, err := c.mgmtAlgorithm(ctx, tx, false)
	if err != nil {
		return err
	}
	if err := c.firmware(ctx, tx); err != nil {
		return err
	}
	var alg byte
	key := newKey
	switch {
	case len(newKey) > 0 && mgmtKeyLen(newKey[0]) == len(newKey)-1:
		alg, key = newKey[0], newKey[1:]
	case mgmtKeyLen(cur) == len(newKey):
		alg = cur
	case len(newKey) == 24:
		alg = c.q.defaultMgmt
	case len(newKey) == 16:
		alg = algAES128
	case len(newKey) == 32:
		alg = algAES256
	default:
		return fmt.Errorf("%w: management key of %d bytes", minidriver.ErrInvalidParameter, len(newKey))
	}
	if alg != algTDES && !c.q.aesMgmt {
		return fmt.Errorf("piv: AES management keys: %w", minidriver.ErrUnsupported)
	}
	if !c.roles.Has(PINAdmin) || len(response) > 0 {
		if _, err := c.Authenticate(ctx, tx, PINAdmin, response, 0); err != nil {
			return err
		}
	}
	data := append([]byte{alg, refMgmt, byte(len(key))}, key...)
	defer clear(data)
	if _, err := tx.Do(ctx, scrm.Command{INS: 0xFF, P1: 0xFF, P2: 0xFF, Data: data}); err != nil {
		unsettled(tx, err)
		return cardErr("set management key", err)
	}
	c.mgmtAlg = alg
	return nil
}

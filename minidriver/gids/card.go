package gids

import (
	"context"
	"errors"
	"fmt"

	"github.com/cardmod/cardmod/cardfs"
	"github.com/cardmod/cardmod/internal/bertlv"
	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/scrm"
)

// PIN IDs of a GIDS card (docs/gids-mapping.md).
const (
	// PINUser is ROLE_USER, the GIDS user PIN (key reference 80).
	PINUser = minidriver.RoleUser
	// PINAdmin is ROLE_ADMIN, the admin key (key file B080), authenticated
	// by challenge and response (see AdminKeyResponse).
	PINAdmin = minidriver.RoleAdmin
)

// Key references: container index i holds the key of key file B0xx with
// xx = firstKeyRef + i, as OpenSC's GIDS driver and the Windows minidriver
// number them.
const (
	firstKeyRef = 0x81
	// MaxContainers is the number of containers a GIDS card can hold: key
	// references 81 to FF.
	MaxContainers = 0x100 - firstKeyRef
)

// Card is a GIDS card opened by Plugin.Open. It implements minidriver.Card
// and the optional FileWriter, ContainerManager, Decrypter, KeyAgreer,
// ChallengeResponder, AuthenticatorChanger and ContainerAddresser (its
// key references, KeyRef).
//
// A Card is used by one goroutine at a time, inside the caller's
// transaction (the caller's per-card lock serialises it); only its
// agreement table is safe for concurrent use.
type Card struct {
	env      minidriver.Env
	appAID   []byte
	chaining bool
	// algs: the card's algorithms, as it listed them or as its refusals
	// taught the plug-in (algs.go).
	algs cardAlgs

	agreements minidriver.Agreements

	// The master file and key map last read or written, and the cardcf
	// content seen with them. They are kept across transactions and
	// trusted again (mfOK, kmOK) in a transaction that reads the same
	// cardcf, as the caller does first in every transaction; anything
	// else reads them again.
	mf *masterFile
	km *keyMap
	cf []byte

	// Per-transaction state, valid while tx is the caller's current
	// transaction: whether mf and km are current, the pending admin
	// challenge (host and card challenges).
	tx         *scrm.Tx
	mfOK, kmOK bool
	challenge  []byte
	// assumed: mfOK and kmOK were set by AssumeFresh, without cardcf
	// read in this transaction.
	assumed bool
	// cfProbed: cardcf as Resume's GET DATA found it in this transaction
	// (probeCardCF), served to the caller's cardcf read; nil otherwise.
	cfProbed []byte
}

var (
	_ minidriver.Card                 = (*Card)(nil)
	_ minidriver.FileWriter           = (*Card)(nil)
	_ minidriver.ContainerManager     = (*Card)(nil)
	_ minidriver.Decrypter            = (*Card)(nil)
	_ minidriver.KeyAgreer            = (*Card)(nil)
	_ minidriver.ChallengeResponder   = (*Card)(nil)
	_ minidriver.AuthenticatorChanger = (*Card)(nil)
)

// Close wipes the agreements. It sends nothing to the card.
func (c *Card) Close() error {
	c.agreements.DestroyAll()
	c.forget()
	c.mf, c.km, c.cf = nil, nil, nil
	return nil
}

// forget drops the per-transaction state: the master file and key map are
// no longer trusted.
func (c *Card) forget() {
	c.tx, c.mfOK, c.kmOK, c.assumed, c.cfProbed = nil, false, false, false, nil
	clear(c.challenge)
	c.challenge = nil
}

// use starts per-transaction state for tx when it is a new transaction.
func (c *Card) use(tx *scrm.Tx) {
	if c.tx != tx {
		c.forget()
		c.tx = tx
	}
}

// Resume makes sure the GIDS application is selected, in one APDU, and
// forgets what was read in earlier transactions unless cardcf shows it is
// still current: the SELECT, or, on a card whose cardcf the last
// transaction saw, GET DATA of cardcf when it answers with it unchanged
// (probeCardCF).
func (c *Card) Resume(ctx context.Context, tx *scrm.Tx) error {
	c.forget()
	c.tx = tx
	if c.probeCardCF(ctx, tx) {
		return nil
	}
	if _, err := selectGIDS(ctx, tx, false); err != nil {
		return fmt.Errorf("gids: select: %w", err)
	}
	return nil
}

// probeCardCF sends GET DATA of cardcf's data object (GIDS v2.0, GET
// DATA: the DO file in P1-P2 and the tag in a 5C tag list, the object
// answered as one TLV; docs/gids-mapping.md; the master file kept from
// earlier transactions names the DO file and tag) as the transaction's first
// command, in place of the SELECT, when cardcf was seen before and the
// card was not reset since. It reports whether the answer proves that
// the GIDS application is still the current one and that cardcf is
// unchanged: 9000 and exactly one TLV of cardcf's tag holding cardcf as
// last seen. A selection lasts on the basic channel until another SELECT
// or a reset (ISO/IEC 7816-4, 7.1.1 SELECT; Java Card RE specification,
// chapter 4: "Once selected, an applet instance receives all subsequent
// APDUs dispatched to that logical channel, until the applet instance
// becomes deselected"), and no other application answers GET DATA of DO
// file A010 with exactly that object (cardcf is readable by everyone: the
// proof rests on no application being installed on the card to answer
// with a copy of it, which takes the card issuer's card-management keys). Not selecting again loses nothing:
// in shared mode no login is left from an earlier transaction (and
// selecting the application may reset its security status, ISO/IEC
// 7816-4, 5.4 on security status, as cardsim/gids does). The master file and key map are
// then current as after a cardcf read (sawCardCF). Any other outcome
// (another answer, no answer) is not kept and the SELECT follows, so that
// the PIN never follows a command whose answer does not prove GIDS
// selected; where the card is gone or was reset the SELECT fails the
// same way, and a lost answer ends the transaction with a card reset
// (scrm.Tx.ResetRequired).
func (c *Card) probeCardCF(ctx context.Context, tx *scrm.Tx) bool {
	if c.mf == nil || len(c.cf) == 0 || tx.WasReset() {
		return false
	}
	i := c.mf.find("", cardfs.CardCFFile)
	if i < 0 {
		return false
	}
	r := c.mf.records[i]
	ne := scrm.MaxShortNe
	if tx.Card().Limits().Extended {
		ne = scrm.MaxNe
	}
	rsp, err := tx.Do(ctx, scrm.Command{INS: 0xCB, P1: byte(r.FID >> 8), P2: byte(r.FID), Data: bertlv.Encode(0x5C, bertlv.AppendTag(nil, r.DO)), Ne: ne})
	if err != nil {
		return false
	}
	v, err := bertlv.Single(rsp.Data, r.DO)
	if err != nil || string(v) != string(c.cf) {
		return false
	}
	c.sawCardCF(v)
	c.cfProbed = append([]byte{}, v...)
	return true
}

// Capabilities: the card generates keys; the caller compresses
// certificates (the card stores them in the minidriver's compressed form,
// which OpenSC reads).
func (c *Card) Capabilities() minidriver.Capabilities {
	return minidriver.Capabilities{KeyGen: true}
}

// Properties reads cardid, which is also the serial number (OpenSC reports
// cardid as the GIDS serial number).
func (c *Card) Properties(ctx context.Context, tx *scrm.Tx) (minidriver.CardProperties, error) {
	id, err := c.ReadFile(ctx, tx, "", cardfs.CardIDFile)
	if err != nil {
		return minidriver.CardProperties{}, err
	}
	if len(id) != cardfs.CardIDSize {
		return minidriver.CardProperties{}, fmt.Errorf("%w: gids: cardid of %d bytes", minidriver.ErrCommDataLost, len(id))
	}
	p := minidriver.CardProperties{
		Serial:                 append([]byte(nil), id...),
		CacheMode:              minidriver.CacheGlobal,
		SupportsX509Enrollment: true,
		PINs:                   minidriver.NewPinSet(PINUser, PINAdmin),
		KeyImport:              true,
		MaxContainers:          MaxContainers,
	}
	copy(p.GUID[:], id)
	return p, nil
}

// PINInfo describes the user PIN (alphanumeric, changed by itself,
// unblocked by the admin key) and the admin key (challenge-response).
func (c *Card) PINInfo(ctx context.Context, tx *scrm.Tx, id minidriver.PinID) (minidriver.PINInfo, error) {
	switch id {
	case PINUser:
		return minidriver.PINInfo{
			Type:              minidriver.AlphanumericPIN,
			Purpose:           minidriver.PrimaryCardPIN,
			ChangePermission:  minidriver.NewPinSet(PINUser),
			UnblockPermission: minidriver.NewPinSet(PINAdmin),
		}, nil
	case PINAdmin:
		return minidriver.PINInfo{
			Type:             minidriver.ChallengeResponsePIN,
			Purpose:          minidriver.AdministratorPIN,
			ChangePermission: minidriver.NewPinSet(PINAdmin),
		}, nil
	}
	return minidriver.PINInfo{}, fmt.Errorf("%w: gids: no PIN %d", minidriver.ErrInvalidParameter, id)
}

// KeySizes: RSA 1024 to 4096 bits in steps of 1024 (GIDS algorithm
// identifiers 06 to 09), ECC P-256, P-384 and P-521.
func (c *Card) KeySizes(ctx context.Context, tx *scrm.Tx, spec minidriver.KeySpec) (minidriver.KeySizes, error) {
	switch {
	case spec.IsRSA():
		if ks, ok := c.algs.rsaSizes(); ok {
			return ks, nil
		}
		return minidriver.KeySizes{}, fmt.Errorf("%w: gids: the card has no RSA keys", minidriver.ErrUnsupported)
	case spec.Valid():
		if alg, ok := eccAlg(spec); !ok || !c.algs.has(alg) {
			return minidriver.KeySizes{}, fmt.Errorf("%w: gids: the card has no %v keys", minidriver.ErrUnsupported, spec)
		}
		b := spec.CurveBits()
		return minidriver.KeySizes{Min: b, Default: b, Max: b, Increment: 1}, nil
	}
	return minidriver.KeySizes{}, fmt.Errorf("%w: gids: key spec %v", minidriver.ErrInvalidParameter, spec)
}

// FreeSpace counts the containers in the key map; the card does not say
// how many bytes it has left.
func (c *Card) FreeSpace(ctx context.Context, tx *scrm.Tx) (minidriver.FreeSpace, error) {
	km, err := c.keyMap(ctx, tx)
	if err != nil {
		return minidriver.FreeSpace{}, err
	}
	return minidriver.FreeSpace{
		BytesAvailable:      minidriver.Unknown,
		ContainersAvailable: MaxContainers - km.count(),
		MaxContainers:       MaxContainers,
	}, nil
}

// getDO reads data object tag of DO file fid (GET DATA fid 5C tag); the
// card answers the whole object, whose value is returned. A missing
// object is scrm.ErrNotFound.
func (c *Card) getDO(ctx context.Context, tx *scrm.Tx, fid uint16, tag uint32) ([]byte, error) {
	ne := scrm.MaxShortNe
	if tx.Card().Limits().Extended {
		ne = scrm.MaxNe
	}
	rsp, err := tx.Do(ctx, scrm.Command{INS: 0xCB, P1: byte(fid >> 8), P2: byte(fid), Data: bertlv.Encode(0x5C, bertlv.AppendTag(nil, tag)), Ne: ne})
	if err != nil {
		return nil, err
	}
	if len(rsp.Data) == 0 {
		return nil, nil
	}
	v, err := bertlv.Single(rsp.Data, tag)
	if err != nil {
		return nil, fmt.Errorf("%w: gids: GET DATA %04X/%X answered another object", minidriver.ErrCommDataLost, fid, tag)
	}
	return v, nil
}

// putDO writes data object tag of DO file fid (PUT DATA fid tag data).
func (c *Card) putDO(ctx context.Context, tx *scrm.Tx, fid uint16, tag uint32, data []byte) error {
	_, err := tx.Do(ctx, scrm.Command{INS: 0xDB, P1: byte(fid >> 8), P2: byte(fid), Data: bertlv.Encode(tag, data)})
	return err
}

// cat concatenates byte strings.
func cat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// masterFile returns the master file, read once per transaction.
func (c *Card) masterFile(ctx context.Context, tx *scrm.Tx) (*masterFile, error) {
	c.use(tx)
	if c.mfOK {
		return c.mf, nil
	}
	b, err := c.getDO(ctx, tx, fidUserCreateDeleteDir, doMasterFile)
	if err != nil {
		if errors.Is(err, scrm.ErrNotFound) {
			// A blank card: no file system yet.
			return nil, fmt.Errorf("%w: gids: the card has no master file", minidriver.ErrNotInitialized)
		}
		return nil, cardErr("read the master file", err)
	}
	mf, err := parseMasterFile(b)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", minidriver.ErrCommDataLost, err)
	}
	c.mf, c.mfOK = mf, true
	return mf, nil
}

// writeMasterFile stores mf and keeps it as the current master file.
func (c *Card) writeMasterFile(ctx context.Context, tx *scrm.Tx, mf *masterFile) error {
	b := mf.marshal()
	if len(b) > mfMaxSize {
		return fmt.Errorf("%w: gids: the master file is full", minidriver.ErrNoSpace)
	}
	c.mf, c.mfOK = nil, false
	if err := c.putDO(ctx, tx, fidUserCreateDeleteDir, doMasterFile, b); err != nil {
		return cardErr("write the master file", err)
	}
	c.mf, c.mfOK = mf, true
	return nil
}

// keyMap returns the key map, read once per transaction; a card without
// one has an empty map.
func (c *Card) keyMap(ctx context.Context, tx *scrm.Tx) (*keyMap, error) {
	c.use(tx)
	if c.kmOK {
		return c.km, nil
	}
	b, err := c.getDO(ctx, tx, fidUserCreateDeleteDir, doKeyMap)
	switch {
	case errors.Is(err, scrm.ErrNotFound):
		b = nil
	case err != nil:
		return nil, cardErr("read the key map", err)
	}
	km, err := parseKeyMap(b)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", minidriver.ErrCommDataLost, err)
	}
	c.km, c.kmOK = km, true
	return km, nil
}

// writeKeyMap stores km.
func (c *Card) writeKeyMap(ctx context.Context, tx *scrm.Tx, km *keyMap) error {
	c.km, c.kmOK = nil, false
	if err := c.putDO(ctx, tx, fidUserCreateDeleteDir, doKeyMap, km.marshal()); err != nil {
		return cardErr("write the key map", err)
	}
	c.km, c.kmOK = km, true
	return nil
}

// cardErr maps a card's status word to the contract's errors, keeping the
// card's error in the chain.
func cardErr(what string, err error) error {
	switch {
	case errors.Is(err, scrm.ErrSecurityStatus):
		return fmt.Errorf("%w: gids: %s: %w", minidriver.ErrSecurityViolation, what, err)
	case errors.Is(err, scrm.ErrNoSpace):
		return fmt.Errorf("%w: gids: %s: %w", minidriver.ErrNoSpace, what, err)
	case errors.Is(err, scrm.ErrUnsupported):
		return fmt.Errorf("%w: gids: %s: %w", minidriver.ErrUnsupported, what, err)
	case isStatus(err):
		return fmt.Errorf("%w: gids: %s: %w", minidriver.ErrUnexpected, what, err)
	}
	return fmt.Errorf("gids: %s: %w", what, err)
}

// sawCardCF takes note of cardcf's content in the current transaction: the
// same content as when the kept master file and key map were current
// makes them current again; another content drops those not read in this
// transaction.
func (c *Card) sawCardCF(v []byte) {
	if c.assumed && (c.cf == nil || string(v) != string(c.cf)) {
		// What AssumeFresh trusted is not current after all.
		c.mf, c.km, c.mfOK, c.kmOK = nil, nil, false, false
	}
	c.assumed = false
	if c.cf != nil && string(v) == string(c.cf) {
		c.mfOK = c.mfOK || c.mf != nil
		c.kmOK = c.kmOK || c.km != nil
	} else {
		if !c.mfOK {
			c.mf = nil
		}
		if !c.kmOK {
			c.km = nil
		}
	}
	c.cf = append(c.cf[:0:0], v...)
}

// readCardCF reads cardcf through the kept master file when it is not
// current yet (one GET DATA instead of two), then validates it. ok is
// false when that was not possible.
func (c *Card) readCardCF(ctx context.Context, tx *scrm.Tx) ([]byte, bool) {
	c.use(tx)
	if c.mfOK || c.mf == nil || c.cf == nil {
		return nil, false
	}
	i := c.mf.find("", cardfs.CardCFFile)
	if i < 0 {
		return nil, false
	}
	r := c.mf.records[i]
	v, err := c.getDO(ctx, tx, r.FID, r.DO)
	if err != nil {
		return nil, false
	}
	if v == nil {
		v = []byte{}
	}
	c.sawCardCF(v)
	return v, true
}

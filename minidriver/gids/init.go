package gids

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/cardmod/cardmod/cardfs"
	"github.com/cardmod/cardmod/internal/bertlv"
	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/scrm"
)

// InitParams are the secrets and identity of a card being initialized:
// minidriver.InitParams. PIN is the user PIN (4 to 16 bytes); AdminKey
// the admin key, 24 bytes (3DES) or 16 or 32 bytes (AES); CardID the
// 16-byte cardid, nil to draw one from the Env's Rand.
type InitParams = minidriver.InitParams

// doFiles are the DO files of the minidriver file system with their PUT
// DATA and GET DATA conditions (10 user PIN, 20 admin key, 30 either, 00
// always, FF never), as gids-tool and the Windows minidriver create them.
var doFiles = [...]struct {
	fid      uint16
	put, get byte
}{
	{fidUserCreateDeleteDir, 0x30, 0x00},
	{fidEveryoneReadUserWrite, 0x30, 0x00},
	{fidUserWriteExecute, 0x30, 0xFF},
	{fidEveryoneReadAdminWrite, 0x20, 0x00},
	{fidUserReadWrite, 0x30, 0x30},
	{fidAdminReadWrite, 0x20, 0x20},
}

// Initialize turns a blank GIDS card (an application in its creation
// state, as it leaves the factory) into a minidriver card: it sets the
// user PIN (CHANGE REFERENCE DATA 00 24 01 80), creates and activates the
// six DO files A000 and A010 to A014 and the admin key file B080, stores
// the admin key, writes cardid, cardcf (six zero bytes), cardapps
// ("mscp"), an empty mscp/cmapfile and the master file naming them with
// the mscp directory (the steps of the minidriver specification's card
// creation, at the places the Windows minidriver puts them), and activates
// the application (SELECT 3FFF, ACTIVATE FILE), which ends every
// authentication. A card that has a master file already is refused with
// minidriver.ErrFileExists.
func (c *Card) Initialize(ctx context.Context, tx *scrm.Tx, p InitParams) error {
	if err := checkPIN(p.PIN); err != nil {
		return err
	}
	if _, err := adminCipher(p.AdminKey); err != nil {
		return err
	}
	cardID := p.CardID
	if cardID == nil {
		cardID = make([]byte, cardfs.CardIDSize)
		if _, err := io.ReadFull(randOr(c.env.Rand), cardID); err != nil {
			return fmt.Errorf("gids: card identifier: %w", err)
		}
	}
	if len(cardID) != cardfs.CardIDSize {
		return fmt.Errorf("%w: gids: cardid of %d bytes", minidriver.ErrInvalidParameter, len(cardID))
	}
	c.forget()
	c.mf, c.km, c.cf = nil, nil, nil
	c.tx = tx
	_, err := c.getDO(ctx, tx, fidUserCreateDeleteDir, doMasterFile)
	switch {
	case err == nil:
		return fmt.Errorf("%w: gids: the card is initialized already", minidriver.ErrFileExists)
	case errors.Is(err, scrm.ErrNotFound), errors.Is(err, scrm.ErrUnsupported):
		// 6A82 (no file A000) or 6A88 (no master file): blank.
	default:
		return cardErr("look for a master file", err)
	}
	step := func(what string, cmd scrm.Command) error {
		if _, err := tx.Do(ctx, cmd); err != nil {
			return cardErr("initialize: "+what, err)
		}
		return nil
	}
	if err := step("set the PIN", scrm.Command{INS: 0x24, P1: 0x01, P2: 0x80, Data: p.PIN}); err != nil {
		return err
	}
	for _, f := range doFiles {
		fcp := bertlv.Encode(0x62, cat(
			bertlv.Encode(0x82, []byte{0x39}),
			bertlv.Encode(0x83, []byte{byte(f.fid >> 8), byte(f.fid)}),
			bertlv.Encode(0x8C, []byte{0x03, f.put, f.get}),
		))
		if err := step(fmt.Sprintf("create file %04X", f.fid), scrm.Command{INS: 0xE0, Data: fcp}); err != nil {
			return err
		}
		if err := step(fmt.Sprintf("activate file %04X", f.fid), scrm.Command{INS: 0x44}); err != nil {
			return err
		}
	}
	// The admin key file: MSE always, import with the admin key, public
	// key never; one CRT for mutual authentication.
	keyFCP := bertlv.Encode(0x62, cat(
		bertlv.Encode(0x82, []byte{0x18}),
		bertlv.Encode(0x83, []byte{0xB0, adminKeyRef}),
		bertlv.Encode(0x8C, []byte{0x87, 0x00, 0x20, 0xFF}),
		bertlv.Encode(0xA5, bertlv.Encode(0xA4, cat(bertlv.Encode(0x80, []byte{0x02}), bertlv.Encode(0x83, []byte{adminKeyRef}), bertlv.Encode(0x95, []byte{0xC0})))),
	))
	if err := step("create the admin key file", scrm.Command{INS: 0xE0, Data: keyFCP}); err != nil {
		return err
	}
	if err := step("activate the admin key file", scrm.Command{INS: 0x44}); err != nil {
		return err
	}
	if err := c.putAdminKey(ctx, tx, p.AdminKey); err != nil {
		return err
	}
	for _, o := range []struct {
		fid  uint16
		tag  uint32
		data []byte
	}{
		{fidEveryoneReadAdminWrite, doCardID, cardID},
		{fidEveryoneReadUserWrite, doCardCF, make([]byte, cardfs.CardCFSize)},
		{fidEveryoneReadUserWrite, doCardApps, []byte("mscp\x00\x00\x00\x00")},
		{fidEveryoneReadUserWrite, doCmapFile, nil},
	} {
		if err := c.putDO(ctx, tx, o.fid, o.tag, o.data); err != nil {
			return cardErr("initialize: write the file system", err)
		}
	}
	if err := c.writeMasterFile(ctx, tx, initialMasterFile()); err != nil {
		return err
	}
	if err := step("select the application", scrm.Command{INS: 0xA4, P1: 0x00, P2: 0x0C, Data: []byte{0x3F, 0xFF}}); err != nil {
		return err
	}
	if err := step("activate the application", scrm.Command{INS: 0x44}); err != nil {
		return err
	}
	c.forget()
	c.mf, c.km, c.cf = nil, nil, nil
	c.tx = tx
	return nil
}

package gids

import (
	"context"
	"errors"
	"fmt"

	"github.com/cardmod/cardmod/internal/bertlv"
	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/scrm"
)

// aid is the GIDS application identifier as OpenSC and the Windows
// discovery SELECT it: RID A0 00 00 03 97, PIX 42 54 46 59 ("BTFY"),
// without the version bytes, so that version 1 and 2 applications answer.
var aid = []byte{0xA0, 0x00, 0x00, 0x03, 0x97, 0x42, 0x54, 0x46, 0x59}

// Plugin is the GIDS plug-in. Its zero value is ready to use; it is
// immutable and safe for concurrent use.
type Plugin struct{}

var _ minidriver.Plugin = Plugin{}

// Name returns "GIDS".
func (Plugin) Name() string { return "GIDS" }

// knownATRs are answers to reset of GIDS cards: the simulator of package
// cardsim/gids (historical bytes 80 31 80 65 "GIDSS"). Other GIDS cards
// (GidsApplet on Java Cards, vendor cards) carry their chip's ATR and are
// found by Probe, as Windows and OpenSC find them.
var knownATRs = [...][2]string{
	{"3B 89 80 01 80 31 80 65 47 49 44 53 53 16", ""},
}

// ATRs returns the known GIDS ATR/mask pairs.
func (Plugin) ATRs() []scrm.ATRMask {
	out := make([]scrm.ATRMask, 0, len(knownATRs))
	for _, a := range knownATRs {
		if m, err := scrm.ParseATRMask(a[0], a[1]); err == nil {
			out = append(out, m)
		}
	}
	return out
}

// Probe selects the GIDS application: the card is a GIDS card when the
// SELECT succeeds.
func (Plugin) Probe(ctx context.Context, tx *scrm.Tx) (bool, error) {
	_, err := selectGIDS(ctx, tx, true)
	if err == nil {
		return true, nil
	}
	if isStatus(err) {
		return false, nil
	}
	return false, err
}

// selectGIDS is SELECT of the application by DF name, with the FCI (fci)
// or without answer data (P2 0C).
func selectGIDS(ctx context.Context, tx *scrm.Tx, fci bool) (scrm.Response, error) {
	if fci {
		return tx.Do(ctx, scrm.Command{INS: 0xA4, P1: 0x04, P2: 0x00, Data: aid, Ne: scrm.MaxShortNe})
	}
	return tx.Do(ctx, scrm.Command{INS: 0xA4, P1: 0x04, P2: 0x0C, Data: aid})
}

// Open selects the application, reads the FCI and EF.ATR (two APDUs) and
// sets the card's limits from the card capabilities of EF.ATR: extended
// Lc/Le, command chaining.
func (p Plugin) Open(ctx context.Context, tx *scrm.Tx, env minidriver.Env) (minidriver.Card, error) {
	rsp, err := selectGIDS(ctx, tx, true)
	if err != nil {
		return nil, fmt.Errorf("gids: select: %w", err)
	}
	return p.openSelected(ctx, tx, env, rsp)
}

var _ minidriver.ProbeOpener = Plugin{}

// ProbeOpen is Probe then Open with the probe's SELECT answer: a GIDS card
// found by probing costs one SELECT, not two (minidriver.ProbeOpener).
func (p Plugin) ProbeOpen(ctx context.Context, tx *scrm.Tx, env minidriver.Env) (minidriver.Card, bool, error) {
	rsp, err := selectGIDS(ctx, tx, true)
	if err != nil {
		if isStatus(err) {
			return nil, false, nil
		}
		return nil, false, err
	}
	c, err := p.openSelected(ctx, tx, env, rsp)
	return c, true, err
}

// openSelected is Open once the application is selected, with the SELECT
// answer.
func (p Plugin) openSelected(ctx context.Context, tx *scrm.Tx, env minidriver.Env, rsp scrm.Response) (minidriver.Card, error) {
	c := &Card{env: env}
	tx.Card().AddRedaction(redactSecrets)
	if fci, err := parseFCI(rsp.Data); err == nil {
		c.appAID = fci
	}
	efatr, err := tx.Do(ctx, scrm.Command{INS: 0xCB, P1: 0x2F, P2: 0x01, Data: []byte{0x5C, 0x00}, Ne: scrm.MaxShortNe})
	switch {
	case err == nil:
		if a, ok := parseAlgs(efatr.Data); ok {
			c.algs = a
		}
		caps := parseEFATR(efatr.Data)
		l := tx.Card().Limits()
		if caps.extended {
			l.Extended = true
		}
		tx.Card().SetLimits(l)
		c.chaining = caps.chaining
	case isStatus(err):
	default:
		return nil, fmt.Errorf("gids: EF.ATR: %w", err)
	}
	return c, nil
}

// parseFCI returns the application identifier of a SELECT answer,
// 61 { 4F AID, ... } (or a bare FCI template 6F).
func parseFCI(b []byte) ([]byte, error) {
	tag, fci, _, err := bertlv.Parse(b)
	if err != nil {
		return nil, fmt.Errorf("gids: FCI: %w", err)
	}
	if tag != 0x61 && tag != 0x6F {
		return nil, fmt.Errorf("gids: FCI tag %#x: %w", tag, bertlv.ErrMalformed)
	}
	v, ok := bertlv.Find(fci, 0x4F)
	if !ok || len(v) < len(aid) || len(v) > 16 {
		return nil, fmt.Errorf("gids: no application identifier in the FCI: %w", bertlv.ErrMalformed)
	}
	return append([]byte(nil), v...), nil
}

// efATRCaps are the card capabilities of EF.ATR that the plug-in uses.
type efATRCaps struct {
	chaining, extended bool
}

// parseEFATR reads the card capabilities (tag 47, third byte: 80 command
// chaining, 40 extended Lc and Le) from EF.ATR's objects.
func parseEFATR(b []byte) efATRCaps {
	v, ok := bertlv.Find(b, 0x47)
	if !ok || len(v) < 3 {
		return efATRCaps{}
	}
	return efATRCaps{chaining: v[2]&0x80 != 0, extended: v[2]&0x40 != 0}
}

// redactSecrets keeps GIDS's own secrets from the card's tracer, beyond
// scrm's rules (PINs, GENERAL AUTHENTICATE and DECIPHER answers): PUT DATA
// 3FFF, which imports private keys and the admin key; the data objects of
// the files nobody but the user or the admin reads (A011, A013, A014:
// private key files and password wallets), in PUT DATA and GET DATA
// answers.
func redactSecrets(cmd scrm.Command) (command, response bool) {
	fid := uint16(cmd.P1)<<8 | uint16(cmd.P2)
	secret := fid == fidUserWriteExecute || fid == fidUserReadWrite || fid == fidAdminReadWrite
	switch cmd.INS {
	case 0xDB:
		return fid == 0x3FFF || secret, false
	case 0xCB:
		return false, secret
	}
	return false, false
}

// isStatus reports whether err is a status word (the card answered).
func isStatus(err error) bool {
	var se *scrm.StatusError
	return errors.As(err, &se)
}

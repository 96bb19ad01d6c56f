package piv

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/cardmod/cardmod/cardfs"
	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/scrm"
)

// pubsFile is the file of the file store (5FFF20) that keeps the public
// keys of the keys cardmod made on a card without GET METADATA: before
// firmware 5.3 a YubiKey returns a key's public key only when it generates
// it ("for keys generated on the older YubiKey, the only way to get the
// public key is during generation", Yubico .NET SDK user's manual,
// "Keeping track of PIV slot contents"), so a key without a certificate
// would be unknown to every other process. The file is the plug-in's: it
// is not listed, read or written through the file calls.
const pubsFile = "pivpubs"

// maxPubRecords bounds the records parsePubs accepts (one per slot).
const maxPubRecords = maxContainers

// pubRecord is one entry of pubsFile: slot, algorithm, PKIX DER.
type pubRecord struct {
	slot, alg byte
	der       []byte
}

// parsePubs reads pubsFile: records of slot (1 byte), algorithm (1),
// length (2, big endian) and the PKIX DER public key.
func parsePubs(b []byte) ([]pubRecord, error) {
	var out []pubRecord
	for len(b) > 0 {
		if len(b) < 4 || len(out) >= maxPubRecords {
			return nil, errors.New("piv: public key file: truncated or too long")
		}
		n := int(binary.BigEndian.Uint16(b[2:4]))
		if len(b) < 4+n {
			return nil, errors.New("piv: public key file: truncated")
		}
		out = append(out, pubRecord{slot: b[0], alg: b[1], der: b[4 : 4+n]})
		b = b[4+n:]
	}
	return out, nil
}

func marshalPubs(recs []pubRecord) []byte {
	var b []byte
	for _, r := range recs {
		b = append(b, r.slot, r.alg)
		b = binary.BigEndian.AppendUint16(b, uint16(len(r.der)))
		b = append(b, r.der...)
	}
	return b
}

// keepsPubs reports whether the card needs pubsFile: no GET METADATA, and
// a file store.
func (c *Card) keepsPubs() bool { return !c.q.metadata && c.store != storeNo }

// settleMetadata makes sure the card has GET METADATA where that is only
// assumed (a YubiKey 5 opened by its serial, yubiKey5Quirks, that has not
// answered one yet: metaSeen), before a write that relies on it: a key
// made on a card without it must have its public key in pubsFile, where
// every later reader, which learns of the missing instruction from its
// first GET METADATA (6D00), finds it. It asks the management key's
// metadata, whose answer is kept as mgmtAlgorithm keeps it; a card
// without the instruction (YubiKey 5.0 to 5.2) answers 6D00 and is not
// asked again.
func (c *Card) settleMetadata(ctx context.Context, tx *scrm.Tx) error {
	if !c.q.metadata || c.metaSeen || c.metadataRefused(tx) {
		return nil
	}
	rsp, err := tx.Do(ctx, scrm.Command{INS: 0xF7, P2: refMgmt, Ne: scrm.MaxShortNe})
	switch {
	case lacksInstruction(err):
		c.noMetadata(tx)
		return nil
	case err != nil:
		return cardErr("management key metadata", err)
	}
	c.metaSeen = true
	if md, err := parseMetadata(rsp.Data); err == nil && mgmtAlgKnown(md.Alg) && c.env.Cache != nil {
		c.env.Cache.AddFile(tx, cardfs.StalePins, mgmtAlgItem, []byte{md.Alg})
	}
	return nil
}

// storedPublic returns the public key recorded for slot in pubsFile.
func (c *Card) storedPublic(ctx context.Context, tx *scrm.Tx, slot byte) (keyInfo, bool, error) {
	if !c.keepsPubs() {
		return keyInfo{}, false, nil
	}
	fs, err := c.loadStore(ctx, tx)
	if err != nil {
		return keyInfo{}, false, err
	}
	b, err := fs.ReadFile(cardfs.RolesAll, "", pubsFile)
	if errors.Is(err, cardfs.ErrFileNotFound) {
		return keyInfo{}, false, nil
	}
	if err != nil {
		return keyInfo{}, false, err
	}
	recs, err := parsePubs(b)
	if err != nil {
		return keyInfo{}, false, fmt.Errorf("%w: %w", minidriver.ErrCommDataLost, err)
	}
	for _, r := range recs {
		if r.slot != slot {
			continue
		}
		pub, err := x509.ParsePKIXPublicKey(r.der)
		if err != nil {
			return keyInfo{}, false, fmt.Errorf("piv: public key of slot %02X: %w: %w", slot, minidriver.ErrCommDataLost, err)
		}
		if _, _, ok := algBits(r.alg); !ok {
			return keyInfo{}, false, fmt.Errorf("piv: public key of slot %02X: %w: algorithm %02X", slot, minidriver.ErrCommDataLost, r.alg)
		}
		return keyInfo{Alg: r.alg, Public: pub}, true, nil
	}
	return keyInfo{}, false, nil
}

// recordPublic keeps (pub != nil) or forgets (nil) the public key of the
// key in slot in pubsFile, on a card that needs it (keepsPubs).
func (c *Card) recordPublic(ctx context.Context, tx *scrm.Tx, slot, alg byte, pub crypto.PublicKey) error {
	if err := c.settleMetadata(ctx, tx); err != nil {
		return err
	}
	if !c.keepsPubs() {
		return nil
	}
	fs, err := c.loadStore(ctx, tx)
	if err != nil {
		return err
	}
	var recs []pubRecord
	if b, err := fs.ReadFile(cardfs.RolesAll, "", pubsFile); err == nil {
		if recs, err = parsePubs(b); err != nil {
			recs = nil // unreadable: rewritten
		}
	} else if !errors.Is(err, cardfs.ErrFileNotFound) {
		return err
	}
	out := recs[:0:0]
	for _, r := range recs {
		if r.slot != slot {
			out = append(out, r)
		}
	}
	if pub != nil {
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			return fmt.Errorf("piv: public key of slot %02X: %w", slot, err)
		}
		out = append(out, pubRecord{slot: slot, alg: alg, der: der})
	}
	if len(out) == 0 {
		if err := fs.DeleteFile(cardfs.RolesAll, "", pubsFile); err != nil {
			if errors.Is(err, cardfs.ErrFileNotFound) {
				return nil
			}
			return err
		}
		return c.saveStore(ctx, tx, fs)
	}
	if _, err := fs.FileInfo(cardfs.RolesAll, "", pubsFile); errors.Is(err, cardfs.ErrFileNotFound) {
		if err := fs.CreateFile(cardfs.RolesAll, "", pubsFile, 0, cardfs.EveryoneReadAdminWriteAc); err != nil {
			return err
		}
	}
	if err := fs.WriteFile(cardfs.RolesAll, "", pubsFile, marshalPubs(out)); err != nil {
		return err
	}
	return c.saveStore(ctx, tx, fs)
}

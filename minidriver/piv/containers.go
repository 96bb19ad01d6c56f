package piv

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"unicode/utf16"

	"github.com/cardmod/cardmod/cardfs"
	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/scrm"
)

// container is one entry of the container map as the plug-in sees it.
type container struct {
	Index int
	Name  string
	Flags cardfs.ContainerFlags
	Slot  byte
	Spec  minidriver.KeySpec
	Bits  int
	PinID minidriver.PinID // 0 when the map does not say
}

func (ct container) valid() bool { return ct.Flags&cardfs.ContainerValid != 0 }

// keyInfo is what the plug-in knows of a slot's key.
type keyInfo struct {
	Alg       byte
	Public    any // *rsa.PublicKey or *ecdsa.PublicKey; nil when unknown
	PINPolicy byte
}

// PIN policies of GET METADATA (Yubico).
const (
	pinPolicyNever  = 0x01
	pinPolicyAlways = 0x03
)

// metaTag is the per-transaction cache key of a slot's metadata (beyond
// the three-byte data object tags).
func metaTag(slot byte) uint32 { return 0x01000000 | uint32(slot) }

// slotInfo reads what can be known of a slot's key: GET METADATA where the
// card has it, else the public key of the slot's certificate. A slot with
// no key (or, without metadata, no certificate) is ErrNoKeyContainer.
func (c *Card) slotInfo(ctx context.Context, tx *scrm.Tx, slot byte) (keyInfo, error) {
	c.begin(tx)
	if c.q.metadata {
		raw, cached := c.objs[metaTag(slot)]
		if !cached {
			rsp, err := tx.Do(ctx, scrm.Command{INS: 0xF7, P2: slot, Ne: c.maxNe()})
			if err != nil {
				if errors.Is(err, scrm.ErrNotFound) {
					c.remember(metaTag(slot), nil)
					return keyInfo{}, fmt.Errorf("piv: slot %02X: %w", slot, minidriver.ErrNoKeyContainer)
				}
				return keyInfo{}, cardErr(fmt.Sprintf("metadata of slot %02X", slot), err)
			}
			raw = append([]byte{}, rsp.Data...)
			c.remember(metaTag(slot), raw)
		}
		if raw == nil {
			return keyInfo{}, fmt.Errorf("piv: slot %02X: %w", slot, minidriver.ErrNoKeyContainer)
		}
		md, err := parseMetadata(raw)
		if err != nil {
			return keyInfo{}, fmt.Errorf("%w: %w", minidriver.ErrCommDataLost, err)
		}
		ki := keyInfo{Alg: md.Alg, PINPolicy: md.PINPolicy}
		if md.HasPublic {
			pub, err := parsePublicKey(md.Alg, md.Public, false)
			if err != nil {
				return keyInfo{}, fmt.Errorf("%w: %w", minidriver.ErrCommDataLost, err)
			}
			ki.Public = pub
		}
		c.setAlg(slot, md.Alg)
		return ki, nil
	}
	der, err := c.readCert(ctx, tx, slot)
	if errors.Is(err, minidriver.ErrFileNotFound) {
		if pub, ok := c.pubs[slot]; ok {
			// A key this Card created, with no certificate yet.
			if alg, known := c.algs[slot]; known {
				return keyInfo{Alg: alg, Public: pub}, nil
			}
		}
		return keyInfo{}, fmt.Errorf("piv: slot %02X: %w", slot, minidriver.ErrNoKeyContainer)
	}
	if err != nil {
		return keyInfo{}, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return keyInfo{}, fmt.Errorf("piv: slot %02X certificate: %w: %w", slot, minidriver.ErrCommDataLost, err)
	}
	ki := keyInfo{Public: cert.PublicKey}
	switch pub := cert.PublicKey.(type) {
	case *rsa.PublicKey:
		alg, ok := rsaAlg(pub.N.BitLen())
		if !ok {
			return keyInfo{}, fmt.Errorf("piv: slot %02X: %w: %d-bit RSA", slot, minidriver.ErrUnsupported, pub.N.BitLen())
		}
		ki.Alg = alg
	case *ecdsa.PublicKey:
		switch pub.Curve {
		case elliptic.P256():
			ki.Alg = algP256
		case elliptic.P384():
			ki.Alg = algP384
		default:
			return keyInfo{}, fmt.Errorf("piv: slot %02X: %w: curve", slot, minidriver.ErrUnsupported)
		}
	default:
		return keyInfo{}, fmt.Errorf("piv: slot %02X: %w: key type %T", slot, minidriver.ErrUnsupported, pub)
	}
	c.setAlg(slot, ki.Alg)
	return ki, nil
}

func (c *Card) setAlg(slot, alg byte) {
	if c.algs == nil {
		c.algs = make(map[byte]byte)
	}
	c.algs[slot] = alg
}

// slotAlg returns the algorithm of a slot's key, from the lifetime cache
// when it can.
func (c *Card) slotAlg(ctx context.Context, tx *scrm.Tx, slot byte) (byte, bool, error) {
	if alg, ok := c.algs[slot]; ok {
		return alg, true, nil
	}
	ki, err := c.slotInfo(ctx, tx, slot)
	return ki.Alg, false, err
}

// defaultSpec is the key spec of a slot's key when no map says: ECDSA or
// RSA signature keys in 9A, 9C and 9E; ECDH or RSA key exchange keys in
// 9D and the retired slots, except that RSA in 9A is a key exchange key
// (it signs and decrypts).
func defaultSpec(slot, alg byte) minidriver.KeySpec {
	bits, ec, _ := algBits(alg)
	kx := slot == 0x9D || (slot >= 0x82 && slot <= 0x95)
	if ec {
		switch {
		case kx && bits == 384:
			return minidriver.ECDHP384
		case kx:
			return minidriver.ECDHP256
		case bits == 384:
			return minidriver.ECDSAP384
		}
		return minidriver.ECDSAP256
	}
	if slot == 0x9C || slot == 0x9E {
		return minidriver.Signature
	}
	return minidriver.KeyExchange
}

// specFor is the key spec of a slot's key when no map says: the one the
// last CreateContainer asked for, if it fits the key the slot holds now,
// else the slot's default.
func (c *Card) specFor(slot, alg byte) minidriver.KeySpec {
	if s, ok := c.specs[slot]; ok {
		bits, ec, _ := algBits(alg)
		if (ec && s.CurveBits() == bits) || (!ec && s.IsRSA()) {
			return s
		}
	}
	return defaultSpec(slot, alg)
}

// defaultPIN is the PIN ID of a slot's container when nothing else says.
func defaultPIN(slot byte) minidriver.PinID {
	if slot == 0x9C {
		return PINSignature
	}
	return PINUser
}

// containerName is the stable name of a slot's container on a card
// without a stored map: a GUID-shaped string from the card identifier and
// the slot, the same in every process.
func containerName(id cardfs.CardID, slot byte) string {
	h := sha256.Sum256(append(append([]byte("cardmod piv container\x00"), id[:]...), slot))
	return fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}

// storedMap returns Yubico's container map (object 5FFF10), or nil when
// the card has none.
func (c *Card) storedMap(ctx context.Context, tx *scrm.Tx) ([]ykRecord, bool, error) {
	if !c.q.yubiKey {
		return nil, false, nil
	}
	c.begin(tx)
	if _, read := c.objs[objMSCMAP]; !read {
		if v, ok := c.mapFresh.lookup(c.objs); ok {
			c.remember(objMSCMAP, v)
		}
	}
	raw, err := c.getData(ctx, tx, objMSCMAP)
	if err == nil || errors.Is(err, scrm.ErrNotFound) {
		c.mapFresh.store(c.objs, raw)
	}
	if err != nil {
		if errors.Is(err, scrm.ErrNotFound) {
			return nil, false, nil
		}
		return nil, false, cardErr("read container map", err)
	}
	recs, err := parseYKMap(raw)
	if err != nil {
		return nil, false, fmt.Errorf("%w: %w", minidriver.ErrCommDataLost, err)
	}
	return recs, true, nil
}

// fromRecord turns a stored record into a container.
func fromRecord(i int, r ykRecord) container {
	if !r.valid() || certObject(r.Slot) == 0 {
		return container{Index: i}
	}
	ct := container{Index: i, Name: r.Name, Flags: cardfs.ContainerFlags(r.Flags) & (cardfs.ContainerValid | cardfs.ContainerDefault),
		Slot: r.Slot, Spec: minidriver.KeySpec(r.KeySpec), Bits: int(r.KeyBits), PinID: minidriver.PinID(r.PinID)}
	if !ct.Spec.Valid() {
		ct.Spec = 0
	}
	if !ct.PinID.Valid() {
		ct.PinID = 0
	}
	return ct
}

// container resolves container idx to its slot and key.
func (c *Card) container(ctx context.Context, tx *scrm.Tx, idx int) (container, error) {
	if idx < 0 || idx >= cardfs.MaxContainers {
		return container{}, fmt.Errorf("piv: container %d: %w", idx, minidriver.ErrNoKeyContainer)
	}
	recs, stored, err := c.storedMap(ctx, tx)
	if err != nil {
		return container{}, err
	}
	var ct container
	if stored {
		if idx >= len(recs) {
			return container{}, fmt.Errorf("piv: container %d: %w", idx, minidriver.ErrNoKeyContainer)
		}
		ct = fromRecord(idx, recs[idx])
		if !ct.valid() {
			return container{}, fmt.Errorf("piv: container %d: %w", idx, minidriver.ErrNoKeyContainer)
		}
	} else {
		if idx >= maxContainers {
			return container{}, fmt.Errorf("piv: container %d: %w", idx, minidriver.ErrNoKeyContainer)
		}
		ct = container{Index: idx, Slot: slotTable[idx], Flags: cardfs.ContainerValid}
	}
	if ct.Spec == 0 || ct.Bits == 0 {
		alg, _, err := c.slotAlg(ctx, tx, ct.Slot)
		if err != nil {
			return container{}, err
		}
		ct.Bits, _, _ = algBits(alg)
		if ct.Spec == 0 {
			ct.Spec = c.specFor(ct.Slot, alg)
		}
	}
	return ct, nil
}

// containers lists the whole map: the stored one, or one container per
// slot holding a key.
func (c *Card) containers(ctx context.Context, tx *scrm.Tx) ([]container, bool, error) {
	recs, stored, err := c.storedMap(ctx, tx)
	if err != nil {
		return nil, false, err
	}
	if stored {
		out := make([]container, len(recs))
		for i, r := range recs {
			out[i] = fromRecord(i, r)
		}
		return out, true, nil
	}
	var out []container
	def := false
	for i, slot := range slotTable {
		ki, err := c.slotInfo(ctx, tx, slot)
		if errors.Is(err, minidriver.ErrNoKeyContainer) || errors.Is(err, minidriver.ErrUnsupported) || errors.Is(err, minidriver.ErrCommDataLost) {
			// No key, or one the plug-in cannot use or read: no container,
			// without hiding the others.
			out = append(out, container{Index: i})
			continue
		}
		if err != nil {
			return nil, false, err
		}
		bits, _, _ := algBits(ki.Alg)
		ct := container{Index: i, Name: containerName(c.guid, slot), Flags: cardfs.ContainerValid,
			Slot: slot, Spec: c.specFor(slot, ki.Alg), Bits: bits}
		if !def {
			ct.Flags |= cardfs.ContainerDefault
			def = true
		}
		out = append(out, ct)
	}
	for len(out) > 0 && !out[len(out)-1].valid() {
		out = out[:len(out)-1]
	}
	return out, false, nil
}

// marshalCmapfile encodes containers as the cmapfile (86-byte records).
func marshalCmapfile(cts []container) []byte {
	b := make([]byte, len(cts)*cardfs.ContainerMapRecordSize)
	for i, ct := range cts {
		if !ct.valid() {
			continue
		}
		p := b[i*cardfs.ContainerMapRecordSize:]
		for j, u := range utf16.Encode([]rune(ct.Name)) {
			if j >= cardfs.MaxContainerNameLen {
				break
			}
			binary.LittleEndian.PutUint16(p[2*j:], u)
		}
		p[80] = byte(ct.Flags)
		if ct.Spec.InSignatureSlot() {
			binary.LittleEndian.PutUint16(p[82:], uint16(ct.Bits))
		} else {
			binary.LittleEndian.PutUint16(p[84:], uint16(ct.Bits))
		}
	}
	return b
}

// freshMap keeps the container map object (5FFF10) across transactions,
// trusted only while the file store object holding cardcf (5FFF20) reads
// the same: the caller reads cardcf at the start of every transaction, and
// whoever changes the container map bumps cardcf first (spec "File System
// Requirements: Cache File"). It
// saves reading the map again before every signature. The caller's own
// cache of cmapfile rests on the same rule.
type freshMap struct {
	valid  bool
	cardcf []byte // the file store value the map was read under; nil: absent
	value  []byte // the map object's value; nil: absent
}

// lookup returns the kept map when cardcf was read in this transaction
// (objs holds the file store object) and has not changed.
func (f *freshMap) lookup(objs map[uint32][]byte) ([]byte, bool) {
	store, read := objs[objFileStore]
	if !f.valid || !read || (store == nil) != (f.cardcf == nil) || !bytes.Equal(store, f.cardcf) {
		return nil, false
	}
	return f.value, true
}

// store keeps the map value just read, when cardcf was read in the same
// transaction.
func (f *freshMap) store(objs map[uint32][]byte, value []byte) {
	store, read := objs[objFileStore]
	if !read {
		f.valid = false
		return
	}
	*f = freshMap{valid: true, cardcf: store, value: value}
}

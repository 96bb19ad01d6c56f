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
	"github.com/cardmod/cardmod/minidriver/internal/keyalg"
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
	if c.lacking[slot] {
		return keyInfo{}, fmt.Errorf("piv: slot %02X: the card has no such slot: %w", slot, minidriver.ErrNoKeyContainer)
	}
	if c.q.metadata {
		ki, ok, err := c.slotMetadata(ctx, tx, slot)
		if ok || err != nil {
			return ki, err
		}
		// The card does not know GET METADATA after all: certificates.
	}
	if !c.q.metadata && slot >= 0x82 && slot <= 0x95 {
		if n, ok := c.retiredWithCerts(ctx, tx); ok && pastKeyHistory(slot, n) {
			if pub, ok := c.pubs[slot]; ok {
				if alg, known := c.algs[slot]; known {
					return keyInfo{Alg: alg, Public: pub}, nil
				}
			}
			return keyInfo{}, fmt.Errorf("piv: slot %02X: %w (not in the Key History)", slot, minidriver.ErrNoKeyContainer)
		}
	}
	der, err := c.readCert(ctx, tx, slot)
	if errors.Is(err, minidriver.ErrFileNotFound) {
		if pub, ok := c.pubs[slot]; ok {
			// A key this Card created, with no certificate yet.
			if alg, known := c.algs[slot]; known {
				return keyInfo{Alg: alg, Public: pub}, nil
			}
		}
		// A key cardmod made, recorded in the file store.
		ki, ok, err := c.storedPublic(ctx, tx, slot)
		if err != nil {
			return keyInfo{}, err
		}
		if ok {
			c.setAlg(slot, ki.Alg)
			return ki, nil
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
		alg, ok := keyalg.Table(algBits).RSA(pub.N.BitLen())
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

// slotMetadata is slotInfo from GET METADATA (Yubico, firmware 5.3). ok is
// false when the card turns out not to know the instruction (6D00): the
// plug-in then stops asking (probe.go). A slot the card has told it lacks
// (6A86, 6A88, 6A81) is remembered and not asked for again; it and an
// empty slot (6A82) are ErrNoKeyContainer.
func (c *Card) slotMetadata(ctx context.Context, tx *scrm.Tx, slot byte) (keyInfo, bool, error) {
	raw, cached := c.objs[metaTag(slot)]
	if !cached && c.hostLookup(tx, metaTag(slot)) {
		raw, cached = c.objs[metaTag(slot)], true
	}
	if !cached && c.metadataRefused(tx) {
		return keyInfo{}, false, nil
	}
	if !cached {
		rsp, err := tx.Do(ctx, scrm.Command{INS: 0xF7, P2: slot, Ne: c.maxNe()})
		switch {
		case err == nil:
			raw = append([]byte{}, rsp.Data...)
			c.remember(metaTag(slot), raw)
			c.hostAdd(tx, metaTag(slot), raw)
		case lacksInstruction(err):
			c.noMetadata(tx)
			return keyInfo{}, false, nil
		case noKeyStatus(err):
			if lacksSlot(err) {
				c.noteSlotLacking(slot)
			} else {
				c.hostAdd(tx, metaTag(slot), nil)
			}
			c.remember(metaTag(slot), nil)
			c.metaSeen = true
			return keyInfo{}, true, fmt.Errorf("piv: slot %02X: %w", slot, minidriver.ErrNoKeyContainer)
		default:
			return keyInfo{}, true, cardErr(fmt.Sprintf("metadata of slot %02X", slot), err)
		}
	}
	c.metaSeen = true
	if raw == nil {
		return keyInfo{}, true, fmt.Errorf("piv: slot %02X: %w", slot, minidriver.ErrNoKeyContainer)
	}
	md, err := parseMetadata(raw)
	if err != nil {
		return keyInfo{}, true, fmt.Errorf("%w: %w", minidriver.ErrCommDataLost, err)
	}
	ki := keyInfo{Alg: md.Alg, PINPolicy: md.PINPolicy}
	if md.HasPublic {
		pub, err := parsePublicKey(md.Alg, md.Public, false)
		if err != nil {
			return keyInfo{}, true, fmt.Errorf("%w: %w", minidriver.ErrCommDataLost, err)
		}
		ki.Public = pub
	}
	c.setAlg(slot, md.Alg)
	return ki, true, nil
}

// retiredWithCerts reads the Key History object (5FC10C, SP 800-73-4
// part 1, 3.3.2) in the transaction: keysWithOnCardCerts (tag C1) retired
// keys have their certificates on the card, in the lowest retired slots
// from 82 on. OpenSC's PIV driver reads the retired certificates the Key
// History announces and no others. ok is false when the card has no Key
// History (or an unreadable one): every retired slot is then looked at.
func (c *Card) retiredWithCerts(ctx context.Context, tx *scrm.Tx) (int, bool) {
	raw, err := c.getData(ctx, tx, objKeyHistory)
	if err != nil {
		return 0, false
	}
	m, err := parseTLVs(raw)
	if err != nil {
		return 0, false
	}
	v, ok := m[0xC1]
	if !ok || len(v) != 1 || v[0] > 20 {
		return 0, false
	}
	return int(v[0]), true
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
	switch slot {
	case 0x9C:
		return PINSignature
	case 0x9E:
		// The card authentication key needs no PIN (SP 800-73-4 part 1,
		// 3.2.4: access rule "Always"; Yubico: PIN policy "never").
		return minidriver.RoleEveryone
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

// slotName is the name of slot's container on a card without a stored
// map: the one cmapfile was written with on a card that cannot store it
// (memNames), else containerName.
func (c *Card) slotName(slot byte) string {
	if n, ok := c.memNames[slot]; ok {
		return n
	}
	return containerName(c.guid, slot)
}

// pastKeyHistory reports whether slot is a retired slot past the n
// retired certificates the Key History announces (retiredWithCerts).
func pastKeyHistory(slot byte, n int) bool {
	return slot >= 0x82 && slot <= 0x95 && int(slot-0x82) >= n
}

// trimInvalid drops the invalid containers at the end of cts, as a
// cmapfile holds none past its last valid record.
func trimInvalid(cts []container) []container {
	for len(cts) > 0 && !cts[len(cts)-1].valid() {
		cts = cts[:len(cts)-1]
	}
	return cts
}

// storedMap returns Yubico's container map (object 5FFF10), or nil when
// the card has none.
func (c *Card) storedMap(ctx context.Context, tx *scrm.Tx) ([]ykRecord, bool, error) {
	if c.mapStore == storeNo {
		return nil, false, nil
	}
	c.begin(tx)
	if _, read := c.objs[objMSCMAP]; !read {
		if v, ok := c.mapFresh.lookup(c.objs, c.assumeFresh); ok {
			c.remember(objMSCMAP, v)
			_, cfRead := c.objs[objFileStore]
			c.mapAssumed = !cfRead
		}
	}
	raw, err := c.getData(ctx, tx, objMSCMAP)
	if !c.mapAssumed && (err == nil || errors.Is(err, scrm.ErrNotFound)) {
		c.mapFresh.store(c.objs, raw)
	}
	if err != nil {
		if errors.Is(err, scrm.ErrNotFound) {
			return nil, false, nil
		}
		if lacksObject(err, false) {
			c.mapStore = storeNo
			return nil, false, nil
		}
		return nil, false, cardErr("read container map", err)
	}
	c.mapStore = storeYes
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
	} else if alg, ok := c.algs[ct.Slot]; ok {
		// The slot's algorithm is known (no APDU): a key another
		// application put in the slot, of another algorithm than the
		// map says, is presented as what it is.
		ct.fit(alg)
	}
	return ct, nil
}

// fit makes ct's spec and size those of a key of algorithm alg where the
// map's record says otherwise (another application replaced the slot's
// key, writing no map): the same container slot kind (signature or key
// exchange, so the certificate file keeps its name), alg's algorithm and
// size (minidriver.SpecOfSize). An algorithm the plug-in does not know
// changes nothing.
func (ct *container) fit(alg byte) {
	bits, _, ok := algBits(alg)
	if !ok || specFits(ct.Spec, alg) && (ct.Bits == 0 || ct.Bits == bits) {
		return
	}
	ct.Spec, ct.Bits = minidriver.SpecOfSize(ct.Spec.Slot(), uint16(bits)), bits
}

// specFits reports whether spec can be the spec of a key of algorithm
// alg: an ECC spec of alg's curve, an RSA spec for an RSA alg. An
// algorithm the plug-in does not know fits every spec.
func specFits(spec minidriver.KeySpec, alg byte) bool {
	bits, ec, ok := algBits(alg)
	switch {
	case !ok:
		return true
	case ec:
		return spec.CurveBits() == bits
	}
	return spec.IsRSA()
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
		if c.lacking[slot] {
			out = append(out, container{Index: i})
			continue
		}
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
		ct := container{Index: i, Name: c.slotName(slot), Flags: cardfs.ContainerValid,
			Slot: slot, Spec: c.specFor(slot, ki.Alg), Bits: bits}
		if !def {
			ct.Flags |= cardfs.ContainerDefault
			def = true
		}
		out = append(out, ct)
	}
	return trimInvalid(out), false, nil
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
// (objs holds the file store object) and has not changed, or, with
// assume (AssumeFresh), when cardcf was not read in it.
func (f *freshMap) lookup(objs map[uint32][]byte, assume bool) ([]byte, bool) {
	store, read := objs[objFileStore]
	if f.valid && !read && assume {
		return f.value, true
	}
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

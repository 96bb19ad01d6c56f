package piv

import (
	"context"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"math/big"

	"github.com/cardmod/cardmod/internal/bertlv"
	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/minidriver/internal/keyalg"
	"github.com/cardmod/cardmod/scrm"
)

// slotFor returns the slot of container idx for a key about to be
// created: the stored record's, else the slot table's (docs/piv-mapping.md).
func (c *Card) slotFor(ctx context.Context, tx *scrm.Tx, idx int) (byte, error) {
	recs, stored, err := c.storedMap(ctx, tx)
	if err != nil {
		return 0, err
	}
	if stored && idx < len(recs) && recs[idx].valid() && certObject(recs[idx].Slot) != 0 {
		return recs[idx].Slot, nil
	}
	if idx < 0 || idx >= maxContainers {
		return 0, fmt.Errorf("piv: container %d: %w (the card has %d key slots)", idx, minidriver.ErrInvalidParameter, maxContainers)
	}
	slot := slotTable[idx]
	if stored {
		used := map[byte]bool{}
		for i, r := range recs {
			if i != idx && r.valid() {
				used[r.Slot] = true
			}
		}
		if used[slot] {
			slot = 0
			for _, s := range slotTable {
				if !used[s] {
					slot = s
					break
				}
			}
			if slot == 0 {
				return 0, fmt.Errorf("piv: %w: every key slot is taken", minidriver.ErrNoSpace)
			}
		}
	}
	return slot, nil
}

// pinPolicy maps a container's PIN to a YubiKey PIN policy element (tag
// AA), or nil for the slot's default.
func pinPolicy(id minidriver.PinID) ([]byte, error) {
	switch id {
	case 0, PINUser:
		return nil, nil
	case PINSignature:
		return bertlv.Encode(0xAA, []byte{pinPolicyAlways}), nil
	}
	return nil, fmt.Errorf("%w: a key cannot be protected by PIN %d", minidriver.ErrInvalidParameter, id)
}

// keyAlg checks a key spec and size against the card and returns the
// algorithm. Only an RSA size above 2048 bits, which depends on the
// firmware release, may cost an APDU (firmware).
func (c *Card) keyAlg(ctx context.Context, tx *scrm.Tx, spec minidriver.KeySpec, bits int) (byte, error) {
	var sizes minidriver.KeySizes
	var err error
	if spec.IsRSA() && bits <= 2048 {
		sizes = minidriver.KeySizes{Min: 1024, Default: 2048, Max: 2048, Increment: 1024}
	} else {
		sizes, err = c.KeySizes(ctx, tx, spec)
	}
	if err != nil {
		return 0, err
	}
	if spec.IsRSA() {
		if bits == 0 {
			bits = sizes.Default
		}
		alg, ok := keyalg.Table(algBits).RSA(bits)
		if !ok || !sizes.Supports(bits) {
			return 0, fmt.Errorf("%w: %d-bit RSA", minidriver.ErrUnsupported, bits)
		}
		return alg, nil
	}
	if spec.CurveBits() == 384 {
		return algP384, nil
	}
	return algP256, nil
}

// CreateContainer generates a key in the container's slot (GENERATE
// ASYMMETRIC KEY PAIR, SP 800-73-4 part 2, 3.3.2) or imports one (Yubico
// IMPORT ASYMMETRIC KEY, FE). Both need ROLE_ADMIN (the management key)
// authenticated in the transaction. The key gets the slot's PIN policy,
// or "always" for PINSignature.
func (c *Card) CreateContainer(ctx context.Context, tx *scrm.Tx, req minidriver.CreateContainerRequest) error {
	c.begin(tx)
	if err := c.issuerChecked(ctx, tx, "create container"); err != nil {
		return err
	}
	if !req.KeySpec.Valid() {
		return fmt.Errorf("%w: key spec %d", minidriver.ErrInvalidParameter, req.KeySpec)
	}
	policy, err := pinPolicy(req.PIN)
	if err != nil {
		return err
	}
	if req.Key == nil {
		// An algorithm the card lacks is refused before anything is
		// written.
		if _, err := c.keyAlg(ctx, tx, req.KeySpec, req.Bits); err != nil {
			return err
		}
	}
	slot, err := c.slotFor(ctx, tx, req.Index)
	if err != nil {
		return err
	}
	if c.lacking[slot] {
		return fmt.Errorf("piv: container %d: the card has no slot %02X: %w", req.Index, slot, minidriver.ErrNoSpace)
	}
	if err := c.ensureStore(ctx, tx); err != nil {
		return err
	}
	delete(c.objs, metaTag(slot))
	delete(c.made, slot)
	delete(c.algs, slot)
	delete(c.specs, slot)
	delete(c.pubs, slot)
	if req.Key != nil {
		if err := c.importKey(ctx, tx, slot, req, policy); err != nil {
			return err
		}
		c.setSpec(slot, req.KeySpec)
		return nil
	}
	alg, err := c.keyAlg(ctx, tx, req.KeySpec, req.Bits)
	if err != nil {
		return err
	}
	tmpl := bertlv.Encode(0xAC, append(bertlv.Encode(0x80, []byte{alg}), policy...))
	rsp, err := c.adminDo(ctx, tx, scrm.Command{INS: 0x47, P2: slot, Data: tmpl, Ne: c.maxNe()})
	if err != nil {
		if err := c.noSuchSlot(slot, req.Index, err); err != nil {
			return err
		}
		return cardErr(fmt.Sprintf("generate in slot %02X", slot), err)
	}
	v, err := bertlv.Single(rsp.Data, 0x7F49)
	if err != nil {
		return fmt.Errorf("piv: generate: %w: %w", minidriver.ErrUnexpected, err)
	}
	pub, err := parsePublicKey(alg, v, false)
	if err != nil {
		return fmt.Errorf("piv: generate: %w: %w", minidriver.ErrUnexpected, err)
	}
	c.setAlg(slot, alg)
	c.setSpec(slot, req.KeySpec)
	c.setPublic(slot, pub)
	if c.made == nil {
		c.made = make(map[byte]keyInfo)
	}
	c.made[slot] = keyInfo{Alg: alg, Public: pub}
	return c.recordPublic(ctx, tx, slot, alg, pub)
}

// setPublic keeps the public key of a key this Card created, for cards
// without GET METADATA: there the slot's certificate is the only other
// source, and a new key has none yet.
func (c *Card) setPublic(slot byte, pub crypto.PublicKey) {
	if c.pubs == nil {
		c.pubs = make(map[byte]crypto.PublicKey)
	}
	c.pubs[slot] = pub
}

func (c *Card) setSpec(slot byte, spec minidriver.KeySpec) {
	if c.specs == nil {
		c.specs = make(map[byte]minidriver.KeySpec)
	}
	c.specs[slot] = spec
}

func fixed(n *big.Int, size int) []byte { return n.FillBytes(make([]byte, size)) }

func (c *Card) importKey(ctx context.Context, tx *scrm.Tx, slot byte, req minidriver.CreateContainerRequest, policy []byte) error {
	if !c.q.importKey {
		return fmt.Errorf("piv: key import: %w", minidriver.ErrUnsupported)
	}
	var alg byte
	var data []byte
	switch k := req.Key.(type) {
	case *rsa.PrivateKey:
		if !req.KeySpec.IsRSA() {
			return fmt.Errorf("%w: RSA key for %v", minidriver.ErrInvalidParameter, req.KeySpec)
		}
		if len(k.Primes) != 2 || k.E != 65537 {
			return fmt.Errorf("%w: the card imports two-prime RSA keys with e = 65537", minidriver.ErrUnsupported)
		}
		a, err := c.keyAlg(ctx, tx, req.KeySpec, k.N.BitLen())
		if err != nil {
			return err
		}
		alg = a
		k.Precompute()
		half := k.N.BitLen() / 16
		one := big.NewInt(1)
		dp := new(big.Int).Mod(k.D, new(big.Int).Sub(k.Primes[0], one))
		dq := new(big.Int).Mod(k.D, new(big.Int).Sub(k.Primes[1], one))
		qinv := new(big.Int).ModInverse(k.Primes[1], k.Primes[0])
		if qinv == nil {
			return fmt.Errorf("%w: bad RSA key", minidriver.ErrInvalidParameter)
		}
		for i, v := range []*big.Int{k.Primes[0], k.Primes[1], dp, dq, qinv} {
			if v.BitLen() > half*8 {
				return fmt.Errorf("%w: bad RSA key", minidriver.ErrInvalidParameter)
			}
			data = bertlv.Append(data, uint32(i+1), fixed(v, half))
		}
	case *ecdsa.PrivateKey:
		if req.KeySpec.IsRSA() {
			return fmt.Errorf("%w: EC key for %v", minidriver.ErrInvalidParameter, req.KeySpec)
		}
		d, err := k.Bytes()
		if err != nil {
			return fmt.Errorf("%w: %w", minidriver.ErrInvalidParameter, err)
		}
		switch k.Curve {
		case elliptic.P256():
			alg = algP256
		case elliptic.P384():
			alg = algP384
		default:
			return fmt.Errorf("%w: curve", minidriver.ErrUnsupported)
		}
		data = bertlv.Append(data, 0x06, d)
	case *ecdh.PrivateKey:
		if req.KeySpec.IsRSA() {
			return fmt.Errorf("%w: EC key for %v", minidriver.ErrInvalidParameter, req.KeySpec)
		}
		switch k.Curve() {
		case ecdh.P256():
			alg = algP256
		case ecdh.P384():
			alg = algP384
		default:
			return fmt.Errorf("%w: curve", minidriver.ErrUnsupported)
		}
		data = bertlv.Append(data, 0x06, k.Bytes())
	default:
		return fmt.Errorf("%w: key type %T", minidriver.ErrInvalidParameter, req.Key)
	}
	if !req.KeySpec.IsRSA() {
		if bits, _, _ := algBits(alg); bits != req.KeySpec.CurveBits() {
			return fmt.Errorf("%w: %d-bit key for %v", minidriver.ErrInvalidParameter, bits, req.KeySpec)
		}
		if _, err := c.keyAlg(ctx, tx, req.KeySpec, 0); err != nil {
			return err
		}
	}
	data = append(data, policy...)
	defer clear(data)
	if _, err := c.adminDo(ctx, tx, scrm.Command{INS: 0xFE, P1: alg, P2: slot, Data: data}); err != nil {
		return cardErr(fmt.Sprintf("import into slot %02X", slot), err)
	}
	c.setAlg(slot, alg)
	if pk, ok := req.Key.(interface{ Public() crypto.PublicKey }); ok {
		pub := pk.Public()
		if k, ok := pub.(*ecdh.PublicKey); ok {
			// Public keys of EC slots are *ecdsa.PublicKey here, as
			// parsePublicKey makes them.
			if epub, err := ecdsaFromECDH(k); err == nil {
				pub = epub
			}
		}
		c.setPublic(slot, pub)
		return c.recordPublic(ctx, tx, slot, alg, pub)
	}
	return nil
}

// ecdsaFromECDH converts an ECDH public key to the ECDSA form.
func ecdsaFromECDH(k *ecdh.PublicKey) (*ecdsa.PublicKey, error) {
	der, err := x509.MarshalPKIXPublicKey(k)
	if err != nil {
		return nil, err
	}
	pub, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, err
	}
	e, ok := pub.(*ecdsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("piv: %T is not an EC key", pub)
	}
	return e, nil
}

// DeleteContainer deletes the key of a container's slot with the Yubico
// MOVE KEY command (F6, firmware 5.7). SP 800-73-4 has no command that
// deletes a key: on a card without F6 that keeps the container map
// (5FFF10), the slot's certificate object is deleted and the key stays in
// the slot, unused, until a new key overwrites it; the caller then removes
// the container's map record, after which no container names the slot. A
// card without F6 and without a stored map cannot forget a key
// (ErrUnsupported). Deletion needs ROLE_ADMIN.
func (c *Card) DeleteContainer(ctx context.Context, tx *scrm.Tx, idx int) error {
	c.begin(tx)
	if err := c.issuerChecked(ctx, tx, "delete container"); err != nil {
		return err
	}
	ct, err := c.container(ctx, tx, idx)
	if err != nil {
		return err
	}
	if err := c.firmware(ctx, tx); err != nil {
		return err
	}
	if !c.q.moveKey {
		if _, stored, err := c.storedMap(ctx, tx); err != nil {
			return err
		} else if !stored {
			return fmt.Errorf("piv: the card can delete neither the key in slot %02X (no Yubico DELETE KEY) nor its container (no container map): %w", ct.Slot, minidriver.ErrUnsupported)
		}
		if err := c.putData(ctx, tx, certObject(ct.Slot), nil); err != nil && !errors.Is(err, scrm.ErrNotFound) {
			return err
		}
		if err := c.recordPublic(ctx, tx, ct.Slot, 0, nil); err != nil {
			return err
		}
	} else {
		if err := c.ensureStore(ctx, tx); err != nil {
			return err
		}
		if _, err := c.adminDo(ctx, tx, scrm.Command{INS: 0xF6, P1: 0xFF, P2: ct.Slot}); err != nil {
			return cardErr(fmt.Sprintf("delete key in slot %02X", ct.Slot), err)
		}
		c.remember(metaTag(ct.Slot), nil)
	}
	delete(c.algs, ct.Slot)
	delete(c.specs, ct.Slot)
	delete(c.pubs, ct.Slot)
	delete(c.made, ct.Slot)
	return nil
}

// noSuchSlot turns a refusal of a key command that names a key reference
// the card does not have (6A86, incorrect P1-P2, or 6A88, reference not
// found: SP 800-73-4 part 2, 3.3.2; a YubiKey NEO has no
// retired slots) into ErrNoSpace, and remembers the slot as lacking for
// the Card's lifetime; any other error is nil.
func (c *Card) noSuchSlot(slot byte, idx int, err error) error {
	sw, ok := swOf(err)
	if !ok || (sw != 0x6A86 && sw != 0x6A88) {
		return nil
	}
	c.noteSlotLacking(slot)
	return fmt.Errorf("piv: container %d: the card has no slot %02X: %w: %w", idx, slot, minidriver.ErrNoSpace, err)
}

package gids

import (
	"context"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/cardmod/cardmod/internal/bertlv"
	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/minidriver/internal/keyalg"
	"github.com/cardmod/cardmod/scrm"
)

// container returns the key map record and key spec of container idx.
func (c *Card) container(ctx context.Context, tx *scrm.Tx, idx int) (kmRecord, minidriver.KeySpec, error) {
	if idx < 0 || idx >= MaxContainers {
		return kmRecord{}, 0, fmt.Errorf("%w: gids: container %d", minidriver.ErrNoKeyContainer, idx)
	}
	km, err := c.keyMap(ctx, tx)
	if err != nil {
		return kmRecord{}, 0, err
	}
	r, ok := km.get(idx)
	if !ok {
		return kmRecord{}, 0, fmt.Errorf("%w: gids: container %d", minidriver.ErrNoKeyContainer, idx)
	}
	spec, ok := recordSpec(r)
	if !ok || byte(r.KeyFile) != keyRef(idx) {
		return kmRecord{}, 0, fmt.Errorf("%w: gids: key map record %d (algorithm %#x, type %#x, file %04X)", minidriver.ErrCommDataLost, idx, r.Alg, r.KeyType, r.KeyFile)
	}
	return r, spec, nil
}

// keyRef is the key reference of container idx.
func keyRef(idx int) byte { return byte(firstKeyRef + idx) }

// ContainerInfo reads the container's public key from the card (GET DATA
// 3FFF 70 { 84 ref, A5 { 7F49 } }).
func (c *Card) ContainerInfo(ctx context.Context, tx *scrm.Tx, idx int) (minidriver.ContainerInfo, error) {
	r, spec, err := c.container(ctx, tx, idx)
	if err != nil {
		return minidriver.ContainerInfo{}, err
	}
	// 70 { 84 ref, A5 03 7F 49 80 }, byte for byte what the Windows
	// minidriver and OpenSC send (the inside of A5 is not well-formed
	// BER; cards read the key reference only).
	req := bertlv.Encode(0x70, cat(bertlv.Encode(0x84, []byte{keyRef(idx)}), []byte{0xA5, 0x03, 0x7F, 0x49, 0x80}))
	ne := scrm.MaxShortNe
	if tx.Card().Limits().Extended {
		ne = scrm.MaxNe
	}
	rsp, err := tx.Do(ctx, scrm.Command{INS: 0xCB, P1: 0x3F, P2: 0xFF, Data: req, Ne: ne})
	if err != nil {
		if errors.Is(err, scrm.ErrNotFound) {
			return minidriver.ContainerInfo{}, fmt.Errorf("%w: gids: container %d: no key in file %04X", minidriver.ErrNoKeyContainer, idx, r.KeyFile)
		}
		return minidriver.ContainerInfo{}, cardErr("read a public key", err)
	}
	pub, err := parsePublicKey(rsp.Data, spec, r.Alg)
	if err != nil {
		return minidriver.ContainerInfo{}, err
	}
	var info minidriver.ContainerInfo
	if spec.InSignatureSlot() {
		info.Signature, info.SignatureSpec = pub, spec
	} else {
		info.KeyExchange, info.KeyExchangeSpec = pub, spec
	}
	return info, nil
}

// ContainerPIN: every key is protected by the user PIN.
func (c *Card) ContainerPIN(ctx context.Context, tx *scrm.Tx, idx int) (minidriver.PinID, error) {
	if _, _, err := c.container(ctx, tx, idx); err != nil {
		return 0, err
	}
	return PINUser, nil
}

// CreateContainer creates key file B0xx (xx = 81 + index) with the access
// rules and mechanisms of the key spec, generates the key in it (GENERATE
// ASYMMETRIC KEY PAIR AC { 80 alg, 83 ref }) or imports it (PUT DATA 3FFF
// 70 { 84 ref, A5 { 87 key } }, PKCS#1 RSAPrivateKey or SEC 1
// ECPrivateKey), and records it in the key map. A GIDS container holds
// one key: an existing key file of the index is deleted first, and the new
// one again when the card refuses the key (a size it cannot make, say).
func (c *Card) CreateContainer(ctx context.Context, tx *scrm.Tx, req minidriver.CreateContainerRequest) error {
	if req.Index < 0 || req.Index >= MaxContainers {
		return fmt.Errorf("%w: gids: container %d (0 to %d)", minidriver.ErrInvalidParameter, req.Index, MaxContainers-1)
	}
	if !req.KeySpec.Valid() {
		return fmt.Errorf("%w: gids: key spec %v", minidriver.ErrInvalidParameter, req.KeySpec)
	}
	if req.PIN != 0 && req.PIN != PINUser {
		return fmt.Errorf("%w: gids: keys are protected by the user PIN", minidriver.ErrUnsupported)
	}
	alg, keyDER, err := keyAlg(req)
	if err != nil {
		return err
	}
	defer clear(keyDER)
	if err := c.checkAlg(req.KeySpec, alg); err != nil {
		return err
	}
	km, err := c.keyMap(ctx, tx)
	if err != nil {
		return err
	}
	ref := keyRef(req.Index)
	if err := c.deleteKeyFile(ctx, tx, ref); err != nil {
		return err
	}
	if _, err := tx.Do(ctx, scrm.Command{INS: 0xE0, Data: keyFileFCP(ref, alg, req.KeySpec)}); err != nil {
		return cardErr("create the key file", err)
	}
	if _, err := tx.Do(ctx, scrm.Command{INS: 0x44}); err != nil {
		_ = c.deleteKeyFile(ctx, tx, ref)
		return cardErr("activate the key file", err)
	}
	if keyDER == nil {
		ne := scrm.MaxShortNe
		if tx.Card().Limits().Extended {
			ne = scrm.MaxNe
		}
		gen := bertlv.Encode(0xAC, cat(bertlv.Encode(0x80, []byte{alg}), bertlv.Encode(0x83, []byte{ref})))
		if _, err := tx.Do(ctx, scrm.Command{INS: 0x47, Data: gen, Ne: ne}); err != nil {
			_ = c.deleteKeyFile(ctx, tx, ref)
			if errors.Is(err, scrm.ErrUnsupported) {
				c.algs.refuse(alg)
			}
			return cardErr("generate the key", err)
		}
	} else {
		// The Windows minidriver sends A5 { 83 02 (key type RSA), 84 00
		// (not wrapped), 87 key } for RSA keys.
		tmpl := bertlv.Encode(0x87, keyDER)
		if req.KeySpec.IsRSA() {
			tmpl = cat(bertlv.Encode(0x83, []byte{0x02}), bertlv.Encode(0x84, []byte{0x00}), tmpl)
		}
		data := bertlv.Encode(0x70, cat(bertlv.Encode(0x84, []byte{ref}), bertlv.Encode(0xA5, tmpl)))
		clear(tmpl)
		defer clear(data)
		if _, err := tx.Do(ctx, scrm.Command{INS: 0xDB, P1: 0x3F, P2: 0xFF, Data: data}); err != nil {
			_ = c.deleteKeyFile(ctx, tx, ref)
			if errors.Is(err, scrm.ErrUnsupported) {
				c.algs.refuse(alg)
			}
			return cardErr("import the key", err)
		}
	}
	keyType := byte(keyTypeExchange)
	if req.KeySpec.InSignatureSlot() {
		keyType = keyTypeSignature
	}
	next := &keyMap{records: append([]kmRecord(nil), km.records...)}
	next.set(req.Index, kmRecord{State: 1, Alg: alg, KeyType: keyType, KeyFile: 0xB000 | uint16(ref), Unknown: 0xFFFF})
	if err := c.writeKeyMap(ctx, tx, next); err != nil {
		// A key the key map does not name is a key nobody finds: gone.
		_ = c.deleteKeyFile(ctx, tx, ref)
		return err
	}
	return nil
}

// keyAlg checks a request and returns the algorithm identifier and, for
// an import, the key's encoding.
func keyAlg(req minidriver.CreateContainerRequest) (byte, []byte, error) {
	spec := req.KeySpec
	if spec.IsRSA() {
		bits := req.Bits
		var der []byte
		if req.Key != nil {
			k, ok := req.Key.(*rsa.PrivateKey)
			if !ok {
				return 0, nil, fmt.Errorf("%w: gids: %v needs an *rsa.PrivateKey, not %T", minidriver.ErrInvalidParameter, spec, req.Key)
			}
			if err := k.Validate(); err != nil {
				return 0, nil, fmt.Errorf("%w: gids: RSA key: %w", minidriver.ErrInvalidParameter, err)
			}
			bits = k.N.BitLen()
			k.Precompute()
			der = x509.MarshalPKCS1PrivateKey(k)
		}
		alg, ok := keyalg.Table(algBits).RSA(bits)
		if !ok {
			clear(der)
			return 0, nil, fmt.Errorf("%w: gids: RSA-%d (1024, 2048, 3072 or 4096)", minidriver.ErrUnsupported, bits)
		}
		return alg, der, nil
	}
	alg, _ := eccAlg(spec)
	curve, _ := algCurve(alg)
	if req.Key == nil {
		return alg, nil, nil
	}
	var k *ecdsa.PrivateKey
	switch key := req.Key.(type) {
	case *ecdsa.PrivateKey:
		k = key
	case *ecdh.PrivateKey:
		_, want := algCurve(alg)
		if key.Curve() != want {
			return 0, nil, fmt.Errorf("%w: gids: the key is not on the curve of %v", minidriver.ErrInvalidParameter, spec)
		}
		var err error
		k, err = ecdsa.ParseRawPrivateKey(curve, key.Bytes())
		if err != nil {
			return 0, nil, fmt.Errorf("%w: gids: EC key: %w", minidriver.ErrInvalidParameter, err)
		}
	default:
		return 0, nil, fmt.Errorf("%w: gids: %v needs an EC private key, not %T", minidriver.ErrInvalidParameter, spec, req.Key)
	}
	if k.Curve != curve {
		return 0, nil, fmt.Errorf("%w: gids: the key is not on the curve of %v", minidriver.ErrInvalidParameter, spec)
	}
	der, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		return 0, nil, fmt.Errorf("%w: gids: EC key: %w", minidriver.ErrInvalidParameter, err)
	}
	return alg, der, nil
}

// deleteKeyFile deletes key file B0<ref> if it exists (SELECT 00 A4 00 0C
// B0xx, then DELETE FILE of the selected file).
func (c *Card) deleteKeyFile(ctx context.Context, tx *scrm.Tx, ref byte) error {
	_, err := tx.Do(ctx, scrm.Command{INS: 0xA4, P1: 0x00, P2: 0x0C, Data: []byte{0xB0, ref}})
	switch {
	case errors.Is(err, scrm.ErrNotFound):
		return nil
	case err != nil:
		return cardErr("select the key file", err)
	}
	if _, err := tx.Do(ctx, scrm.Command{INS: 0xE4}); err != nil {
		return cardErr("delete the key file", err)
	}
	return nil
}

// DeleteContainer deletes the container's key file and frees its key map
// record.
func (c *Card) DeleteContainer(ctx context.Context, tx *scrm.Tx, idx int) error {
	if _, _, err := c.container(ctx, tx, idx); err != nil {
		return err
	}
	if err := c.deleteKeyFile(ctx, tx, keyRef(idx)); err != nil {
		return err
	}
	km, err := c.keyMap(ctx, tx)
	if err != nil {
		return err
	}
	next := &keyMap{records: append([]kmRecord(nil), km.records...)}
	next.set(idx, deletedKM)
	// Deleted records at the end are dropped: deleting the last
	// container gives back the key map it was created in.
	for len(next.records) > 0 && next.records[len(next.records)-1] == deletedKM {
		next.records = next.records[:len(next.records)-1]
	}
	return c.writeKeyMap(ctx, tx, next)
}

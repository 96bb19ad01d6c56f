package piv

import (
	"bytes"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/x509"
	"math/big"

	"github.com/cardmod/cardmod/cardsim/internal/tlv"
)

// parsePolicies reads the optional PIN (AA) and touch (AB) policy elements.
func parsePolicies(m map[uint32][]byte) (pin, touch byte, ok bool) {
	if v, has := m[0xAA]; has {
		if len(v) != 1 || v[0] > PINPolicyAlways {
			return 0, 0, false
		}
		pin = v[0]
	}
	if v, has := m[0xAB]; has {
		if len(v) != 1 || v[0] > TouchPolicyCached {
			return 0, 0, false
		}
		touch = v[0]
	}
	return pin, touch, true
}

// tlvMap parses b as TLVs with unique tags drawn from allowed.
func tlvMap(b []byte, allowed ...uint32) (map[uint32][]byte, bool) {
	items, err := tlv.ParseAll(b)
	if err != nil {
		return nil, false
	}
	m := map[uint32][]byte{}
	for _, it := range items {
		found := false
		for _, a := range allowed {
			if it.Tag == a {
				found = true
			}
		}
		if !found {
			return nil, false
		}
		if _, dup := m[it.Tag]; dup {
			return nil, false
		}
		m[it.Tag] = it.Value
	}
	return m, true
}

// cmdGenerate answers GENERATE ASYMMETRIC KEY PAIR (SP 800-73-4 part 2,
// 3.3.2): 00 47 00 slot, AC { 80 alg [AA pin policy] [AB touch policy] };
// the response is 7F49 with the public key.
func (c *Card) cmdGenerate(cmd command) reply {
	if cmd.p1 != 0x00 || !c.hasSlot(cmd.p2) {
		return status(swIncorrectP1P2)
	}
	if !c.sess.mgmtAuth {
		return status(swSecurityStatus)
	}
	v, err := tlv.ParseSingle(cmd.data, 0xAC)
	if err != nil {
		return status(swIncorrectData)
	}
	m, okM := tlvMap(v, 0x80, 0xAA, 0xAB)
	if !okM {
		return status(swIncorrectData)
	}
	alg, has := m[0x80]
	if !has || len(alg) != 1 || !c.algSupported(alg[0]) {
		return status(swIncorrectData)
	}
	pin, touch, okP := parsePolicies(m)
	if !okP {
		return status(swIncorrectData)
	}
	priv, err := generateKey(alg[0], c.h.rand)
	if err != nil {
		return status(swUnknown)
	}
	c.st.keys[cmd.p2] = &slotKey{alg: alg[0], pinPolicy: pin, touchPolicy: touch, origin: OriginGenerated, priv: priv}
	return ok(tlv.Encode(0x7F49, publicKeyTLVs(priv)))
}

// cmdImport answers the Yubico IMPORT ASYMMETRIC KEY (00 FE alg slot):
// RSA as CRT parts (01 p, 02 q, 03 dP, 04 dQ, 05 qInv; e is 65537), EC as
// the private scalar (06), Ed25519 as the seed (07), X25519 as the scalar
// (08); then optional AA and AB policies.
func (c *Card) cmdImport(cmd command) reply {
	if !c.hasSlot(cmd.p2) {
		return status(swIncorrectP1P2)
	}
	if !c.sess.mgmtAuth {
		return status(swSecurityStatus)
	}
	kind, bits, known := algInfo(cmd.p1)
	if !known || !c.algSupported(cmd.p1) {
		return status(swIncorrectP1P2)
	}
	m, okM := tlvMap(cmd.data, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0xAA, 0xAB)
	if !okM {
		return status(swIncorrectData)
	}
	pin, touch, okP := parsePolicies(m)
	if !okP {
		return status(swIncorrectData)
	}
	only := func(tags ...uint32) bool {
		n := 0
		for _, t := range tags {
			if _, has := m[t]; !has {
				return false
			}
			n++
		}
		_, hasPin := m[0xAA]
		_, hasTouch := m[0xAB]
		if hasPin {
			n++
		}
		if hasTouch {
			n++
		}
		return n == len(m)
	}
	var priv crypto.PrivateKey
	switch kind {
	case kindRSA:
		if !only(0x01, 0x02, 0x03, 0x04, 0x05) {
			return status(swIncorrectData)
		}
		half := bits / 16
		parts := make([]*big.Int, 5)
		for i := range parts {
			b := m[uint32(i+1)]
			if len(b) == 0 || len(b) > half {
				return status(swIncorrectData)
			}
			parts[i] = new(big.Int).SetBytes(b)
		}
		p, q := parts[0], parts[1]
		if p.Sign() <= 0 || q.Sign() <= 0 || !p.ProbablyPrime(10) || !q.ProbablyPrime(10) {
			return status(swIncorrectData)
		}
		key, err := rsaFromPrimes(p, q)
		if err != nil || key.N.BitLen() != bits {
			return status(swIncorrectData)
		}
		// The CRT values must belong to e = 65537.
		one := big.NewInt(1)
		dp := new(big.Int).Mod(key.D, new(big.Int).Sub(p, one))
		dq := new(big.Int).Mod(key.D, new(big.Int).Sub(q, one))
		qinv := new(big.Int).ModInverse(q, p)
		if dp.Cmp(parts[2]) != 0 || dq.Cmp(parts[3]) != 0 || qinv == nil || qinv.Cmp(parts[4]) != 0 {
			return status(swIncorrectData)
		}
		priv = key
	case kindEC:
		if !only(0x06) {
			return status(swIncorrectData)
		}
		size := bits / 8
		s := m[0x06]
		if len(s) == 0 || len(s) > size {
			return status(swIncorrectData)
		}
		scalar := make([]byte, size)
		copy(scalar[size-len(s):], s)
		curve, ecurve := elliptic.P256(), ecdh.P256()
		if bits == 384 {
			curve, ecurve = elliptic.P384(), ecdh.P384()
		}
		if _, err := ecurve.NewPrivateKey(scalar); err != nil {
			return status(swIncorrectData)
		}
		key, err := ecdsa.ParseRawPrivateKey(curve, scalar)
		if err != nil {
			return status(swIncorrectData)
		}
		priv = key
	case kindEd25519:
		if !only(0x07) || len(m[0x07]) != ed25519.SeedSize {
			return status(swIncorrectData)
		}
		priv = ed25519.NewKeyFromSeed(m[0x07])
	case kindX25519:
		if !only(0x08) || len(m[0x08]) != 32 {
			return status(swIncorrectData)
		}
		key, err := ecdh.X25519().NewPrivateKey(m[0x08])
		if err != nil {
			return status(swIncorrectData)
		}
		priv = key
	}
	c.st.keys[cmd.p2] = &slotKey{alg: cmd.p1, pinPolicy: pin, touchPolicy: touch, origin: OriginImported, priv: priv}
	return ok(nil)
}

// cmdSetManagementKey answers the Yubico SET MANAGEMENT KEY (00 FF FF P2,
// P2 FF no touch or FE touch required; data alg 9B length key).
func (c *Card) cmdSetManagementKey(cmd command) reply {
	if cmd.p1 != 0xFF || (cmd.p2 != 0xFF && cmd.p2 != 0xFE) {
		return status(swIncorrectP1P2)
	}
	if !c.sess.mgmtAuth {
		return status(swSecurityStatus)
	}
	d := cmd.data
	if len(d) < 3 || d[1] != SlotManagement || int(d[2]) != len(d)-3 {
		return status(swIncorrectData)
	}
	alg, key := d[0], d[3:]
	if !mgmtAlgSupported(&c.st.prof, alg) || len(key) != mgmtKeyLen(alg) {
		return status(swIncorrectData)
	}
	c.st.mgmt = managementKey{alg: alg, key: append([]byte(nil), key...), touch: cmd.p2 == 0xFE}
	c.sess.challenge = nil
	return ok(nil)
}

// cmdGetMetadata answers the Yubico GET METADATA (00 F7 00 ref), firmware
// 5.3 and later. Tags: 01 algorithm, 02 PIN and touch policy, 03 origin,
// 04 public key (as in 7F49), 05 default value, 06 retries (total,
// remaining). Yubico "Get metadata" APDU reference.
func (c *Card) cmdGetMetadata(cmd command) reply {
	if cmd.p1 != 0x00 {
		return status(swIncorrectP1P2)
	}
	boolByte := func(b bool) []byte {
		if b {
			return []byte{0x01}
		}
		return []byte{0x00}
	}
	ref := cmd.p2
	switch {
	case ref == 0x80 || ref == 0x81:
		s, def := &c.st.pin, defaultPINPadded
		if ref == 0x81 {
			s, def = &c.st.puk, defaultPUKPadded
		}
		return ok(tlv.Join(
			tlv.Encode(0x01, []byte{0xFF}),
			tlv.Encode(0x05, boolByte(bytes.Equal(s.value[:], def[:]))),
			tlv.Encode(0x06, []byte{byte(s.max), byte(max(s.left, 0))}),
		))
	case ref == SlotManagement:
		// The algorithm comes first: piv-go reads it at a fixed offset.
		// The PIN policy byte of the management key is reported as 00.
		return ok(tlv.Join(
			tlv.Encode(0x01, []byte{c.st.mgmt.alg}),
			tlv.Encode(0x02, []byte{0x00, c.mgmtTouchPolicy()}),
			tlv.Encode(0x05, boolByte(bytes.Equal(c.st.mgmt.key, DefaultManagementKey))),
		))
	case isKeySlot(ref) && !c.hasSlot(ref):
		// A slot this card lacks (a retired slot beyond its last, say):
		// incorrect P1-P2, as the applet of ProfileApplet answers.
		return status(swIncorrectP1P2)
	case isKeySlot(ref):
		k := c.st.keys[ref]
		if k == nil {
			return status(swNotFound)
		}
		pin, touch := k.policies(ref)
		return ok(tlv.Join(
			tlv.Encode(0x01, []byte{k.alg}),
			tlv.Encode(0x02, []byte{pin, touch}),
			tlv.Encode(0x03, []byte{k.origin}),
			tlv.Encode(0x04, publicKeyTLVs(k.priv)),
		))
	}
	return status(swRefNotFound)
}

// cmdMoveKey answers the Yubico MOVE KEY / DELETE KEY (00 F6 dest src,
// firmware 5.7): P1 FF deletes the key in P2; otherwise the key in P2 moves
// to the empty slot P1. The attestation key cannot be moved.
func (c *Card) cmdMoveKey(cmd command) reply {
	if !c.sess.mgmtAuth {
		return status(swSecurityStatus)
	}
	src, dst := cmd.p2, cmd.p1
	if !c.hasSlot(src) {
		return status(swIncorrectP1P2)
	}
	if dst == 0xFF {
		if c.st.keys[src] == nil {
			return status(swNotFound)
		}
		delete(c.st.keys, src)
		return ok(nil)
	}
	if !c.hasSlot(dst) || src == SlotAttestation || dst == src {
		return status(swIncorrectP1P2)
	}
	k := c.st.keys[src]
	if k == nil {
		return status(swNotFound)
	}
	if c.st.keys[dst] != nil {
		return status(swConditionsNotMet)
	}
	c.st.keys[dst] = k
	delete(c.st.keys, src)
	return ok(nil)
}

// cmdAttest answers the Yubico ATTEST (00 F9 slot 00): an X.509
// certificate for the slot's key, signed by the key in F9. Keys that were
// imported, and empty slots, cannot be attested (6A80, which piv-go reads
// as "not found").
func (c *Card) cmdAttest(cmd command) reply {
	slot := cmd.p1
	if cmd.p2 != 0x00 || !c.hasSlot(slot) || slot == SlotAttestation {
		return status(swIncorrectP1P2)
	}
	k := c.st.keys[slot]
	if k == nil || k.origin != OriginGenerated {
		return status(swIncorrectData)
	}
	f9 := c.st.keys[SlotAttestation]
	if f9 == nil {
		return status(swIncorrectData)
	}
	signer, canSign := signerOf(f9.priv)
	if !canSign {
		return status(swIncorrectData)
	}
	var tmplCert *x509.Certificate
	if obj, has := c.st.objects[objAttestationCert]; has {
		if items, err := tlv.ParseAll(obj); err == nil {
			for _, it := range items {
				if it.Tag == 0x70 {
					if cert, err := x509.ParseCertificate(it.Value); err == nil {
						tmplCert = cert
					}
				}
			}
		}
	}
	der, err := c.attestationCertificate(slot, k, signer, tmplCert)
	if err != nil {
		return status(swUnknown)
	}
	return ok(der)
}

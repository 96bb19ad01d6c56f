package piv

import (
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/subtle"
	"time"

	"github.com/cardmod/cardmod/cardsim/internal/tlv"
)

// touchCache is how long a "cached" touch lasts (Yubico: "Touch is cached
// for 15 seconds").
const touchCache = 15 * time.Second

// dynAuth parses the dynamic authentication template 7C of GENERAL
// AUTHENTICATE (SP 800-73-4 part 2, table 7) into its elements. Each tag
// may appear once.
func dynAuth(data []byte) (map[uint32][]byte, bool) {
	v, err := tlv.ParseSingle(data, 0x7C)
	if err != nil {
		return nil, false
	}
	items, err := tlv.ParseAll(v)
	if err != nil {
		return nil, false
	}
	m := map[uint32][]byte{}
	for _, it := range items {
		switch it.Tag {
		case 0x80, 0x81, 0x82, 0x85:
		default:
			return nil, false
		}
		if _, dup := m[it.Tag]; dup {
			return nil, false
		}
		m[it.Tag] = it.Value
	}
	return m, true
}

// cmdGeneralAuthenticate answers GENERAL AUTHENTICATE (SP 800-73-4 part 2,
// 3.2.4): management key authentication on 9B, private key operations on
// the key slots.
func (c *Card) cmdGeneralAuthenticate(cmd command) reply {
	if cmd.p2 == SlotManagement {
		return c.authenticateManagementKey(cmd)
	}
	if !c.hasSlot(cmd.p2) {
		return status(swIncorrectP1P2)
	}
	if _, _, known := algInfo(cmd.p1); !known {
		return status(swIncorrectP1P2)
	}
	m, okT := dynAuth(cmd.data)
	if !okT {
		return status(swIncorrectData)
	}
	k := c.st.keys[cmd.p2]
	if k == nil {
		return status(swNotFound)
	}
	if k.alg != cmd.p1 {
		return status(swIncorrectData)
	}
	resp, hasResp := m[0x82]
	chal, hasChal := m[0x81]
	expo, hasExpo := m[0x85]
	if !hasResp || len(resp) != 0 || hasChal == hasExpo || len(m) != 2 {
		return status(swIncorrectData)
	}
	if sw := c.keyAccess(cmd.p2, k); sw != swOK {
		return status(sw)
	}
	var out []byte
	kind, _, _ := algInfo(k.alg)
	switch kind {
	case kindRSA:
		if !hasChal {
			return status(swIncorrectData)
		}
		res, okR := rsaRaw(k.priv.(*rsa.PrivateKey), chal)
		if !okR {
			return status(swIncorrectData)
		}
		out = res
	case kindEC:
		priv := k.priv.(*ecdsa.PrivateKey)
		if hasChal {
			// ECDSA over the hash the host sends; a value longer than the
			// order is truncated to its leftmost bits (FIPS 186-4, as
			// crypto/ecdsa does).
			if len(chal) == 0 || len(chal) > 128 {
				return status(swIncorrectData)
			}
			sig, err := ecdsa.SignASN1(c.h.rand, priv, chal)
			if err != nil {
				return status(swUnknown)
			}
			out = sig
		} else {
			// ECDH: the peer's uncompressed point; the shared secret is
			// the x coordinate (SP 800-73-4 part 2, appendix A.5).
			curve := ecdh.P256()
			if priv.Curve == elliptic.P384() {
				curve = ecdh.P384()
			}
			peer, err := curve.NewPublicKey(expo)
			if err != nil {
				return status(swIncorrectData)
			}
			own, err := priv.ECDH()
			if err != nil {
				return status(swUnknown)
			}
			secret, err := own.ECDH(peer)
			if err != nil {
				return status(swIncorrectData)
			}
			out = secret
		}
	case kindEd25519:
		if !hasChal {
			return status(swIncorrectData)
		}
		// Ed25519 signs the message itself (pure EdDSA), as the YubiKey
		// 5.7 does.
		out = ed25519.Sign(k.priv.(ed25519.PrivateKey), chal)
	case kindX25519:
		if !hasExpo || len(expo) != 32 {
			return status(swIncorrectData)
		}
		peer, err := ecdh.X25519().NewPublicKey(expo)
		if err != nil {
			return status(swIncorrectData)
		}
		secret, err := k.priv.(*ecdh.PrivateKey).ECDH(peer)
		if err != nil { // low-order point: all-zero secret
			return status(swIncorrectData)
		}
		out = secret
	default:
		return status(swIncorrectData)
	}
	return ok(tlv.Encode(0x7C, tlv.Encode(0x82, out)))
}

// keyAccess enforces a key's PIN and touch policies. PIN once: the PIN
// verified in this session; PIN always: a VERIFY just before, used up by
// this operation; touch always: a touch now; cached: one within 15 s.
func (c *Card) keyAccess(slot byte, k *slotKey) uint16 {
	pinPolicy, touchPolicy := k.policies(slot)
	switch pinPolicy {
	case PINPolicyOnce:
		if !c.sess.pinVerified {
			return swSecurityStatus
		}
	case PINPolicyAlways:
		if !c.sess.pinVerified || !c.sess.pinFresh {
			return swSecurityStatus
		}
		c.sess.pinFresh = false
	}
	if !c.touch(slot, touchPolicy) {
		// A YubiKey answers 6982 when the touch does not come
		// (yubico-piv-tool issue 185: "Failed sign command with code 6982").
		return swSecurityStatus
	}
	return swOK
}

// touch asks for a touch as policy demands.
func (c *Card) touch(slot, policy byte) bool {
	if policy != TouchPolicyAlways && policy != TouchPolicyCached {
		return true
	}
	now := c.h.now()
	if policy == TouchPolicyCached {
		if t, seen := c.sess.touchedAt[slot]; seen && now.Sub(t) >= 0 && now.Sub(t) < touchCache {
			return true
		}
	}
	if c.h.touch != nil && !c.h.touch(slot) {
		return false
	}
	if c.sess.touchedAt == nil {
		c.sess.touchedAt = map[byte]time.Time{}
	}
	c.sess.touchedAt[slot] = now
	return true
}

// mgmtCipher returns the block cipher of the management key.
func (c *Card) mgmtCipher() (cipher.Block, error) {
	if c.st.mgmt.alg == AlgTDES {
		return des.NewTripleDESCipher(c.st.mgmt.key)
	}
	return aes.NewCipher(c.st.mgmt.key)
}

// authenticateManagementKey runs the challenge-response of SP 800-73-4
// part 2, appendix A.1 with the card management key (9B):
//
//	single (external authenticate): 7C 02 81 00 -> 7C 81 <challenge>;
//	  7C 82 <E(challenge)> -> 9000 or 6982
//	mutual: 7C 02 80 00 -> 7C 80 <E(witness)>;
//	  7C 80 <witness> 81 <host challenge> -> 7C 82 <E(host challenge)>
//	card authentication only: 7C 81 <host challenge> 82 00 -> 7C 82 <E(...)>
//
// P1 must name the key's algorithm (03 3DES, 08/0A/0C AES); the blocks are
// 8 bytes for 3DES and 16 for AES. P1 00 is 3DES too: SP 800-78-4 table 6-2
// lists both 00 and 03 as "3 Key Triple DES - ECB", and OpenSC's
// C_GenerateRandom asks for a 9B challenge with P1 00 (a YubiKey with a 3DES
// management key answers it).
func (c *Card) authenticateManagementKey(cmd command) reply {
	if cmd.p1 == 0x00 {
		cmd.p1 = AlgTDES
	}
	if cmd.p1 != c.st.mgmt.alg {
		return status(swIncorrectP1P2)
	}
	m, okT := dynAuth(cmd.data)
	if !okT {
		return status(swIncorrectData)
	}
	block, err := c.mgmtCipher()
	if err != nil {
		return status(swUnknown)
	}
	bs := block.BlockSize()
	w, hasW := m[0x80]
	ch, hasC := m[0x81]
	r, hasR := m[0x82]
	if _, hasE := m[0x85]; hasE {
		return status(swIncorrectData)
	}
	pending := c.sess.challenge
	c.sess.challenge = nil
	switch {
	case hasW && len(w) == 0 && !hasC && !hasR:
		// Mutual, step 1: the card sends an encrypted witness.
		c.sess.mgmtAuth = false
		wit := make([]byte, bs)
		if c.readRand(wit) != nil {
			return status(swUnknown)
		}
		encW := make([]byte, bs)
		block.Encrypt(encW, wit)
		c.sess.challenge = &mgmtChallenge{mutual: true, alg: cmd.p1, value: wit}
		return ok(tlv.Encode(0x7C, tlv.Encode(0x80, encW)))
	case hasC && len(ch) == 0 && !hasW && !hasR:
		// Single, step 1: the card sends a plain challenge.
		c.sess.mgmtAuth = false
		chal := make([]byte, bs)
		if c.readRand(chal) != nil {
			return status(swUnknown)
		}
		c.sess.challenge = &mgmtChallenge{alg: cmd.p1, value: chal}
		return ok(tlv.Encode(0x7C, tlv.Encode(0x81, chal)))
	case hasR && len(r) == bs && !hasW && !hasC:
		// Single, step 2: the host returns the encrypted challenge.
		if pending == nil || pending.mutual || pending.alg != cmd.p1 {
			return status(swSecurityStatus)
		}
		want := make([]byte, bs)
		block.Encrypt(want, pending.value)
		if subtle.ConstantTimeCompare(want, r) != 1 {
			return status(swSecurityStatus)
		}
		if !c.touch(SlotManagement, c.mgmtTouchPolicy()) {
			return status(swSecurityStatus)
		}
		c.sess.mgmtAuth = true
		return ok(nil)
	case hasW && len(w) == bs && hasC && len(ch) == bs && (!hasR || len(r) == 0):
		// Mutual, step 2: the host proves it decrypted the witness and
		// challenges the card in turn.
		if pending == nil || !pending.mutual || pending.alg != cmd.p1 {
			return status(swSecurityStatus)
		}
		if subtle.ConstantTimeCompare(pending.value, w) != 1 {
			return status(swSecurityStatus)
		}
		if !c.touch(SlotManagement, c.mgmtTouchPolicy()) {
			return status(swSecurityStatus)
		}
		c.sess.mgmtAuth = true
		out := make([]byte, bs)
		block.Encrypt(out, ch)
		return ok(tlv.Encode(0x7C, tlv.Encode(0x82, out)))
	case hasC && len(ch) == bs && hasR && len(r) == 0 && !hasW:
		// The host authenticates the card only.
		out := make([]byte, bs)
		block.Encrypt(out, ch)
		return ok(tlv.Encode(0x7C, tlv.Encode(0x82, out)))
	}
	return status(swIncorrectData)
}

func (c *Card) mgmtTouchPolicy() byte {
	if c.st.mgmt.touch {
		return TouchPolicyAlways
	}
	return TouchPolicyNever
}

// signerOf returns a key usable as a crypto.Signer for attestation.
func signerOf(priv crypto.PrivateKey) (crypto.Signer, bool) {
	s, isSigner := priv.(crypto.Signer)
	if _, x := priv.(*ecdh.PrivateKey); x {
		return nil, false
	}
	return s, isSigner
}

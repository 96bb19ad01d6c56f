package gids

import (
	"crypto/cipher"

	"github.com/cardmod/cardmod/cardsim/internal/tlv"
)

// pinRef reports whether P2 names the user PIN: 80, or 00 (GidsApplet
// accepts both).
func pinRef(p2 byte) bool { return p2 == 0x80 || p2 == 0x00 }

// cmdVerify answers VERIFY (00 20 00 P2). P2 80 verifies the user PIN
// (4 to 16 bytes as sent, no padding); no data asks for the status (9000
// when verified or when the card is blank, 63Cx otherwise). P2 82 is the
// GIDS deauthentication: PIN, admin authentication and security
// environment are all forgotten (OpenSC's gids_logout sends 00 20 00 82).
func (c *Card) cmdVerify(cmd command) reply {
	if cmd.p1 != 0x00 {
		return status(swIncorrectP1P2)
	}
	if cmd.p2 == 0x82 {
		c.sess.deauthenticate()
		return ok(nil)
	}
	if !pinRef(cmd.p2) {
		return status(swRefNotFound)
	}
	p := &c.st.pin
	if p.value == nil {
		if len(cmd.data) == 0 && c.st.life == LifeCycleCreation {
			return ok(nil)
		}
		return status(swRefDataNotUsable)
	}
	if p.left == 0 {
		return status(swAuthBlocked)
	}
	if len(cmd.data) == 0 {
		if c.sess.pinOK {
			return ok(nil)
		}
		return triesLeft(p.left)
	}
	// A PIN of impossible length is refused without spending a try, as
	// GidsApplet does.
	if len(cmd.data) < MinPINLength || len(cmd.data) > MaxPINLength {
		return triesLeft(p.left)
	}
	if !c.checkPIN(cmd.data) {
		return triesLeft(p.left)
	}
	return ok(nil)
}

// checkPIN spends a try, compares in constant time and gives the try back
// on success.
func (c *Card) checkPIN(pin []byte) bool {
	p := &c.st.pin
	p.left--
	if !equalCT(pin, p.value) {
		c.sess.pinOK = false
		return false
	}
	p.left = p.max
	c.sess.pinOK = true
	return true
}

// cmdChangeReference answers CHANGE REFERENCE DATA (00 24 P1 80). P1 01
// sets the PIN from the new value alone: freely in the creation state
// (this is how OpenSC's gids-tool --initialize sets the first PIN), with
// the PIN verified afterwards. P1 00 takes the current PIN followed by
// the new one, unpadded; the card splits them at the current PIN's length
// (as GidsApplet does; GIDS PINs carry no padding).
func (c *Card) cmdChangeReference(cmd command) reply {
	if !pinRef(cmd.p2) {
		return status(swRefNotFound)
	}
	p := &c.st.pin
	switch cmd.p1 {
	case 0x01:
		if !validPINLength(cmd.data) {
			return status(swWrongLength)
		}
		if c.st.life != LifeCycleCreation && !c.sess.pinOK {
			return status(swSecurityStatus)
		}
		p.value = append([]byte(nil), cmd.data...)
		if c.st.life == LifeCycleCreation {
			p.left = p.max
		}
		return ok(nil)
	case 0x00:
		if p.value == nil {
			return status(swRefDataNotUsable)
		}
		if p.left == 0 {
			return status(swAuthBlocked)
		}
		n := min(len(p.value), len(cmd.data))
		if len(cmd.data) < 2*MinPINLength || len(cmd.data) > 2*MaxPINLength {
			return triesLeft(p.left)
		}
		if !c.checkPIN(cmd.data[:n]) || n < len(p.value) {
			return triesLeft(p.left)
		}
		newPIN := cmd.data[n:]
		if !validPINLength(newPIN) {
			return status(swWrongLength)
		}
		p.value = append([]byte(nil), newPIN...)
		return ok(nil)
	}
	return status(swIncorrectP1P2)
}

func validPINLength(pin []byte) bool {
	return len(pin) >= MinPINLength && len(pin) <= MaxPINLength
}

// cmdResetRetryCounter answers RESET RETRY COUNTER (00 2C 02 80 new PIN)
// after admin authentication: the PIN gets the new value and all its
// tries, and the session is deauthenticated (GidsApplet; OpenSC's
// gids-tool --unblock logs out afterwards anyway). GIDS v2 has no PUK, so
// P1 00 and 01 are refused.
func (c *Card) cmdResetRetry(cmd command) reply {
	if c.st.life == LifeCycleCreation {
		return status(swCommandNotAllowed)
	}
	if cmd.p1 != 0x02 {
		return status(swIncorrectP1P2)
	}
	if !pinRef(cmd.p2) {
		return status(swRefNotFound)
	}
	if !c.sess.admin {
		return status(swSecurityStatus)
	}
	if !validPINLength(cmd.data) {
		return status(swWrongLength)
	}
	p := &c.st.pin
	p.value = append([]byte(nil), cmd.data...)
	p.left = p.max
	c.sess.deauthenticate()
	return ok(nil)
}

// cmdMSE answers MANAGE SECURITY ENVIRONMENT. SET with P1 C1 or 81 and P2
// A4 (83 key reference) chooses the admin key for GENERAL AUTHENTICATE;
// SET with P1 41 and P2 B6 (signature), B8 (decipherment) or A4 (key
// agreement) takes 80 algorithm reference and 84 key reference (OpenSC's
// gids_set_security_env sends exactly these two); RESTORE (F3) forgets the
// environment.
func (c *Card) cmdMSE(cmd command) reply {
	list, err := tlv.ParseAllMax(cmd.data, maxObjects)
	if err != nil {
		return status(swIncorrectData)
	}
	switch cmd.p1 {
	case 0xF3:
		c.sess.se = securityEnv{}
		c.sess.authKey, c.sess.authStep = 0, authNone
		return ok(nil)
	case 0xC1, 0x81:
		if cmd.p2 != 0xA4 {
			return status(swIncorrectP1P2)
		}
		ref, found := tlv.Find(list, 0x83)
		if !found || len(ref.Value) != 1 {
			return status(swIncorrectData)
		}
		fid := 0xB000 | uint16(ref.Value[0])
		if c.transportKey(fid) == nil {
			f := c.st.files[fid]
			if f == nil || f.key == nil || f.key.sym == nil {
				return status(swRefNotFound)
			}
			if sw := c.checkFile(f, opMSE); sw != swOK {
				return status(sw)
			}
		}
		c.sess.authKey, c.sess.authStep = fid, authNone
		c.sess.cardChal, c.sess.hostChal = nil, nil
		return ok(nil)
	case 0x41:
		if cmd.p2 != 0xB6 && cmd.p2 != 0xB8 && cmd.p2 != 0xA4 {
			return status(swIncorrectP1P2)
		}
		alg, okAlg := tlv.Find(list, 0x80)
		ref, okRef := tlv.Find(list, 0x84)
		if !okAlg || !okRef || len(alg.Value) != 1 || len(ref.Value) != 1 {
			return status(swIncorrectData)
		}
		f := c.st.files[0xB000|uint16(ref.Value[0])]
		if f == nil || f.key == nil || f.key.sym != nil {
			return status(swRefNotFound)
		}
		if !f.allows(cmd.p2, alg.Value[0]) || !f.key.supports(cmd.p2, alg.Value[0]) {
			return status(swIncorrectData)
		}
		if sw := c.checkFile(f, opMSE); sw != swOK {
			return status(sw)
		}
		c.sess.se = securityEnv{set: true, tmpl: cmd.p2, alg: alg.Value[0], key: ref.Value[0]}
		return ok(nil)
	}
	return status(swIncorrectP1P2)
}

// allows reports whether the key file's CRTs permit the template and
// algorithm reference; a key file created without CRTs permits every
// usage its key supports.
func (f *file) allows(tmpl, alg byte) bool {
	if len(f.crts) == 0 {
		return true
	}
	for _, t := range f.crts {
		if t.tmpl == tmpl && t.alg == alg {
			return true
		}
	}
	return false
}

// cmdGeneralAuthenticate answers GENERAL AUTHENTICATE (00 87 00 00 7C
// {...}): the admin authentication (81 challenge request, then 82
// response) and ECDH (85 the other party's public point).
func (c *Card) cmdGeneralAuthenticate(cmd command) reply {
	if cmd.p1 != 0 || cmd.p2 != 0 {
		return status(swIncorrectP1P2)
	}
	outer, rest, err := tlv.Parse(cmd.data)
	if err != nil || len(rest) != 0 || outer.Tag != 0x7C {
		return status(swIncorrectData)
	}
	list, err := tlv.ParseAllMax(outer.Value, maxObjects)
	if err != nil {
		return status(swIncorrectData)
	}
	if point, found := tlv.Find(list, 0x85); found {
		return c.ecdh(point.Value)
	}
	if chal, found := tlv.Find(list, 0x81); found {
		return c.adminChallenge(chal.Value)
	}
	if resp, found := tlv.Find(list, 0x82); found {
		return c.adminResponse(resp.Value)
	}
	return status(swIncorrectData)
}

// adminChallenge starts an admin authentication (GIDS v2.0 section 9.3).
// A 16-byte host challenge R1 asks for mutual authentication: the card
// answers 7C 12 81 10 R2 with its own 16-byte challenge. An empty 81 asks
// for external authentication: the card answers one block of challenge.
func (c *Card) adminChallenge(hostChal []byte) reply {
	key := c.adminKey()
	if key == nil {
		return status(swConditionsNotMet)
	}
	c.sess.admin = false
	bs := key.sym.BlockSize()
	var n int
	switch len(hostChal) {
	case 16:
		n = 16
		c.sess.authStep = authMutualChallenge
		c.sess.hostChal = append([]byte(nil), hostChal...)
	case 0:
		n = bs
		c.sess.authStep = authExternalChallenge
		c.sess.hostChal = nil
	default:
		c.sess.authStep = authNone
		return status(swIncorrectData)
	}
	chal := make([]byte, n)
	if err := c.readRand(chal); err != nil {
		c.sess.authStep = authNone
		return status(swUnknown)
	}
	c.sess.cardChal = chal
	return ok(tlv.Encode(0x7C, tlv.Encode(0x81, chal)))
}

// adminResponse checks the host's answer. Mutual: 82 carries
// E(R2 || R1 || Z1) in CBC mode with a zero IV, Z1 being one block less
// one byte of host randomness and the padding byte 80 (8 bytes with 3DES:
// OpenSC found by reverse engineering that the inbox minidriver uses CBC
// and an 8-byte Z1, where the GIDS text says ECB and 7 bytes); the card
// answers 82 with E(R1 || R2 || Z2). External: 82 carries E(challenge).
// Any mismatch answers 6982 and the exchange must start again.
func (c *Card) adminResponse(resp []byte) reply {
	key := c.adminKey()
	step := c.sess.authStep
	cardChal, hostChal := c.sess.cardChal, c.sess.hostChal
	c.sess.authStep, c.sess.cardChal, c.sess.hostChal = authNone, nil, nil
	if key == nil || step == authNone {
		return status(swConditionsNotMet)
	}
	bs := key.sym.BlockSize()
	if len(resp) == 0 || len(resp)%bs != 0 || len(resp) > 64 {
		return status(swSecurityStatus)
	}
	plain := make([]byte, len(resp))
	cipher.NewCBCDecrypter(key.sym, make([]byte, bs)).CryptBlocks(plain, resp)
	switch step {
	case authExternalChallenge:
		if len(plain) != len(cardChal) || !equalCT(plain, cardChal) {
			return status(swSecurityStatus)
		}
		c.sess.admin = true
		return ok(nil)
	case authMutualChallenge:
		if len(plain) != 32+bs || !equalCT(plain[:16], cardChal) || !equalCT(plain[16:32], hostChal) || plain[len(plain)-1] != 0x80 {
			return status(swSecurityStatus)
		}
		out := make([]byte, 32+bs)
		copy(out, hostChal)
		copy(out[16:], cardChal)
		if err := c.readRand(out[32 : 32+bs-1]); err != nil {
			return status(swUnknown)
		}
		out[len(out)-1] = 0x80
		cipher.NewCBCEncrypter(key.sym, make([]byte, bs)).CryptBlocks(out, out)
		c.sess.admin = true
		return ok(tlv.Encode(0x7C, tlv.Encode(0x82, out)))
	}
	return status(swConditionsNotMet)
}

// adminKey is the symmetric key MSE chose, if it is still there.
func (c *Card) adminKey() *cardKey {
	if c.sess.authKey == 0 {
		return nil
	}
	if k := c.transportKey(c.sess.authKey); k != nil {
		return k
	}
	f := c.st.files[c.sess.authKey]
	if f == nil || f.key == nil || f.key.sym == nil {
		return nil
	}
	return f.key
}

// ecdh runs the key agreement of the environment set with MSE SET 41 A4
// (or B8) on an EC key: the data is the other party's uncompressed point
// (04 X Y); the answer is 7C { 82 shared secret X coordinate }. The GIDS
// text leaves the response tag open; 82 is the dynamic authentication
// response of ISO/IEC 7816-4 table 136, as PIV answers ECDH.
func (c *Card) ecdh(point []byte) reply {
	k, sw := c.envKey(0xA4, 0xB8)
	if sw != swOK {
		return status(sw)
	}
	priv, okEC := k.ecdhKey()
	if !okEC {
		return status(swConditionsNotMet)
	}
	pub, err := priv.Curve().NewPublicKey(point)
	if err != nil {
		return status(swIncorrectData)
	}
	secret, err := priv.ECDH(pub)
	if err != nil {
		return status(swIncorrectData)
	}
	return ok(tlv.Encode(0x7C, tlv.Encode(0x82, secret)))
}

// envKey returns the key of the current security environment when it was
// set for one of tmpls, re-checking the key's MSE condition (the PIN may
// have been dropped since).
func (c *Card) envKey(tmpls ...byte) (*cardKey, uint16) {
	se := c.sess.se
	if !se.set {
		return nil, swConditionsNotMet
	}
	match := false
	for _, t := range tmpls {
		match = match || se.tmpl == t
	}
	if !match {
		return nil, swConditionsNotMet
	}
	f := c.st.files[0xB000|uint16(se.key)]
	if f == nil || f.key == nil {
		return nil, swConditionsNotMet
	}
	if sw := c.checkFile(f, opMSE); sw != swOK {
		return nil, sw
	}
	return f.key, swOK
}

// transportKey is the blank card's admin key when fid is the admin key
// file B080, the application is in the creation state and B080 does not
// exist yet (GidsApplet answers 6986 to GENERAL AUTHENTICATE then; this
// card lets a minidriver authenticate as admin before it initializes the
// card, which is harmless since nothing is protected in that state).
func (c *Card) transportKey(fid uint16) *cardKey {
	if fid != FileAdminKey || c.st.life != LifeCycleCreation || c.st.files[fid] != nil {
		return nil
	}
	return c.st.transport
}

package piv

import "crypto/subtle"

// checkSecret compares a presented value with s the way a card must: the
// retry counter is decremented before the (constant-time) comparison, and
// restored only when the value matched, so that cutting the power at the
// comparison gains an attacker nothing.
func checkSecret(s *secret, presented []byte) bool {
	s.left--
	if len(presented) != len(s.value) || subtle.ConstantTimeCompare(presented, s.value[:]) != 1 {
		return false
	}
	s.left = s.max
	return true
}

// cmdVerify answers VERIFY (SP 800-73-4 part 2, 3.2.1).
//
//	P1 00, P2 80, data: PIN padded with FF to 8 bytes   verify
//	P1 00, P2 80, no data                               status: 9000 or 63Cx
//	P1 FF, P2 80, no data                               reset the verified state
//	P1 00, P2 81, no data                               PUK status (63Cx/6983)
//
// The global PIN (00) does not exist on this card (6A88), nor the YubiKey
// Bio's occ references (96-98, 6A88 as on a non-Bio YubiKey, which
// Yubico's SDKs read as "not supported").
func (c *Card) cmdVerify(cmd command) reply {
	if cmd.p1 != 0x00 && cmd.p1 != 0xFF {
		return status(swIncorrectP1P2)
	}
	switch cmd.p2 {
	case 0x80:
	case 0x81:
		if cmd.p1 != 0x00 {
			return status(swIncorrectP1P2)
		}
		if len(cmd.data) != 0 {
			// The PUK is only presented with CHANGE REFERENCE DATA and
			// RESET RETRY COUNTER.
			return status(swIncorrectData)
		}
		if c.st.puk.blocked() {
			return status(swAuthBlocked)
		}
		return triesLeft(c.st.puk.left)
	default:
		return status(swRefNotFound)
	}
	if cmd.p1 == 0xFF {
		if len(cmd.data) != 0 {
			return status(swIncorrectData)
		}
		c.sess.pinVerified = false
		c.sess.pinFresh = false
		return ok(nil)
	}
	pin := &c.st.pin
	if len(cmd.data) == 0 {
		if c.sess.pinVerified {
			return ok(nil)
		}
		if pin.blocked() {
			return status(swAuthBlocked)
		}
		return triesLeft(pin.left)
	}
	if len(cmd.data) != 8 {
		return status(swIncorrectData)
	}
	if pin.blocked() {
		c.sess.pinVerified, c.sess.pinFresh = false, false
		return status(swAuthBlocked)
	}
	if !checkSecret(pin, cmd.data) {
		c.sess.pinVerified, c.sess.pinFresh = false, false
		return triesLeft(pin.left)
	}
	c.sess.pinVerified, c.sess.pinFresh = true, true
	return ok(nil)
}

// cmdChangeReference answers CHANGE REFERENCE DATA (SP 800-73-4 part 2,
// 3.2.2) for the PIN (80) and the PUK (81): old value then new value, each
// padded to 8 bytes. A new value shorter than 6 bytes is refused (6A80)
// once the old value has matched (so the retry counter is restored).
func (c *Card) cmdChangeReference(cmd command) reply {
	if cmd.p1 != 0x00 {
		return status(swIncorrectP1P2)
	}
	var s *secret
	switch cmd.p2 {
	case 0x80:
		s = &c.st.pin
	case 0x81:
		s = &c.st.puk
	default:
		return status(swRefNotFound)
	}
	if len(cmd.data) != 16 {
		return status(swIncorrectData)
	}
	if s.blocked() {
		return status(swAuthBlocked)
	}
	// The old value is checked first, then the new one: Yubico's SDKs block
	// the PUK by sending empty (all FF) values and expect 63Cx each time.
	if !checkSecret(s, cmd.data[:8]) {
		if cmd.p2 == 0x80 {
			c.sess.pinVerified, c.sess.pinFresh = false, false
		}
		return triesLeft(s.left)
	}
	if !validPaddedPIN(cmd.data[8:]) {
		return status(swIncorrectData)
	}
	copy(s.value[:], cmd.data[8:])
	return ok(nil)
}

// cmdResetRetry answers RESET RETRY COUNTER (SP 800-73-4 part 2, 3.2.3):
// PUK then new PIN; on success the PIN gets the new value and all its tries.
func (c *Card) cmdResetRetry(cmd command) reply {
	if cmd.p1 != 0x00 {
		return status(swIncorrectP1P2)
	}
	if cmd.p2 != 0x80 {
		return status(swRefNotFound)
	}
	if len(cmd.data) != 16 {
		return status(swIncorrectData)
	}
	puk := &c.st.puk
	if puk.blocked() {
		return status(swAuthBlocked)
	}
	if !checkSecret(puk, cmd.data[:8]) {
		return triesLeft(puk.left)
	}
	if !validPaddedPIN(cmd.data[8:]) {
		return status(swIncorrectData)
	}
	copy(c.st.pin.value[:], cmd.data[8:])
	c.st.pin.left = c.st.pin.max
	c.sess.pinVerified, c.sess.pinFresh = false, false
	return ok(nil)
}

// cmdSetPINRetries answers the Yubico SET PIN RETRIES (00 FA pin puk): it
// needs the management key and the PIN, sets both retry counts and resets
// PIN and PUK to their defaults ("Both PIN and PUK will be reset to default
// values when this is executed", Yubico PIV extensions).
func (c *Card) cmdSetPINRetries(cmd command) reply {
	if !c.sess.mgmtAuth || !c.sess.pinVerified {
		return status(swSecurityStatus)
	}
	if cmd.p1 == 0 || cmd.p2 == 0 {
		return status(swIncorrectP1P2)
	}
	if len(cmd.data) != 0 {
		return status(swWrongLength)
	}
	c.st.pin = secret{value: defaultPINPadded, max: int(cmd.p1), left: int(cmd.p1)}
	c.st.puk = secret{value: defaultPUKPadded, max: int(cmd.p2), left: int(cmd.p2)}
	c.sess.pinVerified, c.sess.pinFresh = false, false
	return ok(nil)
}

// cmdReset answers the Yubico RESET (00 FB 00 00), allowed only once both
// PIN and PUK are blocked (6985 otherwise).
func (c *Card) cmdReset(cmd command) reply {
	if cmd.p1 != 0 || cmd.p2 != 0 {
		return status(swIncorrectP1P2)
	}
	if !c.st.pin.blocked() || !c.st.puk.blocked() {
		return status(swConditionsNotMet)
	}
	c.st.factoryReset()
	c.sess = session{selected: true}
	return ok(nil)
}

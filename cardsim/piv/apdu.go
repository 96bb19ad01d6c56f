package piv

// command is a parsed command APDU (ISO/IEC 7816-4 5.1, cases 1 to 4, short
// and extended).
type command struct {
	cla, ins, p1, p2 byte
	data             []byte
	// ne is the maximum number of response bytes the application accepts:
	// Le (00 meaning 256 short or 65536 extended). When the APDU carries no
	// Le field the card answers anyway, as a YubiKey does over T=1, with at
	// most 256 bytes (short) or 65536 bytes (extended) per response.
	ne       int
	hasLe    bool
	extended bool
}

// parseAPDU decodes apdu; ok is false for any length that matches none of
// the ISO 7816-4 cases.
func parseAPDU(apdu []byte) (c command, ok bool) {
	if len(apdu) < 4 {
		return c, false
	}
	c.cla, c.ins, c.p1, c.p2 = apdu[0], apdu[1], apdu[2], apdu[3]
	body := apdu[4:]
	switch {
	case len(body) == 0: // case 1
		c.ne = 256
		return c, true
	case len(body) == 1: // case 2 short
		c.hasLe = true
		c.ne = int(body[0])
		if c.ne == 0 {
			c.ne = 256
		}
		return c, true
	case body[0] != 0: // case 3 or 4 short
		lc := int(body[0])
		switch len(body) {
		case 1 + lc:
			c.data = body[1:]
			c.ne = 256
			return c, true
		case 2 + lc:
			c.data = body[1 : 1+lc]
			c.hasLe = true
			c.ne = int(body[1+lc])
			if c.ne == 0 {
				c.ne = 256
			}
			return c, true
		}
		return c, false
	}
	// Extended length: body[0] == 00.
	c.extended = true
	if len(body) < 3 {
		return c, false
	}
	if len(body) == 3 { // case 2 extended
		c.hasLe = true
		c.ne = int(body[1])<<8 | int(body[2])
		if c.ne == 0 {
			c.ne = 65536
		}
		return c, true
	}
	lc := int(body[1])<<8 | int(body[2])
	if lc == 0 {
		return c, false
	}
	switch len(body) {
	case 3 + lc: // case 3 extended
		c.data = body[3:]
		c.ne = 65536
		return c, true
	case 5 + lc: // case 4 extended
		c.data = body[3 : 3+lc]
		c.hasLe = true
		c.ne = int(body[3+lc])<<8 | int(body[4+lc])
		if c.ne == 0 {
			c.ne = 65536
		}
		return c, true
	}
	return c, false
}

package piv

import "github.com/cardmod/cardmod/scrm"

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

// parseAPDU decodes apdu with scrm.ParseCommand; ok is false for any
// length that matches none of the ISO 7816-4 cases.
func parseAPDU(apdu []byte) (c command, ok bool) {
	sc, err := scrm.ParseCommand(apdu)
	if err != nil {
		return c, false
	}
	c = command{cla: sc.CLA, ins: sc.INS, p1: sc.P1, p2: sc.P2, data: sc.Data, ne: sc.Ne, hasLe: sc.Ne != 0}
	// An extended APDU's first length byte is 00 (a short Lc never is; a
	// short Le of 00 is the whole body).
	c.extended = len(apdu) > 5 && apdu[4] == 0
	if !c.hasLe {
		c.ne = 256
		if c.extended {
			c.ne = 65536
		}
	}
	return c, true
}

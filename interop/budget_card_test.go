package interop

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"

	"github.com/cardmod/cardmod/cardsim"
	"github.com/cardmod/cardmod/scrm"
)

// exchange is one command APDU as the card received it and the size of its
// answer. It holds no command data: only the header, a decoded name (tags
// and references, never PIN, key or plaintext bytes) and the sizes.
type exchange struct {
	CLA, INS, P1, P2 byte
	Sent, Received   int    // bytes of the command and of the answer with SW1 SW2
	SW               uint16 // the answer's status word
	What             string // decoded: "GET DATA 5FC105 (certificate 9A)"
}

// String is one trace line: "GET DATA 5FC105 (certificate 9A) → 9000, 9/1024 B".
func (x exchange) String() string {
	return fmt.Sprintf("%s → %04X (%d/%d B)", x.What, x.SW, x.Sent, x.Received)
}

// shape is what must not differ between two runs of the same operation:
// everything but the answer's size (an ECDSA signature's DER length varies
// by a byte or two with the signature's value), also where a 61xx status
// word tells it (ISO/IEC 7816-4 5.1.3: xx bytes still available). piv-go
// on firmware before 5.3 asks ATTEST for a key's PIN policy, and each
// attestation certificate carries a new ECDSA signature: 61BA one time,
// 61B9 the next. How many GET RESPONSEs follow is still compared.
func (x exchange) shape() string {
	sw := fmt.Sprintf("%04X", x.SW)
	if x.SW>>8 == 0x61 {
		sw = "61xx"
	}
	return fmt.Sprintf("%02X%02X%02X%02X/%d/%s", x.CLA, x.INS, x.P1, x.P2, x.Sent, sw)
}

// countingCard sits between scrm/vpcd and a simulated card and records
// every command APDU the card receives: the counts are the card's, not
// what a client believes it sent. The simulated card behind it can be
// replaced by a copy of a saved state (load), which is how every tool
// session starts from the same card.
//
// countingCard is safe for concurrent use: vpcd calls it from its
// connection's goroutine while the test reads the log.
type countingCard struct {
	decode func(cmd scrm.Command) string

	mu     sync.Mutex
	inner  cardsim.Card
	log    []exchange
	resets int
}

var _ cardsim.Card = (*countingCard)(nil)

func newCountingCard(inner cardsim.Card, decode func(scrm.Command) string) *countingCard {
	return &countingCard{inner: inner, decode: decode}
}

// ATR implements cardsim.Card.
func (c *countingCard) ATR() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.inner.ATR()
}

// Reset implements cardsim.Card (power on, or a reset from pcscd).
func (c *countingCard) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.resets++
	c.inner.Reset()
}

// Transmit implements cardsim.Card.
func (c *countingCard) Transmit(apdu []byte) []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	resp := c.inner.Transmit(apdu)
	x := exchange{Sent: len(apdu), Received: len(resp)}
	if len(resp) >= 2 {
		x.SW = uint16(resp[len(resp)-2])<<8 | uint16(resp[len(resp)-1])
	}
	cmd, err := scrm.ParseCommand(apdu)
	if len(apdu) >= 4 {
		x.CLA, x.INS, x.P1, x.P2 = apdu[0], apdu[1], apdu[2], apdu[3]
	}
	switch {
	case err != nil:
		x.What = fmt.Sprintf("malformed %d-byte command", len(apdu))
	default:
		x.What = c.decode(cmd)
	}
	c.log = append(c.log, x)
	return resp
}

// swap replaces the simulated card (a fresh copy of a saved state). The
// card loses its session state, as after a power cycle; callers swap only
// between tool sessions, when no client holds the card.
func (c *countingCard) swap(inner cardsim.Card) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.inner = inner
}

// take returns the exchanges since the last take and the resets seen, and
// starts a new log.
func (c *countingCard) take() (log []exchange, resets int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	log, resets = c.log, c.resets
	c.log, c.resets = nil, 0
	return log, resets
}

// pivObjectNames names the PIV data objects (SP 800-73-4 part 1, table 3)
// and the Yubico objects (YubiKey PIV technical manual, libykpiv).
var pivObjectNames = pivObjects()

func pivObjects() map[uint32]string {
	m := map[uint32]string{
		0x7E: "Discovery", 0x7F61: "BIT group template",
		0x5FC101: "certificate 9E", 0x5FC102: "CHUID", 0x5FC103: "fingerprints",
		0x5FC105: "certificate 9A", 0x5FC106: "security object", 0x5FC107: "CCC",
		0x5FC108: "facial image", 0x5FC109: "printed information", 0x5FC10A: "certificate 9C",
		0x5FC10B: "certificate 9D", 0x5FC10C: "Key History", 0x5FC121: "iris", 0x5FC122: "SM certificate signer",
		0x5FC123: "pairing code reference", 0x5FFF00: "Yubico admin data", 0x5FFF01: "attestation certificate F9",
		0x5FFF10: "Yubico container map (cmapfile)", 0x5FFF20: "cardmod file store (cardcf)",
	}
	for i := range 20 { // retired key management certificates 82..95
		m[0x5FC10D+uint32(i)] = fmt.Sprintf("certificate %02X", 0x82+i)
	}
	for i := range 5 {
		m[0x5FFF11+uint32(i)] = fmt.Sprintf("Yubico msroots %d", i+1)
	}
	return m
}

func tagValue(b []byte) uint32 {
	var v uint32
	for _, x := range b {
		v = v<<8 | uint32(x)
	}
	return v
}

// pivTag returns the object tag of a GET DATA or PUT DATA field: 5C len
// tag ... (SP 800-73-4 part 2, 3.1.2 and 3.3.1).
func pivTag(data []byte) (uint32, bool) {
	if len(data) < 2 || data[0] != 0x5C || int(data[1]) > len(data)-2 || data[1] == 0 || data[1] > 3 {
		return 0, false
	}
	return tagValue(data[2 : 2+int(data[1])]), true
}

func objectName(tag uint32) string {
	s := fmt.Sprintf("%X", tag)
	if n, ok := pivObjectNames[tag]; ok {
		s += " (" + n + ")"
	}
	return s
}

// pivAlgNames names SP 800-78-4 / Yubico algorithm identifiers.
var pivAlgNames = map[byte]string{
	0x00: "3DES", 0x03: "3DES", 0x08: "AES-128", 0x0A: "AES-192", 0x0C: "AES-256",
	0x06: "RSA-1024", 0x07: "RSA-2048", 0x05: "RSA-3072", 0x16: "RSA-4096",
	0x11: "P-256", 0x14: "P-384", 0xE0: "Ed25519", 0xE1: "X25519",
}

func algName(a byte) string {
	if n, ok := pivAlgNames[a]; ok {
		return n
	}
	return fmt.Sprintf("alg %02X", a)
}

// generalAuthKind tells what a GENERAL AUTHENTICATE does from the tags of
// its dynamic authentication template 7C (SP 800-73-4 part 2, 3.2.4 and
// appendix A): an empty 82 asks for a response (81 challenge: a private
// key operation; 85 exponent: ECDH), and on key 9B an empty 81 asks for a
// challenge, an empty 80 for a witness, 82 carries the host's response.
func generalAuthKind(cmd scrm.Command) string {
	d := cmd.Data
	if len(d) < 2 || d[0] != 0x7C {
		if len(d) > 0 {
			return "(continued)"
		}
		return ""
	}
	// Skip 7C and its length (short or 81/82 long form).
	i := 1
	switch {
	case d[i] < 0x80:
		i++
	case d[i] == 0x81:
		i += 2
	case d[i] == 0x82:
		i += 3
	default:
		return ""
	}
	empty := map[byte]bool{}
	full := map[byte]bool{}
	for n := 0; i+1 < len(d) && n < 4; n++ {
		tag, l := d[i], int(d[i+1])
		i += 2
		switch l {
		case 0x81:
			if i < len(d) {
				l = int(d[i])
				i++
			}
		case 0x82:
			if i+1 < len(d) {
				l = int(d[i])<<8 | int(d[i+1])
				i += 2
			}
		}
		if l == 0 {
			empty[tag] = true
		} else {
			full[tag] = true
		}
		i += l
	}
	switch {
	case cmd.P2 == 0x9B && empty[0x81]:
		return "management key: challenge request"
	case cmd.P2 == 0x9B && empty[0x80]:
		return "management key: witness request"
	case cmd.P2 == 0x9B && full[0x80] && full[0x81]:
		return "management key: decrypted witness and host challenge"
	case cmd.P2 == 0x9B && full[0x82]:
		return "management key: response"
	case full[0x85]:
		return "ECDH"
	case full[0x81] && (cmd.P1 == 0x06 || cmd.P1 == 0x07 || cmd.P1 == 0x05 || cmd.P1 == 0x16):
		return "RSA private key operation"
	case full[0x81]:
		return "sign"
	}
	return ""
}

// decodePIV names a command sent to a PIV application (SP 800-73-4 part 2
// and the Yubico extensions). It reads tags, references and lengths only.
func decodePIV(cmd scrm.Command) string {
	chained := ""
	if cmd.CLA&0x10 != 0 {
		chained = " [chained]"
	}
	switch cmd.INS {
	case 0xA4:
		return fmt.Sprintf("SELECT %s", strings.ToUpper(hex.EncodeToString(cmd.Data)))
	case 0xCB:
		if tag, ok := pivTag(cmd.Data); ok {
			return "GET DATA " + objectName(tag)
		}
		return "GET DATA"
	case 0xDB:
		if tag, ok := pivTag(cmd.Data); ok {
			return fmt.Sprintf("PUT DATA %s%s", objectName(tag), chained)
		}
		return "PUT DATA (continued)" + chained
	case 0x20:
		switch {
		case cmd.P1 == 0xFF:
			return fmt.Sprintf("VERIFY FF %02X (log out)", cmd.P2)
		case len(cmd.Data) == 0:
			return fmt.Sprintf("VERIFY %02X, no data (is the PIN verified?)", cmd.P2)
		}
		return fmt.Sprintf("VERIFY %02X (PIN)", cmd.P2)
	case 0x24:
		return fmt.Sprintf("CHANGE REFERENCE DATA %02X", cmd.P2)
	case 0x2C:
		return "RESET RETRY COUNTER"
	case 0x87:
		kind := generalAuthKind(cmd)
		if kind != "" {
			kind = ", " + kind
		}
		return fmt.Sprintf("GENERAL AUTHENTICATE %s %02X%s%s", algName(cmd.P1), cmd.P2, kind, chained)
	case 0x47:
		alg := ""
		if i := bytes.Index(cmd.Data, []byte{0x80, 0x01}); i >= 0 && i+2 < len(cmd.Data) {
			alg = " " + algName(cmd.Data[i+2])
		}
		return fmt.Sprintf("GENERATE ASYMMETRIC KEY PAIR %02X%s", cmd.P2, alg)
	case 0xC0:
		return "GET RESPONSE"
	case 0xFD:
		return "GET VERSION (Yubico)"
	case 0xF8:
		return "GET SERIAL (Yubico)"
	case 0xF7:
		return fmt.Sprintf("GET METADATA %02X (Yubico)", cmd.P2)
	case 0xFE:
		return fmt.Sprintf("IMPORT KEY %02X (Yubico)", cmd.P2)
	case 0xFF:
		return "SET MANAGEMENT KEY (Yubico)"
	case 0xF9:
		return fmt.Sprintf("ATTEST %02X (Yubico)", cmd.P1)
	case 0xFB:
		return "RESET (Yubico)"
	case 0xF6:
		return fmt.Sprintf("MOVE/DELETE KEY %02X→%02X (Yubico)", cmd.P2, cmd.P1)
	}
	return fmt.Sprintf("INS %02X P1 %02X P2 %02X", cmd.INS, cmd.P1, cmd.P2)
}

// decodeGIDS names a command sent to a GIDS application (GIDS v2.0, part
// 3; ISO/IEC 7816-4 and -8 instructions).
func decodeGIDS(cmd scrm.Command) string {
	chained := ""
	if cmd.CLA&0x10 != 0 {
		chained = " [chained]"
	}
	fid := fmt.Sprintf("%02X%02X", cmd.P1, cmd.P2)
	switch cmd.INS {
	case 0xA4:
		if cmd.P1 == 0x04 {
			return "SELECT " + strings.ToUpper(hex.EncodeToString(cmd.Data))
		}
		return "SELECT FILE " + strings.ToUpper(hex.EncodeToString(cmd.Data))
	case 0xCB:
		if tag, ok := pivTag(cmd.Data); ok {
			return fmt.Sprintf("GET DATA %s/%X%s", fid, tag, gidsName(fid, tag))
		}
		return "GET DATA " + fid
	case 0xDB:
		return "PUT DATA " + fid + chained
	case 0x20:
		switch {
		case cmd.P2 == 0x82:
			return "VERIFY 82 (log out: deauthenticate everything)"
		case len(cmd.Data) == 0:
			return fmt.Sprintf("VERIFY %02X, no data (is the PIN verified?)", cmd.P2)
		}
		return fmt.Sprintf("VERIFY %02X (PIN)", cmd.P2)
	case 0x22:
		return fmt.Sprintf("MANAGE SECURITY ENVIRONMENT %02X %02X", cmd.P1, cmd.P2)
	case 0x2A:
		switch {
		case cmd.P1 == 0x9E && cmd.P2 == 0x9A:
			return "PERFORM SECURITY OPERATION: compute signature" + chained
		case cmd.P1 == 0x80 && cmd.P2 == 0x86:
			return "PERFORM SECURITY OPERATION: decipher" + chained
		}
		return fmt.Sprintf("PERFORM SECURITY OPERATION %02X %02X%s", cmd.P1, cmd.P2, chained)
	case 0x87:
		return "GENERAL AUTHENTICATE" + chained
	case 0x47:
		return "GENERATE ASYMMETRIC KEY PAIR"
	case 0xC0:
		return "GET RESPONSE"
	case 0xE0:
		return "CREATE FILE"
	case 0x44:
		return "ACTIVATE FILE"
	case 0xE4:
		return "DELETE FILE"
	case 0x84:
		return "GET CHALLENGE"
	case 0x24:
		return "CHANGE REFERENCE DATA"
	case 0x2C:
		return "RESET RETRY COUNTER"
	}
	return fmt.Sprintf("INS %02X P1 %02X P2 %02X", cmd.INS, cmd.P1, cmd.P2)
}

// gidsName names the minidriver files GIDS keeps in data objects
// (cardsim/gids: master file DF1F and key map DF20 in A000, cardapps DF21,
// cardcf DF22, cmapfile DF23 in A010, cardid DF20 in A012).
func gidsName(fid string, tag uint32) string {
	switch {
	case fid == "A000" && tag == 0xDF1F:
		return " (master file)"
	case fid == "A000" && tag == 0xDF20:
		return " (key map)"
	case fid == "A010" && tag == 0xDF21:
		return " (cardapps)"
	case fid == "A010" && tag == 0xDF22:
		return " (cardcf)"
	case fid == "A010" && tag == 0xDF23:
		return " (cmapfile)"
	case fid == "A012" && tag == 0xDF20:
		return " (cardid)"
	case fid == "2F01":
		return " (EF.ATR)"
	}
	return ""
}

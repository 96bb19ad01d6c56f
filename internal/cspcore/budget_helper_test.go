package cspcore_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cardmod/cardmod/cardsim"
	simpiv "github.com/cardmod/cardmod/cardsim/piv"
	"github.com/cardmod/cardmod/internal/bertlv"
	"github.com/cardmod/cardmod/minidriver/piv"
)

// The helpers of the warm-operation budgets (budget_test.go): a card that
// logs what it receives, and a PIV card provisioned the way piv-go or
// yubico-piv-tool leave one (keys and certificates, neither container map
// nor cardcf), by raw APDUs sent to the simulated card as another
// application would.

// logCard records every command APDU a simulated card receives: its
// header, the sizes of the command and the answer, and for GET DATA and
// PUT DATA the data object's tag. It holds no other command data.
type logCard struct {
	cardsim.Card
	mu  sync.Mutex
	log []apduLog
}

type apduLog struct {
	CLA, INS, P1, P2 byte
	Object           string // GET DATA, PUT DATA: the tag list's tag, in hex
	Sent, Received   int
	SW               uint16
}

func (a apduLog) String() string {
	what := fmt.Sprintf("%02X%02X", a.P1, a.P2)
	if a.Object != "" {
		what = a.Object
	}
	return fmt.Sprintf("%s %s → %04X (%d/%d B)", insName(a.INS), what, a.SW, a.Sent, a.Received)
}

// dataObject returns the tag of the tag list (5C) that opens a GET DATA or
// PUT DATA command's data field (SP 800-73-4 part 2, 3.1.2 and 3.3.1),
// short or extended Lc; "" when there is none.
func dataObject(apdu []byte) string {
	if len(apdu) < 6 || (apdu[1] != 0xCB && apdu[1] != 0xDB) {
		return ""
	}
	data := apdu[5:]
	if apdu[4] == 0 && len(apdu) >= 7 { // extended Lc
		data = apdu[7:]
	}
	if len(data) < 3 || data[0] != 0x5C || data[1] == 0 || data[1] > 3 || len(data) < 2+int(data[1]) {
		return ""
	}
	return fmt.Sprintf("%X", data[2:2+data[1]])
}

func insName(ins byte) string {
	switch ins {
	case 0xA4:
		return "SELECT"
	case 0xCB:
		return "GET DATA"
	case 0xDB:
		return "PUT DATA"
	case 0x20:
		return "VERIFY"
	case 0x87:
		return "GENERAL AUTHENTICATE"
	case 0xF7:
		return "GET METADATA"
	case 0x22:
		return "MSE"
	case 0x2A:
		return "PSO"
	case 0xC0:
		return "GET RESPONSE"
	}
	return fmt.Sprintf("INS %02X", ins)
}

// Transmit implements cardsim.Card.
func (c *logCard) Transmit(apdu []byte) []byte {
	rsp := c.Card.Transmit(apdu)
	x := apduLog{Sent: len(apdu), Received: len(rsp), Object: dataObject(apdu)}
	if len(apdu) >= 4 {
		x.CLA, x.INS, x.P1, x.P2 = apdu[0], apdu[1], apdu[2], apdu[3]
	}
	if len(rsp) >= 2 {
		x.SW = uint16(rsp[len(rsp)-2])<<8 | uint16(rsp[len(rsp)-1])
	}
	c.mu.Lock()
	c.log = append(c.log, x)
	c.mu.Unlock()
	return rsp
}

// take returns what the card received since the last take.
func (c *logCard) take() []apduLog {
	c.mu.Lock()
	defer c.mu.Unlock()
	l := c.log
	c.log = nil
	return l
}

func traceOf(l []apduLog) string {
	var sb strings.Builder
	for i, x := range l {
		fmt.Fprintf(&sb, "\n  %d. %s", i+1, x)
	}
	return sb.String()
}

// commands counts the commands of l, leaving out the chained parts
// before the last (CLA bit 10, ISO/IEC 7816-4 5.3.3) and GET RESPONSE
// rounds (5.3.4): what a card without extended lengths splits one command
// into.
func commands(l []apduLog) int {
	n := 0
	for _, x := range l {
		if x.CLA&0x10 == 0 && x.INS != 0xC0 {
			n++
		}
	}
	return n
}

func bytesOf(l []apduLog) (sent, received int) {
	for _, x := range l {
		sent += x.Sent
		received += x.Received
	}
	return sent, received
}

// rawPIV talks to a simulated PIV card directly, as another application
// does between cardmod's transactions.
type rawPIV struct {
	t    testing.TB
	card cardsim.Card
}

// do sends one command (chained in 255-byte parts, ISO/IEC 7816-4 5.3.3)
// and collects the answer (61xx GET RESPONSE, 5.3.4).
func (r rawPIV) do(ins, p1, p2 byte, data []byte) ([]byte, uint16) {
	for len(data) > 255 {
		apdu := append([]byte{0x10, ins, p1, p2, 255}, data[:255]...)
		rsp := r.card.Transmit(apdu)
		require.True(r.t, len(rsp) == 2 && rsp[0] == 0x90, "chained part: % X", rsp)
		data = data[255:]
	}
	apdu := []byte{0x00, ins, p1, p2}
	if len(data) > 0 {
		apdu = append(append(apdu, byte(len(data))), data...)
	}
	apdu = append(apdu, 0x00)
	var out []byte
	for {
		rsp := r.card.Transmit(apdu)
		require.GreaterOrEqual(r.t, len(rsp), 2)
		sw := uint16(rsp[len(rsp)-2])<<8 | uint16(rsp[len(rsp)-1])
		out = append(out, rsp[:len(rsp)-2]...)
		if sw>>8 != 0x61 {
			return out, sw
		}
		apdu = []byte{0x00, 0xC0, 0x00, 0x00, byte(sw)}
	}
}

func (r rawPIV) must(ins, p1, p2 byte, data []byte) []byte {
	out, sw := r.do(ins, p1, p2, data)
	require.Equal(r.t, uint16(0x9000), sw, "INS %02X %02X%02X", ins, p1, p2)
	return out
}

// adminSession selects PIV and authenticates the factory 3DES management
// key (SP 800-73-4 part 2, 3.2.4: a challenge 81, the response 82).
func (r rawPIV) adminSession() {
	r.must(0xA4, 0x04, 0x00, simpiv.AID)
	rsp := r.must(0x87, simpiv.AlgTDES, 0x9B, bertlv.Encode(0x7C, bertlv.Encode(0x81, nil)))
	v, err := bertlv.Single(rsp, 0x7C)
	require.NoError(r.t, err)
	ch, err := bertlv.Single(v, 0x81)
	require.NoError(r.t, err)
	resp, err := piv.ManagementKeyResponse(simpiv.DefaultManagementKey, ch)
	require.NoError(r.t, err)
	r.must(0x87, simpiv.AlgTDES, 0x9B, bertlv.Encode(0x7C, bertlv.Encode(0x82, resp)))
}

// generate makes a key in slot (GENERATE ASYMMETRIC KEY PAIR, SP 800-73-4
// part 2, 3.3.2, the slot's default PIN policy) and writes a certificate
// for it, as piv-go's GenerateKey and SetCertificate do; it returns the
// public key.
func (r rawPIV) generate(slot, alg byte) crypto.PublicKey {
	r.adminSession()
	rsp, sw := r.do(0x47, 0x00, slot, bertlv.Encode(0xAC, bertlv.Encode(0x80, []byte{alg})))
	if sw == 0x6A86 {
		return nil // the card has no such slot
	}
	require.Equal(r.t, uint16(0x9000), sw, "generate %02X", slot)
	v, err := bertlv.Single(rsp, 0x7F49)
	require.NoError(r.t, err)
	var pub crypto.PublicKey
	if alg == simpiv.AlgRSA2048 {
		n, ok := bertlv.Find(v, 0x81)
		require.True(r.t, ok)
		e, ok := bertlv.Find(v, 0x82)
		require.True(r.t, ok)
		pub = &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
	} else {
		pt, ok := bertlv.Find(v, 0x86)
		require.True(r.t, ok)
		k, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), pt)
		require.NoError(r.t, err)
		pub = k
	}
	r.putCert(slot, pub)
	return pub
}

// certTags are the certificate objects of the key slots (SP 800-73-4
// part 1, table 3).
var certTags = map[byte]uint32{0x9A: 0x5FC105, 0x9C: 0x5FC10A, 0x9D: 0x5FC10B, 0x9E: 0x5FC101, 0x82: 0x5FC10D, 0x95: 0x5FC120}

func (r rawPIV) putCert(slot byte, pub crypto.PublicKey) {
	ca, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(r.t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(int64(slot)), Subject: pkix.Name{CommonName: fmt.Sprintf("peer %02x", slot)},
		NotBefore: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), NotAfter: time.Date(2036, 1, 1, 0, 0, 0, 0, time.UTC)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, ca)
	require.NoError(r.t, err)
	tag := certTags[slot]
	obj := append(append(bertlv.Encode(0x70, der), bertlv.Encode(0x71, []byte{0})...), bertlv.Encode(0xFE, nil)...)
	data := append(bertlv.Encode(0x5C, []byte{byte(tag >> 16), byte(tag >> 8), byte(tag)}), bertlv.Encode(0x53, obj)...)
	r.must(0xDB, 0x3F, 0xFF, data)
}

package piv_test

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"encoding/hex"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/cardmod/cardmod/cardsim/piv"
)

// seededRand returns a deterministic random source for a card.
func seededRand(seed uint64) *rand.ChaCha8 {
	var s [32]byte
	s[0] = byte(seed)
	s[1] = byte(seed >> 8)
	return rand.NewChaCha8(s)
}

// tcard drives a card in tests.
type tcard struct {
	t testing.TB
	c *piv.Card
}

// newCard makes a card with deterministic randomness unless cfg has some.
func newCard(t testing.TB, cfg piv.Config) *tcard {
	t.Helper()
	if cfg.Rand == nil {
		cfg.Rand = seededRand(1)
	}
	c, err := piv.New(cfg)
	if err != nil {
		t.Fatalf("piv.New: %v", err)
	}
	return &tcard{t: t, c: c}
}

// selected returns a fresh card with the PIV application selected.
func selected(t testing.TB, cfg piv.Config) *tcard {
	t.Helper()
	tc := newCard(t, cfg)
	tc.mustOK(0xA4, 0x04, 0x00, piv.AID[:5])
	return tc
}

// h decodes hex with spaces.
func h(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(err)
	}
	return b
}

// raw sends one APDU and splits the answer.
func (tc *tcard) raw(apdu []byte) ([]byte, uint16) {
	tc.t.Helper()
	r := tc.c.Transmit(apdu)
	if len(r) < 2 {
		tc.t.Fatalf("answer shorter than a status word: %x", r)
	}
	return r[:len(r)-2], uint16(r[len(r)-2])<<8 | uint16(r[len(r)-1])
}

// short builds a short APDU: case 1 when data is empty and no Le, case 3
// otherwise (no Le, as piv-go and yubico-piv-tool send).
func short(cla, ins, p1, p2 byte, data []byte) []byte {
	if len(data) == 0 {
		return []byte{cla, ins, p1, p2}
	}
	out := []byte{cla, ins, p1, p2, byte(len(data))}
	return append(out, data...)
}

// exchange sends a command the way host libraries do: chained in 255-byte
// pieces, then GET RESPONSE while the card answers 61xx.
func (tc *tcard) exchange(ins, p1, p2 byte, data []byte) ([]byte, uint16) {
	tc.t.Helper()
	for len(data) > 255 {
		_, sw := tc.raw(short(0x10, ins, p1, p2, data[:255]))
		if sw != 0x9000 {
			return nil, sw
		}
		data = data[255:]
	}
	resp, sw := tc.raw(short(0x00, ins, p1, p2, data))
	for sw>>8 == 0x61 {
		var more []byte
		more, sw = tc.raw([]byte{0x00, 0xC0, 0x00, 0x00, sw2le(sw)})
		resp = append(resp, more...)
	}
	return resp, sw
}

func sw2le(sw uint16) byte { return byte(sw) }

func (tc *tcard) mustOK(ins, p1, p2 byte, data []byte) []byte {
	tc.t.Helper()
	resp, sw := tc.exchange(ins, p1, p2, data)
	if sw != 0x9000 {
		tc.t.Fatalf("INS %02X P1 %02X P2 %02X: SW %04X, want 9000", ins, p1, p2, sw)
	}
	return resp
}

func (tc *tcard) wantSW(want uint16, ins, p1, p2 byte, data []byte) []byte {
	tc.t.Helper()
	resp, sw := tc.exchange(ins, p1, p2, data)
	if sw != want {
		tc.t.Fatalf("INS %02X P1 %02X P2 %02X: SW %04X, want %04X", ins, p1, p2, sw, want)
	}
	return resp
}

func padPIN(pin string) []byte {
	b := bytes.Repeat([]byte{0xFF}, 8)
	copy(b, pin)
	return b
}

func (tc *tcard) verifyPIN(pin string) uint16 {
	tc.t.Helper()
	_, sw := tc.exchange(0x20, 0x00, 0x80, padPIN(pin))
	return sw
}

// tlvs parses simple BER-TLV for assertions.
func tlvs(t testing.TB, b []byte) map[uint32][]byte {
	t.Helper()
	m := map[uint32][]byte{}
	for len(b) > 0 {
		tag := uint32(b[0])
		i := 1
		if b[0]&0x1F == 0x1F {
			for {
				if i >= len(b) {
					t.Fatalf("bad TLV %x", b)
				}
				tag = tag<<8 | uint32(b[i])
				i++
				if b[i-1]&0x80 == 0 {
					break
				}
			}
		}
		if i >= len(b) {
			t.Fatalf("bad TLV %x", b)
		}
		l := int(b[i])
		i++
		if l > 0x80 {
			n := l & 0x7F
			l = 0
			for j := 0; j < n; j++ {
				l = l<<8 | int(b[i+j])
			}
			i += n
		}
		if i+l > len(b) {
			t.Fatalf("bad TLV length in %x", b)
		}
		m[tag] = b[i : i+l]
		b = b[i+l:]
	}
	return m
}

func tlv(tag uint32, val []byte) []byte {
	var out []byte
	switch {
	case tag > 0xFFFF:
		out = []byte{byte(tag >> 16), byte(tag >> 8), byte(tag)}
	case tag > 0xFF:
		out = []byte{byte(tag >> 8), byte(tag)}
	default:
		out = []byte{byte(tag)}
	}
	n := len(val)
	switch {
	case n < 0x80:
		out = append(out, byte(n))
	case n < 0x100:
		out = append(out, 0x81, byte(n))
	default:
		out = append(out, 0x82, byte(n>>8), byte(n))
	}
	return append(out, val...)
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// mgmtBlock returns the management key's cipher.
func mgmtBlock(t testing.TB, alg byte, key []byte) cipher.Block {
	t.Helper()
	var b cipher.Block
	var err error
	if alg == piv.AlgTDES {
		b, err = des.NewTripleDESCipher(key)
	} else {
		b, err = aes.NewCipher(key)
	}
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// mgmtAlg reads the management key algorithm as piv-go does: GET METADATA
// 9B and the byte at offset 2.
func (tc *tcard) mgmtAlg() byte {
	tc.t.Helper()
	resp, sw := tc.exchange(0xF7, 0x00, 0x9B, nil)
	if sw == 0x6D00 { // before 5.3: 3DES, as piv-go assumes
		return piv.AlgTDES
	}
	if sw != 0x9000 {
		tc.t.Fatalf("GET METADATA 9B: %04X", sw)
	}
	return resp[2]
}

// authMgmt runs mutual authentication with the management key.
func (tc *tcard) authMgmt(key []byte) uint16 {
	tc.t.Helper()
	alg := tc.mgmtAlg()
	block := mgmtBlock(tc.t, alg, key)
	bs := block.BlockSize()
	resp, sw := tc.exchange(0x87, alg, 0x9B, h("7C 02 80 00"))
	if sw != 0x9000 {
		return sw
	}
	w := tlvs(tc.t, tlvs(tc.t, resp)[0x7C])[0x80]
	if len(w) != bs {
		tc.t.Fatalf("witness of %d bytes, want %d", len(w), bs)
	}
	dec := make([]byte, bs)
	block.Decrypt(dec, w)
	chal := bytes.Repeat([]byte{0x5A}, bs)
	resp, sw = tc.exchange(0x87, alg, 0x9B, tlv(0x7C, cat(tlv(0x80, dec), tlv(0x81, chal))))
	if sw != 0x9000 {
		return sw
	}
	got := tlvs(tc.t, tlvs(tc.t, resp)[0x7C])[0x82]
	want := make([]byte, bs)
	block.Encrypt(want, chal)
	if !bytes.Equal(got, want) {
		tc.t.Fatalf("card answered the challenge with %x, want %x", got, want)
	}
	return sw
}

func (tc *tcard) mustAuth() {
	tc.t.Helper()
	if sw := tc.authMgmt(piv.DefaultManagementKey); sw != 0x9000 {
		tc.t.Fatalf("management key authentication: %04X", sw)
	}
}

// generate makes a key in slot and returns the 7F49 contents.
func (tc *tcard) generate(slot, alg byte, extra ...byte) map[uint32][]byte {
	tc.t.Helper()
	tmpl := cat(tlv(0x80, []byte{alg}), extra)
	resp := tc.mustOK(0x47, 0x00, slot, tlv(0xAC, tmpl))
	return tlvs(tc.t, tlvs(tc.t, resp)[0x7F49])
}

// sign runs GENERAL AUTHENTICATE with a challenge (81) and returns 82.
func (tc *tcard) sign(alg, slot byte, in []byte) ([]byte, uint16) {
	tc.t.Helper()
	return tc.genAuth(alg, slot, 0x81, in)
}

func (tc *tcard) genAuth(alg, slot byte, tag uint32, in []byte) ([]byte, uint16) {
	tc.t.Helper()
	resp, sw := tc.exchange(0x87, alg, slot, tlv(0x7C, cat(tlv(0x82, nil), tlv(tag, in))))
	if sw != 0x9000 {
		return nil, sw
	}
	return tlvs(tc.t, tlvs(tc.t, resp)[0x7C])[0x82], sw
}

func (tc *tcard) getData(tag []byte) ([]byte, uint16) {
	tc.t.Helper()
	return tc.exchange(0xCB, 0x3F, 0xFF, tlv(0x5C, tag))
}

func (tc *tcard) putData(tag, value []byte) uint16 {
	tc.t.Helper()
	_, sw := tc.exchange(0xDB, 0x3F, 0xFF, cat(tlv(0x5C, tag), tlv(0x53, value)))
	return sw
}

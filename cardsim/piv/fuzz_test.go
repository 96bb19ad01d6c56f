package piv_test

import (
	"bytes"
	"testing"

	"github.com/cardmod/cardmod/cardsim/piv"
)

// splitAPDUs cuts fuzz input into APDUs: each is a length byte then that
// many bytes (the last one takes what is left).
func splitAPDUs(data []byte) [][]byte {
	var out [][]byte
	for len(data) > 0 && len(out) < 64 {
		n := int(data[0])
		data = data[1:]
		if n > len(data) {
			n = len(data)
		}
		out = append(out, data[:n])
		data = data[n:]
	}
	return out
}

func joinAPDUs(apdus ...[]byte) []byte {
	var out []byte
	for _, a := range apdus {
		out = append(out, byte(len(a)))
		out = append(out, a...)
	}
	return out
}

// fuzzSeeds covers each instruction, in and out of the happy path.
func fuzzSeeds() [][]byte {
	sel := h("00 A4 04 00 05 A0 00 00 03 08")
	return [][]byte{
		joinAPDUs(sel, h("00 CB 3F FF 03 5C 01 7E 08"), h("00 C0 00 00 00")),
		joinAPDUs(sel, h("00 CB 3F FF 05 5C 03 5F FF 01"), h("00 C0 00 00 00"), h("00 C0 00 00 10")),
		joinAPDUs(sel, h("00 DB 3F FF 09 5C 03 5F C1 02 53 02 01 02")),
		joinAPDUs(sel, h("10 DB 3F FF 05 5C 03 5F C1 02"), h("00 DB 3F FF 04 53 02 01 02")),
		joinAPDUs(sel, h("00 20 00 80 08 31 32 33 34 35 36 FF FF"), h("00 20 00 80"), h("00 20 FF 80")),
		joinAPDUs(sel, h("00 24 00 80 10 31 32 33 34 35 36 FF FF 31 32 33 34 35 36 37 FF")),
		joinAPDUs(sel, h("00 2C 00 80 10 31 32 33 34 35 36 37 38 31 32 33 34 35 36 37 FF")),
		joinAPDUs(sel, h("00 87 0A 9B 04 7C 02 80 00"), h("00 87 0A 9B 04 7C 02 81 00"), h("00 87 0A 9B 12 7C 10 82 10 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00")),
		joinAPDUs(sel, h("00 47 00 9A 05 AC 03 80 01 11"), h("00 87 11 9A 08 7C 06 82 00 81 02 01 02")),
		joinAPDUs(sel, h("00 47 00 9E 05 AC 03 80 01 E1"), h("00 87 E1 9E 26 7C 24 82 00 85 20 09 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00")),
		joinAPDUs(sel, h("00 FD 00 00 00"), h("00 F8 00 00 00"), h("00 F7 00 9B 00"), h("00 F7 00 80"), h("00 F7 00 F9")),
		joinAPDUs(sel, h("00 FE 11 9A 22 06 20 01 01 01 01 01 01 01 01 01 01 01 01 01 01 01 01 01 01 01 01 01 01 01 01 01 01 01 01 01 01 01 01")),
		joinAPDUs(sel, h("00 FF FF FF 1B 0A 9B 18 01 02 03 04 05 06 07 08 01 02 03 04 05 06 07 08 01 02 03 04 05 06 07 08")),
		joinAPDUs(sel, h("00 FB 00 00"), h("00 FA 05 05"), h("00 F9 9A 00"), h("00 F6 82 9A"), h("00 F6 FF 9A")),
		joinAPDUs(sel, h("00 CB 3F FF 00 00 05 5C 03 5F FF 01 00 00"), h("80 CB 3F FF")),
		joinAPDUs(h("00 CB 3F FF 03 5C 01 7E"), h("00 A4 04 00 02 D2 76")),
	}
}

// FuzzTransmit sends random APDU sequences to a fresh card. Odd first bytes
// start from an authenticated session with the PIN verified, so that the
// fuzzer reaches the protected commands. Transmit must never panic and
// always answer at least a status word; 6F00 (a recovered panic or an
// internal failure) must not occur.
func FuzzTransmit(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add(byte(0), s)
		f.Add(byte(1), s)
	}
	piv.SetDebugPanics(true)
	f.Fuzz(func(t *testing.T, mode byte, data []byte) {
		tc := newCard(t, piv.Config{Rand: seededRand(5)})
		if mode&1 == 1 {
			tc.mustOK(0xA4, 0x04, 0x00, piv.AID)
			tc.mustAuth()
			tc.verifyPIN(piv.DefaultPIN)
		}
		for _, apdu := range splitAPDUs(data) {
			// Keep the fuzzer off the slow RSA key generation.
			if len(apdu) >= 10 && apdu[1] == 0x47 && (bytes.Contains(apdu, []byte{0x80, 0x01, 0x05}) || bytes.Contains(apdu, []byte{0x80, 0x01, 0x16}) || bytes.Contains(apdu, []byte{0x80, 0x01, 0x07})) {
				continue
			}
			r := tc.c.Transmit(apdu)
			if len(r) < 2 {
				t.Fatalf("%x: answer %x", apdu, r)
			}
			if sw := uint16(r[len(r)-2])<<8 | uint16(r[len(r)-1]); sw == 0x6F00 {
				t.Fatalf("%x: 6F00", apdu)
			}
		}
	})
}

// FuzzLoad feeds arbitrary documents to the state loader: it must fail
// cleanly or give a card whose state saves back to a loadable document.
func FuzzLoad(f *testing.F) {
	tc := selected(f, piv.Config{})
	tc.mustAuth()
	tc.generate(0x9A, piv.AlgECCP256)
	tc.generate(0x9D, piv.AlgX25519)
	tc.putData(h("5FC102"), h("01 02 03"))
	var buf bytes.Buffer
	tc.c.Save(&buf)
	f.Add(buf.Bytes())
	f.Add([]byte(`{"version":1}`))
	f.Add([]byte(`{"version":2}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := piv.Load(bytes.NewReader(data), piv.Config{})
		if err != nil {
			return
		}
		var out bytes.Buffer
		if err := c.Save(&out); err != nil {
			t.Fatalf("loaded state does not save: %v", err)
		}
		if _, err := piv.Load(&out, piv.Config{}); err != nil {
			t.Fatalf("saved state does not load: %v", err)
		}
		c.Transmit(h("00 A4 04 00 05 A0 00 00 03 08"))
		c.Transmit(h("00 F7 00 9A"))
	})
}

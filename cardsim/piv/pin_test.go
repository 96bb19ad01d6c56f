package piv_test

import (
	"testing"

	"github.com/cardmod/cardmod/cardsim/piv"
)

func TestVerify(t *testing.T) {
	tc := selected(t, piv.Config{})
	tc.wantSW(0x63C3, 0x20, 0x00, 0x80, nil) // status query, not verified
	if sw := tc.verifyPIN("654321"); sw != 0x63C2 {
		t.Fatalf("wrong PIN: %04X", sw)
	}
	tc.wantSW(0x63C2, 0x20, 0x00, 0x80, nil)
	if sw := tc.verifyPIN(piv.DefaultPIN); sw != 0x9000 {
		t.Fatalf("right PIN: %04X", sw)
	}
	// Success restores the counter; the status query says verified.
	tc.wantSW(0x9000, 0x20, 0x00, 0x80, nil)
	tc.mustOK(0xF7, 0x00, 0x80, nil)
	if m := tlvs(t, tc.mustOK(0xF7, 0x00, 0x80, nil)); m[0x06][1] != 3 {
		t.Fatalf("retries after success: %x", m[0x06])
	}
	// P1 FF resets the verified state.
	tc.mustOK(0x20, 0xFF, 0x80, nil)
	tc.wantSW(0x63C3, 0x20, 0x00, 0x80, nil)
	// A wrong PIN also clears it.
	tc.verifyPIN(piv.DefaultPIN)
	tc.verifyPIN("000000")
	tc.wantSW(0x63C2, 0x20, 0x00, 0x80, nil)

	// Wrong length, wrong references, wrong P1.
	tc.wantSW(0x6A80, 0x20, 0x00, 0x80, []byte("123456"))
	tc.wantSW(0x6A80, 0x20, 0x00, 0x80, padPIN("123456")[:7])
	tc.wantSW(0x6A88, 0x20, 0x00, 0x00, padPIN("123456")) // no global PIN
	tc.wantSW(0x6A88, 0x20, 0x00, 0x96, nil)              // no biometrics
	tc.wantSW(0x6A86, 0x20, 0x01, 0x80, nil)
	tc.wantSW(0x6A80, 0x20, 0xFF, 0x80, padPIN("123456"))
	// PUK status.
	tc.wantSW(0x63C3, 0x20, 0x00, 0x81, nil)
	tc.wantSW(0x6A80, 0x20, 0x00, 0x81, padPIN(piv.DefaultPUK))
}

func TestVerifyBlocks(t *testing.T) {
	tc := selected(t, piv.Config{})
	for _, want := range []uint16{0x63C2, 0x63C1, 0x63C0} {
		if sw := tc.verifyPIN("999999"); sw != want {
			t.Fatalf("wrong PIN: %04X, want %04X", sw, want)
		}
	}
	if sw := tc.verifyPIN(piv.DefaultPIN); sw != 0x6983 {
		t.Fatalf("blocked, right PIN: %04X", sw)
	}
	tc.wantSW(0x6983, 0x20, 0x00, 0x80, nil)
	// The padding-only "empty" PIN that Yubico's SDKs use to block counts as
	// a wrong PIN too.
	tc2 := selected(t, piv.Config{PINRetries: 5})
	for want := uint16(0x63C4); want >= 0x63C0; want-- {
		if _, sw := tc2.exchange(0x20, 0x00, 0x80, padPIN("")); sw != want {
			t.Fatalf("empty PIN: %04X, want %04X", sw, want)
		}
	}
}

func TestRetryCounterDecrementedFirst(t *testing.T) {
	// The counter moves before the comparison: a card reset right after a
	// wrong PIN keeps the decrement, and the state survives Reset.
	tc := selected(t, piv.Config{})
	tc.verifyPIN("111111")
	tc.c.Reset()
	tc.mustOK(0xA4, 0x04, 0x00, piv.AID)
	tc.wantSW(0x63C2, 0x20, 0x00, 0x80, nil)
}

func TestConfigSecrets(t *testing.T) {
	tc := selected(t, piv.Config{PIN: "87654321", PUK: "abcdefgh", PINRetries: 5, PUKRetries: 10})
	tc.wantSW(0x63C5, 0x20, 0x00, 0x80, nil)
	tc.wantSW(0x63CA, 0x20, 0x00, 0x81, nil)
	if sw := tc.verifyPIN(piv.DefaultPIN); sw != 0x63C4 {
		t.Fatal(sw)
	}
	if sw := tc.verifyPIN("87654321"); sw != 0x9000 {
		t.Fatal(sw)
	}
	m := tlvs(t, tc.mustOK(0xF7, 0x00, 0x80, nil))
	if m[0x05][0] != 0 || m[0x06][0] != 5 || m[0x06][1] != 5 {
		t.Fatalf("metadata %x", m)
	}
	// More than 15 tries left shows as 15.
	big := selected(t, piv.Config{PINRetries: 20})
	big.wantSW(0x63CF, 0x20, 0x00, 0x80, nil)
	for _, cfg := range []piv.Config{{PIN: "12345"}, {PUK: "123456789"}, {PINRetries: 256}, {ManagementKey: []byte{1, 2, 3}}, {ManagementKeyAlgorithm: piv.AlgAES128, Version: piv.Version{5, 2, 7}}} {
		if _, err := piv.New(cfg); err == nil {
			t.Errorf("New(%+v) accepted", cfg)
		}
	}
}

func TestChangeReference(t *testing.T) {
	tc := selected(t, piv.Config{})
	tc.mustOK(0x24, 0x00, 0x80, cat(padPIN(piv.DefaultPIN), padPIN("24681357")))
	if sw := tc.verifyPIN("24681357"); sw != 0x9000 {
		t.Fatalf("new PIN: %04X", sw)
	}
	// Wrong old PIN counts.
	tc.wantSW(0x63C2, 0x24, 0x00, 0x80, cat(padPIN("000000"), padPIN("13572468")))
	// A new PIN shorter than 6 is refused; with the right old PIN it costs
	// no try.
	tc.wantSW(0x6A80, 0x24, 0x00, 0x80, cat(padPIN("24681357"), padPIN("12345")))
	tc.wantSW(0x63C3, 0x20, 0x00, 0x80, nil)
	tc.wantSW(0x63C2, 0x24, 0x00, 0x80, cat(padPIN("000000"), padPIN("13572468")))
	// Bad padding.
	bad := padPIN("1234567")
	bad[7] = '9'
	bad[6] = 0xFF
	tc.wantSW(0x6A80, 0x24, 0x00, 0x80, cat(padPIN("24681357"), bad))
	tc.wantSW(0x6A80, 0x24, 0x00, 0x80, padPIN("24681357"))
	tc.wantSW(0x6A88, 0x24, 0x00, 0x82, cat(padPIN("24681357"), padPIN("123456")))
	tc.wantSW(0x6A86, 0x24, 0x01, 0x80, cat(padPIN("24681357"), padPIN("123456")))
	// The PUK.
	tc.mustOK(0x24, 0x00, 0x81, cat(padPIN(piv.DefaultPUK), padPIN("87654321")))
	m := tlvs(t, tc.mustOK(0xF7, 0x00, 0x81, nil))
	if m[0x05][0] != 0 {
		t.Fatal("PUK still reported default")
	}
	for _, want := range []uint16{0x63C2, 0x63C1, 0x63C0, 0x6983} {
		tc.wantSW(want, 0x24, 0x00, 0x81, cat(padPIN("11111111"), padPIN("22222222")))
	}
	tc.wantSW(0x6983, 0x24, 0x00, 0x81, cat(padPIN("87654321"), padPIN("22222222")))
}

func TestResetRetryCounter(t *testing.T) {
	tc := selected(t, piv.Config{})
	for i := 0; i < 3; i++ {
		tc.verifyPIN("000000")
	}
	tc.wantSW(0x6983, 0x20, 0x00, 0x80, nil)
	tc.wantSW(0x63C2, 0x2C, 0x00, 0x80, cat(padPIN("00000000"), padPIN("111111")))
	tc.wantSW(0x63C1, 0x2C, 0x00, 0x80, cat(padPIN("00000000"), padPIN("1"))) // PUK checked first
	tc.wantSW(0x6A80, 0x2C, 0x00, 0x80, cat(padPIN(piv.DefaultPUK), padPIN("111")))
	tc.wantSW(0x63C3, 0x20, 0x00, 0x81, nil) // right PUK, bad new PIN: tries restored
	tc.wantSW(0x6A88, 0x2C, 0x00, 0x81, cat(padPIN(piv.DefaultPUK), padPIN("111111")))
	tc.wantSW(0x6A80, 0x2C, 0x00, 0x80, padPIN(piv.DefaultPUK))
	tc.mustOK(0x2C, 0x00, 0x80, cat(padPIN(piv.DefaultPUK), padPIN("111111")))
	tc.wantSW(0x63C3, 0x20, 0x00, 0x80, nil)
	tc.wantSW(0x63C3, 0x20, 0x00, 0x81, nil)
	if sw := tc.verifyPIN("111111"); sw != 0x9000 {
		t.Fatal(sw)
	}
	// A blocked PUK cannot unblock. Yubico's SDKs block it with all-FF
	// values, expecting 63Cx each time.
	for _, want := range []uint16{0x63C2, 0x63C1, 0x63C0} {
		tc.wantSW(want, 0x2C, 0x00, 0x80, cat(padPIN(""), padPIN("")))
	}
	tc.wantSW(0x6983, 0x2C, 0x00, 0x80, cat(padPIN(piv.DefaultPUK), padPIN("111111")))
}

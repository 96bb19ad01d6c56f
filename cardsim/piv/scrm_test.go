package piv_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"testing"

	"github.com/cardmod/cardmod/cardsim/piv"
	"github.com/cardmod/cardmod/scrm"
	"github.com/cardmod/cardmod/scrm/virtual"
)

// connectVirtual puts card in a virtual reader and connects through scrm,
// the way the rest of cardmod reaches cards.
func connectVirtual(t *testing.T, card *piv.Card) *scrm.Card {
	t.Helper()
	b := virtual.NewBackend()
	b.AddReader("cardmod Virtual Reader 0").Insert(card)
	sc := scrm.NewContext(b)
	t.Cleanup(func() { sc.Release() })
	ctx := context.Background()
	readers, err := sc.ListReaders(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c, err := sc.Connect(ctx, readers[0], nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(scrm.LeaveCard) })
	return c
}

func TestThroughScrm(t *testing.T) {
	card, err := piv.New(piv.Config{Rand: seededRand(11)})
	if err != nil {
		t.Fatal(err)
	}
	c := connectVirtual(t, card)
	ctx := context.Background()
	if !bytes.Equal(c.ATR(), piv.ATRYubiKey5NFC) {
		t.Fatalf("ATR %x", c.ATR())
	}
	do := func(cmd scrm.Command) []byte {
		t.Helper()
		rsp, err := c.Do(ctx, cmd)
		if err != nil {
			t.Fatalf("INS %02X: %v", cmd.INS, err)
		}
		return rsp.Data
	}
	// Before SELECT: not supported.
	if _, err := c.Do(ctx, scrm.Command{INS: 0xFD, Ne: 256}); !errors.Is(err, scrm.ErrUnsupported) {
		t.Fatalf("before SELECT: %v", err)
	}
	do(scrm.Command{INS: 0xA4, P1: 0x04, Data: piv.AID[:5], Ne: 256})

	// A wrong PIN maps to ErrWrongPIN with the tries left.
	_, err = c.Do(ctx, scrm.Command{INS: 0x20, P2: 0x80, Data: padPIN("000000")})
	var se *scrm.StatusError
	if !errors.Is(err, scrm.ErrWrongPIN) || !errors.As(err, &se) {
		t.Fatalf("wrong PIN: %v", err)
	}
	if n, _ := se.RetriesLeft(); n != 2 {
		t.Fatalf("tries left %d", n)
	}
	do(scrm.Command{INS: 0x20, P2: 0x80, Data: padPIN(piv.DefaultPIN)})

	// Management key (AES-192 on 5.7), mutual authentication.
	alg := do(scrm.Command{INS: 0xF7, P2: 0x9B, Ne: 256})[2]
	block := mgmtBlock(t, alg, piv.DefaultManagementKey)
	w := tlvs(t, tlvs(t, do(scrm.Command{INS: 0x87, P1: alg, P2: 0x9B, Data: h("7C 02 80 00"), Ne: 256}))[0x7C])[0x80]
	dec := make([]byte, len(w))
	block.Decrypt(dec, w)
	do(scrm.Command{INS: 0x87, P1: alg, P2: 0x9B, Data: tlv(0x7C, cat(tlv(0x80, dec), tlv(0x81, make([]byte, 16)))), Ne: 256})

	// Generate, sign, attest; a long certificate object through chaining
	// and GET RESPONSE.
	pub := tlvs(t, tlvs(t, do(scrm.Command{INS: 0x47, P2: 0x9A, Data: h("AC 03 80 01 11"), Ne: 256}))[0x7F49])
	digest := sha256.Sum256([]byte("scrm"))
	sig := tlvs(t, tlvs(t, do(scrm.Command{INS: 0x87, P1: 0x11, P2: 0x9A, Data: tlv(0x7C, cat(tlv(0x82, nil), tlv(0x81, digest[:]))), Ne: 256}))[0x7C])[0x82]
	if !ecdsa.VerifyASN1(ecPublic(t, elliptic.P256(), pub[0x86]), digest[:], sig) {
		t.Fatal("signature")
	}
	certDER := do(scrm.Command{INS: 0xF9, P1: 0x9A, Ne: scrm.MaxNe})
	if _, err := x509.ParseCertificate(certDER); err != nil {
		t.Fatal(err)
	}
	obj := cat(tlv(0x70, certDER), tlv(0x71, []byte{0}), tlv(0xFE, nil), bytes.Repeat([]byte{0}, 1200))
	do(scrm.Command{INS: 0xDB, P1: 0x3F, P2: 0xFF, Data: cat(tlv(0x5C, h("5FC105")), tlv(0x53, obj))})
	got := do(scrm.Command{INS: 0xCB, P1: 0x3F, P2: 0xFF, Data: tlv(0x5C, h("5FC105")), Ne: scrm.MaxNe})
	if !bytes.Equal(got, tlv(0x53, obj)) {
		t.Fatalf("object read back: %d bytes", len(got))
	}
	// An absent object is ErrNotFound.
	if _, err := c.Do(ctx, scrm.Command{INS: 0xCB, P1: 0x3F, P2: 0xFF, Data: tlv(0x5C, h("5FC102")), Ne: 256}); !errors.Is(err, scrm.ErrNotFound) {
		t.Fatalf("CHUID: %v", err)
	}
}

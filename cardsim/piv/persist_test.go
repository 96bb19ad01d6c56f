package piv_test

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cardmod/cardmod/cardsim/piv"
)

// populated returns a card with keys of every kind, objects and changed
// secrets.
func populated(t *testing.T) (*tcard, map[byte][]byte) {
	t.Helper()
	tc := selected(t, piv.Config{Serial: 424242})
	tc.mustAuth()
	pubs := map[byte][]byte{
		0x9A: tc.generate(0x9A, piv.AlgECCP256, tlv(0xAA, []byte{piv.PINPolicyNever})...)[0x86],
		0x9C: tc.generate(0x9C, piv.AlgEd25519)[0x86],
		0x9D: tc.generate(0x9D, piv.AlgX25519)[0x86],
		0x82: tc.generate(0x82, piv.AlgRSA1024)[0x81],
	}
	tc.putData(h("5FC105"), h("70 03 01 02 03 71 01 00 FE 00"))
	tc.putData(h("5FFF10"), bytes.Repeat([]byte{7}, 500))
	tc.mustOK(0x24, 0x00, 0x80, cat(padPIN(piv.DefaultPIN), padPIN("97531864")))
	tc.verifyPIN("000000") // one try used
	tc.mustOK(0xFF, 0xFF, 0xFF, cat([]byte{piv.AlgAES256, 0x9B, 32}, bytes.Repeat([]byte{0x33}, 32)))
	return tc, pubs
}

func TestSaveLoadRoundTrip(t *testing.T) {
	tc, pubs := populated(t)
	var buf bytes.Buffer
	if err := tc.c.Save(&buf); err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil || doc["version"] != float64(1) {
		t.Fatalf("saved document: %v %v", doc["version"], err)
	}
	c2, err := piv.Load(bytes.NewReader(buf.Bytes()), piv.Config{Rand: seededRand(9)})
	if err != nil {
		t.Fatal(err)
	}
	// Saving again gives the same document.
	var buf2 bytes.Buffer
	if err := c2.Save(&buf2); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), buf2.Bytes()) {
		t.Fatal("save, load, save changed the document")
	}
	tc2 := &tcard{t: t, c: c2}
	tc2.mustOK(0xA4, 0x04, 0x00, piv.AID)
	if tc2.c.Serial() != 424242 {
		t.Fatal("serial lost")
	}
	tc2.wantSW(0x63C2, 0x20, 0x00, 0x80, nil)
	if sw := tc2.verifyPIN("97531864"); sw != 0x9000 {
		t.Fatalf("changed PIN lost: %04X", sw)
	}
	if sw := tc2.authMgmt(bytes.Repeat([]byte{0x33}, 32)); sw != 0x9000 {
		t.Fatalf("management key lost: %04X", sw)
	}
	// Keys still work and are the same keys.
	digest := sha256.Sum256([]byte("persist"))
	sig, sw := tc2.sign(piv.AlgECCP256, 0x9A, digest[:])
	if sw != 0x9000 || !ecdsa.VerifyASN1(ecPublic(t, elliptic.P256(), pubs[0x9A]), digest[:], sig) {
		t.Fatalf("9A after load: %04X", sw)
	}
	tc2.verifyPIN("97531864")
	sig, sw = tc2.sign(piv.AlgEd25519, 0x9C, digest[:])
	if sw != 0x9000 || !ed25519.Verify(pubs[0x9C], digest[:], sig) {
		t.Fatalf("9C after load: %04X", sw)
	}
	host, _ := ecdh.X25519().GenerateKey(seededRand(3))
	secret, sw := tc2.genAuth(piv.AlgX25519, 0x9D, 0x85, host.PublicKey().Bytes())
	cardPub, _ := ecdh.X25519().NewPublicKey(pubs[0x9D])
	want, _ := host.ECDH(cardPub)
	if sw != 0x9000 || !bytes.Equal(secret, want) {
		t.Fatalf("9D after load: %04X", sw)
	}
	m := tlvs(t, tc2.mustOK(0xF7, 0x00, 0x82, nil))
	if !bytes.Equal(tlvs(t, m[0x04])[0x81], pubs[0x82]) {
		t.Fatal("RSA key differs after load")
	}
	if resp, sw := tc2.getData(h("5FFF10")); sw != 0x9000 || len(resp) != 504 {
		t.Fatalf("object after load: %04X", sw)
	}
	tc2.mustOK(0xF9, 0x9A, 0x00, nil)
	if js, err := json.Marshal(c2); err != nil || !json.Valid(js) {
		t.Fatalf("MarshalJSON: %v", err)
	}
}

func TestSaveFileLoadFile(t *testing.T) {
	tc, _ := populated(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "card.json")
	if err := tc.c.SaveFile(path); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", fi.Mode())
	}
	// Overwrite in place; no temporary file is left behind.
	if err := tc.c.SaveFile(path); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("directory holds %d entries", len(entries))
	}
	c2, err := piv.LoadFile(path, piv.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if c2.Serial() != 424242 {
		t.Fatal("serial")
	}
	// Saving into a missing directory fails cleanly.
	if err := tc.c.SaveFile(filepath.Join(dir, "missing", "card.json")); err == nil {
		t.Fatal("SaveFile into a missing directory succeeded")
	}
}

func TestLoadErrors(t *testing.T) {
	tc, _ := populated(t)
	var buf bytes.Buffer
	tc.c.Save(&buf)
	good := buf.String()

	dir := t.TempDir()
	path := filepath.Join(dir, "card.json")
	corrupt := good[:len(good)/2]
	os.WriteFile(path, []byte(corrupt), 0o600)
	_, err := piv.LoadFile(path, piv.Config{})
	var le *piv.LoadError
	if !errors.As(err, &le) || le.Path != path || !strings.Contains(err.Error(), path) {
		t.Fatalf("corrupt file: %v", err)
	}
	// The file is left as it was.
	if b, _ := os.ReadFile(path); string(b) != corrupt {
		t.Fatal("LoadFile modified the file")
	}
	if _, err := piv.LoadFile(filepath.Join(dir, "none.json"), piv.Config{}); !errors.As(err, &le) || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}

	mutate := func(from, to string) string {
		if !strings.Contains(good, from) {
			t.Fatalf("document lacks %q", from)
		}
		return strings.Replace(good, from, to, 1)
	}
	for name, doc := range map[string]string{
		"not JSON":      "garbage",
		"empty":         "",
		"no version":    "{}",
		"version 2":     mutate(`"version": 1`, `"version": 2`),
		"firmware":      mutate(`"firmware": "5.7.1"`, `"firmware": "five"`),
		"PIN padding":   mutate(`"value": "3937353331383634"`, `"value": "31ff323334353637"`),
		"PIN counters":  mutate(`"max": 3,`, `"max": 0,`),
		"mgmt key":      mutate(`"algorithm": 12,`, `"algorithm": 10,`),
		"slot":          mutate(`"slot": "9a"`, `"slot": "9b"`),
		"unknown field": mutate(`"serial"`, `"surprise": 1, "serial"`),
		"key algorithm": mutate(`"algorithm": 17`, `"algorithm": 20`),
		"key DER":       mutate(`"pkcs8": "`, `"pkcs8": "AAAA`),
		"object tag":    mutate(`"tag": "5fc105"`, `"tag": "7e"`),
	} {
		_, err := piv.Load(strings.NewReader(doc), piv.Config{})
		if !errors.As(err, &le) {
			t.Errorf("%s: %v", name, err)
		}
		if name == "version 2" && !errors.Is(err, piv.ErrUnsupportedStateVersion) {
			t.Errorf("version 2: %v", err)
		}
	}
}

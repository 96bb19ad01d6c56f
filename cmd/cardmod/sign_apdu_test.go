package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cardmod/cardmod/internal/simfile"
	"github.com/cardmod/cardmod/scrm/virtual"
)

// TestSignCommandAPDUs: `cardmod sign` is a new process on every call, and
// finds the key and signs in one card transaction (basecsp.Provider.Sign):
// on the simulated YubiKey 5 `Open` (SELECT, GET SERIAL), the look-up of
// the container by its slot (cardcf, the container map, GET METADATA) and
// the signature (VERIFY, GENERAL AUTHENTICATE, the logout): 8, where a
// look-up and a signature of their own cost 9 (docs/benchmarks.md,
// "Signature in a new process"); with -cache-dir, 5 from the second
// call on.
func TestSignCommandAPDUs(t *testing.T) {
	b, c := countedProvisioned(t)
	for range 2 { // the second process pays what the first did
		c.apdus.Store(0)
		r := ok(t, runIO(t, &stdio{backend: nopRelease{b}}, "123456\n", "-pin-stdin", "sign", "-in", "/dev/null", "ec256"))
		assert.NotEmpty(t, r.out)
		assert.Equal(t, int64(8), c.apdus.Load(), "APDUs of one `cardmod sign`")
	}

	// With -cache-dir the first call fills the cache and every later
	// one, a new process, trusts it as far as the card confirms it: the
	// look-up reads nothing, the signature is checked against the cached
	// public key. SELECT, GET SERIAL, VERIFY, GENERAL AUTHENTICATE, the
	// logout: 5.
	dir := t.TempDir()
	for i, want := range []int64{8, 5, 5} {
		c.apdus.Store(0)
		r := ok(t, runIO(t, &stdio{backend: nopRelease{b}}, "123456\n", "-pin-stdin", "-cache-dir", dir, "sign", "-in", "/dev/null", "ec256"))
		assert.NotEmpty(t, r.out)
		assert.Equal(t, want, c.apdus.Load(), "APDUs of `cardmod -cache-dir sign`, call %d", i+1)
	}
}

// TestListCommandAPDUs: `cardmod list` in a new process reads each card
// in four transactions, whatever the number of containers. On the
// simulated YubiKey 5 of provisioned (three containers, one certificate):
// `Open` and the card's information in one transaction (basecsp
// Provider.CardInfo: SELECT, GET SERIAL, cardcf, the container map, GET
// VERSION for the RSA key sizes); the PIN and PUK tries on a connection
// of their own (SELECT, two GET METADATA: the minidriver contract has no
// property for them); the containers (cardcf, in place of the SELECT);
// their keys with their certificates (cardcf, then a GET METADATA and a
// certificate read per container): 16. It was 22 when each container's
// keys and each certificate took a transaction of their own (two APDUs a
// container more) and the information one after Open's.
func TestListCommandAPDUs(t *testing.T) {
	b, c := countedProvisioned(t)
	for range 2 { // the second process pays what the first did
		c.apdus.Store(0)
		r := ok(t, runIO(t, &stdio{backend: nopRelease{b}}, "", "list"))
		for _, want := range []string{"ec256", "ec384", "rsa", "CN=Alice", "3 of 3 tries left"} {
			assert.Contains(t, r.out, want)
		}
		assert.Equal(t, int64(16), c.apdus.Load(), "APDUs of one `cardmod list`")
	}
}

// countedProvisioned is the card of provisioned in "Reader 1" of a
// virtual backend, counting the APDUs it receives.
func countedProvisioned(t *testing.T) (*virtual.Backend, *countingCard) {
	t.Helper()
	opened, err := simfile.Open(provisioned(t), simfile.Options{})
	require.NoError(t, err)
	c := &countingCard{Card: opened.Card}
	b := virtual.NewBackend()
	b.AddReader("Reader 1").Insert(c)
	return b, c
}

// TestCertImportCommandAPDUs: `cardmod cert import` finds the key the
// certificate is for and stores it in one transaction
// (basecsp.Provider.SetCertificate): on the simulated YubiKey 5 `Open`
// (SELECT, GET SERIAL), the look-up (cardcf, the container map, GET
// METADATA of the slot), the management key (the challenge asked with
// 3DES, which the 5.7's factory AES-192 key refuses, then with AES-192,
// and the response), cardcf bumped, the certificate, the container map
// with its fingerprint: 11, where a look-up and a write of their own
// cost 12 (docs/benchmarks.md, "Writing a certificate, new process").
func TestCertImportCommandAPDUs(t *testing.T) {
	b, c := countedProvisioned(t)
	exported := ok(t, runIO(t, &stdio{backend: nopRelease{b}}, "", "cert", "export", "ec256")).out
	blk, _ := pem.Decode([]byte(exported))
	require.NotNil(t, blk)
	old, err := x509.ParseCertificate(blk.Bytes)
	require.NoError(t, err)
	ca, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	dir := t.TempDir()
	for i := range 2 { // a new certificate each time: the map's fingerprint changes
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(int64(i + 2)), Subject: pkix.Name{CommonName: fmt.Sprintf("Alice %d", i)},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, old.PublicKey, ca)
		require.NoError(t, err)
		file := filepath.Join(dir, fmt.Sprintf("cert%d.der", i))
		require.NoError(t, os.WriteFile(file, der, 0o600))
		c.apdus.Store(0)
		ok(t, runIO(t, &stdio{backend: nopRelease{b}}, "", "cert", "import", "-in", file, "ec256"))
		assert.Equal(t, int64(11), c.apdus.Load(), "APDUs of `cardmod cert import`, call %d", i+1)
		got := ok(t, runIO(t, &stdio{backend: nopRelease{b}}, "", "cert", "export", "ec256")).out
		blk, _ := pem.Decode([]byte(got))
		require.NotNil(t, blk)
		assert.Equal(t, der, blk.Bytes, "the certificate stored")
	}
}

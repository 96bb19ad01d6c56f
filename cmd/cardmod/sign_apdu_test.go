package main

import (
	"testing"

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

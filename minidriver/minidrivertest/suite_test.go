package minidrivertest_test

import (
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/minidriver/minidrivertest"
	"github.com/cardmod/cardmod/minidriver/minidrivertest/internal/refcard"
	"github.com/cardmod/cardmod/scrm"
	"github.com/cardmod/cardmod/scrm/virtual"
)

var (
	userPIN  = []byte("123456")
	pukValue = []byte("12345678")
	adminKey = []byte("0123456789abcdefghijklmn")
)

// keyPool hands out pre-generated keys in turn, so that "generating" an
// RSA key on the reference chip costs nothing and two generations in a
// row still give different keys.
type keyPool struct {
	mu   sync.Mutex
	keys map[string][]crypto.PrivateKey
	next map[string]int
}

func newKeyPool(t *testing.T, keys []minidrivertest.Key) *keyPool {
	p := &keyPool{keys: map[string][]crypto.PrivateKey{}, next: map[string]int{}}
	for _, k := range keys {
		name := poolName(k.Spec, k.Bits)
		for len(p.keys[name]) < 2 {
			var (
				priv crypto.PrivateKey
				err  error
			)
			switch {
			case k.Spec.IsRSA():
				priv, err = rsa.GenerateKey(rand.Reader, k.Bits)
			case k.Spec.IsECDSA():
				curve := elliptic.P256()
				if k.Spec.CurveBits() == 384 {
					curve = elliptic.P384()
				}
				priv, err = ecdsa.GenerateKey(curve, rand.Reader)
			default:
				curve := ecdh.P256()
				if k.Spec.CurveBits() == 384 {
					curve = ecdh.P384()
				}
				priv, err = curve.GenerateKey(rand.Reader)
			}
			require.NoError(t, err)
			p.keys[name] = append(p.keys[name], priv)
		}
	}
	return p
}

func poolName(spec minidriver.KeySpec, bits int) string {
	if !spec.IsRSA() {
		bits = 0
	}
	return fmt.Sprintf("%d/%d", spec, bits)
}

func (p *keyPool) get(spec minidriver.KeySpec, bits int) (crypto.PrivateKey, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	name := poolName(spec, bits)
	ks := p.keys[name]
	if len(ks) == 0 {
		return nil, fmt.Errorf("%w: no pooled %s key of %d bits", minidriver.ErrUnsupported, spec, bits)
	}
	k := ks[p.next[name]%len(ks)]
	p.next[name]++
	return k, nil
}

// insert puts chip in a fresh virtual reader and connects to it.
func insert(t *testing.T, chip *refcard.Chip) *scrm.Card {
	b := virtual.NewBackend()
	b.AddReader("Reference Reader 0").Insert(chip)
	sc, err := scrm.NewContext(b).Connect(t.Context(), "Reference Reader 0", nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = sc.Close(scrm.LeaveCard) })
	return sc
}

// TestReferenceCard runs the suite on the reference plug-in with a
// writable card that generates and imports keys.
func TestReferenceCard(t *testing.T) {
	minidrivertest.Run(t, referenceHarness(t, ""))
}

// faultEnv names the fault TestFaultyReferenceCard injects.
const faultEnv = "MINIDRIVERTEST_FAULT"

// TestSuiteDetectsFaults checks that the suite fails a plug-in with each
// of the reference card's faults: it runs TestFaultyReferenceCard in a
// child test process per fault and expects it to fail.
func TestSuiteDetectsFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the suite once per fault in a child process")
	}
	for _, fault := range refcard.Faults() {
		t.Run(string(fault), func(t *testing.T) {
			t.Parallel()
			cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestFaultyReferenceCard$", "-test.count=1", "-test.v")
			cmd.Env = append(os.Environ(), faultEnv+"="+string(fault))
			out, err := cmd.CombinedOutput()
			require.Error(t, err, "the suite passed a card with fault %s:\n%s", fault, out)
			assert.Contains(t, string(out), "--- FAIL: TestFaultyReferenceCard/", "the suite's own failure, not a crash:\n%s", out)
		})
	}
}

// TestFaultyReferenceCard runs the suite on a reference card with the
// fault named in the environment; only TestSuiteDetectsFaults runs it.
func TestFaultyReferenceCard(t *testing.T) {
	fault := os.Getenv(faultEnv)
	if fault == "" {
		t.Skip("runs only as the child process of TestSuiteDetectsFaults")
	}
	minidrivertest.Run(t, referenceHarness(t, refcard.Fault(fault)))
}

// referenceHarness describes the writable reference card, with fault.
func referenceHarness(t *testing.T, fault refcard.Fault) minidrivertest.Harness {
	keys := []minidrivertest.Key{
		{Container: 0, Spec: minidriver.KeyExchange, Bits: 2048},
		{Container: 1, Spec: minidriver.Signature, Bits: 1024},
		{Container: 2, Spec: minidriver.ECDSAP256},
		{Container: 3, Spec: minidriver.ECDHP256},
		{Container: 4, Spec: minidriver.ECDSAP384},
		{Container: 5, Spec: minidriver.ECDHP384},
	}
	pool := newKeyPool(t, keys)
	plugin := refcard.NewPlugin()
	return minidrivertest.Harness{
		Plugin: plugin,
		NewCard: func(t *testing.T) *scrm.Card {
			chip, err := plugin.NewChip(refcard.Config{UserPIN: userPIN, PUKValue: pukValue, AdminKey: adminKey, KeySource: pool.get, Fault: fault})
			require.NoError(t, err)
			return insert(t, chip)
		},
		PINs:          map[minidriver.PinID][]byte{minidriver.RoleUser: userPIN, refcard.PUK: pukValue},
		AdminResponse: func(ch []byte) []byte { return refcard.AdminResponse(adminKey, ch) },
		Keys:          keys,
		Features:      minidrivertest.Features{WriteFiles: true, Generate: true, Import: true, ChangePIN: true},
	}
}

// TestReferenceReadOnlyCard runs the suite on a read-only card whose keys
// were provisioned elsewhere: the optional interfaces that change the card
// are missing and the suite checks they answer ErrUnsupported. The card
// cannot log PINs out either, so every logout is a card reset.
func TestReferenceReadOnlyCard(t *testing.T) {
	keys := []minidrivertest.Key{
		{Container: 0, Spec: minidriver.KeyExchange, Bits: 2048, Present: true},
		{Container: 1, Spec: minidriver.ECDSAP256, Present: true},
		{Container: 1, Spec: minidriver.ECDHP256, Present: true},
	}
	pool := newKeyPool(t, keys)
	plugin := refcard.NewPlugin()
	minidrivertest.Run(t, minidrivertest.Harness{
		Plugin: plugin,
		NewCard: func(t *testing.T) *scrm.Card {
			chip, err := plugin.NewChip(refcard.Config{UserPIN: userPIN, PUKValue: pukValue, AdminKey: adminKey, ReadOnly: true, NoDeauthenticate: true})
			require.NoError(t, err)
			for i, k := range keys {
				priv, err := pool.get(k.Spec, k.Bits)
				require.NoError(t, err)
				require.NoError(t, chip.Provision(k.Container, k.Spec, priv, fmt.Sprintf("provisioned-%d", k.Container)), "key %d", i)
			}
			return insert(t, chip)
		},
		PINs:          map[minidriver.PinID][]byte{minidriver.RoleUser: userPIN},
		AdminResponse: func(ch []byte) []byte { return refcard.AdminResponse(adminKey, ch) },
		Keys:          keys,
	})
}

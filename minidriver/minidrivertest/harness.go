// Package minidrivertest is the conformance suite of cardmod's card
// plug-ins, as the minidriver certification test is for Windows card
// modules. A plug-in's tests run it against the plug-in's simulated card
// with one call:
//
//	func TestConformance(t *testing.T) {
//		minidrivertest.Run(t, minidrivertest.Harness{
//			Plugin:   myplugin.New(),
//			NewCard:  func(t *testing.T) *scrm.Card { ... connect to a fresh simulated card ... },
//			PINs:     map[minidriver.PinID][]byte{minidriver.RoleUser: []byte("123456")},
//			Keys:     []minidrivertest.Key{{Container: 0, Spec: minidriver.ECDSAP256}},
//			Features: minidrivertest.Features{Generate: true},
//		})
//	}
//
// The suite drives the card as the engine of the providers does: it opens
// the card through the plug-in, owns every transaction (scrm.Card.Begin,
// then Card.Resume, the calls, Deauthenticate and Tx.End), and checks
// every method of the contract with its error semantics, the file system
// and its codecs, the container life cycle, the PIN model (wrong PINs
// counting down, blocking, unblocking, changing, logging out),
// signatures, decryption and ECDH agreement verified with the public
// keys, and that the package functions of missing optional interfaces
// answer minidriver.ErrUnsupported. A subtest is skipped, with the reason,
// only when the Harness says the card lacks what it needs, or when the
// card itself says so (a card without an admin PIN has no admin test).
// The rules it enforces are listed in the documentation of package
// minidriver; examples/plugin is a small plug-in that passes it.
//
// Concurrency: Run uses t and the Harness from the test's goroutine; the
// Harness functions need not be safe for concurrent use.
package minidrivertest

import (
	"testing"

	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/scrm"
)

// Harness describes a plug-in under test and the simulated card it runs
// on.
type Harness struct {
	// Plugin is the plug-in under test. The suite opens cards with it and
	// checks that a Registry holding it takes them.
	Plugin minidriver.Plugin
	// NewCard returns a connection to a fresh card in its factory state:
	// the card file system created, every PIN set to the value in PINs
	// with its full retry counter, and no key in the containers of Keys
	// except those marked Present. Every call gives another card, with a
	// card identifier of its own (a simulated card with its own serial
	// number, say). It registers its own cleanup with t.
	// The suite calls it once for every test that changes the card.
	NewCard func(t *testing.T) *scrm.Card
	// Env is passed to Plugin.Open.
	Env minidriver.Env
	// PINs holds the secrets of the card's alphanumeric PINs by PIN ID.
	// It must hold RoleUser and every PIN protecting a key of Keys (a PIV
	// card's signature-key PIN, say); an unblock-only PIN (a PUK) listed
	// here is used to test unblocking the user PIN.
	PINs map[minidriver.PinID][]byte
	// WriteAuth is the set of PINs the suite logs in before it creates,
	// writes or deletes files and containers. Zero means ROLE_USER alone,
	// as the specification's access conditions say; a card whose writes
	// need more (a PIV card's management key) names them here.
	WriteAuth minidriver.PinSet
	// AdminResponse computes the response to a challenge of the
	// challenge-response admin PIN (RoleAdmin), for example 3DES or AES
	// encryption under the card's admin key. Nil when the card has no
	// such PIN; the admin tests are then skipped.
	AdminResponse func(challenge []byte) []byte
	// Keys lists the keys to test: the containers and key specs the card
	// can hold. Each is created (by generation or import, as Features
	// allow) on a fresh card, unless Present.
	Keys []Key
	// Features says what the card can do beyond the mandatory contract.
	Features Features
}

// Key is one key the suite tests.
type Key struct {
	// Container is the container index.
	Container int
	// Spec is the key spec.
	Spec minidriver.KeySpec
	// Bits is the RSA modulus size; ignored for ECC (the spec says the
	// curve).
	Bits int
	// Present says a fresh card already holds this key (provisioned
	// outside the plug-in); the suite then neither creates nor deletes
	// it.
	Present bool
}

// Features are the optional capabilities the suite expects. What a
// feature needs must be there when it is set (a writable file system
// needs minidriver.FileWriter, and so on); a feature not set is skipped
// with the reason, and the package functions of a missing optional
// interface must answer minidriver.ErrUnsupported.
type Features struct {
	// WriteFiles: files and directories can be created, written and
	// deleted (minidriver.FileWriter, not read-only).
	WriteFiles bool
	// Generate: the card generates keys (minidriver.ContainerManager,
	// Capabilities.KeyGen).
	Generate bool
	// Import: the card imports keys (minidriver.ContainerManager).
	Import bool
	// ChangePIN: the user PIN can be changed and unblocked
	// (minidriver.AuthenticatorChanger).
	ChangePIN bool
	// KeepsKeys: the card creates keys but cannot delete them (a PIV card
	// without a delete command and without a stored container map):
	// DeleteContainer must answer minidriver.ErrUnsupported and leave the
	// key usable.
	KeepsKeys bool
}

// Run runs the conformance suite against the plug-in h describes.
func Run(t *testing.T, h Harness) {
	t.Helper()
	if h.Plugin == nil || h.NewCard == nil {
		t.Fatal("minidrivertest: Harness needs Plugin and NewCard")
	}
	if len(h.PINs[minidriver.RoleUser]) == 0 {
		t.Fatal("minidrivertest: Harness.PINs needs the user PIN (RoleUser)")
	}
	s := &suite{h: h}
	t.Run("Registry", s.testRegistry)
	t.Run("Open", s.testOpen)
	t.Run("Properties", s.testProperties)
	t.Run("PINInfo", s.testPINInfo)
	t.Run("KeySizes", s.testKeySizes)
	t.Run("FreeSpace", s.testFreeSpace)
	t.Run("FileSystem", s.testFileSystem)
	t.Run("WriteFiles", s.testWriteFiles)
	t.Run("Containers", s.testContainers)
	t.Run("Sign", s.testSign)
	t.Run("Decrypt", s.testDecrypt)
	t.Run("ECDH", s.testECDH)
	t.Run("Authenticate", s.testAuthenticate)
	t.Run("Unblock", s.testUnblock)
	t.Run("ChangePIN", s.testChangePIN)
	t.Run("Admin", s.testAdmin)
	t.Run("Deauthenticate", s.testDeauthenticate)
	t.Run("OptionalInterfaces", s.testOptional)
}

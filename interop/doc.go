// Package interop holds interoperability tests of cardmod against client
// libraries that the main module must not depend on. It is a module of its
// own (github.com/cardmod/cardmod/interop, go.mod in this directory, with
// the main module replaced by ../), so that github.com/go-piv/piv-go only
// appears in this module's requirements.
//
// The tests present a simulated card (cardsim/piv) to a real pcscd through
// vpcd (internal/pcscdtest) and drive it with the library; they run when
// CARDMOD_PCSCD=1, as scripts/test.sh sets, and skip otherwise:
//
//	./scripts/test.sh              # runs this module's tests too
//	cd interop && go test ./...    # skips the pcscd tests
//
// See docs/testing.md. The package has no API; it exists for its tests.
// Nothing in it is shared between goroutines.
package interop

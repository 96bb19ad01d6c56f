// Package interop holds interoperability tests of cardmod against client
// libraries that the main module must not depend on. It is a module of its
// own (github.com/cardmod/cardmod/interop, go.mod in this directory, with
// the main module replaced by ../), so that github.com/go-piv/piv-go only
// appears in this module's requirements.
//
// The tests present a simulated card (cardsim/piv) to a real pcscd through
// vpcd (scrm/pcsc/pcscdtest) and drive it with the library; they run when
// CARDMOD_PCSCD=1, as scripts/test.sh sets, and skip otherwise:
//
//	./scripts/test.sh              # runs this module's tests too
//	cd interop && go test ./...    # skips the pcscd tests
//
// # APDU budgets side by side
//
// TestBudgetTable is the harness of issue 12: it provisions one card
// state per scenario (by cardmod, by piv-go, by yubico-piv-tool; a GIDS
// card by cardmod) on a simulated card whose family is a parameter
// (BudgetProfile; budgetProfiles lists the cardsim/piv and cardsim/gids
// profiles measured), serves copies of that state to
// pcscd through vpcd, and runs the same operations with cardmod (basecsp
// and ksp, shared and exclusive, in-process and as new processes: the test
// binary re-executes itself, see TestMain), piv-go, OpenSC's PKCS#11
// module (pkcs11-tool) and yubico-piv-tool. A counting wrapper around the
// simulated card records every command APDU the card receives, so the
// counts are the card's, whatever the client believes it sent (for
// cardmod in process they must equal cardmod's own scrm.Card.Stats). Every
// operation's outcome is checked (signatures verify, plaintexts and shared
// secrets match), and two rounds must send exactly the same APDUs.
// MeasureBudgets and BudgetTable.Count give the counts to other tests:
//
//	CARDMOD_TEST_RACE=0 CARDMOD_TEST_EXTRA=0 CARDMOD_BUDGET_ROUNDS=7 \
//	    CARDMOD_BUDGET_OUT=/tmp/budgets.md \
//	    ./scripts/test.sh -run TestBudgetTable -timeout 2h -v
//
// prints the full table (docs/benchmarks.md carries one) with each
// operation's decoded card-side trace.
//
// See docs/testing.md and docs/benchmarks.md. The package has no API; it
// exists for its tests. Nothing in it is shared between goroutines except
// the counting card, which locks.
package interop

// Package plugin is the template of a cardmod card plug-in: complete and
// small, for the Example Token, a made-up card (its simulator and command
// reference are in package examples/plugin/token). A vendor copies this
// directory, replaces the token's commands with its card's, and keeps the
// conformance test passing.
//
// What each part shows:
//
//   - Plugin (minidriver.Plugin) recognises the token by its ATR, and by a
//     probe (SELECT of its application) when the ATR is another's.
//   - Card (minidriver.Card, FileWriter, ContainerManager) presents the
//     token as the uniform card file system. The token has no file system
//     of its own, only one data object, the file store: the plug-in keeps
//     the file system there as a cardfs.MemFS snapshot, re-reads it only
//     when the token's store counter says it changed (one SELECT per
//     transaction otherwise), and writes it back whole after each change,
//     restoring its copy when the write fails. Container i is key slot i;
//     every key is P-256 ECDSA, generated on the token, guarded by the
//     user PIN.
//   - Errors carry the contract's meanings: a status word whose scrm
//     sentinel is already the contract's (6982 is
//     minidriver.ErrSecurityViolation, 6A84 minidriver.ErrNoSpace) is
//     passed on wrapped; one whose meaning depends on the command (6A88 is
//     an empty container) gets the contract's sentinel added; a refused
//     VERIFY becomes a *minidriver.PINError.
//   - Initialize is the token's personalisation: it creates the card file
//     system (cardfs.Format) in an empty file store.
//   - plugin_test.go runs the conformance suite (package
//     minidriver/minidrivertest) on fresh simulated tokens in virtual
//     readers and pins the APDUs a transaction costs; provider_test.go
//     uses the plug-in through the Base CSP; replay_fuzz_test.go feeds it
//     arbitrary card answers (cardsim.Replay); bench_test.go reports APDUs
//     and bytes per operation (minidrivertest.Measure); example_test.go is
//     the whole path from a reader to a verified signature.
//
// The rules the conformance suite enforces are listed in the package
// documentation of package minidriver.
//
// Concurrency: a Plugin is safe for concurrent use; a Card is used by one
// goroutine at a time, inside the caller's transaction, as the contract
// says.
package plugin

// Package scrm is cardmod's smart card resource manager: the layer between
// card logic and PC/SC.
//
// A [Context] lists readers, waits for reader and card events and connects
// to cards over a [Backend]: package scrm/pcsc talks to the system's PC/SC
// service (pcscd on Linux and macOS, WinSCard on Windows), package
// scrm/virtual holds simulated cards in in-process readers, and package
// scrm/vpcd serves a simulated card to a real pcscd.
//
// A [Card] is one connection. Its Do method handles ISO/IEC 7816-4 once for
// everything above it: short and extended length fields (cases 1 to 4),
// command chaining when the data is longer than the card takes in one
// command, 61xx answers continued with GET RESPONSE (bounded in bytes by
// ConnectOptions.MaxResponse and in rounds by what an answer of that size
// needs, with progress required on every round), 6Cxx answers re-sent once
// with the right Le (a card that answers 6Cxx again is at fault:
// [ErrTooManyRounds]), and status words turned into
// errors: a [*StatusError] that matches [ErrNotFound], [ErrSecurityStatus],
// [ErrWrongPIN] (with the tries left from RetriesLeft), [ErrBlocked] and
// the other sentinels with errors.Is. Transport failures wrap the PC/SC
// result [Code]s such as [ErrRemovedCard] and [ErrResetCard]. These
// sentinels are the one value of each meaning in cardmod: package minidriver
// re-exports them under the contract's names (docs/errors.md has the table
// from status word to sentinel to SCARD_* code).
//
// Transactions: [Card.Begin] takes the card for one logical operation (the
// PC/SC transaction keeps other processes out, the Card's lock keeps other
// goroutines out) until [Tx.End]. When another connection has reset the
// card, Begin reconnects and [Tx.WasReset] says so: every login made before
// is gone. Begin recovers from as many resets as other connections make
// before it gets the card (up to [MaxResetRecoveries]). A reset noticed in
// the middle of a transaction fails that exchange with ErrResetCard after
// reconnecting, so the caller can start over. After removal every call
// fails with ErrRemovedCard. A transaction whose card state is unknown (a
// command sent and its answer lost, a panic during an exchange, or
// [Tx.RequireReset]) ends with a reset whatever disposition [Tx.End] is
// given, so that no login outlives it.
//
// Tracing: a [Tracer] sees every exchange; the data of commands carrying
// PINs, keys and management-key cryptograms, and answers carrying secrets,
// are zeroed first (see [Redacts]). [Card.Stats] counts APDUs and bytes for
// benchmarks.
//
// Concurrency: Context and Card are safe for concurrent use. Exchanges on a
// Card are serialised; a Tx belongs to the goroutine that began it and holds
// the Card until End, so always end it (in a defer: Card.Do does, so a
// panicking tracer releases the card). Calls that can block take a
// context.Context: waiting for the Card's lock, for a PC/SC transaction and
// for status changes ends when the context is done. One exchange with the
// card, once sent, runs to its end (PC/SC cannot abort it).
package scrm

// Package pcsc is the scrm backend for the real PC/SC resource manager:
// pcsc-lite's pcscd on Linux and the BSDs, the PCSC framework on macOS and
// WinSCard on Windows.
//
//	b, err := pcsc.New(ctx)
//	if err != nil { ... }           // errors.Is(err, scrm.ErrNoService) when pcscd is not running
//	defer b.Release()
//	sc := scrm.NewContext(b)
//
// Errors wrap the [scrm.Code] of the PC/SC result (same numeric values), so
// errors.Is(err, scrm.ErrRemovedCard) and friends work whatever the
// platform. pcsc-lite's SCARD_E_UNSUPPORTED_FEATURE (0x8010001F, which
// WinSCard uses for SCARD_E_UNEXPECTED) is reported as
// scrm.ErrUnsupportedFeature.
//
// Beyond scrm.Conn, a [Conn] sends control codes to the reader's driver
// ([Conn.Control], [CtlCode]), reads its PC/SC part 10 features
// ([Conn.Features], [Conn.TLVProperties], [Conn.MaxAPDUSize]) and its
// attributes ([Conn.GetAttrib]).
//
// # Clients and build
//
// On Linux and the BSDs the package speaks pcsc-lite's UNIX-socket
// protocol itself, in Go (internal package pcsclite): no cgo, no
// libpcsclite, no pkg-config, so `go run`, `go install` and CGO_ENABLED=0
// static binaries reach pcscd. The socket is $PCSCLITE_CSOCK_NAME, else
// /run/pcscd/pcscd.comm (/var/run/pcscd/pcscd.comm on the BSDs). Protocol
// versions 4.4 (pcsc-lite 1.8.24 to 2.2), 4.5 (2.3 and 2.4) and 4.6 (2.5
// on) are spoken; the client offers 4.5 and takes the version a pcscd that
// refuses it names. A pcscd that dies or restarts makes the calls in
// progress fail with an error wrapping scrm.ErrCommError; the backend
// establishes its context again, and new connections work once pcscd is
// back. docs/pcsc-protocol.md describes the protocol as implemented.
//
// On Windows (WinSCard) and macOS (the PCSC framework, with cgo) the client
// is github.com/ebfe/scard; on Linux too with the build tag cardmod_scard
// (cgo, pkg-config and libpcsclite-dev), which the tests use to compare
// the two clients. Built for macOS without cgo, [New] returns an error
// wrapping scrm.ErrNoCGO.
//
// # Concurrency
//
// A [Backend] is safe for concurrent use. PC/SC allows one call at a
// time on an SCARDCONTEXT (each thread "shall use its own SCARDCONTEXT"; a
// context's calls are serialised by a mutex inside the library, and older
// versions were not thread-safe at all), and SCardCancel cancels every
// blocking call on the context it is given. The backend therefore uses
// SCARDCONTEXTs like this:
//
//   - one context of its own for ListReaders, used under a mutex;
//   - a dedicated context for every GetStatusChange call (taken from a
//     small pool of idle ones), so that cancelling one wait never disturbs
//     another and a long wait never holds up other calls;
//   - a dedicated context for every connection (Conn), released by
//     Disconnect, so that exchanges on different cards never queue behind
//     one another inside pcsc-lite.
//
// The only call made on a context from another goroutine is SCardCancel,
// which pcsc-lite explicitly allows. A Conn is used by one goroutine at a
// time, as scrm.Conn requires (scrm.Card serialises access).
//
// # Cancellation
//
// GetStatusChange passes ctx's deadline to SCardGetStatusChange as its
// timeout (ErrTimeout once it passes) and, when ctx is cancelled, calls
// SCardCancel on the wait's context (the pure-Go client does what
// libpcsclite's SCardCancel does: SCARD_CANCEL on a connection of its
// own), repeating it until the wait returns:
// pcsc-lite ignores an SCardCancel that arrives before the wait has started
// to block. The call returns only after SCardGetStatusChange has returned,
// with an error wrapping scrm.ErrCancelled (or scrm.ErrTimeout for a
// deadline) and ctx.Err(). [Backend.Release] cancels every wait in progress
// and waits for them to return.
//
// Waiting while another connection holds a transaction (pcscd answers
// SCARD_E_SHARING_VIOLATION; the client asks again every
// PCSCLITE_LOCK_POLL_RATE, 100 ms, as libpcsclite does) ends when ctx does
// with the pure-Go client, for BeginTransaction and Transmit. With
// ebfe/scard, BeginTransaction calls SCardCancel when ctx ends (WinSCard
// stops the wait; libpcsclite ignores it), and a transaction obtained
// after ctx has ended is ended at once (leaving the card) and reported as
// cancelled. An exchange in flight runs to its end, bounded by the
// reader's own timeouts. SCardConnect does not wait: a card held in
// exclusive mode gives scrm.ErrSharingViolation.
//
// # Scope
//
// Contexts are established with SCARD_SCOPE_SYSTEM. pcsc-lite ignores
// the scope; on Windows the system scope reaches the same readers as the
// user scope for everything this package does (it lists, connects and
// waits; it never introduces readers or card types into the database).
package pcsc

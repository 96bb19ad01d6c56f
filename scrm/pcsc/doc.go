// Package pcsc is the scrm backend for the real PC/SC resource manager:
// pcsc-lite's pcscd on Linux and the BSDs, the PCSC framework on macOS and
// WinSCard on Windows, through github.com/ebfe/scard.
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
// # Build
//
// On Linux, macOS and the BSDs the package needs cgo, a C compiler,
// pkg-config and the pcsc-lite headers (Debian: libpcsclite-dev). Built
// without cgo, it still compiles, but [New] returns an error wrapping
// scrm.ErrNoCGO. On Windows it needs no cgo.
//
// # Concurrency
//
// A [Backend] is safe for concurrent use. pcsc-lite allows one call at a
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
// SCardCancel on the wait's context, repeating it until the wait returns:
// pcsc-lite ignores an SCardCancel that arrives before the wait has started
// to block. The call returns only after SCardGetStatusChange has returned,
// with an error wrapping scrm.ErrCancelled (or scrm.ErrTimeout for a
// deadline) and ctx.Err(). [Backend.Release] cancels every wait in progress
// and waits for them to return.
//
// pcsc-lite offers no way to interrupt its other blocking calls:
// SCardBeginTransaction polls pcscd (every PCSCLITE_LOCK_POLL_RATE) until
// the transaction is free, and SCardTransmit, SCardStatus and
// SCardReconnect do the same while another connection holds a transaction.
// BeginTransaction therefore checks ctx before it starts; if ctx ends while
// it waits, it calls SCardCancel (which stops the wait on WinSCard and is a
// no-op on pcsc-lite), and a transaction obtained after ctx has ended is
// ended at once (leaving the card) and reported as cancelled. Transmit and
// Connect check ctx before the call; an exchange in flight runs to its end,
// bounded by the reader's own timeouts. (SCardConnect itself does not wait:
// a card held in exclusive mode gives scrm.ErrSharingViolation.)
//
// # Scope
//
// ebfe/scard establishes contexts with SCARD_SCOPE_SYSTEM. pcsc-lite ignores
// the scope; on Windows the system scope reaches the same readers as the
// user scope for everything this package does (it lists, connects and
// waits; it never introduces readers or card types into the database).
package pcsc

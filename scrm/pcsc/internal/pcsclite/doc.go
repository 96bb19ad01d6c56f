// Package pcsclite is a client of pcsc-lite's pcscd in pure Go: it speaks
// the UNIX-socket protocol that libpcsclite speaks (winscard_msg.h,
// winscard_clnt.c), versions 4.4, 4.5 and 4.6, with no cgo and no
// libpcsclite. docs/pcsc-protocol.md describes the protocol as implemented
// and where each fact comes from.
//
// A [Context] is one SCARDCONTEXT with a connection of its own, as in
// libpcsclite; a [Card] is an SCARDHANDLE on its Context's connection.
// Everything pcscd sends is untrusted: messages are read with io.ReadFull
// into fixed-size structures, and every length and count is checked
// against the buffer announced to pcscd before anything is allocated. A
// malformed message gives a *ProtocolError and a broken connection (pcscd
// died or restarted) a *ConnError; both close the Context's connection, and
// a new Context works once pcscd is back.
//
// Concurrency: the calls on a Context and its Cards are serialised by a
// mutex (pcsc-lite's per-context lock); blocking waits (GetStatusChange,
// and the polling of BeginTransaction, Transmit, Status and Reconnect
// while another connection holds a transaction) end when their
// context.Context does. Cancel may be called from any goroutine.
package pcsclite

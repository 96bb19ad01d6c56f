// Package bertlv reads and writes the BER-TLV data objects of smart card
// commands and answers, as ISO/IEC 7816-4 (5.2) and the card
// specifications built on it (NIST SP 800-73-4, GIDS) use them.
//
// The subset is deliberately narrow, because everything parsed comes from
// a card and is untrusted:
//
//   - a tag has one to three bytes: a first byte whose five low bits are
//     not all set is a whole tag; otherwise further bytes follow while
//     their high bit is set, up to three bytes in all;
//   - a length is definite, in the short form (00-7F) or the long form
//     81, 82 or 83 followed by one to three bytes; the indefinite form
//     (80) and longer length fields are refused;
//   - a value never reaches past the input, and ParseAll reads at most
//     MaxElements elements, so the work done is bounded by the input.
//
// Tags are carried as uint32 holding the tag bytes big-endian (5F C1 02 is
// 0x5FC102), the form the specifications print. Values returned by the
// parsers alias the input: copy them to keep them past a change of it.
//
// Every error the parsers return wraps ErrMalformed; nothing in the
// package panics on any input.
//
// Concurrency: the package holds no state; every function is pure and
// safe to call from any number of goroutines, provided the caller does
// not modify a slice while a call reads it.
package bertlv

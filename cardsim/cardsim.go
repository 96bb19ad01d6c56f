// Package cardsim holds what simulated cards have in common: the ISO/IEC
// 7816-4 [Transport], state files, [Replay], and the [Card] interface every
// simulated card here implements. The simulated cards themselves live in
// sub-packages (cardsim/piv, cardsim/gids).
//
// The packages that drive a card declare the interface they consume
// themselves (virtual.Card in scrm/virtual, vpcd.Card in scrm/vpcd,
// scrmtest.Card in scrm/scrmtest), with the same three methods: a Card is
// each of them, and nothing under scrm imports this package.
//
// Concurrency: a reader calls a Card from one goroutine at a time; a Card
// needs no locking of its own for that, but a Card shared by several readers
// must serialise itself.
package cardsim

// Card is a simulated smart card: something with an answer to reset that
// answers command APDUs. Its methods are those of virtual.Card and
// vpcd.Card, so a Card can be inserted in a virtual reader or served to
// pcscd.
type Card interface {
	// ATR returns the card's answer to reset. The caller must not modify it.
	ATR() []byte
	// Reset returns the card to its state after power-on: the selected
	// application and every security status are lost; persistent data
	// (keys, objects, PIN retry counters) are kept.
	Reset()
	// Transmit answers one command APDU (short or extended, as the
	// application sent it) with response data followed by SW1 SW2. It never
	// returns fewer than two bytes and never panics, whatever apdu holds.
	Transmit(apdu []byte) []byte
}

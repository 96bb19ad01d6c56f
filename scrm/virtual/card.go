package virtual

// Card is what a virtual reader drives: something with an answer to reset
// that answers command APDUs. The simulated cards of package cardsim (and
// its sub-packages) implement it, as does scrmtest.TestCard; so can any
// small type in a test or in a plug-in's own module (see examples/plugin).
//
// A Reader calls its Card from one goroutine at a time; a Card shared by
// several readers must serialise itself.
type Card interface {
	// ATR returns the card's answer to reset. The caller must not modify it.
	ATR() []byte
	// Reset returns the card to its state after power-on: the selected
	// application and every security status are lost; persistent data
	// (keys, objects, PIN retry counters) are kept.
	Reset()
	// Transmit answers one command APDU (short or extended, as the
	// application sent it) with response data followed by SW1 SW2. It must
	// never return fewer than two bytes and never panic, whatever apdu
	// holds.
	Transmit(apdu []byte) []byte
}

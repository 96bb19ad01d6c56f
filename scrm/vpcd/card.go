package vpcd

// Card is the simulated card a Server presents to vpcd: an answer to reset
// and answers to command APDUs. It has the same methods, with the same
// contract, as virtual.Card; the simulated cards of package cardsim
// implement both. Power-on and reset from vpcd call Reset; each command
// APDU is answered with what Transmit returns (response data and SW1 SW2,
// never fewer than two bytes).
type Card interface {
	// ATR returns the card's answer to reset. The caller must not modify it.
	ATR() []byte
	// Reset returns the card to its state after power-on.
	Reset()
	// Transmit answers one command APDU with response data and SW1 SW2.
	Transmit(apdu []byte) []byte
}

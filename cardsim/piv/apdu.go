package piv

// command is one complete command as the PIV application sees it, after
// the transport (cardsim.Transport) assembled chains: the class with the
// chaining bit cleared, the instruction, the parameters and the data.
type command struct {
	cla, ins, p1, p2 byte
	data             []byte
}

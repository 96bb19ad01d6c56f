package piv

import "github.com/cardmod/cardmod/scrm"

// Continue takes up transaction tx where the caller's last transaction
// left the card, without selecting the application again: what was read
// in it (objects, slot metadata) and the PINs verified stay as they were.
// The caller (internal/engine in exclusive mode) calls it instead of
// Resume only when it held the card exclusively since and nothing reset
// it, so that nothing on the card can have changed meanwhile.
func (c *Card) Continue(tx *scrm.Tx) {
	c.tx = tx
	c.challenge = nil
}

// AssumeFresh trusts, in transaction tx, the container map kept across
// transactions (freshMap) until cardcf is read in tx, as if the caller
// had read the same cardcf. The caller (internal/engine's DoChecked) does
// so only for an operation whose outcome it checks on the host, and runs
// it again with cardcf read when the outcome does not check out. A map
// taken on this assumption is not kept again under a cardcf read later in
// tx.
func (c *Card) AssumeFresh(tx *scrm.Tx) {
	c.begin(tx)
	c.assumeFresh = true
}

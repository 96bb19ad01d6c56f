package gids

import "github.com/cardmod/cardmod/scrm"

// Continue takes up transaction tx where the caller's last transaction
// left the card, without selecting the application again (which would
// reset the card's security status, ending a kept login): the master
// file and key map stay trusted as in that transaction. The caller
// (internal/engine in exclusive mode) calls it instead of Resume only
// when it held the card exclusively since and nothing reset it, so that
// nothing on the card can have changed meanwhile.
func (c *Card) Continue(tx *scrm.Tx) {
	c.tx = tx
	clear(c.challenge)
	c.challenge = nil
}

// AssumeFresh trusts, in transaction tx, the master file and key map kept
// across transactions as if the caller had read the same cardcf in tx.
// The caller (internal/engine's DoChecked) does so only for an operation
// whose outcome it checks on the host, and runs it again with cardcf read
// when the outcome does not check out. A cardcf read later in tx that
// differs drops them (sawCardCF).
func (c *Card) AssumeFresh(tx *scrm.Tx) {
	c.use(tx)
	if c.cf != nil && !c.mfOK && !c.kmOK {
		c.mfOK, c.kmOK = c.mf != nil, c.km != nil
		c.assumed = true
	}
}

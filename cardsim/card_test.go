package cardsim_test

import (
	"github.com/cardmod/cardmod/cardsim"
	"github.com/cardmod/cardmod/cardsim/gids"
	"github.com/cardmod/cardmod/cardsim/piv"
	"github.com/cardmod/cardmod/scrm/scrmtest"
	"github.com/cardmod/cardmod/scrm/virtual"
	"github.com/cardmod/cardmod/scrm/vpcd"
)

// A cardsim.Card is each consumer's card, and the simulated cards are
// cardsim.Cards: these fail to compile if the method sets drift apart.
var (
	_ virtual.Card  = cardsim.Card(nil)
	_ vpcd.Card     = cardsim.Card(nil)
	_ scrmtest.Card = cardsim.Card(nil)
	_ cardsim.Card  = virtual.Card(nil)
	_ cardsim.Card  = (*piv.Card)(nil)
	_ cardsim.Card  = (*gids.Card)(nil)
)

package pcsc_test

import (
	"testing"

	"github.com/cardmod/cardmod/scrm/pcsc/pcscdtest"
	"github.com/cardmod/cardmod/scrm/scrmtest"
)

// TestBehaviourSuite runs the backend-independent scrm suite against real
// pcscd, with its cards presented through vpcd.
func TestBehaviourSuite(t *testing.T) {
	scrmtest.Run(t, pcscdtest.Require(t))
}

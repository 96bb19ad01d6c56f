// Package plugins names the card plug-ins cardmod ships, in one place: the
// PIV plug-in (package minidriver/piv) and the GIDS plug-in (package
// minidriver/gids). The providers (packages basecsp and ksp) match cards
// with NewRegistry when their Config.Registry is nil; the engine under
// them names no plug-in. A program with a plug-in of its own lists it
// beside these:
//
//	reg := minidriver.NewRegistry(append(plugins.Default(), mycard.Plugin{})...)
package plugins

import (
	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/minidriver/gids"
	"github.com/cardmod/cardmod/minidriver/piv"
)

// Default returns the plug-ins cardmod ships, in matching order: PIV, then
// GIDS. Each call returns a new slice.
func Default() []minidriver.Plugin {
	return []minidriver.Plugin{piv.Plugin{}, gids.Plugin{}}
}

// NewRegistry returns a new registry of the Default plug-ins. A registry
// remembers which plug-in took which ATR, so each provider gets its own.
func NewRegistry() *minidriver.Registry {
	return minidriver.NewRegistry(Default()...)
}

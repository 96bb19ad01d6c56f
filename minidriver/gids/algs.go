package gids

import (
	"fmt"
	"slices"

	"github.com/cardmod/cardmod/internal/bertlv"
	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/minidriver/internal/keyalg"
)

// What the plug-in knows of the card's algorithms. GIDS v2.0 defines no
// data object that lists them, and OpenSC's card-gids.c registers RSA-1024
// and RSA-2048 for every GIDS card ("fix me: add other algorithms when the
// gids specification will tell how to extract the algo id from the FCP").
// A card may list them the ISO/IEC 7816-4 way, in a cryptographic
// mechanism identifier template (tag AC, one 80 element per algorithm
// identifier) in EF.ATR, which the plug-in reads at Open anyway (SP
// 800-73-4 lists a PIV card's algorithms in the same template). With such a
// list, KeySizes reports exactly it and a create of anything else is
// refused before any command. Without one, KeySizes reports RSA-1024 and
// RSA-2048 (OpenSC's assumption) and the ECC curves the plug-in handles,
// an algorithm the card refuses (6A81, function not supported) is
// remembered as missing for the Card's lifetime, and the failed create
// leaves the card as it was.

// cardAlgs is the card's algorithm list.
type cardAlgs struct {
	listed  bool   // the card listed its algorithms (AC in EF.ATR)
	algs    []byte // listed algorithms
	refused []byte // algorithms the card refused (unlisted cards)
}

// parseAlgs reads the AC template of EF.ATR's objects; ok is false when
// there is none (or a malformed one).
func parseAlgs(efatr []byte) (cardAlgs, bool) {
	v, ok := bertlv.Find(efatr, 0xAC)
	if !ok {
		return cardAlgs{}, false
	}
	var algs []byte
	for rest := v; len(rest) > 0; {
		tag, val, next, err := bertlv.Parse(rest)
		if err != nil || len(algs) >= 32 {
			return cardAlgs{}, false
		}
		if tag == 0x80 && len(val) == 1 {
			algs = append(algs, val[0])
		}
		rest = next
	}
	return cardAlgs{listed: true, algs: algs}, true
}

// has reports whether the card has algorithm a, as far as it is known.
func (a *cardAlgs) has(alg byte) bool {
	if a.listed {
		return slices.Contains(a.algs, alg)
	}
	if slices.Contains(a.refused, alg) {
		return false
	}
	switch alg {
	case algRSA3072, algRSA4096:
		return false // beyond what OpenSC assumes of a GIDS card
	}
	return true
}

// refuse notes that the card refused alg.
func (a *cardAlgs) refuse(alg byte) {
	if !a.listed && !slices.Contains(a.refused, alg) {
		a.refused = append(a.refused, alg)
	}
}

// rsaSizes returns the RSA sizes among the card's algorithms.
func (a *cardAlgs) rsaSizes() (minidriver.KeySizes, bool) {
	var sizes []int
	for _, bits := range []int{1024, 2048, 3072, 4096} {
		if alg, _ := keyalg.Table(algBits).RSA(bits); a.has(alg) {
			sizes = append(sizes, bits)
		}
	}
	if len(sizes) == 0 {
		return minidriver.KeySizes{}, false
	}
	ks := minidriver.KeySizes{Min: sizes[0], Max: sizes[len(sizes)-1], Default: sizes[0], Increment: 1024}
	if slices.Contains(sizes, 2048) {
		ks.Default = 2048
	}
	for i := 1; i < len(sizes); i++ {
		if sizes[i]-sizes[i-1] != 1024 {
			ks.Increment = sizes[i] - sizes[i-1] // the sizes listed, as evenly as the contract says
		}
	}
	return ks, true
}

// checkAlg refuses an algorithm the card lacks, before anything is sent.
func (c *Card) checkAlg(spec minidriver.KeySpec, alg byte) error {
	if !c.algs.has(alg) {
		return fmt.Errorf("%w: gids: the card has no %v keys (algorithm %02X)", minidriver.ErrUnsupported, spec, alg)
	}
	return nil
}

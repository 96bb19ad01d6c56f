package gids

import (
	"slices"
	"strconv"

	"github.com/cardmod/cardmod/cardsim/internal/tlv"
)

// Profile is the behaviour of a family of GIDS cards: which algorithms the
// card generates and imports, and what it tells about them. A Config's
// Profile selects one; its zero value is ProfileRSAEC (with
// Config.MaxRSABits applied).
//
// GIDS v2.0 gives a card no data object that lists its algorithms, and
// OpenSC's card-gids.c registers RSA-1024 and RSA-2048 only ("fix me: add
// other algorithms when the gids specification will tell how to extract
// the algo id from the FCP"). A simulated card that Advertises its
// algorithms does so the ISO/IEC 7816-4 way: a cryptographic mechanism
// identifier template (tag AC, one 80 element per algorithm identifier)
// in EF.ATR, as SP 800-73-4 uses the same template in the PIV
// application property template. A card that does not advertise them (the
// GidsApplet family) is only found out by its refusals: 6A81 (function not
// supported) to GENERATE or IMPORT of an algorithm it lacks.
type Profile struct {
	// Name identifies the profile in state files and on command lines.
	Name string
	// Description says in a line which cards the profile models.
	Description string
	// Algorithms are the asymmetric algorithm identifiers (AlgRSA1024 ...
	// AlgECCP521) the card generates and imports; others answer 6A81.
	Algorithms []byte
	// Advertise puts the cryptographic mechanism identifier template AC
	// listing Algorithms in EF.ATR.
	Advertise bool
}

// Profiles returns the documented profiles: ProfileRSAEC, ProfileRSA and
// ProfileRSAQuiet, in that order.
func Profiles() []Profile {
	return []Profile{ProfileRSAEC(), ProfileRSA(), ProfileRSAQuiet()}
}

// ProfileByName returns the documented profile called name.
func ProfileByName(name string) (Profile, bool) {
	for _, p := range Profiles() {
		if p.Name == name {
			return p, true
		}
	}
	return Profile{}, false
}

// ProfileRSAEC is a GIDS v2.0 card with RSA-1024 to 4096 and ECC P-256,
// P-384 and P-521 (the algorithm identifiers of GIDS v2.0 that OpenSC's
// driver also names), advertised in EF.ATR.
func ProfileRSAEC() Profile {
	return Profile{Name: "gids-rsa-ec", Description: "GIDS card with RSA and ECC (advertised in EF.ATR)",
		Algorithms: []byte{AlgRSA1024, AlgRSA2048, AlgRSA3072, AlgRSA4096, AlgECCP256, AlgECCP384, AlgECCP521}, Advertise: true}
}

// ProfileRSA is a GIDS card with RSA-1024 and RSA-2048 only, as Java Cards
// running GidsApplet commonly are and as OpenSC's card-gids.c assumes of
// every GIDS card; it advertises them in EF.ATR. ECC and larger RSA keys
// answer 6A81.
func ProfileRSA() Profile {
	return Profile{Name: "gids-rsa", Description: "GIDS card with RSA-1024/2048 only (advertised in EF.ATR)",
		Algorithms: []byte{AlgRSA1024, AlgRSA2048}, Advertise: true}
}

// ProfileRSAQuiet is ProfileRSA without the AC template: a card that says
// nothing of its algorithms, as GidsApplet's EF.ATR does not (card service
// data, card capabilities and pre-issuing data only).
func ProfileRSAQuiet() Profile {
	p := ProfileRSA()
	p.Name, p.Description, p.Advertise = "gids-rsa-quiet", "GIDS card with RSA-1024/2048 only, saying nothing of its algorithms", false
	return p
}

// resolveProfile returns the profile a Config selects.
func resolveProfile(cfg Config) Profile {
	p := cfg.Profile
	if p.Name == "" {
		p = ProfileRSAEC()
		if cfg.MaxRSABits > 0 && cfg.MaxRSABits < 4096 {
			// Not a documented profile any more: the state file does
			// not name it, and a loaded card follows its Config.
			p.Algorithms = slices.DeleteFunc(p.Algorithms, func(a byte) bool { return rsaBits(a) > cfg.MaxRSABits })
			p.Name = "gids-rsa-ec-max" + strconv.Itoa(cfg.MaxRSABits)
		}
	}
	p.Algorithms = slices.Clone(p.Algorithms)
	return p
}

// Profile returns the profile the card behaves as.
func (c *Card) Profile() Profile {
	p := c.h.prof
	p.Algorithms = slices.Clone(p.Algorithms)
	return p
}

// supportsAlg reports whether the card has algorithm a.
func (p *Profile) supportsAlg(a byte) bool { return slices.Contains(p.Algorithms, a) }

// efATRContent is EF.ATR with the profile's AC template when it
// advertises its algorithms.
func (p *Profile) efATRContent() []byte {
	if !p.Advertise {
		return efATR
	}
	var algs []byte
	for _, a := range p.Algorithms {
		algs = append(algs, tlv.Encode(0x80, []byte{a})...)
	}
	return tlv.Join(efATR, tlv.Encode(0xAC, algs))
}

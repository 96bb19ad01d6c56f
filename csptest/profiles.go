package csptest

import (
	"fmt"
	"slices"

	"github.com/cardmod/cardmod/cardsim"
	simgids "github.com/cardmod/cardmod/cardsim/gids"
	simpiv "github.com/cardmod/cardmod/cardsim/piv"
	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/minidriver/gids"
	"github.com/cardmod/cardmod/minidriver/piv"
)

// KeyCase is one key a profile's card holds or generates.
type KeyCase struct {
	Spec minidriver.KeySpec
	Bits int // RSA modulus size; 0 for ECC
}

// String names the key in subtest names.
func (k KeyCase) String() string {
	if k.Spec.IsRSA() {
		return fmt.Sprintf("%s-%d", k.Spec, k.Bits)
	}
	return k.Spec.String()
}

// Profile is one simulated card family the provider suite (Run) runs
// on: how to make a fresh card, its secrets, and what the card allows.
// The behaviour of each card comes from its cardsim profile, whose doc
// cites the sources (cardsim/piv Profile, cardsim/gids Profile).
type Profile struct {
	// Name is the cardsim profile's name (a subtest name).
	Name string
	// Plugin is the plug-in that takes the card ("PIV" or "GIDS").
	Plugin string
	// New makes a fresh card; n tells cards apart (serial, cardid).
	New func(n uint32) (cardsim.Card, error)
	// PIN is the user PIN; Tries how many wrong ones block it.
	PIN   string
	Tries int
	// UnblockBy and UnblockSecret unblock the user PIN: the PUK on PIV,
	// the admin key on GIDS (an empty secret: the provider's admin
	// responder answers the challenge; minidriver/gids PINAdmin).
	UnblockBy     minidriver.PinID
	UnblockSecret []byte
	// ReadOnly: every write is refused with an error matching
	// minidriver.ErrReadOnly (the issued PIV card; cardsim/piv
	// ProfileIssued).
	ReadOnly bool
	// Generate lists the keys the card generates, in creation order
	// (empty on a read-only card).
	Generate []KeyCase
	// Refused lists keys whose creation the card refuses as unsupported
	// (an error matching minidriver.ErrUnsupported).
	Refused []KeyCase
	// Present is how many keys (each with a certificate) a fresh card
	// holds: the issuer's on the issued card, none elsewhere.
	Present int
}

// Admin is the admin responder of every profile's card: the simulated
// cards' default PIV management key and GIDS admin key, as a fleet's
// software configures one responder for every card. The issued PIV card's
// management key is its issuer's: the responder's answer would be wrong,
// and the providers refuse that card's writes as read-only before asking
// it (and its PIN changes need no admin key).
func Admin() minidriver.AdminResponder {
	return minidriver.AdminResponders(piv.ManagementKey(simpiv.DefaultManagementKey), gids.AdminKey(simgids.DefaultAdminKey))
}

// Profiles returns every simulated card profile: each of cardsim/piv's
// (Profiles) and each of cardsim/gids'.
func Profiles() []Profile {
	var out []Profile
	for _, p := range simpiv.Profiles() {
		out = append(out, pivProfile(p))
	}
	for _, p := range simgids.Profiles() {
		out = append(out, gidsProfile(p))
	}
	return out
}

// rsa2048 is the RSA key every profile has: RSA-2048 in the key exchange
// slot signs and decrypts.
var rsa2048 = KeyCase{Spec: minidriver.KeyExchange, Bits: 2048}

func pivProfile(p simpiv.Profile) Profile {
	out := Profile{
		Name:   p.Name,
		Plugin: "PIV",
		New: func(n uint32) (cardsim.Card, error) {
			return simpiv.New(simpiv.Config{Profile: p, Serial: n})
		},
		PIN: simpiv.DefaultPIN, Tries: simpiv.DefaultTries,
		UnblockBy: piv.PINPUK, UnblockSecret: []byte(simpiv.DefaultPUK),
	}
	if p.Issued {
		// The issuer's P-256 keys in 9A, 9C, 9D, 9E and the retired
		// slots of the Key History (cardsim/piv ProfileIssued).
		out.ReadOnly = true
		out.Present = 4 + p.IssuedRetired
		return out
	}
	// RSA-2048 and P-256 on every PIV card (SP 800-78-4); P-384 where the
	// profile has it (not the NEO: OpenSC card-piv.c CI_NO_EC384). In
	// slot order (container i is slot 9A, 9C, 9D, 9E, ...): each key in a
	// slot whose default key spec is the key's, so that a card without
	// room for the container map (piv-applet) shows every process the
	// same specs (docs/piv-mapping.md: RSA in 9A signs and decrypts,
	// ECDH keys live in 9D).
	out.Generate = []KeyCase{rsa2048, {Spec: minidriver.ECDSAP256}, {Spec: minidriver.ECDHP256}}
	// No PIV card has P-521 (SP 800-78-4, table 5: RSA and ECC P-256 and
	// P-384; Yubico adds RSA-3072/4096, Ed25519 and X25519).
	out.Refused = []KeyCase{{Spec: minidriver.ECDSAP521}}
	p384 := KeyCase{Spec: minidriver.ECDSAP384}
	if slices.Contains(p.Algorithms, simpiv.AlgECCP384) {
		out.Generate = append(out.Generate, p384)
	} else {
		out.Refused = append(out.Refused, p384)
	}
	return out
}

func gidsProfile(p simgids.Profile) Profile {
	out := Profile{
		Name:   p.Name,
		Plugin: "GIDS",
		New: func(n uint32) (cardsim.Card, error) {
			id := make([]byte, 16)
			id[0], id[1], id[2], id[3] = 0xC5, byte(n>>16), byte(n>>8), byte(n)
			return simgids.New(simgids.Config{Initialized: true, CardID: id, Profile: p})
		},
		PIN: simgids.DefaultPIN, Tries: simgids.DefaultPINTries,
		UnblockBy: gids.PINAdmin,
	}
	ec := []KeyCase{{Spec: minidriver.ECDSAP256}, {Spec: minidriver.ECDHP256}, {Spec: minidriver.ECDSAP384}}
	if slices.Contains(p.Algorithms, simgids.AlgECCP256) {
		out.Generate = append([]KeyCase{ec[0], rsa2048}, ec[1:]...)
	} else {
		// RSA only (cardsim/gids ProfileRSA, ProfileRSAQuiet).
		out.Generate = []KeyCase{rsa2048}
		out.Refused = ec
	}
	return out
}

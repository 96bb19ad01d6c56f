// Package simfile opens the simulated cards of cardsim (a PIV card, package
// cardsim/piv, or a GIDS card, package cardsim/gids) kept in a state file,
// and writes their state back when it changes. It holds what the programs
// that run a simulated card on a file share: cmd/cardmod (-sim, serve) and
// examples/vcard.
//
// A state file is created with a fresh card on first use and loaded
// afterwards; the kind of card is whatever the file holds. A file that cannot
// be loaded is an error and is never overwritten. Saving is atomic
// (cardsim.SaveFile).
//
// Concurrency: a Card's simulated card is safe for concurrent use (the
// simulators serialise their commands); a Saver is used by one goroutine at a
// time.
package simfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"

	"github.com/cardmod/cardmod/cardsim"
	"github.com/cardmod/cardmod/cardsim/gids"
	"github.com/cardmod/cardmod/cardsim/piv"
)

// Kinds of simulated cards.
const (
	KindPIV  = "piv"
	KindGIDS = "gids"
)

// Card is a simulated card whose state can be saved.
type Card interface {
	cardsim.Card
	Save(w io.Writer) error
	SaveFile(path string) error
}

// ErrUnknownProfile is the error of a profile name that is not one of
// the documented profiles of the card's kind (see ProfileNames).
var ErrUnknownProfile = errors.New("simfile: unknown card profile")

// Options say how to make a new card; a loaded card ignores them.
type Options struct {
	// Kind is KindPIV ("" means it) or KindGIDS.
	Kind string
	// Profile, if not empty, names the card family of a new card: one of
	// ProfileNames(Kind) (cardsim/piv.ProfileByName or
	// cardsim/gids.ProfileByName). It replaces PIV.Profile or
	// GIDS.Profile. The name is checked even when the file is loaded,
	// whose card keeps the profile it was made with.
	Profile string
	// PIV configures a new PIV card.
	PIV piv.Config
	// GIDS configures a new GIDS card.
	GIDS gids.Config
}

// ProfileNames returns the names of the documented profiles of a kind of
// card (KindPIV, "" meaning it, or KindGIDS), in the order
// cardsim/piv.Profiles and cardsim/gids.Profiles list them.
func ProfileNames(kind string) []string {
	var out []string
	if kind == KindGIDS {
		for _, p := range gids.Profiles() {
			out = append(out, p.Name)
		}
		return out
	}
	for _, p := range piv.Profiles() {
		out = append(out, p.Name)
	}
	return out
}

// withProfile returns o with o.Profile resolved into o.PIV or o.GIDS.
func (o Options) withProfile(kind string) (Options, error) {
	if o.Profile == "" {
		return o, nil
	}
	known := false
	if kind == KindGIDS {
		o.GIDS.Profile, known = gids.ProfileByName(o.Profile)
	} else {
		o.PIV.Profile, known = piv.ProfileByName(o.Profile)
	}
	if !known {
		return o, fmt.Errorf("%w %q for a %s card (want one of %s)", ErrUnknownProfile, o.Profile, kind, strings.Join(ProfileNames(kind), ", "))
	}
	return o, nil
}

// Opened is a card opened from its state file.
type Opened struct {
	// Card is the simulated card.
	Card Card
	// Kind is the kind of card the file holds.
	Kind string
	// Desc describes it for messages ("PIV card 10000001 (yubikey-5.7,
	// firmware 5.7.1)").
	Desc string
	// Profile is the name of the card's profile (the one it was made
	// with, for a loaded card).
	Profile string
	// Created says the file did not exist and was written with a new card.
	Created bool
}

// Open loads the card in path, or makes a new card as o says and writes it
// there when the file does not exist.
func Open(path string, o Options) (*Opened, error) {
	if path == "" {
		return nil, errors.New("simfile: no state file given")
	}
	kind := o.Kind
	if kind == "" {
		kind = KindPIV
	}
	if kind != KindPIV && kind != KindGIDS {
		return nil, fmt.Errorf("simfile: card kind %q: want %s or %s", kind, KindPIV, KindGIDS)
	}
	o, err := o.withProfile(kind)
	if err != nil {
		return nil, err
	}
	c, err := load(path, kind)
	if err == nil {
		return c, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	var card Card
	switch kind {
	case KindGIDS:
		g, err := gids.New(o.GIDS)
		if err != nil {
			return nil, fmt.Errorf("simfile: new GIDS card: %w", err)
		}
		card = g
	default:
		p, err := piv.New(o.PIV)
		if err != nil {
			return nil, fmt.Errorf("simfile: new PIV card: %w", err)
		}
		card = p
	}
	if err := card.SaveFile(path); err != nil {
		return nil, fmt.Errorf("simfile: %w", err)
	}
	return &Opened{Card: card, Kind: kind, Desc: Describe(card), Profile: profileName(card), Created: true}, nil
}

// load loads path as the kind of card it holds: a PIV card, or else a GIDS
// card. When neither loads, the error is the one of kind.
func load(path, kind string) (*Opened, error) {
	p, perr := piv.LoadFile(path, piv.Config{})
	if perr == nil {
		return &Opened{Card: p, Kind: KindPIV, Desc: Describe(p), Profile: profileName(p)}, nil
	}
	if errors.Is(perr, fs.ErrNotExist) {
		return nil, perr
	}
	g, gerr := gids.LoadFile(path, gids.Config{})
	if gerr == nil {
		return &Opened{Card: g, Kind: KindGIDS, Desc: Describe(g), Profile: profileName(g)}, nil
	}
	if kind == KindGIDS {
		return nil, gerr
	}
	return nil, perr
}

// Describe names a simulated card for messages.
func Describe(c Card) string {
	switch c := c.(type) {
	case *piv.Card:
		return fmt.Sprintf("PIV card %d (%s, firmware %s)", c.Serial(), c.Profile().Name, c.Version())
	case *gids.Card:
		return fmt.Sprintf("GIDS card (%s, %s)", c.Profile().Name, c.LifeCycle())
	}
	return fmt.Sprintf("%T", c)
}

// profileName is the name of a simulated card's profile.
func profileName(c Card) string {
	switch c := c.(type) {
	case *piv.Card:
		return c.Profile().Name
	case *gids.Card:
		return c.Profile().Name
	}
	return ""
}

// Saver writes a card's state to its file when it has changed.
type Saver struct {
	card Card
	path string
	last []byte // the state last written
}

// NewSaver returns a Saver of card in path, taking the card's present state
// as the one the file holds.
func NewSaver(card Card, path string) (*Saver, error) {
	cur, err := State(card)
	if err != nil {
		return nil, err
	}
	return &Saver{card: card, path: path, last: cur}, nil
}

// State returns the card's state as its file would hold it.
func State(c Card) ([]byte, error) {
	var b bytes.Buffer
	if err := c.Save(&b); err != nil {
		return nil, fmt.Errorf("simfile: %w", err)
	}
	return b.Bytes(), nil
}

// SaveIfChanged writes the state when it differs from the one last written,
// and reports whether it did.
func (s *Saver) SaveIfChanged() (bool, error) {
	cur, err := State(s.card)
	if err != nil {
		return false, err
	}
	if bytes.Equal(cur, s.last) {
		return false, nil
	}
	if err := s.card.SaveFile(s.path); err != nil {
		return false, fmt.Errorf("simfile: %w", err)
	}
	s.last = cur
	return true, nil
}

package basecsp

import (
	"context"
	"crypto"

	"github.com/cardmod/cardmod/cardfs"
	"github.com/cardmod/cardmod/internal/cspcore"
	"github.com/cardmod/cardmod/keystore"
	"github.com/cardmod/cardmod/minidriver"
)

// coreContainer is the shared core's container, which Container embeds:
// its methods FullName, KeySpecs, Reader, CardID, Delete and SetDefault
// are Container's.
type coreContainer = cspcore.Container

// Container is one key container on a card, found by its name. It holds
// the container's public keys as read when it was opened; its methods work
// on the card, which it follows by identity across removal and
// re-insertion. It is safe for concurrent use.
//
// Beside the methods below, a Container has those of the shared core:
//
//	FullName() string                       // `\\.\Reader\Container`
//	Reader() string                         // the reader its card was last seen in
//	CardID() cardfs.CardID                  // its card's identity
//	KeySpecs() []minidriver.KeySpec         // the specs of its keys
//	Delete(ctx context.Context) error       // its keys, certificate files and map record ("Smart Card Architecture": "Delete a container"); a default's successor is the first remaining container
//	SetDefault(ctx context.Context) error   // makes it its card's default container
type Container struct {
	*coreContainer
}

// Name returns the container's name.
func (c *Container) Name() string { return c.coreContainer.Name }

// Card returns the container's card.
func (c *Container) Card() *Card { return &Card{ref: c.Ref} }

// Index returns the container's index in the card's container map, as of
// opening.
func (c *Container) Index() int { return c.coreContainer.Index }

// Default reports whether the container was the card's default container
// when it was opened.
func (c *Container) Default() bool { return c.coreContainer.Default }

// Key returns the container's key of spec. It does not touch the card:
// the public key was read when the container was opened.
func (c *Container) Key(spec minidriver.KeySpec) (*Key, error) {
	k, err := c.coreContainer.Key(spec)
	if err != nil {
		return nil, err
	}
	return &Key{coreKey: k, c: c}, nil
}

// Container opens a container by a name of one of the four Windows forms
// (see keystore.ParseName): `\\.\Reader\Container`, `\\.\Reader\`, `Container`, or
// "" for the default container of the first card that has one. A name
// found on no card is an error matching minidriver.ErrNoKeyContainer.
func (p *Provider) Container(ctx context.Context, name string) (*Container, error) {
	if err := p.core.CheckOpen(); err != nil {
		return nil, err
	}
	c, err := p.core.Open(ctx, name)
	if err != nil {
		return nil, err
	}
	return &Container{c}, nil
}

// ContainerEntry describes one container of a card (PP_ENUMCONTAINERS).
type ContainerEntry struct {
	// Name is the container name.
	Name string
	// Reader and CardID say where it is.
	Reader string
	CardID cardfs.CardID
	// Index is its position in the container map.
	Index int
	// Default: the card's default container.
	Default bool
	// SignatureBits and KeyExchangeBits are the key sizes the container
	// map records (0 = no key in that slot).
	SignatureBits, KeyExchangeBits int
}

// FullName returns `\\.\Reader\Name`.
func (e ContainerEntry) FullName() string { return keystore.FullName(e.Reader, e.Name) }

// Containers lists every valid container of every card present. A card
// that cannot be read (a blank or failing card, a corrupt container map)
// does not hide the others: Containers returns every container it read
// and, as its error, a keystore.CardErrors naming each card it could not read.
func (p *Provider) Containers(ctx context.Context) ([]ContainerEntry, error) {
	if err := p.core.CheckOpen(); err != nil {
		return nil, err
	}
	list, err := p.core.List(ctx, false)
	var out []ContainerEntry
	for _, e := range list {
		out = append(out, ContainerEntry{Name: e.Name, Reader: e.Reader, CardID: e.CardID, Index: e.Index,
			Default: e.Default, SignatureBits: e.SignatureBits, KeyExchangeBits: e.KeyExchangeBits})
	}
	return out, err
}

// CreateContainer creates a container holding a new key of spec (the Base
// CSP's create flow, Microsoft's "Smart Card Architecture": "Create a new
// container (no reader specified)") and returns it. name is one of the four
// forms of keystore.ParseName: with a reader the card in that reader is
// used, else the first card that can be written and has a free container;
// an empty container name becomes a new GUID string. A name already on
// the card (on any card, without a reader) is refused with an error
// matching keystore.ErrExists.
//
// importKey nil generates the key on the card (bits is the RSA modulus
// size, 0 for the card's default; ignored for ECC); otherwise the
// *rsa.PrivateKey, *ecdsa.PrivateKey or *ecdh.PrivateKey is imported.
//
// The flow, in one transaction: authenticate the user PIN (and the admin
// key, see Config.AdminResponse), read the container map, add a valid
// record (the default when the card has none) and write it, bump cardcf's
// containers counter, create the key, record its size in the map.
func (p *Provider) CreateContainer(ctx context.Context, name string, spec minidriver.KeySpec, bits int, importKey crypto.PrivateKey) (*Container, error) {
	if err := p.core.CheckOpen(); err != nil {
		return nil, err
	}
	c, err := p.core.Create(ctx, cspcore.CreateRequest{Name: name, Spec: spec, Bits: bits, Key: importKey})
	if err != nil {
		return nil, err
	}
	return &Container{c}, nil
}

// DeleteContainer deletes a container ("Smart Card Architecture": "Delete
// a container"): its keys, its certificate files, its container map
// record. name is one of the forms of keystore.ParseName; "" deletes the default
// container, and the card then gets the first remaining container as its
// default.
func (p *Provider) DeleteContainer(ctx context.Context, name string) error {
	c, err := p.Container(ctx, name)
	if err != nil {
		return err
	}
	return c.Delete(ctx)
}

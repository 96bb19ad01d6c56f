package basecsp

import (
	"context"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/rsa"
	"errors"
	"fmt"
	"io"

	"github.com/cardmod/cardmod/cardfs"
	"github.com/cardmod/cardmod/internal/engine"
	"github.com/cardmod/cardmod/minidriver"
)

// Container is one key container on a card, found by its name. It holds
// the container's public keys as read when it was opened; its methods work
// on the card, which it follows by identity across removal and
// re-insertion. It is safe for concurrent use.
type Container struct {
	ref   *cardRef
	name  string
	index int // as opened; every operation finds the name again
	def   bool
	info  minidriver.ContainerInfo
}

// Name returns the container's name.
func (c *Container) Name() string { return c.name }

// Reader returns the reader the container's card was last seen in.
func (c *Container) Reader() string { return c.ref.readerName() }

// CardID returns the identity of the container's card.
func (c *Container) CardID() cardfs.CardID { return c.ref.id }

// Card returns the container's card.
func (c *Container) Card() *Card { return &Card{ref: c.ref} }

// Index returns the container's index in the card's container map, as of
// opening.
func (c *Container) Index() int { return c.index }

// Default reports whether the container was the card's default container
// when it was opened.
func (c *Container) Default() bool { return c.def }

// FullName returns the container's fully qualified name,
// `\\.\Reader\Container`.
func (c *Container) FullName() string { return `\\.\` + c.Reader() + `\` + c.name }

// KeySpecs lists the key specs of the container's keys.
func (c *Container) KeySpecs() []minidriver.KeySpec {
	var out []minidriver.KeySpec
	if c.info.Signature != nil {
		out = append(out, c.info.SignatureSpec)
	}
	if c.info.KeyExchange != nil {
		out = append(out, c.info.KeyExchangeSpec)
	}
	return out
}

// Key returns the container's key of spec. It does not touch the card:
// the public key was read when the container was opened.
func (c *Container) Key(spec minidriver.KeySpec) (*Key, error) {
	if !spec.Valid() {
		return nil, fmt.Errorf("basecsp: key spec %d: %w", spec, minidriver.ErrInvalidParameter)
	}
	have, pub := c.info.KeyExchangeSpec, c.info.KeyExchange
	if spec.InSignatureSlot() {
		have, pub = c.info.SignatureSpec, c.info.Signature
	}
	if pub == nil || have != spec {
		return nil, fmt.Errorf("basecsp: container %q has no %v key: %w", c.name, spec, minidriver.ErrNoKeyContainer)
	}
	k := &Key{c: c, spec: spec, pub: pub}
	switch pk := pub.(type) {
	case *rsa.PublicKey:
		k.bits = pk.N.BitLen()
	case *ecdsa.PublicKey:
		k.bits = pk.Curve.Params().BitSize
	case *ecdh.PublicKey:
		k.bits = spec.CurveBits()
	default:
		return nil, fmt.Errorf("basecsp: container %q: unexpected %T key: %w", c.name, pub, minidriver.ErrUnexpected)
	}
	return k, nil
}

// resolve finds the container's current index by its name.
func (c *Container) resolve(op *engine.Op) (int, error) {
	m, err := op.ContainerMap()
	if err != nil {
		return 0, fmt.Errorf("basecsp: container map: %w", err)
	}
	rec, ok := m.Find(c.name)
	if !ok {
		return 0, fmt.Errorf("basecsp: container %q is gone: %w", c.name, minidriver.ErrNoKeyContainer)
	}
	return rec.Index, nil
}

// do runs fn as one operation on the container's card with the
// container's current index.
func (c *Container) do(ctx context.Context, fn func(op *engine.Op, idx int) error) error {
	return c.ref.do(ctx, func(_ *engine.Card, op *engine.Op) error {
		idx, err := c.resolve(op)
		if err != nil {
			return err
		}
		return fn(op, idx)
	})
}

// openOn opens container name ("" = the default) on card ec in op.
func (p *Provider) openOn(ec *engine.Card, op *engine.Op, name string) (*Container, error) {
	m, err := op.ContainerMap()
	if err != nil {
		return nil, fmt.Errorf("basecsp: container map: %w", err)
	}
	var rec cardfs.ContainerMapRecord
	var ok bool
	if name == "" {
		rec, ok = m.Default()
	} else {
		rec, ok = m.Find(name)
	}
	if !ok {
		return nil, nil
	}
	info, err := op.ContainerInfo(rec.Index)
	if err != nil && !errors.Is(err, minidriver.ErrNoKeyContainer) {
		return nil, fmt.Errorf("basecsp: container %q: %w", rec.Name, err)
	}
	return &Container{ref: newCardRef(p, ec), name: rec.Name, index: rec.Index, def: rec.Default(), info: info}, nil
}

// Container opens a container by a name of one of the four Windows forms
// (see ParseName): `\\.\Reader\Container`, `\\.\Reader\`, `Container`, or
// "" for the default container of the first card that has one. A name
// found on no card is an error matching minidriver.ErrNoKeyContainer.
func (p *Provider) Container(ctx context.Context, name string) (*Container, error) {
	reader, cname, err := ParseName(name)
	if err != nil {
		return nil, err
	}
	cards, err := p.cardsFor(ctx, reader)
	if err != nil {
		return nil, err
	}
	for _, ec := range cards {
		var found *Container
		err := ec.Do(ctx, func(op *engine.Op) error {
			var err error
			found, err = p.openOn(ec, op, cname)
			return err
		})
		if err != nil {
			return nil, err
		}
		if found != nil {
			return found, nil
		}
	}
	what := "default container"
	if cname != "" {
		what = fmt.Sprintf("container %q", cname)
	}
	return nil, fmt.Errorf("basecsp: no %s found: %w", what, minidriver.ErrNoKeyContainer)
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
func (e ContainerEntry) FullName() string { return `\\.\` + e.Reader + `\` + e.Name }

// Containers lists every valid container of every card present.
func (p *Provider) Containers(ctx context.Context) ([]ContainerEntry, error) {
	cards, err := p.e.Cards(ctx)
	if err != nil {
		return nil, fmt.Errorf("basecsp: %w", err)
	}
	var out []ContainerEntry
	for _, ec := range cards {
		err := ec.Do(ctx, func(op *engine.Op) error {
			m, err := op.ContainerMap()
			if err != nil {
				return fmt.Errorf("basecsp: %s: container map: %w", ec.Reader(), err)
			}
			for _, r := range m.ValidRecords() {
				out = append(out, ContainerEntry{Name: r.Name, Reader: ec.Reader(), CardID: ec.ID(), Index: r.Index,
					Default: r.Default(), SignatureBits: int(r.SigKeySizeBits), KeyExchangeBits: int(r.KeyExchangeKeySizeBits)})
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// newGUID returns a random (version 4) GUID string, the name of a
// container created without one.
func newGUID(r io.Reader) (string, error) {
	var b [16]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return "", fmt.Errorf("basecsp: container name: %w", err)
	}
	b[6] = b[6]&0x0F | 0x40
	b[8] = b[8]&0x3F | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16]), nil
}

// CreateContainer creates a container holding a new key of spec (the §7.1
// create flow) and returns it. name is one of the four forms of ParseName:
// with a reader the card in that reader is used, else the first card with
// a free container; an empty container name becomes a new GUID string. A
// name already on the card (on any card, without a reader) is refused with
// an error matching ErrExists.
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
	if !spec.Valid() {
		return nil, fmt.Errorf("basecsp: key spec %d: %w", spec, minidriver.ErrInvalidParameter)
	}
	reader, cname, err := ParseName(name)
	if err != nil {
		return nil, err
	}
	if cname == "" {
		if cname, err = newGUID(p.rand); err != nil {
			return nil, err
		}
	}
	if importKey != nil {
		b, err := importBits(spec, importKey)
		if err != nil {
			return nil, err
		}
		bits = b
	}
	cards, err := p.cardsFor(ctx, reader)
	if err != nil {
		return nil, err
	}
	if reader == "" {
		for _, ec := range cards {
			var exists bool
			err := ec.Do(ctx, func(op *engine.Op) error {
				m, err := op.ContainerMap()
				if err != nil {
					return fmt.Errorf("basecsp: container map: %w", err)
				}
				_, exists = m.Find(cname)
				return nil
			})
			if err != nil {
				return nil, err
			}
			if exists {
				return nil, fmt.Errorf("basecsp: %q on the card in %s: %w", cname, ec.Reader(), ErrExists)
			}
		}
	}
	var lastErr error
	for _, ec := range cards {
		ct, err := p.createOn(ctx, ec, cname, spec, bits, importKey)
		if err == nil {
			return ct, nil
		}
		if reader != "" || !errors.Is(err, cardfs.ErrTooManyContainers) {
			return nil, err
		}
		lastErr = err
	}
	return nil, lastErr
}

func importBits(spec minidriver.KeySpec, key crypto.PrivateKey) (int, error) {
	switch k := key.(type) {
	case *rsa.PrivateKey:
		if spec.IsRSA() {
			return k.N.BitLen(), nil
		}
	case *ecdsa.PrivateKey:
		if spec.CurveBits() != 0 && !spec.IsRSA() && k.Curve.Params().BitSize == spec.CurveBits() {
			return spec.CurveBits(), nil
		}
	case *ecdh.PrivateKey:
		if spec.IsECDH() && len(k.PublicKey().Bytes()) == 1+2*((spec.CurveBits()+7)/8) {
			return spec.CurveBits(), nil
		}
	}
	return 0, fmt.Errorf("basecsp: a %T cannot be imported as %v: %w", key, spec, minidriver.ErrInvalidParameter)
}

func (p *Provider) createOn(ctx context.Context, ec *engine.Card, name string, spec minidriver.KeySpec, bits int, key crypto.PrivateKey) (*Container, error) {
	var ct *Container
	err := ec.Do(ctx, func(op *engine.Op) error {
		if err := op.Authenticate(minidriver.RoleUser, "create key container"); err != nil {
			return fmt.Errorf("basecsp: %w", err)
		}
		if p.cfg.AdminResponse != nil {
			if err := p.writeAuth(op, "create key container"); err != nil {
				return err
			}
		}
		m, err := op.ContainerMap()
		if err != nil {
			return fmt.Errorf("basecsp: container map: %w", err)
		}
		if _, ok := m.Find(name); ok {
			return fmt.Errorf("basecsp: %q: %w", name, ErrExists)
		}
		if spec.CurveBits() != 0 {
			bits = spec.CurveBits()
		} else if bits == 0 {
			ks, err := op.Card().KeySizes(op.Context(), op.Tx(), spec)
			if err != nil {
				return fmt.Errorf("basecsp: key sizes: %w", err)
			}
			bits = ks.Default
		}
		rec := cardfs.ContainerMapRecord{Name: name, Flags: cardfs.ContainerValid}
		if _, ok := m.Default(); !ok {
			rec.Flags |= cardfs.ContainerDefault
		}
		idx, err := m.Add(rec, ec.Properties().MaxContainers)
		if err != nil {
			if errors.Is(err, cardfs.ErrContainerExists) {
				return fmt.Errorf("basecsp: %q: %w", name, ErrExists)
			}
			return fmt.Errorf("basecsp: %w", err)
		}
		if err := op.WriteFile(cardfs.MSCPDir, cardfs.ContainerMapFile, m.Marshal()); err != nil {
			return fmt.Errorf("basecsp: write container map: %w", err)
		}
		if err := op.NoteContainersChanged(); err != nil {
			return fmt.Errorf("basecsp: %w", err)
		}
		req := minidriver.CreateContainerRequest{Index: idx, KeySpec: spec, Bits: bits, Key: key}
		if err := minidriver.CreateContainer(op.Context(), op.Card(), op.Tx(), req); err != nil {
			// Give the record back; the key slot is unchanged or unusable.
			if m.Delete(idx) == nil {
				_ = op.WriteFile(cardfs.MSCPDir, cardfs.ContainerMapFile, m.Marshal())
			}
			return fmt.Errorf("basecsp: create key: %w", err)
		}
		sig, kx := uint16(0), uint16(bits)
		if spec.InSignatureSlot() {
			sig, kx = kx, 0
		}
		if err := m.SetKeySizes(idx, sig, kx); err != nil {
			return fmt.Errorf("basecsp: %w", err)
		}
		if err := op.WriteFile(cardfs.MSCPDir, cardfs.ContainerMapFile, m.Marshal()); err != nil {
			return fmt.Errorf("basecsp: write container map: %w", err)
		}
		info, err := op.ContainerInfo(idx)
		if err != nil {
			return fmt.Errorf("basecsp: new container: %w", err)
		}
		r, _ := m.Record(idx)
		ct = &Container{ref: newCardRef(p, ec), name: r.Name, index: idx, def: r.Default(), info: info}
		return nil
	})
	return ct, err
}

// DeleteContainer deletes a container (the §7.1 delete flow): its keys,
// its certificate files, its container map record. name is one of the
// forms of ParseName; "" deletes the default container, and the card then
// gets the first remaining container as its default.
func (p *Provider) DeleteContainer(ctx context.Context, name string) error {
	c, err := p.Container(ctx, name)
	if err != nil {
		return err
	}
	return c.Delete(ctx)
}

// Delete deletes the container: its keys, its certificate files, its
// container map record (spec §7.1). When it was the default, the first
// remaining container becomes the default.
func (c *Container) Delete(ctx context.Context) error {
	p := c.ref.p
	return c.do(ctx, func(op *engine.Op, idx int) error {
		if err := op.Authenticate(minidriver.RoleUser, "delete key container"); err != nil {
			return fmt.Errorf("basecsp: %w", err)
		}
		if p.cfg.AdminResponse != nil {
			if err := p.writeAuth(op, "delete key container"); err != nil {
				return err
			}
		}
		if err := op.NoteContainersChanged(); err != nil {
			return fmt.Errorf("basecsp: %w", err)
		}
		if err := minidriver.DeleteContainer(op.Context(), op.Card(), op.Tx(), idx); err != nil && !errors.Is(err, minidriver.ErrNoKeyContainer) {
			return fmt.Errorf("basecsp: delete key: %w", err)
		}
		for _, kind := range []cardfs.KeySpec{cardfs.KeySpecKeyExchange, cardfs.KeySpecSignature} {
			names, err := cardfs.CertFileNames(idx, kind)
			if err != nil {
				return fmt.Errorf("basecsp: %w", err)
			}
			for _, fn := range names {
				if err := op.DeleteFile(cardfs.MSCPDir, fn); err != nil && !errors.Is(err, minidriver.ErrFileNotFound) {
					return fmt.Errorf("basecsp: delete certificate %s: %w", fn, err)
				}
			}
		}
		m, err := op.ContainerMap()
		if err != nil {
			return fmt.Errorf("basecsp: container map: %w", err)
		}
		r, _ := m.Record(idx)
		if err := m.Delete(idx); err != nil {
			return fmt.Errorf("basecsp: %w", err)
		}
		if r.Default() {
			if recs := m.ValidRecords(); len(recs) > 0 {
				if err := m.SetDefault(recs[0].Index); err != nil {
					return fmt.Errorf("basecsp: %w", err)
				}
			}
		}
		if err := op.WriteFile(cardfs.MSCPDir, cardfs.ContainerMapFile, m.Marshal()); err != nil {
			return fmt.Errorf("basecsp: write container map: %w", err)
		}
		return nil
	})
}

// SetDefault makes the container its card's default container.
func (c *Container) SetDefault(ctx context.Context) error {
	p := c.ref.p
	return c.do(ctx, func(op *engine.Op, idx int) error {
		if err := p.writeAuth(op, "set the default container"); err != nil {
			return err
		}
		m, err := op.ContainerMap()
		if err != nil {
			return fmt.Errorf("basecsp: container map: %w", err)
		}
		if r, _ := m.Record(idx); r.Default() {
			return nil
		}
		if err := m.SetDefault(idx); err != nil {
			return fmt.Errorf("basecsp: %w", err)
		}
		if err := op.WriteFile(cardfs.MSCPDir, cardfs.ContainerMapFile, m.Marshal()); err != nil {
			return fmt.Errorf("basecsp: write container map: %w", err)
		}
		return nil
	})
}

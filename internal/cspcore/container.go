package cspcore

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
	"github.com/cardmod/cardmod/keystore"
	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/scrm"
)

// Container is one key container on a card, as opened. Its fields are
// fixed when it is opened and must not be modified; every operation finds
// the container's index again by its name.
type Container struct {
	Ref     *Ref
	Name    string
	Index   int // as opened
	Default bool
	Info    minidriver.ContainerInfo
}

// FullName returns `\\.\Reader\Name`.
func (c *Container) FullName() string { return keystore.FullName(c.Ref.Reader(), c.Name) }

// Reader returns the reader the container's card was last seen in.
func (c *Container) Reader() string { return c.Ref.Reader() }

// CardID returns the identity of the container's card.
func (c *Container) CardID() cardfs.CardID { return c.Ref.ID() }

// KeySpecs lists the key specs of the container's keys.
func (c *Container) KeySpecs() []minidriver.KeySpec {
	var out []minidriver.KeySpec
	if c.Info.Signature != nil {
		out = append(out, c.Info.SignatureSpec)
	}
	if c.Info.KeyExchange != nil {
		out = append(out, c.Info.KeyExchangeSpec)
	}
	return out
}

// keyPublic returns the public key of spec and its size in bits, without
// touching the card.
func (c *Container) keyPublic(spec minidriver.KeySpec) (crypto.PublicKey, int, error) {
	core := c.Ref.core
	if !spec.Valid() {
		return nil, 0, core.Errorf("key spec %d: %w", spec, minidriver.ErrInvalidParameter)
	}
	have, pub := c.Info.KeyExchangeSpec, c.Info.KeyExchange
	if spec.InSignatureSlot() {
		have, pub = c.Info.SignatureSpec, c.Info.Signature
	}
	if pub == nil || have != spec {
		return nil, 0, core.Errorf("container %q has no %v key: %w", c.Name, spec, minidriver.ErrNoKeyContainer)
	}
	switch pk := pub.(type) {
	case *rsa.PublicKey:
		return pub, pk.N.BitLen(), nil
	case *ecdsa.PublicKey:
		return pub, pk.Curve.Params().BitSize, nil
	case *ecdh.PublicKey:
		return pub, spec.CurveBits(), nil
	}
	return nil, 0, core.Errorf("container %q: unexpected %T key: %w", c.Name, pub, minidriver.ErrUnexpected)
}

// Index finds the current index of container c by its name in op: the
// providers' operations that run their own transaction (ksp's key
// agreement and PIN properties) use it where the core's own use do.
func Index(op *engine.Op, c *Container) (int, error) { return c.resolve(op) }

// resolve finds the container's current index by its name in op.
func (c *Container) resolve(op *engine.Op) (int, error) {
	idx, ok, err := op.ContainerIndex(c.Name)
	if err != nil {
		return 0, c.Ref.core.Errorf("container map: %w", err)
	}
	if !ok {
		return 0, c.Ref.core.Errorf("container %q is gone: %w", c.Name, minidriver.ErrNoKeyContainer)
	}
	return idx, nil
}

// do runs fn as one operation on the container's card with the
// container's current index, with the engine's Do method how says
// (doChecked for an operation whose outcome fn checks on the host,
// doCached for one that cannot be checked).
func (c *Container) do(ctx context.Context, fn func(op *engine.Op, idx int) error, how doHow) error {
	return c.Ref.do(ctx, func(_ *engine.Card, op *engine.Op) error {
		idx, err := c.resolve(op)
		if err != nil {
			return err
		}
		return fn(op, idx)
	}, how)
}

// openOn opens container name ("" = the default) on card ec in op; nil
// when the card has no such container. Errors are not prefixed yet.
func (c *Core) openOn(ec *engine.Card, op *engine.Op, name string) (*Container, error) {
	rec, ok, err := op.FindContainer(name)
	if err != nil {
		return nil, fmt.Errorf("container map: %w", err)
	}
	if !ok {
		return nil, nil
	}
	info, err := op.ContainerInfo(rec.Index)
	if err != nil && !errors.Is(err, minidriver.ErrNoKeyContainer) {
		return nil, fmt.Errorf("container %q: %w", rec.Name, err)
	}
	return &Container{Ref: c.NewRef(ec), Name: rec.Name, Index: rec.Index, Default: rec.Default(), Info: info}, nil
}

// Open opens a container by a name of one of the four Windows forms (see
// ParseName). A name found on no card is an error matching
// minidriver.ErrNoKeyContainer; when some cards could not be read, it
// also wraps their CardErrors. A card that cannot be read does not keep
// the container from being found on another.
func (c *Core) Open(ctx context.Context, name string) (*Container, error) {
	reader, cname, err := keystore.ParseName(name)
	if err != nil {
		return nil, err
	}
	what := "default container"
	if cname != "" {
		what = fmt.Sprintf("container %q", cname)
	}
	return firstOnCards(ctx, c, reader, "no "+what+" found", func(ec *engine.Card, op *engine.Op) (*Container, error) {
		return c.openOn(ec, op, cname)
	})
}

// firstOnCards runs on for each card in reader (every reader when it is
// empty) and returns the first thing it finds. A new process opens each
// card in the transaction of its look-up (CardsDo), and the cards after
// the one that has it are not looked at. A card that cannot be read does
// not keep it from being found on another, unless the reader was named
// or the context ended; nothing found is an error matching
// minidriver.ErrNoKeyContainer that says notFound and wraps the
// CardErrors of the cards that could not be read.
func firstOnCards[T any](ctx context.Context, c *Core, reader, notFound string, on func(*engine.Card, *engine.Op) (*T, error)) (*T, error) {
	var found *T
	cards, opErrs, failed, err := c.CardsDo(ctx, reader, func(ec *engine.Card, op *engine.Op) error {
		var err error
		found, err = on(ec, op)
		return err
	}, func(err error) bool {
		if err != nil {
			found = nil
		}
		return found != nil
	})
	if err != nil {
		return nil, err
	}
	for i, ec := range cards {
		if err := opErrs[i]; err != nil {
			if reader != "" || ctx.Err() != nil {
				return nil, c.Errorf("%w", err)
			}
			failed = append(failed, &CardError{Reader: ec.Reader(), CardID: ec.ID(), Err: err})
		}
	}
	if found != nil {
		return found, nil
	}
	if len(failed) > 0 {
		return nil, c.Errorf("%s: %w; %w", notFound, minidriver.ErrNoKeyContainer, failed)
	}
	return nil, c.Errorf("%s: %w", notFound, minidriver.ErrNoKeyContainer)
}

// Entry describes one valid container of a card.
type Entry struct {
	Name            string
	Reader          string
	CardID          cardfs.CardID
	Index           int
	Default         bool
	SignatureBits   int
	KeyExchangeBits int
	// Info is the container's public keys when List was asked for them.
	Info minidriver.ContainerInfo
}

// List lists every valid container of every card present; withInfo also
// reads their public keys (from the cache while cardcf is unchanged). A
// card that cannot be read, or a container whose keys cannot be read, is
// reported in a CardErrors returned beside the rest (see listCards).
func (c *Core) List(ctx context.Context, withInfo bool) ([]Entry, error) {
	return listContainers(ctx, c, containerList{info: withInfo}, func(ec *engine.Card, _ *engine.Op, r cardfs.ContainerMapRecord, info minidriver.ContainerInfo, _ func(*CardError)) ([]Entry, error) {
		return []Entry{{Name: r.Name, Reader: ec.Reader(), CardID: ec.ID(), Index: r.Index, Default: r.Default(),
			SignatureBits: int(r.SigKeySizeBits), KeyExchangeBits: int(r.KeyExchangeKeySizeBits), Info: info}}, nil
	})
}

// NewGUID returns a random (version 4) GUID string, the name of a
// container created without one.
func (c *Core) NewGUID() (string, error) {
	var b [16]byte
	if _, err := io.ReadFull(c.Rand(), b[:]); err != nil {
		return "", c.Errorf("container name: %w", err)
	}
	b[6] = b[6]&0x0F | 0x40
	b[8] = b[8]&0x3F | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16]), nil
}

// CreateRequest is what Create makes.
type CreateRequest struct {
	// Name is one of the four forms of ParseName; an empty container part
	// becomes a new GUID string.
	Name string
	// Spec is the key's spec.
	Spec minidriver.KeySpec
	// Bits is the RSA modulus size, 0 for the card's default; ignored for
	// ECC and for imported keys.
	Bits int
	// Key, if not nil, is imported (*rsa.PrivateKey, *ecdsa.PrivateKey,
	// *ecdh.PrivateKey) instead of generated on the card.
	Key crypto.PrivateKey
	// PIN, if not zero, is the PIN that protects the new key; zero means
	// the user PIN.
	PIN minidriver.PinID
	// CheckSizes refuses a size the card's KeySizes do not allow, before
	// anything is written.
	CheckSizes bool
}

// Create creates a container holding a new key (Microsoft's "Smart Card
// Architecture": "Create a new container (no reader specified)") and
// returns it. With a reader in the name the card in that reader is used,
// else the first card that can be written and has a free container (a
// read-only card is passed over); a name already on the card (on any
// card, without a reader) is refused with the provider's ErrExists.
//
// The flow, in one transaction (with a reader named, or the only reader
// there is, the one that opens the card when the process has not opened
// it yet): authenticate the user PIN (and the admin key), read the
// container map, add a valid record (the default when the card has none)
// and write it, bump cardcf's containers counter, create the key, record
// its size in the map.
func (c *Core) Create(ctx context.Context, req CreateRequest) (*Container, error) {
	spec := req.Spec
	if !spec.Valid() {
		return nil, c.Errorf("key spec %d: %w", spec, minidriver.ErrInvalidParameter)
	}
	reader, cname, err := keystore.ParseName(req.Name)
	if err != nil {
		return nil, err
	}
	if cname == "" {
		if cname, err = c.NewGUID(); err != nil {
			return nil, err
		}
	}
	req.Name = cname
	if req.Key != nil {
		b, err := c.importBits(spec, req.Key)
		if err != nil {
			return nil, err
		}
		req.Bits = b
	}
	if reader != "" {
		ct, opened, err := c.createInReader(ctx, reader, req)
		if !opened {
			return nil, c.Errorf("reader %q: %w", reader, err)
		}
		return ct, err
	}
	if readers, err := c.e.Context().ListReaders(ctx); err == nil && len(readers) == 1 {
		// One reader: its card is the whole look-up, so the create runs
		// as with the reader named. A card that cannot be opened there
		// is reported as the look-up below reports it.
		if ct, opened, err := c.createInReader(ctx, readers[0], req); opened {
			return ct, err
		}
	}
	// Without a reader the name is looked for on every card, each opened
	// (when it is not open yet) in the transaction that reads its map,
	// and the key is made on the first card that can be written and has
	// a free container. A read-only card's map is read only once a card
	// can be written (a name there is taken too): when none can, the
	// create is refused before any scan or login. A card that cannot be
	// read is passed over: it cannot be written either.
	exists := func(op *engine.Op) (bool, error) {
		m, err := op.ContainerMap()
		if err != nil {
			return false, fmt.Errorf("container map: %w", err)
		}
		_, ok := m.Find(cname)
		return ok, nil
	}
	var takenOn *engine.Card
	cards, opErrs, failed, err := c.CardsDo(ctx, "", func(ec *engine.Card, op *engine.Op) error {
		if ec.Properties().ReadOnly {
			return nil
		}
		taken, err := exists(op)
		if taken {
			takenOn = ec
		}
		return err
	}, func(error) bool { return takenOn != nil })
	if err != nil {
		return nil, err
	}
	if takenOn != nil {
		return nil, c.Errorf("%q on the card in %s: %w", cname, takenOn.Reader(), keystore.ErrExists)
	}
	var writable, readOnly []*engine.Card
	for i, ec := range cards {
		switch {
		case opErrs[i] != nil:
			failed = append(failed, &CardError{Reader: ec.Reader(), CardID: ec.ID(), Err: opErrs[i]})
		case ec.Properties().ReadOnly:
			readOnly = append(readOnly, ec)
		default:
			writable = append(writable, ec)
		}
	}
	switch {
	case len(writable) == 0 && len(readOnly) > 0:
		// Nowhere to create it: refused before any scan or login.
		return nil, c.Errorf("the card in %s is read-only: %w", readOnly[0].Reader(), minidriver.ErrReadOnly)
	case len(writable) == 0:
		return nil, c.Errorf("no card present can be read: %w; %w", scrm.ErrNoSmartcard, failed)
	}
	for _, ec := range readOnly {
		var taken bool
		err := ec.Do(ctx, func(op *engine.Op) error {
			var err error
			taken, err = exists(op)
			return err
		})
		if err == nil && taken {
			return nil, c.Errorf("%q on the card in %s: %w", cname, ec.Reader(), keystore.ErrExists)
		}
	}
	var lastErr error
	for _, ec := range writable {
		ct, err := c.createOn(ctx, ec, req)
		if err == nil {
			return ct, nil
		}
		// A full card, or one that turns out read-only (a YubiKey whose
		// CHUID its issuer signed), is passed over like a read-only one.
		if !errors.Is(err, cardfs.ErrTooManyContainers) && !errors.Is(err, minidriver.ErrReadOnly) {
			return nil, err
		}
		lastErr = err
	}
	return nil, lastErr
}

// importBits checks a key to import against spec before anything is
// sent to the card, as crypto/rsa and crypto/ecdsa would check it before
// using it: a nil key, an RSA key that does not validate (missing or
// inconsistent values, more than two primes) or an EC key off its curve
// is refused with ErrInvalidParameter, never a panic. It returns the
// key's size in bits.
func (c *Core) importBits(spec minidriver.KeySpec, key crypto.PrivateKey) (int, error) {
	bad := func(why string, args ...any) (int, error) {
		return 0, c.Errorf("import %v key: %s: %w", spec, fmt.Sprintf(why, args...), minidriver.ErrInvalidParameter)
	}
	switch k := key.(type) {
	case *rsa.PrivateKey:
		if !spec.IsRSA() {
			break
		}
		if k == nil || k.N == nil || k.D == nil || k.N.Sign() <= 0 {
			return bad("no RSA key")
		}
		if len(k.Primes) != 2 {
			return bad("%d primes (the card takes two-prime keys)", len(k.Primes))
		}
		for _, p := range k.Primes {
			if p == nil || p.Sign() <= 0 {
				return bad("a missing prime")
			}
		}
		if err := k.Validate(); err != nil {
			return bad("%v", err)
		}
		return k.N.BitLen(), nil
	case *ecdsa.PrivateKey:
		if spec.CurveBits() == 0 || spec.IsRSA() {
			break
		}
		//lint:ignore SA1019 only checked for nil: ECDH and Bytes dereference them.
		if k == nil || k.Curve == nil || k.D == nil || k.X == nil || k.Y == nil {
			return bad("no EC key")
		}
		if k.Curve.Params().BitSize != spec.CurveBits() {
			break
		}
		// ECDH checks the private scalar (1 ≤ D < N) and the curve; the
		// public point must be D·G.
		ek, err := k.ECDH()
		if err != nil {
			return bad("%v", err)
		}
		pub, err := k.PublicKey.ECDH()
		if err != nil || !pub.Equal(ek.PublicKey()) {
			return bad("the public key is not the private key's")
		}
		return spec.CurveBits(), nil
	case *ecdh.PrivateKey:
		if k == nil {
			return bad("no EC key")
		}
		if spec.IsECDH() && len(k.PublicKey().Bytes()) == 1+2*((spec.CurveBits()+7)/8) {
			return spec.CurveBits(), nil
		}
	}
	return bad("a %T is not a key of this spec", key)
}

// createInReader is the create flow on the card in reader, in one
// transaction in which a card not open yet is opened (CardDo): a new
// process's create sends no second SELECT. opened is false, with the
// reason, when the card could not be opened.
func (c *Core) createInReader(ctx context.Context, reader string, req CreateRequest) (ct *Container, opened bool, err error) {
	ec, err := c.e.CardDo(ctx, reader, func(ec *engine.Card, op *engine.Op) error {
		var err error
		ct, err = c.createIn(ec, op, req)
		return err
	})
	return ct, ec != nil, err
}

func (c *Core) createOn(ctx context.Context, ec *engine.Card, req CreateRequest) (*Container, error) {
	// A card that says it is read-only is refused before any login or
	// scan (issue 15, item 8): its properties are known since it was
	// opened.
	if ec.Properties().ReadOnly {
		return nil, c.Errorf("the card in %s is read-only: %w", ec.Reader(), minidriver.ErrReadOnly)
	}
	var ct *Container
	err := ec.Do(ctx, func(op *engine.Op) error {
		var err error
		ct, err = c.createIn(ec, op, req)
		return err
	})
	return ct, err
}

// createIn is the create flow (Create) on card ec in op's transaction.
func (c *Core) createIn(ec *engine.Card, op *engine.Op, req CreateRequest) (*Container, error) {
	name, spec, bits, key := req.Name, req.Spec, req.Bits, req.Key
	// A card that is read-only (as its properties say, or as the plug-in
	// learns now: a YubiKey whose CHUID its issuer signed), or one that
	// cannot generate keys when asked to, is refused before any login or
	// scan (issue 15, item 8).
	if err := op.CheckWritable(); errors.Is(err, minidriver.ErrReadOnly) {
		return nil, c.Errorf("the card in %s is read-only: %w", ec.Reader(), err)
	} else if err != nil {
		return nil, c.Errorf("%w", err)
	}
	if key == nil && !op.Card().Capabilities().KeyGen {
		return nil, c.Errorf("the card in %s does not generate keys: %w", ec.Reader(), minidriver.ErrUnsupported)
	}
	// A key spec the card says it lacks is refused before anything is
	// written (issue 15, item 5); CheckSizes refuses sizes too.
	if ks, err := op.Card().KeySizes(op.Context(), op.Tx(), spec); errors.Is(err, minidriver.ErrUnsupported) {
		return nil, c.Errorf("the card in %s has no %v keys: %w", ec.Reader(), spec, c.errUnsupportedKey())
	} else if err == nil && spec.CurveBits() != 0 && !ks.Supports(spec.CurveBits()) {
		return nil, c.Errorf("the card in %s has no %v keys: %w", ec.Reader(), spec, c.errUnsupportedKey())
	}
	if req.CheckSizes {
		ks, err := op.Card().KeySizes(op.Context(), op.Tx(), spec)
		if errors.Is(err, minidriver.ErrUnsupported) || errors.Is(err, minidriver.ErrInvalidParameter) {
			return nil, c.Errorf("the card in %s has no %v keys: %w", ec.Reader(), spec, c.errUnsupportedKey())
		}
		if err != nil {
			return nil, c.Errorf("key sizes: %w", err)
		}
		want := bits
		if spec.CurveBits() != 0 {
			want = spec.CurveBits()
		}
		if want != 0 && !ks.Supports(want) {
			return nil, c.Errorf("the card in %s has no %d-bit %v keys: %w", ec.Reader(), want, spec, c.errUnsupportedKey())
		}
	}
	if err := op.Authenticate(minidriver.RoleUser, "create key container"); err != nil {
		return nil, c.Errorf("%w", err)
	}
	if c.HasAdmin() {
		if err := c.WriteAuth(op, "create key container"); err != nil {
			return nil, err
		}
	}
	m, err := op.ContainerMap()
	if err != nil {
		return nil, c.Errorf("container map: %w", err)
	}
	if _, ok := m.Find(name); ok {
		return nil, c.Errorf("%q: %w", name, keystore.ErrExists)
	}
	if spec.CurveBits() != 0 {
		bits = spec.CurveBits()
	} else if bits == 0 {
		ks, err := op.Card().KeySizes(op.Context(), op.Tx(), spec)
		if err != nil {
			return nil, c.Errorf("key sizes: %w", err)
		}
		bits = ks.Default
	}
	rec := cardfs.ContainerMapRecord{Name: name, Flags: cardfs.ContainerValid}
	if _, ok := m.Default(); !ok {
		rec.Flags |= cardfs.ContainerDefault
	}
	// A create that fails at any step leaves every card file as it
	// was (issue 15, item 4): the key is deleted again and the map's
	// original bytes written back. cardcf alone records that
	// something happened.
	orig := m.Marshal()
	idx, err := m.Add(rec, ec.Properties().MaxContainers)
	if err != nil {
		if errors.Is(err, cardfs.ErrContainerExists) {
			return nil, c.Errorf("%q: %w", name, keystore.ErrExists)
		}
		return nil, c.Errorf("%w", err)
	}
	// The record is written once, with the key's size, before the key
	// is made (as the Base CSP writes cmapfile before
	// CardCreateContainerEx), and cardcf is bumped once before both:
	// its containers and files counters in one write (spec "File
	// System Requirements: Cache File": whoever changes the data bumps
	// cardcf first; within one transaction nobody reads in between).
	sig, kx := uint16(0), uint16(bits)
	if spec.InSignatureSlot() {
		sig, kx = kx, 0
	}
	if err := m.SetKeySizes(idx, sig, kx); err != nil {
		return nil, c.Errorf("%w", err)
	}
	mapWritten := false
	undo := func(keyMade bool) {
		if keyMade {
			_ = minidriver.DeleteContainer(op.Context(), op.Card(), op.Tx(), idx)
		}
		if mapWritten {
			_ = op.WriteFile(cardfs.MSCPDir, cardfs.ContainerMapFile, orig)
		}
	}
	if err := op.NoteContainersAndFilesChanged(); err != nil {
		return nil, c.Errorf("%w", err)
	}
	if err := op.WriteFile(cardfs.MSCPDir, cardfs.ContainerMapFile, m.Marshal()); err != nil {
		// The card may have taken part of it.
		mapWritten = true
		undo(false)
		return nil, c.Errorf("write container map: %w", err)
	}
	mapWritten = true
	creq := minidriver.CreateContainerRequest{Index: idx, KeySpec: spec, Bits: bits, Key: key, PIN: req.PIN}
	if err := minidriver.CreateContainer(op.Context(), op.Card(), op.Tx(), creq); err != nil {
		undo(false)
		if errors.Is(err, minidriver.ErrUnsupported) && !errors.Is(err, c.errUnsupportedKey()) {
			// The card refused to make a key of this kind.
			return nil, c.Errorf("create key: %w: %w", c.errUnsupportedKey(), err)
		}
		return nil, c.Errorf("create key: %w", err)
	}
	info, err := op.ContainerInfo(idx)
	if err != nil {
		undo(true)
		return nil, c.Errorf("new container: %w", err)
	}
	r, _ := m.Record(idx)
	return &Container{Ref: c.NewRef(ec), Name: r.Name, Index: idx, Default: r.Default(), Info: info}, nil
}

// Delete deletes the container: its keys, its certificate files, its
// container map record ("Smart Card Architecture": "Delete a container").
// When it was the default, the first remaining container becomes the
// default.
func (c *Container) Delete(ctx context.Context) error {
	core := c.Ref.core
	if err := core.CheckOpen(); err != nil {
		return err
	}
	return c.do(ctx, func(op *engine.Op, idx int) error {
		if err := op.Authenticate(minidriver.RoleUser, "delete key container"); err != nil {
			return core.Errorf("%w", err)
		}
		if core.HasAdmin() {
			if err := core.WriteAuth(op, "delete key container"); err != nil {
				return err
			}
		}
		if err := op.NoteContainersChanged(); err != nil {
			return core.Errorf("%w", err)
		}
		if err := minidriver.DeleteContainer(op.Context(), op.Card(), op.Tx(), idx); err != nil && !errors.Is(err, minidriver.ErrNoKeyContainer) {
			return core.Errorf("delete key: %w", err)
		}
		for _, kind := range []cardfs.KeySpec{cardfs.KeySpecKeyExchange, cardfs.KeySpecSignature} {
			names, err := cardfs.CertFileNames(idx, kind)
			if err != nil {
				return core.Errorf("%w", err)
			}
			for _, fn := range names {
				if err := op.DeleteFile(cardfs.MSCPDir, fn); err != nil && !errors.Is(err, minidriver.ErrFileNotFound) {
					return core.Errorf("delete certificate %s: %w", fn, err)
				}
			}
		}
		m, err := op.ContainerMap()
		if err != nil {
			return core.Errorf("container map: %w", err)
		}
		r, _ := m.Record(idx)
		if err := m.Delete(idx); err != nil {
			return core.Errorf("%w", err)
		}
		if r.Default() {
			if recs := m.ValidRecords(); len(recs) > 0 {
				if err := m.SetDefault(recs[0].Index); err != nil {
					return core.Errorf("%w", err)
				}
			}
		}
		if err := op.WriteFile(cardfs.MSCPDir, cardfs.ContainerMapFile, m.Marshal()); err != nil {
			return core.Errorf("write container map: %w", err)
		}
		return nil
	}, doPlain)
}

// SetDefault makes the container its card's default container.
func (c *Container) SetDefault(ctx context.Context) error {
	core := c.Ref.core
	if err := core.CheckOpen(); err != nil {
		return err
	}
	return c.do(ctx, func(op *engine.Op, idx int) error {
		if err := core.WriteAuth(op, "set the default container"); err != nil {
			return err
		}
		m, err := op.ContainerMap()
		if err != nil {
			return core.Errorf("container map: %w", err)
		}
		if r, _ := m.Record(idx); r.Default() {
			return nil
		}
		if err := m.SetDefault(idx); err != nil {
			return core.Errorf("%w", err)
		}
		if err := op.WriteFile(cardfs.MSCPDir, cardfs.ContainerMapFile, m.Marshal()); err != nil {
			return core.Errorf("write container map: %w", err)
		}
		return nil
	}, doPlain)
}

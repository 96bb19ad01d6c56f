package piv

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"

	"github.com/cardmod/cardmod/cardfs"
	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/scrm"
)

// virtualAC is the access condition reported for files kept in PIV data
// objects: everyone reads, and the card writes them only once the
// management key (ROLE_ADMIN) is authenticated.
const virtualAC = cardfs.EveryoneReadAdminWriteAc

func pathErr(op, dir, name string, err error) error {
	return &cardfs.PathError{Op: op, Dir: dir, Name: name, Err: err}
}

// names normalises a directory and file name.
func names(dir, name string) (string, string, error) {
	if dir != "" {
		d, err := cardfs.NormalizeName(dir)
		if err != nil {
			return "", "", err
		}
		dir = d
	}
	if name != "" {
		n, err := cardfs.NormalizeName(name)
		if err != nil {
			return "", "", err
		}
		name = n
	}
	return dir, name, nil
}

// fileKind classifies a path.
type fileKind int

const (
	kindStore fileKind = iota // kept in the file store object
	kindCardID
	kindCardApps
	kindCardCF
	kindCmap
	kindMSRoots
	kindCert
	kindHidden // the plug-in's own file in the store (pubsFile)
)

func classify(dir, name string) fileKind {
	switch {
	case dir == "" && name == cardfs.CardIDFile:
		return kindCardID
	case dir == "" && name == cardfs.CardAppsFile:
		return kindCardApps
	case dir == "" && name == cardfs.CardCFFile:
		return kindCardCF
	case dir == "" && name == pubsFile:
		return kindHidden
	case dir == cardfs.MSCPDir && name == cardfs.ContainerMapFile:
		return kindCmap
	case dir == cardfs.MSCPDir && name == cardfs.MSRootsFile:
		return kindMSRoots
	}
	if dir == cardfs.MSCPDir {
		if _, _, ok := cardfs.ParseCertFileName(name); ok {
			return kindCert
		}
	}
	return kindStore
}

// roleSet is the file-access view of the PINs verified in this
// transaction; PINSignature verifies the user PIN.
func (c *Card) roleSet() cardfs.Roles {
	r := cardfs.Roles(c.roles)
	if c.roles.Has(PINSignature) {
		r |= cardfs.RoleSet(cardfs.RoleUser)
	}
	return r
}

// loadStore reads the file store (object 5FFF20); a card without one has
// an empty store with the mscp directory. What the card answers is noted
// (probe.go): present, absent (6A82) or not a data object of this card.
func (c *Card) loadStore(ctx context.Context, tx *scrm.Tx) (*cardfs.MemFS, error) {
	fs, _, err := c.readStore(ctx, tx)
	return fs, err
}

// readStore is loadStore, and whether the card holds the object.
func (c *Card) readStore(ctx context.Context, tx *scrm.Tx) (*cardfs.MemFS, bool, error) {
	var raw []byte
	present := false
	if c.store != storeNo {
		v, err := c.getData(ctx, tx, objFileStore)
		switch {
		case err == nil:
			raw, present = v, true
			c.store = storeYes
		case errors.Is(err, scrm.ErrNotFound):
		case lacksObject(err, false):
			c.store = storeNo
		default:
			return nil, false, cardErr("read file store", err)
		}
	}
	fs, err := parseStore(raw)
	if err != nil {
		return nil, false, err
	}
	return fs, present, nil
}

// parseStore is the file system a file store object's value (empty: no
// object) holds: parseFileStore, with the mscp directory made, empty and
// with UserCreateDeleteDirAc, where the object has none (every version of
// the plug-in does this; storedSnapshot relies on it).
func parseStore(raw []byte) (*cardfs.MemFS, error) {
	fs, err := parseFileStore(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", minidriver.ErrCommDataLost, err)
	}
	if !slices.Contains(fs.ListDirectories(cardfs.RolesAll), cardfs.MSCPDir) {
		if err := fs.CreateDirectory(cardfs.RolesAll, cardfs.MSCPDir, cardfs.UserCreateDeleteDirAc); err != nil {
			return nil, fmt.Errorf("piv: file store: %w", err)
		}
	}
	return fs, nil
}

// readCardCF reads cardcf from the file store; six zero bytes when the
// store does not hold it (a card cardmod never wrote to, or one without
// room for the store: such a Card is CacheNone, see Properties).
func (c *Card) readCardCF(ctx context.Context, tx *scrm.Tx) ([]byte, error) {
	fs, present, err := c.readStore(ctx, tx)
	if err != nil {
		return nil, err
	}
	c.cfAbsent = !present && c.store != storeNo
	b, err := fs.ReadFile(cardfs.RolesAll, "", cardfs.CardCFFile)
	if errors.Is(err, cardfs.ErrFileNotFound) {
		return make([]byte, cardfs.CardCFSize), nil
	}
	return b, err
}

// CardCFAbsent reports whether the cardcf the last ReadFile of cardcf
// returned was made up because the card answered 6A82 to the file store
// object (5FFF20): a card no cardmod process has written to (provisioned
// by piv-go, yubico-piv-tool or ykman), which may get one, as the first
// write of any cardmod process creates it (ensureStore). The only change a
// later read of cardcf can then show is that appearance. A card without
// room for the object (it refused it) is not such a card: reading its
// cardcf sends nothing. internal/engine uses it to skip that read, while
// the card was not reset, before a cached PIN in a checked operation
// (DoChecked) and before an ECDH agreement (DoCached): the write that
// creates the object takes the management key, which has no logout, so
// it ends with a reset (docs/benchmarks.md).
func (c *Card) CardCFAbsent() bool { return c.cfAbsent }

func (c *Card) saveStore(ctx context.Context, tx *scrm.Tx, fs *cardfs.MemFS) error {
	return c.putData(ctx, tx, objFileStore, marshalFileStore(fs))
}

// ReadFile returns a file of the presented file system (docs/piv-mapping.md).
func (c *Card) ReadFile(ctx context.Context, tx *scrm.Tx, dir, name string) ([]byte, error) {
	c.begin(tx)
	dir, name, err := names(dir, name)
	if err != nil {
		return nil, pathErr("read", dir, name, err)
	}
	switch classify(dir, name) {
	case kindCardID:
		return c.guid.Marshal(), nil
	case kindCardApps:
		return cardfs.DefaultCardApps().Marshal()
	case kindCardCF:
		return c.readCardCF(ctx, tx)
	case kindHidden:
		return nil, pathErr("read", dir, name, cardfs.ErrFileNotFound)
	case kindCmap:
		cts, _, err := c.containers(ctx, tx)
		if err != nil {
			return nil, err
		}
		return marshalCmapfile(cts), nil
	case kindMSRoots:
		return c.readMSRoots(ctx, tx)
	case kindCert:
		return c.readCertFile(ctx, tx, name)
	}
	fs, err := c.loadStore(ctx, tx)
	if err != nil {
		return nil, err
	}
	return fs.ReadFile(c.roleSet(), dir, name)
}

// readCert reads the DER certificate of a slot; no object is
// ErrFileNotFound.
func (c *Card) readCert(ctx context.Context, tx *scrm.Tx, slot byte) ([]byte, error) {
	raw, err := c.getData(ctx, tx, certObject(slot))
	if err != nil {
		if errors.Is(err, scrm.ErrNotFound) {
			return nil, fmt.Errorf("piv: slot %02X: %w", slot, minidriver.ErrFileNotFound)
		}
		return nil, cardErr("read certificate", err)
	}
	der, err := parseCertObject(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", minidriver.ErrCommDataLost, err)
	}
	return der, nil
}

// certContainer finds the container of a certificate file name.
func (c *Card) certContainer(ctx context.Context, tx *scrm.Tx, name string) (container, error) {
	idx, kind, _ := cardfs.ParseCertFileName(name)
	recs, stored, err := c.storedMap(ctx, tx)
	if err != nil {
		return container{}, err
	}
	if stored {
		if idx >= len(recs) {
			return container{}, cardfs.ErrFileNotFound
		}
		ct := fromRecord(idx, recs[idx])
		if !ct.valid() {
			return container{}, cardfs.ErrFileNotFound
		}
		if ct.Spec == 0 {
			ct.Spec = minidriver.KeyExchange
			if kind == cardfs.KeySpecSignature {
				ct.Spec = minidriver.Signature
			}
		}
		if ct.Spec.Slot() != kind {
			return container{}, cardfs.ErrFileNotFound
		}
		return ct, nil
	}
	if idx >= maxContainers {
		return container{}, cardfs.ErrFileNotFound
	}
	return container{Index: idx, Slot: slotTable[idx], Flags: cardfs.ContainerValid}, nil
}

// specOf returns the container key spec a certificate's key implies for
// a slot.
func specOf(slot byte, der []byte) (minidriver.KeySpec, bool) {
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return 0, false
	}
	alg, ok := algOfPublic(cert.PublicKey)
	if !ok {
		return 0, false
	}
	return defaultSpec(slot, alg), true
}

func (c *Card) readCertFile(ctx context.Context, tx *scrm.Tx, name string) ([]byte, error) {
	_, kind, _ := cardfs.ParseCertFileName(name)
	ct, err := c.certContainer(ctx, tx, name)
	if err != nil {
		if errors.Is(err, cardfs.ErrFileNotFound) {
			return nil, pathErr("read", cardfs.MSCPDir, name, err)
		}
		return nil, err
	}
	der, err := c.readCert(ctx, tx, ct.Slot)
	if err != nil {
		if errors.Is(err, minidriver.ErrFileNotFound) {
			return nil, pathErr("read", cardfs.MSCPDir, name, cardfs.ErrFileNotFound)
		}
		return nil, err
	}
	if ct.Spec == 0 && len(der) > 0 {
		// No stored map: the file's name must match the key's slot kind.
		var ks minidriver.KeySpec
		ok := false
		if alg, known := c.algs[ct.Slot]; known {
			ks, ok = c.specFor(ct.Slot, alg), true
		} else {
			ks, ok = specOf(ct.Slot, der)
		}
		if ok && ks.Slot() != kind {
			return nil, pathErr("read", cardfs.MSCPDir, name, cardfs.ErrFileNotFound)
		}
	}
	return der, nil
}

// readMSRoots joins objects 5FFF11-5FFF15.
func (c *Card) readMSRoots(ctx context.Context, tx *scrm.Tx) ([]byte, error) {
	var out []byte
	for tag := objMSRoots1; tag <= objMSRoots5; tag++ {
		raw, err := c.getData(ctx, tx, tag)
		if err != nil {
			if (errors.Is(err, scrm.ErrNotFound) || lacksObject(err, false)) && tag == objMSRoots1 {
				return nil, pathErr("read", cardfs.MSCPDir, cardfs.MSRootsFile, cardfs.ErrFileNotFound)
			}
			if errors.Is(err, scrm.ErrNotFound) {
				return nil, fmt.Errorf("piv: msroots: part %06X missing: %w", tag, minidriver.ErrCommDataLost)
			}
			return nil, cardErr("read msroots", err)
		}
		chunk, last, err := parseMSRootsChunk(raw)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", minidriver.ErrCommDataLost, err)
		}
		out = append(out, chunk...)
		if last {
			return out, nil
		}
	}
	return nil, fmt.Errorf("piv: msroots: no last part: %w", minidriver.ErrCommDataLost)
}

// ListFiles lists a directory: the root's cardid, cardcf and cardapps;
// mscp's cmapfile, msroots and the certificate of each container that has
// one; and the files of the file store.
func (c *Card) ListFiles(ctx context.Context, tx *scrm.Tx, dir string) ([]string, error) {
	c.begin(tx)
	dir, _, err := names(dir, "")
	if err != nil {
		return nil, pathErr("list", dir, "", err)
	}
	var out []string
	switch dir {
	case "":
		out = append(out, cardfs.CardIDFile, cardfs.CardCFFile, cardfs.CardAppsFile)
	case cardfs.MSCPDir:
		out = append(out, cardfs.ContainerMapFile)
		if _, err := c.readMSRoots(ctx, tx); err == nil {
			out = append(out, cardfs.MSRootsFile)
		} else if !errors.Is(err, cardfs.ErrFileNotFound) {
			return nil, err
		}
		cts, _, err := c.containers(ctx, tx)
		if err != nil {
			return nil, err
		}
		for _, ct := range cts {
			if !ct.valid() {
				continue
			}
			if _, err := c.readCert(ctx, tx, ct.Slot); err != nil {
				if errors.Is(err, minidriver.ErrFileNotFound) {
					continue
				}
				return nil, err
			}
			n, err := cardfs.CertFileName(ct.Index, ct.Spec.Slot())
			if err != nil {
				return nil, err
			}
			out = append(out, n)
		}
	}
	if c.store != storeNo {
		fs, err := c.loadStore(ctx, tx)
		if err != nil {
			return nil, err
		}
		files, err := fs.ListFiles(c.roleSet(), dir)
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			if dir == "" && f == pubsFile {
				continue
			}
			if !slices.Contains(out, f) {
				out = append(out, f)
			}
		}
	}
	slices.Sort(out)
	return out, nil
}

// FileInfo reports a file's size and access condition.
func (c *Card) FileInfo(ctx context.Context, tx *scrm.Tx, dir, name string) (minidriver.FileInfo, error) {
	dir, name, err := names(dir, name)
	if err != nil {
		return minidriver.FileInfo{}, pathErr("info", dir, name, err)
	}
	k := classify(dir, name)
	if k == kindHidden {
		return minidriver.FileInfo{}, pathErr("info", dir, name, cardfs.ErrFileNotFound)
	}
	if k == kindStore || k == kindCardCF {
		fs, err := c.loadStore(ctx, tx)
		if err != nil {
			return minidriver.FileInfo{}, err
		}
		fi, err := fs.FileInfo(c.roleSet(), dir, name)
		if err == nil {
			return minidriver.FileInfo{Size: fi.Size, AccessCondition: fi.AccessCondition}, nil
		}
		if k == kindStore || !errors.Is(err, cardfs.ErrFileNotFound) {
			return minidriver.FileInfo{}, err
		}
	}
	b, err := c.ReadFile(ctx, tx, dir, name)
	if err != nil {
		return minidriver.FileInfo{}, err
	}
	ac := virtualAC
	if k == kindCardCF {
		ac = cardfs.EveryoneReadUserWriteAc
	}
	return minidriver.FileInfo{Size: len(b), AccessCondition: ac}, nil
}

// FreeSpace reports the room left in the file store object and the free
// key slots.
func (c *Card) FreeSpace(ctx context.Context, tx *scrm.Tx) (minidriver.FreeSpace, error) {
	if c.readOnly {
		return minidriver.FreeSpace{MaxContainers: maxContainers}, nil
	}
	cts, _, err := c.containers(ctx, tx)
	if err != nil {
		return minidriver.FreeSpace{}, err
	}
	used := 0
	for _, ct := range cts {
		if ct.valid() {
			used++
		}
	}
	fs, err := c.loadStore(ctx, tx)
	if err != nil {
		return minidriver.FreeSpace{}, err
	}
	free := c.q.maxObject - len(marshalFileStore(fs))
	if c.store == storeNo || (c.store == storeUnknown && !c.vendorATR) {
		// No room for files, or none known to be there.
		free = 0
	}
	slots := maxContainers - len(c.lacking)
	return minidriver.FreeSpace{BytesAvailable: max(free, 0), ContainersAvailable: max(slots-used, 0), MaxContainers: slots}, nil
}

// KeySizes reports the RSA and ECC sizes of the card's firmware.
func (c *Card) KeySizes(ctx context.Context, tx *scrm.Tx, spec minidriver.KeySpec) (minidriver.KeySizes, error) {
	switch {
	case !spec.Valid():
		return minidriver.KeySizes{}, fmt.Errorf("%w: key spec %d", minidriver.ErrInvalidParameter, spec)
	case spec.IsRSA():
		if err := c.firmware(ctx, tx); err != nil {
			return minidriver.KeySizes{}, err
		}
		return minidriver.KeySizes{Min: 1024, Default: 2048, Max: c.q.rsaMax, Increment: 1024}, nil
	case spec.CurveBits() == 256, spec.CurveBits() == 384 && c.q.p384:
		b := spec.CurveBits()
		return minidriver.KeySizes{Min: b, Default: b, Max: b, Increment: 1}, nil
	}
	return minidriver.KeySizes{}, fmt.Errorf("%w: %v", minidriver.ErrUnsupported, spec)
}

// ContainerInfo returns the public key of a container, from GET METADATA
// or the slot's certificate.
func (c *Card) ContainerInfo(ctx context.Context, tx *scrm.Tx, idx int) (minidriver.ContainerInfo, error) {
	ct, err := c.container(ctx, tx, idx)
	if err != nil {
		return minidriver.ContainerInfo{}, err
	}
	ki, made := c.made[ct.Slot]
	if !made {
		if ki, err = c.slotInfo(ctx, tx, ct.Slot); err != nil {
			return minidriver.ContainerInfo{}, err
		}
	}
	if ki.Public == nil {
		return minidriver.ContainerInfo{}, fmt.Errorf("piv: container %d: public key unknown: %w", idx, minidriver.ErrNoKeyContainer)
	}
	// The key as the card has it, whatever the map's record says.
	ct.fit(ki.Alg)
	pub := ki.Public
	if ct.Spec.IsECDH() {
		ek, err := toECDH(pub)
		if err != nil {
			return minidriver.ContainerInfo{}, err
		}
		pub = ek
	}
	var info minidriver.ContainerInfo
	if ct.Spec.InSignatureSlot() {
		info.Signature, info.SignatureSpec = pub, ct.Spec
	} else {
		info.KeyExchange, info.KeyExchangeSpec = pub, ct.Spec
	}
	return info, nil
}

// ContainerPIN returns the PIN of a container: from the key's PIN policy
// where the card reports it (never: ROLE_EVERYONE, always: PINSignature),
// else from the stored map, else PINSignature for slot 9C and ROLE_USER
// for the others.
func (c *Card) ContainerPIN(ctx context.Context, tx *scrm.Tx, idx int) (minidriver.PinID, error) {
	ct, err := c.container(ctx, tx, idx)
	if err != nil {
		return 0, err
	}
	if c.q.metadata {
		ki, err := c.slotInfo(ctx, tx, ct.Slot)
		if err != nil {
			return 0, err
		}
		switch ki.PINPolicy {
		case pinPolicyNever:
			return minidriver.RoleEveryone, nil
		case pinPolicyAlways:
			return PINSignature, nil
		case 0x02:
			return PINUser, nil
		}
	}
	if ct.PinID == PINUser || ct.PinID == PINSignature {
		return ct.PinID, nil
	}
	return defaultPIN(ct.Slot), nil
}

package piv

import (
	"context"
	"crypto/sha1"
	"errors"
	"fmt"

	"github.com/cardmod/cardmod/cardfs"
	"github.com/cardmod/cardmod/internal/bertlv"
	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/scrm"
)

// errInvalid is an invalid argument to a file call: it matches both
// minidriver.ErrInvalidParameter and cardfs.ErrInvalidParameter, and
// SCardCode reports SCARD_E_INVALID_PARAMETER even when a cardfs format
// error is wrapped too.
var errInvalid = fmt.Errorf("%w (%w)", minidriver.ErrInvalidParameter, cardfs.ErrInvalidParameter)

// writable fails on a read-only card (issuerChecked).
func (c *Card) writable(ctx context.Context, tx *scrm.Tx, op, dir, name string) error {
	if err := c.issuerChecked(ctx, tx, op); err != nil {
		if errors.Is(err, minidriver.ErrReadOnly) {
			return pathErr(op, dir, name, minidriver.ErrReadOnly)
		}
		return err
	}
	if d, n, err := names(dir, name); err == nil && classify(d, n) == kindHidden {
		return pathErr(op, dir, name, fmt.Errorf("%w: the plug-in's own file", cardfs.ErrAccessDenied))
	}
	return nil
}

// CreateDirectory creates an application directory in the file store.
// mscp always exists.
func (c *Card) CreateDirectory(ctx context.Context, tx *scrm.Tx, name string, ac cardfs.DirectoryAccessCondition) error {
	c.begin(tx)
	_, n, err := names("", name)
	if err != nil {
		return pathErr("mkdir", n, "", err)
	}
	if err := c.writable(ctx, tx, "mkdir", n, ""); err != nil {
		return err
	}
	if n == cardfs.MSCPDir {
		return pathErr("mkdir", n, "", cardfs.ErrFileExists)
	}
	fs, err := c.loadStore(ctx, tx)
	if err != nil {
		return err
	}
	if err := fs.CreateDirectory(c.roleSet(), n, ac); err != nil {
		return err
	}
	return c.saveStore(ctx, tx, fs)
}

// DeleteDirectory deletes an empty application directory of the file
// store; mscp is never empty.
func (c *Card) DeleteDirectory(ctx context.Context, tx *scrm.Tx, name string) error {
	c.begin(tx)
	_, n, err := names("", name)
	if err != nil {
		return pathErr("rmdir", n, "", err)
	}
	if err := c.writable(ctx, tx, "rmdir", n, ""); err != nil {
		return err
	}
	if n == cardfs.MSCPDir {
		return pathErr("rmdir", n, "", cardfs.ErrDirNotEmpty)
	}
	fs, err := c.loadStore(ctx, tx)
	if err != nil {
		return err
	}
	if err := fs.DeleteDirectory(c.roleSet(), n); err != nil {
		return err
	}
	return c.saveStore(ctx, tx, fs)
}

// CreateFile creates an empty file. The root's cardid, cardcf and
// cardapps and mscp/cmapfile always exist. A certificate file of a valid
// container becomes an empty certificate object, msroots an empty first
// part; anything else goes to the file store.
func (c *Card) CreateFile(ctx context.Context, tx *scrm.Tx, dir, name string, ac cardfs.FileAccessCondition) error {
	c.begin(tx)
	dir, name, err := names(dir, name)
	if err != nil {
		return pathErr("create", dir, name, err)
	}
	if err := c.writable(ctx, tx, "create", dir, name); err != nil {
		return err
	}
	switch classify(dir, name) {
	case kindCardID, kindCardApps, kindCardCF, kindCmap:
		return pathErr("create", dir, name, cardfs.ErrFileExists)
	case kindMSRoots:
		if _, err := c.readMSRoots(ctx, tx); err == nil {
			return pathErr("create", dir, name, cardfs.ErrFileExists)
		} else if !errors.Is(err, cardfs.ErrFileNotFound) {
			return err
		}
		return c.putData(ctx, tx, objMSRoots1, bertlv.Encode(tagMSRootsEnd, nil))
	case kindCert:
		ct, err := c.certContainer(ctx, tx, name)
		if err != nil {
			if errors.Is(err, cardfs.ErrFileNotFound) {
				return pathErr("create", dir, name, errInvalid)
			}
			return err
		}
		if err := c.certKindOK(ctx, tx, ct, name); err != nil {
			return pathErr("create", dir, name, errInvalid)
		}
		if _, err := c.readCert(ctx, tx, ct.Slot); err == nil {
			return pathErr("create", dir, name, cardfs.ErrFileExists)
		} else if !errors.Is(err, minidriver.ErrFileNotFound) {
			return err
		}
		return c.putData(ctx, tx, certObject(ct.Slot), marshalCertObject(nil))
	}
	fs, err := c.loadStore(ctx, tx)
	if err != nil {
		return err
	}
	if err := fs.CreateFile(c.roleSet(), dir, name, 0, ac); err != nil {
		return err
	}
	return c.saveStore(ctx, tx, fs)
}

// WriteFile replaces a file's content, each file in one PUT DATA (msroots
// in up to five). PUT DATA needs the management key: when the caller has
// not authenticated ROLE_ADMIN but has verified the PIN, the Plugin has
// ProtectedManagementKey set, and the YubiKey
// keeps a PIN-protected management key (admin data 5FFF00 flag 02, key in
// 5FC109 tag 88/89, as ykman and libykpiv set it up), the plug-in uses that
// key; Deauthenticate then asks for a card reset. The same holds for key
// generation, import and deletion. Certificate files take DER or the compressed form of
// cardfs.CompressCert and are stored as DER.
func (c *Card) WriteFile(ctx context.Context, tx *scrm.Tx, dir, name string, data []byte) error {
	c.begin(tx)
	dir, name, err := names(dir, name)
	if err != nil {
		return pathErr("write", dir, name, err)
	}
	if err := c.writable(ctx, tx, "write", dir, name); err != nil {
		return err
	}
	switch classify(dir, name) {
	case kindCardID, kindCardApps:
		return pathErr("write", dir, name, fmt.Errorf("%w: derived from the card", cardfs.ErrAccessDenied))
	case kindCardCF:
		if _, err := cardfs.ParseCardCF(data); err != nil {
			return pathErr("write", dir, name, fmt.Errorf("%w: %w", errInvalid, err))
		}
		fs, err := c.loadStore(ctx, tx)
		if err != nil {
			return err
		}
		if _, err := fs.FileInfo(cardfs.RolesAll, "", name); errors.Is(err, cardfs.ErrFileNotFound) {
			if err := fs.CreateFile(cardfs.RolesAll, "", name, cardfs.CardCFSize, cardfs.EveryoneReadUserWriteAc); err != nil {
				return err
			}
		}
		if err := fs.WriteFile(c.roleSet()|cardfs.RoleSet(cardfs.RoleUser), "", name, data); err != nil {
			return err
		}
		if c.store == storeNo {
			// No room for cardcf on this card: every Card of it is
			// CacheNone, so there is nothing for cardcf to protect and the
			// value is not kept (docs/piv-mapping.md, "Caching").
			return nil
		}
		err = c.saveStore(ctx, tx, fs)
		if err != nil && c.store == storeNo {
			return nil
		}
		return err
	case kindCmap:
		return c.writeCmapfile(ctx, tx, data)
	case kindMSRoots:
		return c.writeMSRoots(ctx, tx, data)
	case kindCert:
		ct, err := c.certContainer(ctx, tx, name)
		if err != nil {
			if errors.Is(err, cardfs.ErrFileNotFound) {
				return pathErr("write", dir, name, err)
			}
			return err
		}
		if err := c.certKindOK(ctx, tx, ct, name); err != nil {
			return pathErr("write", dir, name, err)
		}
		der := data
		if len(data) > 0 {
			if der, err = cardfs.DecompressCert(data); err != nil {
				return pathErr("write", dir, name, fmt.Errorf("%w: %w", errInvalid, err))
			}
		}
		if err := c.putData(ctx, tx, certObject(ct.Slot), marshalCertObject(der)); err != nil {
			return err
		}
		return c.setFingerprint(ctx, tx, ct.Index, der)
	}
	fs, err := c.loadStore(ctx, tx)
	if err != nil {
		return err
	}
	if err := fs.WriteFile(c.roleSet(), dir, name, data); err != nil {
		return err
	}
	return c.saveStore(ctx, tx, fs)
}

// DeleteFile deletes a file: a certificate file deletes the certificate
// object, msroots its objects; cardid, cardcf, cardapps and cmapfile
// cannot be deleted.
func (c *Card) DeleteFile(ctx context.Context, tx *scrm.Tx, dir, name string) error {
	c.begin(tx)
	dir, name, err := names(dir, name)
	if err != nil {
		return pathErr("delete", dir, name, err)
	}
	if err := c.writable(ctx, tx, "delete", dir, name); err != nil {
		return err
	}
	switch classify(dir, name) {
	case kindCardID, kindCardApps, kindCardCF, kindCmap:
		return pathErr("delete", dir, name, cardfs.ErrAccessDenied)
	case kindMSRoots:
		if _, err := c.readMSRoots(ctx, tx); err != nil {
			return err
		}
		return c.deleteMSRoots(ctx, tx, objMSRoots1)
	case kindCert:
		if _, err := c.readCertFile(ctx, tx, name); err != nil {
			return err
		}
		ct, err := c.certContainer(ctx, tx, name)
		if err != nil {
			return err
		}
		if err := c.putData(ctx, tx, certObject(ct.Slot), nil); err != nil {
			return err
		}
		return c.setFingerprint(ctx, tx, ct.Index, nil)
	}
	fs, err := c.loadStore(ctx, tx)
	if err != nil {
		return err
	}
	if err := fs.DeleteFile(c.roleSet(), dir, name); err != nil {
		return err
	}
	return c.saveStore(ctx, tx, fs)
}

// deleteMSRoots deletes the msroots objects from tag on, ignoring absent
// ones.
func (c *Card) deleteMSRoots(ctx context.Context, tx *scrm.Tx, from uint32) error {
	for tag := from; tag <= objMSRoots5; tag++ {
		if v, known := c.objs[tag]; known && v == nil {
			continue
		}
		if err := c.putData(ctx, tx, tag, nil); err != nil && !errors.Is(err, scrm.ErrNotFound) {
			return err
		}
	}
	return nil
}

func (c *Card) writeMSRoots(ctx context.Context, tx *scrm.Tx, data []byte) error {
	parts, err := splitMSRoots(data, c.q.maxObject)
	if err != nil {
		return err
	}
	for i, p := range parts {
		if err := c.putData(ctx, tx, objMSRoots1+uint32(i), p); err != nil {
			return err
		}
	}
	return c.deleteMSRoots(ctx, tx, objMSRoots1+uint32(len(parts)))
}

// writeCmapfile stores the container map in Yubico's object 5FFF10. Each
// valid record keeps the slot it had in the stored map; a new record gets
// the slot of its index in the slot table when free, else the first free
// slot. Key specs follow from the key sizes (256 and 384 are ECC).
func (c *Card) writeCmapfile(ctx context.Context, tx *scrm.Tx, data []byte) error {
	m, err := cardfs.ParseContainerMap(data)
	if err != nil {
		return pathErr("write", cardfs.MSCPDir, cardfs.ContainerMapFile, fmt.Errorf("%w: %w", errInvalid, err))
	}
	if m.Len() > (c.q.maxObject-4)/ykRecordSize {
		return pathErr("write", cardfs.MSCPDir, cardfs.ContainerMapFile, cardfs.ErrTooManyContainers)
	}
	prev, stored, err := c.storedMap(ctx, tx)
	if err != nil {
		return err
	}
	out := make([]ykRecord, m.Len())
	used := map[byte]bool{}
	var pending []int
	for i := range out {
		r, _ := m.Record(i)
		if !r.Valid() {
			continue
		}
		if r.SigKeySizeBits != 0 && r.KeyExchangeKeySizeBits != 0 {
			return pathErr("write", cardfs.MSCPDir, cardfs.ContainerMapFile,
				fmt.Errorf("%w: container %d has two keys; a PIV slot holds one", errInvalid, i))
		}
		y := ykRecord{Name: r.Name, Flags: byte(r.Flags)}
		switch {
		case stored && i < len(prev) && prev[i].valid() && certObject(prev[i].Slot) != 0:
			p := prev[i]
			y.Slot, y.PinID, y.ECDHAssoc, y.Fingerprint, y.KeySpec = p.Slot, p.PinID, p.ECDHAssoc, p.Fingerprint, p.KeySpec
		case !stored && i < maxContainers:
			y.Slot = slotTable[i]
		default:
			pending = append(pending, i)
		}
		if y.Slot != 0 {
			if used[y.Slot] {
				return pathErr("write", cardfs.MSCPDir, cardfs.ContainerMapFile, fmt.Errorf("%w: slot %02X twice", errInvalid, y.Slot))
			}
			used[y.Slot] = true
		}
		y.KeySpec, y.KeyBits = specFromSizes(r.SigKeySizeBits, r.KeyExchangeKeySizeBits, y.KeySpec)
		out[i] = y
	}
	for _, i := range pending {
		slot := byte(0)
		if i < maxContainers && !used[slotTable[i]] {
			slot = slotTable[i]
		} else {
			for _, s := range slotTable {
				if !used[s] {
					slot = s
					break
				}
			}
		}
		if slot == 0 {
			return pathErr("write", cardfs.MSCPDir, cardfs.ContainerMapFile, cardfs.ErrTooManyContainers)
		}
		used[slot] = true
		out[i].Slot = slot
		out[i].PinID = byte(defaultPIN(slot))
	}
	for i := range out {
		if out[i].valid() && out[i].PinID == 0 {
			out[i].PinID = byte(defaultPIN(out[i].Slot))
		}
	}
	if c.mapStore != storeNo {
		var err error
		if len(out) == 0 {
			err = c.putData(ctx, tx, objMSCMAP, nil)
		} else {
			err = c.putData(ctx, tx, objMSCMAP, marshalYKMap(out))
		}
		if err == nil || c.mapStore != storeNo {
			return err
		}
	}
	// The card cannot store the map (PUT DATA of 5FFF10 refused as an
	// object it does not have): container i stays in slotTable[i], and the
	// names and key specs are kept for this Card's lifetime only; other
	// processes see the slots' derived names (docs/piv-mapping.md).
	if stored {
		return pathErr("write", cardfs.MSCPDir, cardfs.ContainerMapFile, fmt.Errorf("%w: the stored map cannot be rewritten", minidriver.ErrUnsupported))
	}
	names := map[byte]string{}
	for i, y := range out {
		if !y.valid() {
			continue
		}
		if i >= maxContainers || y.Slot != slotTable[i] || c.lacking[y.Slot] {
			return pathErr("write", cardfs.MSCPDir, cardfs.ContainerMapFile, cardfs.ErrTooManyContainers)
		}
		names[y.Slot] = y.Name
		if spec := minidriver.KeySpec(y.KeySpec); spec.Valid() && y.KeyBits != 0 {
			c.setSpec(y.Slot, spec)
		}
	}
	c.memNames = names
	return nil
}

// specFromSizes derives a record's key spec from the cmapfile key sizes
// (minidriver.SpecOfSize), the signature key's first. With no key it
// keeps old.
func specFromSizes(sig, kx uint16, old byte) (byte, uint16) {
	switch {
	case sig != 0:
		return byte(minidriver.SpecOfSize(cardfs.KeySpecSignature, sig)), sig
	case kx != 0:
		return byte(minidriver.SpecOfSize(cardfs.KeySpecKeyExchange, kx)), kx
	}
	return old, 0
}

// certKindOK checks, on a card without a stored map, that a certificate
// file name's kind (ksc or kxc) matches the key in the container's slot; a
// slot without a key takes either.
func (c *Card) certKindOK(ctx context.Context, tx *scrm.Tx, ct container, name string) error {
	if ct.Spec != 0 {
		return nil
	}
	alg, _, err := c.slotAlg(ctx, tx, ct.Slot)
	if errors.Is(err, minidriver.ErrNoKeyContainer) {
		return nil
	}
	if err != nil {
		return err
	}
	if _, k, _ := cardfs.ParseCertFileName(name); c.specFor(ct.Slot, alg).Slot() != k {
		return cardfs.ErrFileNotFound
	}
	return nil
}

// setFingerprint keeps the SHA-1 fingerprint of container idx's
// certificate (zero for none) in the record of the stored container map,
// when the card has a stored map. It writes the map only when the
// fingerprint changes. libykpiv only stores the record (ykpiv_container)
// and never updates it when it writes a certificate; the map is Yubico's
// minidriver's, and Yubico warns that certificates written beside it
// without updating the map may become unusable ("YubiKey Smart Card
// Deployment Considerations"): the fingerprint is the field a certificate
// write changes, so the write costs this PUT DATA (docs/benchmarks.md).
func (c *Card) setFingerprint(ctx context.Context, tx *scrm.Tx, idx int, der []byte) error {
	recs, stored, err := c.storedMap(ctx, tx)
	if err != nil || !stored || idx < 0 || idx >= len(recs) || !recs[idx].valid() {
		return err
	}
	var fp [ykFingerprintN]byte
	if len(der) > 0 {
		fp = sha1.Sum(der)
	}
	if recs[idx].Fingerprint == fp {
		return nil
	}
	recs[idx].Fingerprint = fp
	return c.putData(ctx, tx, objMSCMAP, marshalYKMap(recs))
}

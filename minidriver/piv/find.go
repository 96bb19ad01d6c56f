package piv

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"

	"github.com/cardmod/cardmod/cardfs"
	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/scrm"
)

var _ minidriver.ContainerFinder = (*Card)(nil)

// FindContainer finds the container called name, or the default one when
// name is "" (minidriver.ContainerFinder). With a stored container map
// (5FFF10) it is the map's record. Without one, container i is slot
// slotTable[i] and its name is derived from the card identity and the
// slot (containerName), so the name alone says which slot to ask about:
// one GET METADATA (or certificate read) for that slot, plus one for each
// slot before it that the card has, to tell whether it is the default (the
// first slot holding a key). Building the whole map instead asks about all
// 24 slots.
func (c *Card) FindContainer(ctx context.Context, tx *scrm.Tx, name string) (cardfs.ContainerMapRecord, error) {
	c.begin(tx)
	recs, stored, err := c.storedMap(ctx, tx)
	if err != nil {
		return cardfs.ContainerMapRecord{}, err
	}
	if stored {
		for i, r := range recs {
			ct := fromRecord(i, r)
			if !ct.valid() || (name == "" && ct.Flags&cardfs.ContainerDefault == 0) || (name != "" && !strings.EqualFold(ct.Name, name)) {
				continue
			}
			return mapRecord(ct), nil
		}
		return cardfs.ContainerMapRecord{}, notFound(name)
	}
	def := true // no slot before this one holds a key
	for i, slot := range slotTable {
		if c.lacking[slot] {
			continue
		}
		cname := c.slotName(slot)
		want := name == "" || strings.EqualFold(cname, name)
		if !want && !def {
			continue
		}
		ki, err := c.slotInfo(ctx, tx, slot)
		if errors.Is(err, minidriver.ErrNoKeyContainer) || errors.Is(err, minidriver.ErrUnsupported) || errors.Is(err, minidriver.ErrCommDataLost) {
			// As in the whole map (containers): no container here.
			if want && name != "" {
				break
			}
			continue
		}
		if err != nil {
			return cardfs.ContainerMapRecord{}, err
		}
		if want {
			bits, _, _ := algBits(ki.Alg)
			ct := container{Index: i, Name: cname, Flags: cardfs.ContainerValid, Slot: slot, Spec: c.specFor(slot, ki.Alg), Bits: bits}
			if def {
				ct.Flags |= cardfs.ContainerDefault
			}
			return mapRecord(ct), nil
		}
		def = false
	}
	return cardfs.ContainerMapRecord{}, notFound(name)
}

func notFound(name string) error {
	if name == "" {
		return fmt.Errorf("piv: no default container: %w", minidriver.ErrNoKeyContainer)
	}
	return fmt.Errorf("piv: container %q: %w", name, minidriver.ErrNoKeyContainer)
}

// mapRecord is a container's cmapfile record, as marshalCmapfile writes
// it.
func mapRecord(ct container) cardfs.ContainerMapRecord {
	r := cardfs.ContainerMapRecord{Index: ct.Index, Name: ct.Name, Flags: ct.Flags & (cardfs.ContainerValid | cardfs.ContainerDefault)}
	if ct.Spec.InSignatureSlot() {
		r.SigKeySizeBits = uint16(ct.Bits)
	} else {
		r.KeyExchangeKeySizeBits = uint16(ct.Bits)
	}
	return r
}

var _ minidriver.CertificateScanner = (*Card)(nil)

// ScanCertificates lists the containers holding a certificate
// (minidriver.CertificateScanner) on a YubiKey without a stored container
// map: one GET DATA per certificate object of the slot table, where the
// map built from the slots (containers) asks each slot about its key
// before the certificates are read. On a card without GET METADATA the
// retired slots past the Key History's count are not read, as slotInfo
// reads none (OpenSC's PIV driver reads the retired certificates the Key
// History announces and no others). Container i is slot slotTable[i],
// named as in the map, with the key spec the map gives a key of the
// certificate key's algorithm in that slot (specFor). A certificate read
// without its key's GET METADATA may be one whose key another application
// deleted: it is listed, as OpenSC and piv-go list it. With a stored map,
// or where a certificate cannot be parsed or its key is of an algorithm
// the plug-in does not know, it is ErrUnsupported: the map is read, and
// reports what it cannot read.
func (c *Card) ScanCertificates(ctx context.Context, tx *scrm.Tx) (*cardfs.ContainerMap, error) {
	c.begin(tx)
	if !c.vendorATR {
		// Which slots a card of another make has is learnt from its
		// GET METADATA answers (6A86, 6A88: lacking), which the map
		// asks; its absent certificate objects all answer 6A82. A
		// YubiKey 4 or 5 has every slot (Yubico: "all 20 of the
		// retired slots are fully available").
		return nil, fmt.Errorf("piv: certificate scan on a card of unknown slots: %w", minidriver.ErrUnsupported)
	}
	_, stored, err := c.storedMap(ctx, tx)
	if err != nil {
		return nil, err
	}
	if stored {
		return nil, fmt.Errorf("piv: the card has a container map: %w", minidriver.ErrUnsupported)
	}
	retired := -1
	if !c.q.metadata {
		if n, ok := c.retiredWithCerts(ctx, tx); ok {
			retired = n
		}
	}
	cts := make([]container, 0, len(slotTable))
	for i, slot := range slotTable {
		ct := container{Index: i}
		if c.lacking[slot] || (retired >= 0 && pastKeyHistory(slot, retired)) {
			cts = append(cts, ct)
			continue
		}
		der, err := c.readCert(ctx, tx, slot)
		switch {
		case errors.Is(err, minidriver.ErrFileNotFound) || lacksObject(err, false):
			cts = append(cts, ct)
			continue
		case err != nil:
			return nil, err
		}
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, fmt.Errorf("piv: slot %02X certificate: %w", slot, minidriver.ErrUnsupported)
		}
		alg, ok := algOfPublic(cert.PublicKey)
		if !ok {
			return nil, fmt.Errorf("piv: slot %02X certificate key: %w", slot, minidriver.ErrUnsupported)
		}
		ct.Name, ct.Flags, ct.Slot, ct.Spec = c.slotName(slot), cardfs.ContainerValid, slot, c.specFor(slot, alg)
		ct.Bits, _, _ = algBits(alg)
		cts = append(cts, ct)
	}
	m, err := cardfs.ParseContainerMap(marshalCmapfile(trimInvalid(cts)))
	if err != nil {
		return nil, fmt.Errorf("piv: certificate scan: %w", err)
	}
	return m, nil
}

package cspcore

import (
	"context"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/cardmod/cardmod/cardfs"
	"github.com/cardmod/cardmod/internal/engine"
	"github.com/cardmod/cardmod/keystore"
	"github.com/cardmod/cardmod/minidriver"
)

// readCert reads the certificate of container idx's key of kind from op,
// trying every name the file may have (cardfs.CertFileNames). A missing or
// empty file is keystore.ErrNoCertificate; other errors are not
// prefixed yet.
func (c *Core) readCert(op *engine.Op, idx int, kind cardfs.KeySpec) (*x509.Certificate, error) {
	names, err := cardfs.CertFileNames(idx, kind)
	if err != nil {
		return nil, err
	}
	for _, name := range names {
		b, err := op.ReadFile(cardfs.MSCPDir, name)
		if errors.Is(err, minidriver.ErrFileNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", name, err)
		}
		if len(b) == 0 {
			return nil, keystore.ErrNoCertificate
		}
		der := b
		if !op.Card().Capabilities().CertificateCompression || (len(b) > 1 && b[0] == 0x01 && b[1] == 0x00) {
			if der, err = cardfs.DecompressCert(b); err != nil {
				return nil, fmt.Errorf("%s: %w: %w", name, minidriver.ErrCommDataLost, err)
			}
		}
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, fmt.Errorf("%s: %w: %w", name, minidriver.ErrCommDataLost, err)
		}
		return cert, nil
	}
	return nil, keystore.ErrNoCertificate
}

// Certificate returns the key's certificate from the card's kscNN or
// kxcNN file, through the data cache. A key without one gives the
// provider's ErrNoCertificate.
func (k *Key) Certificate(ctx context.Context) (*x509.Certificate, error) {
	if err := k.c.Ref.core.CheckOpen(); err != nil {
		return nil, err
	}
	var cert *x509.Certificate
	err := k.c.do(ctx, func(op *engine.Op, idx int) error {
		var err error
		core := k.c.Ref.core
		cert, err = core.readCert(op, idx, k.spec.Slot())
		if err != nil && !errors.Is(err, keystore.ErrNoCertificate) {
			return core.Errorf("%w", err)
		}
		return err
	}, doPlain)
	if err != nil {
		return nil, err
	}
	if !SamePublic(cert.PublicKey, k.pub) {
		// A certificate file of another key (a card written wrongly, or
		// an answer corrupted on the way) is not this key's certificate.
		return nil, k.c.Ref.core.Errorf("the certificate of container %q is not for its %v key: %w", k.c.Name, k.spec, minidriver.ErrCommDataLost)
	}
	return cert, nil
}

// SetCertificate stores cert as the key's certificate, creating the file
// when missing and compressing it unless the card's plug-in does; cardcf's
// files counter is bumped first. nil deletes the certificate. cert's
// public key must be the key's.
func (k *Key) SetCertificate(ctx context.Context, cert *x509.Certificate) error {
	core := k.c.Ref.core
	if err := core.CheckOpen(); err != nil {
		return err
	}
	if cert != nil && (len(cert.Raw) == 0 || len(cert.Raw) > cardfs.MaxCertSize) {
		return core.Errorf("a certificate of %d DER bytes (1 to %d): %w", len(cert.Raw), cardfs.MaxCertSize, minidriver.ErrInvalidParameter)
	}
	if cert != nil && !SamePublic(cert.PublicKey, k.pub) {
		return core.Errorf("the certificate is not for this key: %w", minidriver.ErrInvalidParameter)
	}
	return k.c.do(ctx, func(op *engine.Op, idx int) error { return k.storeCert(op, idx, cert) }, doPlain)
}

// storeCert is SetCertificate's write in op, of container idx.
func (k *Key) storeCert(op *engine.Op, idx int, cert *x509.Certificate) error {
	core := k.c.Ref.core
	name, err := cardfs.CertFileName(idx, k.spec.Slot())
	if err != nil {
		return core.Errorf("%w", err)
	}
	if err := core.WriteAuth(op, "store a certificate"); err != nil {
		return err
	}
	if cert == nil {
		if err := op.DeleteFile(cardfs.MSCPDir, name); err != nil && !errors.Is(err, minidriver.ErrFileNotFound) {
			return core.Errorf("delete %s: %w", name, err)
		}
		return nil
	}
	data := cert.Raw
	if !op.Card().Capabilities().CertificateCompression {
		if data, err = cardfs.CompressCert(cert.Raw); err != nil {
			return core.Errorf("%w", err)
		}
	}
	err = op.WriteFile(cardfs.MSCPDir, name, data)
	if errors.Is(err, minidriver.ErrFileNotFound) {
		if err := op.CreateFile(cardfs.MSCPDir, name, cardfs.EveryoneReadUserWriteAc); err != nil {
			return core.Errorf("create %s: %w", name, err)
		}
		err = op.WriteFile(cardfs.MSCPDir, name, data)
	}
	if err != nil {
		return core.Errorf("write %s: %w", name, err)
	}
	return nil
}

// FindSetCertificate finds the key that cert is for, the first that
// matches q and whose public key is cert's (q.Public, when set, must be
// cert's key), as Find finds it, and stores cert as its certificate, as
// Key.SetCertificate does, in one transaction: the look-up shares the
// card's opening, its application's selection and its cardcf read with
// the write, which is what a command in a new process pays for storing a
// certificate (docs/benchmarks.md lists the APDUs). The key is returned.
// Errors are Find's (no key matches) and SetCertificate's; a nil or
// oversized certificate is refused before the card is asked.
func (c *Core) FindSetCertificate(ctx context.Context, q Query, cert *x509.Certificate) (*Key, error) {
	if err := c.CheckOpen(); err != nil {
		return nil, err
	}
	if cert == nil || len(cert.Raw) == 0 || len(cert.Raw) > cardfs.MaxCertSize {
		n := 0
		if cert != nil {
			n = len(cert.Raw)
		}
		return nil, c.Errorf("a certificate of %d DER bytes (1 to %d): %w", n, cardfs.MaxCertSize, minidriver.ErrInvalidParameter)
	}
	switch {
	case q.Public == nil:
		q.Public = cert.PublicKey
	case !samePublicEither(q.Public, cert.PublicKey):
		return nil, c.Errorf("the certificate is not for the key asked for: %w", minidriver.ErrInvalidParameter)
	}
	return c.findDo(ctx, q, false, func(k *Key, op *engine.Op) error {
		if !SamePublic(cert.PublicKey, k.pub) {
			return c.Errorf("the certificate is not for this key: %w", minidriver.ErrInvalidParameter)
		}
		return k.storeCert(op, k.c.Index, cert)
	}, func(k *Key) error { return k.SetCertificate(ctx, cert) })
}

// CertEntry is one certificate of the user store with the key it belongs
// to: keystore.CertEntry, which the providers export under the same name.
type CertEntry = keystore.CertEntry

// Certificates returns the user certificate store: every certificate of
// every key in a valid container of every card present, through the data
// cache. A card that cannot be read, and a certificate that cannot be
// read or parsed, are reported in a CardErrors returned beside every
// certificate that could (see listCards).
//
// The containers are those the plug-in's certificate scan finds
// (minidriver.CertificateScanner), where it has one for the card, else the
// valid containers of the container map. Which keys a container has, and
// their specs, come from its record (its key sizes,
// minidriver.SpecOfSize), checked against the certificate's public key: the plug-in is asked for the container's
// keys (ContainerInfo, a GET METADATA per slot on a YubiKey) only where
// the two disagree. A key that another application deleted, leaving its
// certificate and writing no cardcf, is listed with it as long as the
// map is (as a key it replaced would be, before); using it fails with
// minidriver.ErrNoKeyContainer.
func (c *Core) Certificates(ctx context.Context) ([]CertEntry, error) {
	if err := c.CheckOpen(); err != nil {
		return nil, err
	}
	return listContainers(ctx, c, containerList{certified: true}, func(ec *engine.Card, op *engine.Op, r cardfs.ContainerMapRecord, _ minidriver.ContainerInfo, bad func(*CardError)) ([]CertEntry, error) {
		return c.certsOf(ec, op, r, bad)
	})
}

// certsOf returns the certificates of container r's keys, reporting
// those it cannot read with bad.
func (c *Core) certsOf(ec *engine.Card, op *engine.Op, r cardfs.ContainerMapRecord, bad func(*CardError)) ([]CertEntry, error) {
	var out []CertEntry
	for _, k := range []struct {
		kind cardfs.KeySpec
		bits uint16
	}{{cardfs.KeySpecSignature, r.SigKeySizeBits}, {cardfs.KeySpecKeyExchange, r.KeyExchangeKeySizeBits}} {
		spec := minidriver.SpecOfSize(k.kind, k.bits)
		if spec == 0 {
			continue
		}
		cert, err := c.readCert(op, r.Index, k.kind)
		switch {
		case errors.Is(err, keystore.ErrNoCertificate):
			continue
		case err != nil && cardLevel(err):
			return nil, err
		case err != nil:
			bad(&CardError{Container: r.Name, KeySpec: spec, Err: err})
			continue
		}
		if !certOfSpec(cert, spec, int(k.bits)) {
			// The record does not say what the certificate is for:
			// the plug-in does.
			info, err := op.ContainerInfo(r.Index)
			switch {
			case errors.Is(err, minidriver.ErrNoKeyContainer):
				continue
			case err != nil && cardLevel(err):
				return nil, fmt.Errorf("container %q: %w", r.Name, err)
			case err != nil:
				bad(&CardError{Container: r.Name, Err: err})
				continue
			}
			if spec = info.SignatureSpec; k.kind == cardfs.KeySpecKeyExchange {
				spec = info.KeyExchangeSpec
			}
			if spec == 0 {
				continue
			}
		}
		out = append(out, CertEntry{Certificate: cert, Container: r.Name, KeySpec: spec, Reader: ec.Reader(), CardID: ec.ID()})
	}
	return out, nil
}

// certOfSpec reports whether cert's public key is a key of spec and bits
// (an RSA modulus of bits, or the curve of an ECC spec).
func certOfSpec(cert *x509.Certificate, spec minidriver.KeySpec, bits int) bool {
	switch pub := cert.PublicKey.(type) {
	case *rsa.PublicKey:
		return spec.IsRSA() && pub.N.BitLen() == bits
	case *ecdsa.PublicKey:
		return spec.CurveBits() == bits && pub.Curve.Params().BitSize == bits
	}
	return false
}

// RootCertificates returns the card's root store (mscp/msroots). A card
// without the file has none.
func (r *Ref) RootCertificates(ctx context.Context) ([]*x509.Certificate, error) {
	core := r.core
	if err := core.CheckOpen(); err != nil {
		return nil, err
	}
	var certs []*x509.Certificate
	err := Do(ctx, r, func(_ *engine.Card, op *engine.Op) error {
		b, err := op.ReadFile(cardfs.MSCPDir, cardfs.MSRootsFile)
		if errors.Is(err, minidriver.ErrFileNotFound) {
			return nil
		}
		if err != nil {
			return core.Errorf("read msroots: %w", err)
		}
		if certs, err = cardfs.ParseMSRoots(b); err != nil {
			return core.Errorf("msroots: %w: %w", minidriver.ErrCommDataLost, err)
		}
		return nil
	})
	return certs, err
}

// SetRootCertificates replaces the card's root store (mscp/msroots),
// creating the file when missing.
func (r *Ref) SetRootCertificates(ctx context.Context, certs []*x509.Certificate) error {
	core := r.core
	if err := core.CheckOpen(); err != nil {
		return err
	}
	data, err := cardfs.MarshalMSRoots(certs)
	if err != nil {
		return core.Errorf("%w", err)
	}
	return Do(ctx, r, func(_ *engine.Card, op *engine.Op) error {
		if err := core.WriteAuth(op, "store root certificates"); err != nil {
			return err
		}
		err := op.WriteFile(cardfs.MSCPDir, cardfs.MSRootsFile, data)
		if errors.Is(err, minidriver.ErrFileNotFound) {
			if err := op.CreateFile(cardfs.MSCPDir, cardfs.MSRootsFile, cardfs.EveryoneReadUserWriteAc); err != nil {
				return core.Errorf("create msroots: %w", err)
			}
			err = op.WriteFile(cardfs.MSCPDir, cardfs.MSRootsFile, data)
		}
		if err != nil {
			return core.Errorf("write msroots: %w", err)
		}
		return nil
	})
}

// SamePublic reports whether a certificate's public key is the card key's;
// an ECDH key matches the EC key of its certificate.
func SamePublic(certKey, key crypto.PublicKey) bool {
	if ek, ok := key.(*ecdh.PublicKey); ok {
		if ck, ok := certKey.(*ecdsa.PublicKey); ok {
			cek, err := ck.ECDH()
			return err == nil && cek.Equal(ek)
		}
		return false
	}
	eq, ok := certKey.(interface{ Equal(crypto.PublicKey) bool })
	return ok && eq.Equal(key)
}

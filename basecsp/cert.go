package basecsp

import (
	"context"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/cardmod/cardmod/cardfs"
	"github.com/cardmod/cardmod/internal/engine"
	"github.com/cardmod/cardmod/minidriver"
)

// readCert reads the certificate of container idx's key of kind from op,
// trying every name the file may have (cardfs.CertFileNames). A missing or
// empty file is ErrNoCertificate.
func readCert(op *engine.Op, idx int, kind cardfs.KeySpec) (*x509.Certificate, error) {
	names, err := cardfs.CertFileNames(idx, kind)
	if err != nil {
		return nil, fmt.Errorf("basecsp: %w", err)
	}
	for _, name := range names {
		b, err := op.ReadFile(cardfs.MSCPDir, name)
		if errors.Is(err, minidriver.ErrFileNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("basecsp: read %s: %w", name, err)
		}
		if len(b) == 0 {
			return nil, ErrNoCertificate
		}
		der := b
		if !op.Card().Capabilities().CertificateCompression || (len(b) > 1 && b[0] == 0x01 && b[1] == 0x00) {
			if der, err = cardfs.DecompressCert(b); err != nil {
				return nil, fmt.Errorf("basecsp: %s: %w: %w", name, minidriver.ErrCommDataLost, err)
			}
		}
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, fmt.Errorf("basecsp: %s: %w: %w", name, minidriver.ErrCommDataLost, err)
		}
		return cert, nil
	}
	return nil, ErrNoCertificate
}

// Certificate returns the key's certificate (KP_CERTIFICATE) from the
// card's kscNN or kxcNN file, through the data cache. A key without one
// gives an error matching ErrNoCertificate.
func (k *Key) Certificate(ctx context.Context) (*x509.Certificate, error) {
	var cert *x509.Certificate
	err := k.c.do(ctx, func(op *engine.Op, idx int) error {
		var err error
		cert, err = readCert(op, idx, k.spec.Slot())
		return err
	})
	if err != nil {
		return nil, err
	}
	return cert, nil
}

// SetCertificate stores cert as the key's certificate, creating the file
// when missing and compressing it unless the card's plug-in does
// (CARD_CAPABILITIES.fCertificateCompression); cardcf's files counter is
// bumped first. nil deletes the certificate. cert's public key must be the
// key's. Writing needs what Config.AdminResponse describes.
func (k *Key) SetCertificate(ctx context.Context, cert *x509.Certificate) error {
	if cert != nil && !samePublic(cert.PublicKey, k.pub) {
		return fmt.Errorf("basecsp: the certificate is not for this key: %w", minidriver.ErrInvalidParameter)
	}
	p := k.c.ref.p
	return k.c.do(ctx, func(op *engine.Op, idx int) error {
		name, err := cardfs.CertFileName(idx, k.spec.Slot())
		if err != nil {
			return fmt.Errorf("basecsp: %w", err)
		}
		if err := p.writeAuth(op, "store a certificate"); err != nil {
			return err
		}
		if cert == nil {
			if err := op.DeleteFile(cardfs.MSCPDir, name); err != nil && !errors.Is(err, minidriver.ErrFileNotFound) {
				return fmt.Errorf("basecsp: delete %s: %w", name, err)
			}
			return nil
		}
		data := cert.Raw
		if !op.Card().Capabilities().CertificateCompression {
			if data, err = cardfs.CompressCert(cert.Raw); err != nil {
				return fmt.Errorf("basecsp: %w", err)
			}
		}
		err = op.WriteFile(cardfs.MSCPDir, name, data)
		if errors.Is(err, minidriver.ErrFileNotFound) {
			if err := op.CreateFile(cardfs.MSCPDir, name, cardfs.EveryoneReadUserWriteAc); err != nil {
				return fmt.Errorf("basecsp: create %s: %w", name, err)
			}
			err = op.WriteFile(cardfs.MSCPDir, name, data)
		}
		if err != nil {
			return fmt.Errorf("basecsp: write %s: %w", name, err)
		}
		return nil
	})
}

// CertEntry is one certificate of the user store (PP_USER_CERTSTORE) with
// the key it belongs to.
type CertEntry struct {
	Certificate *x509.Certificate
	// Container, KeySpec, Reader and CardID say where the key is:
	// Provider.Container(ctx, `\\.\`+Reader+`\`+Container).Key(KeySpec).
	Container string
	KeySpec   minidriver.KeySpec
	Reader    string
	CardID    cardfs.CardID
}

// Certificates returns the user certificate store: every certificate of
// every key in a valid container of every card present. Files come from
// the data cache while cardcf says they are fresh, so a warm listing
// sends only what one transaction's freshness check needs.
func (p *Provider) Certificates(ctx context.Context) ([]CertEntry, error) {
	cards, err := p.e.Cards(ctx)
	if err != nil {
		return nil, fmt.Errorf("basecsp: %w", err)
	}
	var out []CertEntry
	for _, ec := range cards {
		err := ec.Do(ctx, func(op *engine.Op) error {
			m, err := op.ContainerMap()
			if err != nil {
				return fmt.Errorf("basecsp: %s: container map: %w", ec.Reader(), err)
			}
			for _, r := range m.ValidRecords() {
				info, err := op.ContainerInfo(r.Index)
				if errors.Is(err, minidriver.ErrNoKeyContainer) {
					continue
				}
				if err != nil {
					return fmt.Errorf("basecsp: container %q: %w", r.Name, err)
				}
				for _, spec := range []minidriver.KeySpec{info.SignatureSpec, info.KeyExchangeSpec} {
					if spec == 0 {
						continue
					}
					cert, err := readCert(op, r.Index, spec.Slot())
					if errors.Is(err, ErrNoCertificate) {
						continue
					}
					if err != nil {
						return err
					}
					out = append(out, CertEntry{Certificate: cert, Container: r.Name, KeySpec: spec, Reader: ec.Reader(), CardID: ec.ID()})
				}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// RootCertificates returns the card's root store (mscp/msroots,
// PP_ROOT_CERTSTORE). A card without the file has none.
func (c *Card) RootCertificates(ctx context.Context) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	err := c.ref.do(ctx, func(_ *engine.Card, op *engine.Op) error {
		b, err := op.ReadFile(cardfs.MSCPDir, cardfs.MSRootsFile)
		if errors.Is(err, minidriver.ErrFileNotFound) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("basecsp: read msroots: %w", err)
		}
		if certs, err = cardfs.ParseMSRoots(b); err != nil {
			return fmt.Errorf("basecsp: msroots: %w: %w", minidriver.ErrCommDataLost, err)
		}
		return nil
	})
	return certs, err
}

// SetRootCertificates replaces the card's root store (mscp/msroots),
// creating the file when missing. Writing needs what
// Config.AdminResponse describes.
func (c *Card) SetRootCertificates(ctx context.Context, certs []*x509.Certificate) error {
	data, err := cardfs.MarshalMSRoots(certs)
	if err != nil {
		return fmt.Errorf("basecsp: %w", err)
	}
	p := c.ref.p
	return c.ref.do(ctx, func(_ *engine.Card, op *engine.Op) error {
		if err := p.writeAuth(op, "store root certificates"); err != nil {
			return err
		}
		err := op.WriteFile(cardfs.MSCPDir, cardfs.MSRootsFile, data)
		if errors.Is(err, minidriver.ErrFileNotFound) {
			if err := op.CreateFile(cardfs.MSCPDir, cardfs.MSRootsFile, cardfs.EveryoneReadUserWriteAc); err != nil {
				return fmt.Errorf("basecsp: create msroots: %w", err)
			}
			err = op.WriteFile(cardfs.MSCPDir, cardfs.MSRootsFile, data)
		}
		if err != nil {
			return fmt.Errorf("basecsp: write msroots: %w", err)
		}
		return nil
	})
}

// samePublic reports whether a certificate's public key is the card key's;
// an ECDH key matches the EC key of its certificate.
func samePublic(certKey, key crypto.PublicKey) bool {
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

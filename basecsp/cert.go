package basecsp

import (
	"context"
	"crypto/x509"

	"github.com/cardmod/cardmod/internal/cspcore"
)

// Certificate returns the key's certificate (KP_CERTIFICATE) from the
// card's kscNN or kxcNN file, through the data cache. A key without one
// gives an error matching ErrNoCertificate.
func (k *Key) Certificate(ctx context.Context) (*x509.Certificate, error) {
	if err := k.core().CheckOpen(); err != nil {
		return nil, err
	}
	return k.k.Certificate(ctx)
}

// SetCertificate stores cert as the key's certificate, creating the file
// when missing and compressing it unless the card's plug-in does
// (CARD_CAPABILITIES.fCertificateCompression); cardcf's files counter is
// bumped first. nil deletes the certificate. cert's public key must be the
// key's. Writing needs what Config.AdminResponse describes.
func (k *Key) SetCertificate(ctx context.Context, cert *x509.Certificate) error {
	if err := k.core().CheckOpen(); err != nil {
		return err
	}
	return k.k.SetCertificate(ctx, cert)
}

// CertEntry is one certificate of the user store (PP_USER_CERTSTORE) with
// the key it belongs to. Its fields:
//
//	Certificate *x509.Certificate
//	Container   string             // the key's container
//	KeySpec     minidriver.KeySpec // the key's spec
//	Reader      string             // the reader its card was in
//	CardID      cardfs.CardID      // its card's identity
//
// The key is Provider.Container(ctx, `\\.\`+Reader+`\`+Container).Key(KeySpec).
// It is the type ksp.CertEntry is too.
type CertEntry = cspcore.CertEntry

// Certificates returns the user certificate store: every certificate of
// every key in a valid container of every card present. Files come from
// the data cache while cardcf says they are fresh, so a warm listing
// sends only what one transaction's freshness check needs.
//
// A card that cannot be read, or a certificate that cannot be read or
// parsed (a corrupt certificate object), does not hide the others:
// Certificates returns every certificate it read and, as its error, a
// CardErrors naming what it could not read (the key's Container and
// KeySpec for a certificate).
func (p *Provider) Certificates(ctx context.Context) ([]CertEntry, error) {
	if err := p.core.CheckOpen(); err != nil {
		return nil, err
	}
	return p.core.Certificates(ctx)
}

// RootCertificates returns the card's root store (mscp/msroots,
// PP_ROOT_CERTSTORE). A card without the file has none.
func (c *Card) RootCertificates(ctx context.Context) ([]*x509.Certificate, error) {
	if err := c.ref.Core().CheckOpen(); err != nil {
		return nil, err
	}
	return c.ref.RootCertificates(ctx)
}

// SetRootCertificates replaces the card's root store (mscp/msroots),
// creating the file when missing. Writing needs what
// Config.AdminResponse describes.
func (c *Card) SetRootCertificates(ctx context.Context, certs []*x509.Certificate) error {
	if err := c.ref.Core().CheckOpen(); err != nil {
		return err
	}
	return c.ref.SetRootCertificates(ctx, certs)
}

package ksp

import (
	"context"
	"crypto/x509"
)

// SetCertificate stores cert as the certificate of its key, the first
// that matches q whose public key is cert's, in one transaction with the
// look-up (basecsp.Provider.SetCertificate, whose core it shares: one
// transaction where FindKey and Key.SetCertificate take two). The key is
// returned.
func (p *Provider) SetCertificate(ctx context.Context, q KeyQuery, cert *x509.Certificate) (*Key, error) {
	return p.finalized(p.core.FindSetCertificate(ctx, q, cert))
}

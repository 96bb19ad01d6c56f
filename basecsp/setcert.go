package basecsp

import (
	"context"
	"crypto/x509"
)

// SetCertificate stores cert as the certificate of its key: the first key
// that matches q, as FindKey finds it, whose public key is cert's (q's
// Public, when set, must be cert's key; a zero q looks on every card).
// The look-up and the write are one transaction, where FindKey and
// Key.SetCertificate take two (docs/benchmarks.md has the APDUs of each):
// what `cardmod cert import` pays. The key is returned. Errors are
// FindKey's (no key matches) and SetCertificate's; a nil certificate is
// refused (Key.SetCertificate(nil) deletes one).
func (p *Provider) SetCertificate(ctx context.Context, q KeyQuery, cert *x509.Certificate) (*Key, error) {
	k, err := p.core.FindSetCertificate(ctx, q, cert)
	if err != nil {
		return nil, err
	}
	return &Key{coreKey: k, c: &Container{k.Container()}}, nil
}

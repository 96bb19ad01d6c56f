package ksp

import (
	"context"

	"github.com/cardmod/cardmod/internal/cspcore"
)

// CertEntry is one certificate of the user store
// ("SmartCardUserCertStore") with the key it belongs to. Its fields:
//
//	Certificate *x509.Certificate
//	Container   string             // the key's (container's) name
//	KeySpec     minidriver.KeySpec // the key's legacy spec
//	Reader      string             // the reader its card was in
//	CardID      cardfs.CardID      // its card's identity
//
// The key is Provider.OpenKeySpec(ctx, `\\.\`+Reader+`\`+Container, KeySpec).
// It is the type basecsp.CertEntry is too.
type CertEntry = cspcore.CertEntry

// Certificates returns the user certificate store of every card present
// (what "SmartCardUserCertStore" gives). A card that cannot be read, or a
// certificate that cannot be read or parsed, does not hide the others:
// Certificates returns every certificate it read and, as its error, a
// CardErrors naming what it could not read (the key's Container and
// KeySpec for a certificate).
func (p *Provider) Certificates(ctx context.Context) ([]CertEntry, error) {
	if err := p.core.CheckOpen(); err != nil {
		return nil, err
	}
	return p.core.Certificates(ctx)
}

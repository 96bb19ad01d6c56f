package ksp

import (
	"context"

	"github.com/cardmod/cardmod/keystore"
)

// Certificates returns the user certificate store of every card present
// (what "SmartCardUserCertStore" gives). A card that cannot be read, or a
// certificate that cannot be read or parsed, does not hide the others:
// Certificates returns every certificate it read and, as its error, a
// keystore.CardErrors naming what it could not read (the key's Container and
// KeySpec for a certificate).
func (p *Provider) Certificates(ctx context.Context) ([]keystore.CertEntry, error) {
	return p.core.Certificates(ctx)
}

package basecsp

import (
	"context"

	"github.com/cardmod/cardmod/keystore"
)

// Certificates returns the user certificate store: every certificate of
// every key in a valid container of every card present. Files come from
// the data cache while cardcf says they are fresh, so a warm listing
// sends only what one transaction's freshness check needs.
//
// A card that cannot be read, or a certificate that cannot be read or
// parsed (a corrupt certificate object), does not hide the others:
// Certificates returns every certificate it read and, as its error, a
// keystore.CardErrors naming what it could not read (the key's Container and
// KeySpec for a certificate).
func (p *Provider) Certificates(ctx context.Context) ([]keystore.CertEntry, error) {
	return p.core.Certificates(ctx)
}

package ksp

import (
	"context"

	"github.com/cardmod/cardmod/keystore"
)

// ListKeys lists every key of every card present with all that keystore.KeyInfo
// holds, as the Base CSP's Provider.ListKeys does; Keys is the cheaper
// listing of NCryptEnumKeys (name, algorithm, size), which reads no
// certificate. A card or object that cannot be read does not hide the
// others: ListKeys returns every key it read and, as its error, a
// keystore.CardErrors naming what it could not read.
func (p *Provider) ListKeys(ctx context.Context) ([]keystore.KeyInfo, error) {
	return p.core.ListKeys(ctx)
}

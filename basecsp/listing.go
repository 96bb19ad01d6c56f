package basecsp

import (
	"context"

	"github.com/cardmod/cardmod/keystore"
)

// ListKeys lists every key of every card present (a container may hold
// two), cards in reader order and keys in container map order, each with
// its card, container, plug-in address, algorithm and size, public key,
// certificate and the PIN it needs. Container information, PINs and
// certificates come from the data cache while cardcf says they are fresh.
// A card that cannot be read, or an object on it (a container's keys, a
// certificate), does not hide the others: ListKeys returns every key it
// read (a key whose certificate cannot be read without it) and, as its
// error, a keystore.CardErrors naming what it could not read.
func (p *Provider) ListKeys(ctx context.Context) ([]keystore.KeyInfo, error) {
	return p.core.ListKeys(ctx)
}

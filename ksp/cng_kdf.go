package ksp

import (
	"context"
	"fmt"

	"github.com/cardmod/cardmod/minidriver/kdf"
)

// DeriveNamed derives key material with a KDF named as in CNG ("HASH",
// "HMAC", "TLS_PRF", "SP800_56A_CONCAT", "SP800_108_CTR_HMAC") and its
// BCryptBuffer parameter list, parsed by kdf.Parse with the rules of spec
// CARD_DERIVE_KEY: a missing required parameter is an error matching
// minidriver.ErrInvalidParameter.
func (s *Secret) DeriveNamed(ctx context.Context, name string, params []kdf.Param) ([]byte, error) {
	k, err := kdf.Parse(name, params)
	if err != nil {
		return nil, fmt.Errorf("ksp: KDF %q: %w", name, err)
	}
	return s.DeriveContext(ctx, k)
}

package ksp

import (
	"context"
	"crypto"
	"io"
)

// Sign finds the first key that matches q, as FindKey finds it, and signs
// digest with it, as Key.SignContext signs, in one transaction with the
// look-up (basecsp.Provider.Sign, whose core it shares: one transaction
// where FindKey and SignContext take two). The key is returned beside the
// signature.
func (p *Provider) Sign(ctx context.Context, q KeyQuery, rand io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, *Key, error) {
	ck, sig, err := p.core.FindSign(ctx, q, rand, digest, opts)
	k, err := p.finalized(ck, err)
	if err != nil {
		return nil, nil, err
	}
	return sig, k, nil
}

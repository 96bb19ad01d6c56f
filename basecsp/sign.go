package basecsp

import (
	"context"
	"crypto"
	"io"
)

// Sign finds the first key that matches q, as FindKey finds it, and signs
// digest with it, as Key.SignContext signs, in one transaction with the
// look-up: what a command or an agent run in a new process pays for one
// signature is then one transaction, where FindKey and SignContext take
// two (docs/benchmarks.md has the APDUs of each). The key is returned beside the
// signature (for its public key, its certificate, later signatures).
// Errors are FindKey's (nothing matches) and SignContext's (the key was
// found and the signature failed); the arguments are checked once the key
// is known, before its PIN is asked for.
func (p *Provider) Sign(ctx context.Context, q KeyQuery, rand io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, *Key, error) {
	k, sig, err := p.core.FindSign(ctx, q, rand, digest, opts)
	if err != nil {
		return nil, nil, err
	}
	return sig, &Key{coreKey: k, c: &Container{k.Container()}}, nil
}

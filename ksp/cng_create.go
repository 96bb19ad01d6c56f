package ksp

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"fmt"

	"github.com/cardmod/cardmod/internal/cspcore"
	"github.com/cardmod/cardmod/keystore"
	"github.com/cardmod/cardmod/minidriver"
)

// CreatePersistedKey starts creating a key of alg named name (one of the
// four forms of keystore.ParseName; an empty key part gets a GUID name), as
// NCryptCreatePersistedKey: nothing touches the card until Finalize.
// Before that, "Length" (RSA; 0 = the card's default), "Key Usage" and
// "SmartCardPinId" may be set. An unknown algorithm is an error matching
// ErrUnsupportedAlgorithm; whether the card has such keys is asked at
// Finalize.
func (p *Provider) CreatePersistedKey(ctx context.Context, name string, alg Algorithm) (*Key, error) {
	if err := p.core.CheckOpen(); err != nil {
		return nil, err
	}
	if _, ok := alg.spec(0); !ok {
		return nil, fmt.Errorf("ksp: algorithm %q: %w", alg, ErrUnsupportedAlgorithm)
	}
	if _, _, err := keystore.ParseName(name); err != nil {
		return nil, err
	}
	k := &Key{p: p, alg: alg, name: name, usage: usageOfAlg(alg)}
	return k, nil
}

// Finalize generates the key on the card (NCryptFinalizeKey), in one
// transaction: the KSP's create flow ("Smart Card Architecture": "Create
// a new container (no reader specified)"), after asking the card whether
// it has keys of this algorithm and size (an error matching
// ErrUnsupportedAlgorithm if not). A name already on the card is refused
// with an error matching keystore.ErrExists.
func (k *Key) Finalize(ctx context.Context) error { return k.finalize(ctx, nil) }

// FinalizeImport imports priv as the key (NCryptImportKey of a private
// blob, then finalize): an *rsa.PrivateKey for RSA, an *ecdsa.PrivateKey
// or *ecdh.PrivateKey on the algorithm's curve for ECDSA and ECDH.
func (k *Key) FinalizeImport(ctx context.Context, priv crypto.PrivateKey) error {
	if err := k.p.core.CheckOpen(); err != nil {
		return err
	}
	if priv == nil {
		return fmt.Errorf("ksp: no key to import: %w", minidriver.ErrInvalidParameter)
	}
	return k.finalize(ctx, priv)
}

func (k *Key) finalize(ctx context.Context, priv crypto.PrivateKey) error {
	if err := k.p.core.CheckOpen(); err != nil {
		return err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.k != nil {
		return ErrFinalized
	}
	spec, _ := k.alg.spec(k.usage)
	if priv != nil {
		// A key ECDH would dereference to a panic goes on to the core's
		// checks, which refuse it.
		//lint:ignore SA1019 only checked for nil: ECDH dereferences it.
		if ek, ok := priv.(*ecdsa.PrivateKey); ok && ek != nil && ek.Curve != nil && ek.D != nil && spec.IsECDH() {
			// The card imports ECDH keys as *ecdh.PrivateKey.
			dk, err := ek.ECDH()
			if err != nil {
				return fmt.Errorf("ksp: import: %w: %w", minidriver.ErrInvalidParameter, err)
			}
			priv = dk
		}
	}
	c, err := k.p.core.Create(ctx, cspcore.CreateRequest{Name: k.name, Spec: spec, Bits: k.bits, Key: priv, PIN: k.pin, CheckSizes: true})
	if err != nil {
		// The core wraps ErrUnsupportedAlgorithm where the card refused
		// the algorithm or size, and only there.
		return err
	}
	ck, err := c.Key(spec)
	if err != nil {
		return err
	}
	k.k, k.bits = ck, ck.Bits()
	return nil
}

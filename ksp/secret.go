package ksp

import (
	"context"
	"crypto/ecdh"
	"fmt"
	"sync"

	"github.com/cardmod/cardmod/internal/cspcore"
	"github.com/cardmod/cardmod/internal/engine"
	"github.com/cardmod/cardmod/keystore"
	"github.com/cardmod/cardmod/minidriver"
)

// checkPeer checks that k is an ECDH key and peer is on its curve.
func (k *Key) checkPeer(peer *ecdh.PublicKey) (*cspcore.Key, error) {
	ck, err := k.key()
	if err != nil {
		return nil, err
	}
	if !ck.Spec().IsECDH() {
		return nil, fmt.Errorf("ksp: a %s key cannot agree secrets: %w", k.alg, ErrUnsupportedAlgorithm)
	}
	if peer == nil {
		return nil, fmt.Errorf("ksp: no peer key: %w", minidriver.ErrInvalidParameter)
	}
	if peer.Curve() != ck.Spec().Curve() {
		return nil, fmt.Errorf("ksp: %v peer key for a %s key: %w", peer.Curve(), k.alg, ErrWrongCurve)
	}
	return ck, nil
}

// Secret is an ECDH shared secret held by the card's plug-in under an
// agreement index (NCryptSecretAgreement): it never leaves it except
// through a KDF. Close wipes it. A Secret is safe for concurrent use.
type Secret struct {
	p   *Provider
	a   minidriver.KeyAgreer // the plug-in of the card connection that agreed
	mu  sync.Mutex
	idx int  // guarded by mu
	ok  bool // guarded by mu; false after Close
}

// agree computes an agreement of the key with peer on the card, in one
// transaction, and hands it to use within that transaction.
func (k *Key) agree(ctx context.Context, peer *ecdh.PublicKey, use func(a minidriver.KeyAgreer, ai int) error) error {
	ck, err := k.checkPeer(peer)
	if err != nil {
		return err
	}
	// An agreement cannot be checked on the host: DoCached.
	return cspcore.DoCached(ctx, ck.Container().Ref, func(ec *engine.Card, op *engine.Op) error {
		idx, err := cspcore.Index(op, ck.Container())
		if err != nil {
			return err
		}
		a, err := ec.KeyAgreer()
		if err != nil {
			return fmt.Errorf("ksp: %w", err)
		}
		if err := cspcore.Authenticate(op, ck, idx, "key agreement"); err != nil {
			return err
		}
		ai, err := a.Agree(op.Context(), op.Tx(), idx, peer)
		if err != nil {
			return fmt.Errorf("ksp: key agreement: %w", err)
		}
		return use(a, ai)
	})
}

// SecretAgreement computes the ECDH shared secret of the key with peer on
// the card (CardConstructDHAgreement), in one transaction. The key must be
// an ECDH key (else an error matching ErrUnsupportedAlgorithm) and peer on
// its curve (else ErrWrongCurve).
func (k *Key) SecretAgreement(ctx context.Context, peer *ecdh.PublicKey) (*Secret, error) {
	var s *Secret
	err := k.agree(ctx, peer, func(a minidriver.KeyAgreer, ai int) error {
		s = &Secret{p: k.p, a: a, idx: ai, ok: true}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}

// agreer runs fn with the plug-in's agreement table. It needs no
// transaction: the agreement lives in the plug-in's memory.
func (s *Secret) agreer(fn func(a minidriver.KeyAgreer, idx int) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.ok {
		return keystore.ErrClosed
	}
	if err := s.p.core.CheckOpen(); err != nil {
		s.ok = false // the plug-in destroyed its agreements when the provider closed
		return err
	}
	return fn(s.a, s.idx)
}

// Derive derives key material with context.Background(); see
// DeriveContext.
func (s *Secret) Derive(k minidriver.KDF) ([]byte, error) {
	return s.DeriveContext(context.Background(), k)
}

// DeriveContext applies a KDF (one of package minidriver/kdf's, checked
// by its Validate method when it has one) to the secret (CardDeriveKey).
// The secret is in the plug-in's memory: no APDU is sent, and ctx is only
// checked before starting.
func (s *Secret) DeriveContext(ctx context.Context, k minidriver.KDF) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("ksp: %w", err)
	}
	if k == nil {
		return nil, fmt.Errorf("ksp: no KDF: %w", minidriver.ErrInvalidParameter)
	}
	if v, ok := k.(interface{ Validate() error }); ok {
		if err := v.Validate(); err != nil {
			return nil, fmt.Errorf("ksp: KDF: %w", err)
		}
	}
	var out []byte
	err := s.agreer(func(a minidriver.KeyAgreer, idx int) error {
		var err error
		out, err = a.DeriveKey(idx, k)
		if err != nil {
			return fmt.Errorf("ksp: derive key: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Close wipes the secret on the card's side (CardDestroyDHAgreement).
// Closing twice is harmless.
func (s *Secret) Close() error {
	err := s.agreer(func(a minidriver.KeyAgreer, idx int) error {
		if err := a.DestroyAgreement(idx); err != nil {
			return fmt.Errorf("ksp: destroy agreement: %w", err)
		}
		return nil
	})
	s.mu.Lock()
	s.ok = false
	s.mu.Unlock()
	if err == keystore.ErrClosed {
		return nil
	}
	return err
}

// rawZ is the KDF that returns Z itself, for ECDH: the x-coordinate, as
// crypto/ecdh's ECDH returns it.
type rawZ struct{}

func (rawZ) Derive(secret []byte) ([]byte, error) { return append([]byte(nil), secret...), nil }

// ECDH returns the raw ECDH shared secret Z (the x-coordinate, as
// crypto/ecdh's PrivateKey.ECDH) of the key with peer, with
// context.Background(); see ECDHContext.
func (k *Key) ECDH(peer *ecdh.PublicKey) ([]byte, error) {
	return k.ECDHContext(context.Background(), peer)
}

// ECDHContext computes the ECDH shared secret on the card and returns Z.
// The key must be an ECDH key and peer on its curve (else errors matching
// ErrUnsupportedAlgorithm, ErrWrongCurve).
func (k *Key) ECDHContext(ctx context.Context, peer *ecdh.PublicKey) ([]byte, error) {
	var z []byte
	err := k.agree(ctx, peer, func(a minidriver.KeyAgreer, ai int) error {
		defer func() { _ = a.DestroyAgreement(ai) }()
		var err error
		if z, err = a.DeriveKey(ai, rawZ{}); err != nil {
			return fmt.Errorf("ksp: key agreement: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return z, nil
}

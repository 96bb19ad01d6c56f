package minidriver

import (
	"fmt"
	"sync"
)

// MaxAgreements bounds the live agreements of one card context (the
// specification's index is a byte).
const MaxAgreements = 256

// KDF derives key material from an ECDH shared secret (the x-coordinate
// Z), as CardDeriveKey does with a named KDF and its parameter list.
// Package minidriver/kdf has the KDFs of the specification.
type KDF interface {
	Derive(secret []byte) ([]byte, error)
}

// Agreements holds the ECDH shared secrets of one card context under small
// indexes, for plug-ins implementing KeyAgreer. Secrets never leave it
// except through a KDF, and are wiped when destroyed. The zero value is an
// empty table; it is safe for concurrent use.
type Agreements struct {
	mu      sync.Mutex
	secrets map[int][]byte // guarded by mu
	next    int            // guarded by mu
}

// Put stores secret (taking ownership) and returns its index.
func (a *Agreements) Put(secret []byte) (int, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.secrets == nil {
		a.secrets = make(map[int][]byte)
	}
	if len(a.secrets) >= MaxAgreements {
		clear(secret)
		return 0, fmt.Errorf("%w: %d agreements live; destroy some first", ErrNoSpace, MaxAgreements)
	}
	for {
		idx := a.next
		a.next = (a.next + 1) % MaxAgreements
		if _, used := a.secrets[idx]; !used {
			a.secrets[idx] = secret
			return idx, nil
		}
	}
}

// Derive applies kdf to agreement idx.
func (a *Agreements) Derive(idx int, kdf KDF) ([]byte, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	s, ok := a.secrets[idx]
	if !ok {
		return nil, fmt.Errorf("%w: no agreement %d", ErrInvalidParameter, idx)
	}
	if kdf == nil {
		return nil, fmt.Errorf("%w: no KDF", ErrInvalidParameter)
	}
	return kdf.Derive(s)
}

// Destroy wipes agreement idx.
func (a *Agreements) Destroy(idx int) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	s, ok := a.secrets[idx]
	if !ok {
		return fmt.Errorf("%w: no agreement %d", ErrInvalidParameter, idx)
	}
	clear(s)
	delete(a.secrets, idx)
	return nil
}

// DestroyAll wipes every agreement (on Close).
func (a *Agreements) DestroyAll() {
	a.mu.Lock()
	defer a.mu.Unlock()
	for idx, s := range a.secrets {
		clear(s)
		delete(a.secrets, idx)
	}
}

package interop

import (
	"context"
	"crypto"
	"crypto/ecdh"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	"sync"

	"github.com/cardmod/cardmod/basecsp"
	"github.com/cardmod/cardmod/keystore"
	"github.com/cardmod/cardmod/ksp"
	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/pincache"
	"github.com/cardmod/cardmod/scrm"
)

// cardmodConfig is what the harness varies between cardmod's columns.
type cardmodConfig struct {
	Backend   scrm.Backend
	Prompt    pincache.Prompt
	Exclusive bool
	CacheDir  string
	Admin     minidriver.AdminResponder
}

// cardmodSession is one cardmod provider (basecsp or ksp) doing the
// harness's operations. Keys opened once stay open, as in a program that
// signs repeatedly.
type cardmodSession interface {
	sign(ctx context.Context, name string, spec minidriver.KeySpec, digest []byte, opts crypto.SignerOpts) ([]byte, error)
	// signOneCall finds the key (the container's full name and the key's
	// spec) and signs with it in one call, Provider.Sign: the look-up and
	// the signature in one transaction. The key is not kept.
	signOneCall(ctx context.Context, name string, spec minidriver.KeySpec, digest []byte, opts crypto.SignerOpts) ([]byte, error)
	decrypt(ctx context.Context, name string, spec minidriver.KeySpec, ct []byte) ([]byte, error)
	// ecdh returns the raw shared secret; errUnsupportedOp where the
	// provider has no ECDH.
	ecdh(ctx context.Context, name string, spec minidriver.KeySpec, peer *ecdh.PublicKey) ([]byte, error)
	certificates(ctx context.Context) (int, error)
	generate(ctx context.Context, name string) (crypto.PublicKey, error)
	writeCert(ctx context.Context, name string, spec minidriver.KeySpec, cert *x509.Certificate) error
	// writeCertOneCall finds the key and stores its certificate in one
	// call, Provider.SetCertificate: the look-up and the write in one
	// transaction.
	writeCertOneCall(ctx context.Context, name string, spec minidriver.KeySpec, cert *x509.Certificate) error
	// stats returns the provider's own count of its exchanges with the
	// card in reader (scrm.Card.Stats), once a key of it is open.
	stats(ctx context.Context, reader string) (scrm.Stats, error)
	close() error
}

// errUnsupportedOp marks an operation a tool does not offer (a "–" in the
// table).
var errUnsupportedOp = errors.New("the tool does not offer this operation")

func openCardmod(lib string, cfg cardmodConfig) (cardmodSession, error) {
	switch lib {
	case "basecsp":
		c := basecsp.Config{Backend: cfg.Backend, Prompt: cfg.Prompt, Exclusive: cfg.Exclusive, CacheDir: cfg.CacheDir}
		if cfg.Admin != nil {
			c.AdminResponse = cfg.Admin
		}
		p, err := basecsp.Open(c)
		if err != nil {
			return nil, err
		}
		return &basecspSession{p: p, keys: map[string]*basecsp.Key{}}, nil
	case "ksp":
		c := ksp.Config{Backend: cfg.Backend, Prompt: cfg.Prompt, Exclusive: cfg.Exclusive, CacheDir: cfg.CacheDir}
		if cfg.Admin != nil {
			c.AdminResponse = cfg.Admin
		}
		p, err := ksp.Open(c)
		if err != nil {
			return nil, err
		}
		return &kspSession{p: p, keys: map[string]*ksp.Key{}}, nil
	}
	return nil, fmt.Errorf("unknown cardmod provider %q", lib)
}

type basecspSession struct {
	p    *basecsp.Provider
	mu   sync.Mutex
	keys map[string]*basecsp.Key
}

func (s *basecspSession) key(ctx context.Context, name string, spec minidriver.KeySpec) (*basecsp.Key, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := fmt.Sprintf("%s/%d", name, spec)
	if k, ok := s.keys[id]; ok {
		return k, nil
	}
	c, err := s.p.Container(ctx, name)
	if err != nil {
		return nil, err
	}
	k, err := c.Key(spec)
	if err != nil {
		return nil, err
	}
	s.keys[id] = k
	return k, nil
}

func (s *basecspSession) sign(ctx context.Context, name string, spec minidriver.KeySpec, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	k, err := s.key(ctx, name, spec)
	if err != nil {
		return nil, err
	}
	return k.SignContext(ctx, rand.Reader, digest, opts)
}

func (s *basecspSession) signOneCall(ctx context.Context, name string, spec minidriver.KeySpec, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	reader, cname, err := keystore.ParseName(name)
	if err != nil {
		return nil, err
	}
	sig, _, err := s.p.Sign(ctx, basecsp.KeyQuery{Reader: reader, Container: cname, KeySpec: spec}, rand.Reader, digest, opts)
	return sig, err
}

func (s *basecspSession) decrypt(ctx context.Context, name string, spec minidriver.KeySpec, ct []byte) ([]byte, error) {
	k, err := s.key(ctx, name, spec)
	if err != nil {
		return nil, err
	}
	return k.DecryptContext(ctx, rand.Reader, ct, nil)
}

func (s *basecspSession) ecdh(context.Context, string, minidriver.KeySpec, *ecdh.PublicKey) ([]byte, error) {
	return nil, fmt.Errorf("basecsp: %w (ECDH is the KSP's)", errUnsupportedOp)
}

func (s *basecspSession) certificates(ctx context.Context) (int, error) {
	certs, err := s.p.Certificates(ctx)
	return len(certs), err
}

func (s *basecspSession) generate(ctx context.Context, name string) (crypto.PublicKey, error) {
	c, err := s.p.CreateContainer(ctx, name, minidriver.ECDSAP256, 0, nil)
	if err != nil {
		return nil, err
	}
	k, err := c.Key(minidriver.ECDSAP256)
	if err != nil {
		return nil, err
	}
	return k.Public(), nil
}

func (s *basecspSession) writeCert(ctx context.Context, name string, spec minidriver.KeySpec, cert *x509.Certificate) error {
	k, err := s.key(ctx, name, spec)
	if err != nil {
		return err
	}
	return k.SetCertificate(ctx, cert)
}

func (s *basecspSession) writeCertOneCall(ctx context.Context, name string, spec minidriver.KeySpec, cert *x509.Certificate) error {
	reader, cname, err := keystore.ParseName(name)
	if err != nil {
		return err
	}
	_, err = s.p.SetCertificate(ctx, basecsp.KeyQuery{Reader: reader, Container: cname, KeySpec: spec}, cert)
	return err
}

func (s *basecspSession) stats(ctx context.Context, reader string) (scrm.Stats, error) {
	c, err := s.p.Card(ctx, reader)
	if err != nil {
		return scrm.Stats{}, err
	}
	return c.Stats(), nil
}

func (s *basecspSession) close() error { return s.p.Close() }

type kspSession struct {
	p    *ksp.Provider
	mu   sync.Mutex
	keys map[string]*ksp.Key
}

func (s *kspSession) key(ctx context.Context, name string, spec minidriver.KeySpec) (*ksp.Key, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := fmt.Sprintf("%s/%d", name, spec)
	if k, ok := s.keys[id]; ok {
		return k, nil
	}
	k, err := s.p.OpenKeySpec(ctx, name, spec)
	if err != nil {
		return nil, err
	}
	s.keys[id] = k
	return k, nil
}

func (s *kspSession) sign(ctx context.Context, name string, spec minidriver.KeySpec, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	k, err := s.key(ctx, name, spec)
	if err != nil {
		return nil, err
	}
	return k.SignContext(ctx, rand.Reader, digest, opts)
}

func (s *kspSession) signOneCall(ctx context.Context, name string, spec minidriver.KeySpec, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	reader, kname, err := keystore.ParseName(name)
	if err != nil {
		return nil, err
	}
	sig, _, err := s.p.Sign(ctx, ksp.KeyQuery{Reader: reader, Container: kname, KeySpec: spec}, rand.Reader, digest, opts)
	return sig, err
}

func (s *kspSession) decrypt(ctx context.Context, name string, spec minidriver.KeySpec, ct []byte) ([]byte, error) {
	k, err := s.key(ctx, name, spec)
	if err != nil {
		return nil, err
	}
	return k.DecryptContext(ctx, rand.Reader, ct, nil)
}

func (s *kspSession) ecdh(ctx context.Context, name string, spec minidriver.KeySpec, peer *ecdh.PublicKey) ([]byte, error) {
	k, err := s.key(ctx, name, spec)
	if err != nil {
		return nil, err
	}
	return k.ECDHContext(ctx, peer)
}

func (s *kspSession) certificates(ctx context.Context) (int, error) {
	certs, err := s.p.Certificates(ctx)
	return len(certs), err
}

func (s *kspSession) generate(ctx context.Context, name string) (crypto.PublicKey, error) {
	k, err := s.p.CreatePersistedKey(ctx, name, ksp.ECDSAP256)
	if err != nil {
		return nil, err
	}
	if err := k.Finalize(ctx); err != nil {
		return nil, err
	}
	return k.Public(), nil
}

func (s *kspSession) writeCert(ctx context.Context, name string, spec minidriver.KeySpec, cert *x509.Certificate) error {
	k, err := s.key(ctx, name, spec)
	if err != nil {
		return err
	}
	return k.SetProperty(ctx, ksp.PropSmartCardKeyCertificate, cert)
}

func (s *kspSession) writeCertOneCall(ctx context.Context, name string, spec minidriver.KeySpec, cert *x509.Certificate) error {
	reader, cname, err := keystore.ParseName(name)
	if err != nil {
		return err
	}
	_, err = s.p.SetCertificate(ctx, ksp.KeyQuery{Reader: reader, Container: cname, KeySpec: spec}, cert)
	return err
}

func (s *kspSession) stats(context.Context, string) (scrm.Stats, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range s.keys { // every key here is on the one card
		return k.Stats(), nil
	}
	return scrm.Stats{}, errors.New("ksp: no key open")
}

func (s *kspSession) close() error { return s.p.Close() }

package cspcore

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/cardmod/cardmod/internal/engine"
	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/pincache"
	"github.com/cardmod/cardmod/scrm"
)

// AdminResponder answers a card's admin challenge (ROLE_ADMIN, spec
// CardGetChallenge and CardAuthenticateChallenge), learning which card
// asks; the providers export it under their own name.
type AdminResponder = minidriver.AdminResponder

// Settings are the provider settings that basecsp.Config and ksp.Config
// share; each provider documents them on its own Config and copies them
// here.
type Settings struct {
	Backend       scrm.Backend
	Registry      *minidriver.Registry // required; the providers pass the default
	Prompt        pincache.Prompt
	Silent        bool
	CacheDir      string
	UseDiskCache  bool
	NoCache       bool
	Exclusive     bool
	Rand          io.Reader
	Now           func() time.Time
	AdminResponse AdminResponder
}

// Sentinels are a provider's error values that errors of these kinds wrap.
type Sentinels struct {
	Exists, NoCertificate, BadName, Closed error
	// UnsupportedAlgorithm is Config.ErrUnsupportedAlgorithm (optional).
	UnsupportedAlgorithm error
}

// Open builds a provider's engine and Core from s: errors carry prefix and
// wrap the provider's sentinels. It returns the randomness the provider
// uses (s.Rand, or crypto/rand).
func Open(s Settings, prefix string, errs Sentinels) (*Core, *engine.Engine, io.Reader, error) {
	if s.Backend == nil {
		return nil, nil, nil, fmt.Errorf("%s: Config.Backend is required", prefix)
	}
	r := s.Rand
	if r == nil {
		r = rand.Reader
	}
	dir, err := DiskCacheDir(s.CacheDir, s.UseDiskCache, s.NoCache)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("%s: %w", prefix, err)
	}
	e, err := engine.New(engine.Config{
		Backend:   s.Backend,
		Registry:  s.Registry,
		Prompt:    s.Prompt,
		Silent:    s.Silent,
		CacheDir:  dir,
		NoCache:   s.NoCache,
		Exclusive: s.Exclusive,
		Rand:      r,
		Now:       s.Now,
		ErrClosed: errs.Closed,
	})
	if err != nil {
		return nil, nil, nil, fmt.Errorf("%s: %w", prefix, err)
	}
	core, err := New(Config{Engine: e, Prefix: prefix, Rand: r, Silent: s.Silent, AdminResponse: s.AdminResponse,
		ErrExists: errs.Exists, ErrNoCertificate: errs.NoCertificate, ErrBadName: errs.BadName,
		ErrUnsupportedAlgorithm: errs.UnsupportedAlgorithm})
	if err != nil {
		return nil, nil, nil, errors.Join(fmt.Errorf("%s: %w", prefix, err), e.Close())
	}
	return core, e, r, nil
}

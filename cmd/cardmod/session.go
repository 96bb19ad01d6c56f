package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"sync"

	"github.com/cardmod/cardmod/basecsp"
	simgids "github.com/cardmod/cardmod/cardsim/gids"
	simpiv "github.com/cardmod/cardmod/cardsim/piv"
	"github.com/cardmod/cardmod/internal/simfile"
	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/minidriver/gids"
	"github.com/cardmod/cardmod/minidriver/piv"
	"github.com/cardmod/cardmod/pincache"
	"github.com/cardmod/cardmod/scrm"
	"github.com/cardmod/cardmod/scrm/pcsc"
	"github.com/cardmod/cardmod/scrm/virtual"
)

// globals are the flags every command takes.
type globals struct {
	reader      string
	sim         string
	simCard     string
	profile     string
	trace       bool
	pinentry    string
	pinStdin    bool
	mgmtKeyFile string
	cacheDir    string
}

// register adds the global flags to fs; flags given twice (before and after
// the command) take the last value.
func (g *globals) register(fs *flag.FlagSet) {
	fs.StringVar(&g.reader, "reader", g.reader, "use this reader `name` only; the others are not looked at (default: every reader; one-card commands take the first card a plug-in takes)")
	fs.StringVar(&g.sim, "sim", g.sim, "use the embedded simulated card kept in `file` (created on first use)")
	fs.StringVar(&g.simCard, "sim-card", orDefault(g.simCard, simfile.KindPIV), "the `kind` of a new simulated card: piv or gids")
	fs.StringVar(&g.profile, "profile", g.profile, "the card `family` of a new simulated card (-sim, serve): a cardsim/piv or, with -sim-card gids, a cardsim/gids profile (default: yubikey-5.7, gids-rsa-ec)")
	fs.BoolVar(&g.trace, "trace", g.trace, "print every APDU on standard error, secrets redacted")
	fs.StringVar(&g.pinentry, "pinentry", g.pinentry, "ask for PINs with this pinentry `program` (default $CARDMOD_PINENTRY)")
	fs.BoolVar(&g.pinStdin, "pin-stdin", g.pinStdin, "read PINs from standard input, one a line")
	fs.StringVar(&g.cacheDir, "cache-dir", g.cacheDir, "keep the cards' public data (container maps, key metadata, certificates; never PINs) under `dir` for the next calls, validated against each card (default $CARDMOD_CACHE_DIR; none: every call reads the card)")
	fs.StringVar(&g.mgmtKeyFile, "mgmt-key-file", g.mgmtKeyFile, "`file` holding the card's management (PIV) or admin (GIDS) key in hex (default: the factory key)")
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// cmdOpts are the flags of the subcommands (each uses its own).
type cmdOpts struct {
	json       bool
	alg        string
	spec       string
	subject    string
	days       int
	out        string
	in         string
	hash       string
	puk        bool
	blank      bool
	addr       string
	vreader    string
	pss        bool
	socket     string
	foreground bool
	kill       bool
	ssh        bool
	exclusive  bool
}

// session holds what one run opened: the backend (pcscd or the simulated
// card), the provider, the PIN prompt. close releases it all and saves the
// simulated card.
type session struct {
	g  *globals
	io *stdio

	backend  scrm.Backend
	sim      *simfile.Opened
	saver    *simfile.Saver
	vreader  *virtual.Reader
	provider *basecsp.Provider
	prompter *prompter
	mu       sync.Mutex // serialises trace output
	// blankSim: a new simulated GIDS card is blank (for init).
	blankSim bool
	// exclusive: the provider connects exclusively (agent -exclusive).
	exclusive bool
}

// simReaderName is the virtual reader of -sim.
func simReaderName(kind string) string {
	if kind == simfile.KindGIDS {
		return "cardmod Simulated GIDS 0"
	}
	return "cardmod Simulated PIV 0"
}

// openBackend opens pcscd, or the simulated card of -sim, once.
func (s *session) openBackend(ctx context.Context) (scrm.Backend, error) {
	if s.backend != nil {
		return s.backend, nil
	}
	var b scrm.Backend
	if s.g.sim != "" {
		o, err := s.openSim(!s.blankSim)
		if err != nil {
			return nil, err
		}
		sv, err := simfile.NewSaver(o.Card, s.g.sim)
		if err != nil {
			return nil, err
		}
		s.sim, s.saver = o, sv
		vb := virtual.NewBackend()
		s.vreader = vb.AddReader(simReaderName(o.Kind))
		s.vreader.Insert(o.Card)
		b = vb
	} else if s.io.backend != nil {
		b = s.io.backend
	} else {
		pb, err := pcsc.New(ctx)
		if err != nil {
			return nil, fmt.Errorf("connecting to the PC/SC service: %w", err)
		}
		b = pb
	}
	if s.g.reader != "" {
		// -reader: the other readers do not exist for this run.
		b = &oneReaderBackend{Backend: b, reader: s.g.reader}
	}
	if s.g.trace {
		b = &traceBackend{Backend: b, w: s.io.err, mu: &s.mu}
	}
	s.backend = b
	return b, nil
}

// openSim opens the -sim card: loads its state file, or makes a new card
// of -sim-card and -profile there (a GIDS card initialized when
// initialized is set). A loaded card keeps its kind and profile; a
// -profile it does not have is noted on standard error.
func (s *session) openSim(initialized bool) (*simfile.Opened, error) {
	if s.g.simCard != simfile.KindPIV && s.g.simCard != simfile.KindGIDS {
		return nil, usageErrorf("-sim-card %q: want piv or gids", s.g.simCard)
	}
	o, err := simfile.Open(s.g.sim, simfile.Options{Kind: s.g.simCard, Profile: s.g.profile, GIDS: simgids.Config{Initialized: initialized}})
	if errors.Is(err, simfile.ErrUnknownProfile) {
		return nil, usageErrorf("-profile: %s", strings.TrimPrefix(err.Error(), "simfile: "))
	}
	if err != nil {
		return nil, withHint(err, exitFailed, "give another -sim file, or remove this one to start with a new card")
	}
	if !o.Created && s.g.profile != "" && s.g.profile != o.Profile {
		s.mu.Lock()
		fmt.Fprintf(s.io.err, "cardmod: -profile %s ignored: %s holds a %s %s card (the profile is chosen when the file is made)\n", s.g.profile, s.g.sim, o.Profile, o.Kind)
		s.mu.Unlock()
	}
	return o, nil
}

// adminKeys returns the PIV management key and the GIDS admin key: the
// key of -mgmt-key-file for both, or the factory keys (the YubiKey default
// management key, Yubico's documentation; 0102030405060708 three times,
// the default admin key of Windows virtual smart cards). The caller wipes
// them.
func (s *session) adminKeys() (pivKey, gidsKey []byte, err error) {
	if s.g.mgmtKeyFile == "" {
		return bytes.Clone(simpiv.DefaultManagementKey), bytes.Clone(simgids.DefaultAdminKey), nil
	}
	b, err := os.ReadFile(s.g.mgmtKeyFile)
	if err != nil {
		return nil, nil, fmt.Errorf("reading the management key: %w", err)
	}
	defer clear(b)
	k, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil {
		return nil, nil, withHint(errors.New("the management key file does not hold a hex key"), exitUsage, "write the key as hex digits")
	}
	return k, bytes.Clone(k), nil
}

// adminKeyBytes returns the GIDS admin key.
func (s *session) adminKeyBytes() ([]byte, error) {
	p, g, err := s.adminKeys()
	clear(p)
	return g, err
}

// adminResponder answers the admin challenge of each card with its own
// key: the PIV management key, or the GIDS admin key.
func (s *session) adminResponder() (minidriver.AdminResponder, error) {
	pivKey, gidsKey, err := s.adminKeys()
	if err != nil {
		return nil, err
	}
	return minidriver.AdminResponders(piv.ManagementKey(pivKey), gids.AdminKey(gidsKey)), nil
}

// openProvider opens the Base CSP over the backend, once.
func (s *session) openProvider(ctx context.Context) (*basecsp.Provider, error) {
	if s.provider != nil {
		return s.provider, nil
	}
	b, err := s.openBackend(ctx)
	if err != nil {
		return nil, err
	}
	admin, err := s.adminResponder()
	if err != nil {
		return nil, err
	}
	pr := s.promptSource()
	cfg := basecsp.Config{Backend: b, AdminResponse: admin, Exclusive: s.exclusive,
		CacheDir: orDefault(s.g.cacheDir, s.io.getenv("CARDMOD_CACHE_DIR"))}
	if pr != nil {
		cfg.Prompt = pr
	}
	p, err := basecsp.Open(cfg)
	if err != nil {
		return nil, err
	}
	s.provider = p
	return p, nil
}

// promptSource returns the PIN prompt the flags choose, or nil when there is
// no way to ask.
func (s *session) promptSource() pincache.Prompt {
	pr := s.asker()
	if pr == nil {
		return nil
	}
	return pr
}

// card returns the provider's card in -reader (or the first card).
func (s *session) card(ctx context.Context) (*basecsp.Card, error) {
	p, err := s.openProvider(ctx)
	if err != nil {
		return nil, err
	}
	return p.Card(ctx, s.g.reader)
}

// close releases what the session opened (the provider, then the
// backend), and saves the
// simulated card's state when it changed.
func (s *session) close() error {
	var errs []error
	if s.provider != nil {
		errs = append(errs, s.provider.Close())
		s.provider = nil
	}
	if s.backend != nil {
		errs = append(errs, s.backend.Release())
		s.backend = nil
	}
	if s.saver != nil {
		if _, err := s.saver.SaveIfChanged(); err != nil {
			errs = append(errs, fmt.Errorf("saving the simulated card: %w", err))
		}
	}
	return errors.Join(errs...)
}

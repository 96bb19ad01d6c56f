// Command vcard serves a simulated card to pcscd through the vsmartcard vpcd
// driver, so that every PC/SC program on the machine (OpenSC,
// yubico-piv-tool, piv-go, ...) sees a card in a reader: a PIV card (a
// YubiKey 5, package cardsim/piv) by default, or a GIDS card (package
// cardsim/gids) with -card gids.
//
//	go run ./examples/vcard -state card.json
//	go run ./examples/vcard -card gids -state gids.json
//
// pcscd must be running with the vpcd driver loaded (Debian: packages pcscd
// and vsmartcard-vpcd; `pcscd -f -d` in another terminal if nothing starts
// it). vcard connects to vpcd's first slot (127.0.0.1:35963, reader
// "Virtual PCD 00 00") unless told otherwise, prints the reader name once
// pcscd reports the card present, and serves it until interrupted (SIGINT
// or SIGTERM): the card is then removed and the state saved.
//
// The state file holds the whole card (keys, certificates or files, PINs,
// management or admin key, retry counters) in the simulator's versioned
// JSON format (cardsim/piv's or cardsim/gids'). It
// is created with a fresh card on first use, loaded afterwards, and saved
// atomically whenever the card's state changes (checked every second) and
// at exit. A file that cannot be loaded is an error; it is never overwritten.
//
// Flags:
//
//	-state FILE       the card's state file (required)
//	-card TYPE        the kind of a new card: piv (default) or gids
//	-addr HOST:PORT   vpcd's address (default 127.0.0.1:35963)
//	-reader NAME      the reader name pcscd gives that vpcd slot; default
//	                  the name of Debian's configuration for ports 35963
//	                  and 35964 ("Virtual PCD 00 00" and "Virtual PCD 00 01")
//	-profile NAME     the card family a new card behaves as: a PIV profile
//	                  (yubikey-5.7, yubikey-5.4, yubikey-5.0, yubikey-4,
//	                  yubikey-neo, piv-issued, piv-applet; see
//	                  cardsim/piv.Profiles) or, with -card gids, a GIDS one
//	                  (gids-rsa-ec, gids-rsa, gids-rsa-quiet; see
//	                  cardsim/gids.Profiles). The state file keeps it.
//	-firmware X.Y.Z   firmware of a new card (default 5.7.1; before 5.7 the
//	                  factory management key is 3DES, from 5.7 AES-192)
//	-serial N         serial number of a new card (default 10000001)
//	-mgmt-alg ALG     management key algorithm of a new card: tdes, aes128,
//	                  aes192 or aes256 (default: the firmware's)
//	-blank            a new GIDS card is blank, as from the factory (for
//	                  `gids-tool --initialize`), instead of initialized with
//	                  cardsim/gids' default PIN and admin key
//
// -firmware, -serial and -mgmt-alg are for PIV cards, -blank for GIDS
// cards; -firmware and -profile exclude each other.
// The creation flags apply only when the state file does not exist yet.
// Then, for example:
//
//	opensc-tool -r "Virtual PCD 00 00" -n       # Personal Identity Verification Card
//	yubico-piv-tool -r "Virtual PCD 00 00" -a status
//
// (yubico-piv-tool 2.2.0, Debian 12's, only knows 3DES management keys: make
// the card with -firmware 5.4.3 or -mgmt-alg tdes to change it with that
// tool.)
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/cardmod/cardmod/cardsim/gids"
	"github.com/cardmod/cardmod/cardsim/piv"
	"github.com/cardmod/cardmod/internal/simfile"
	"github.com/cardmod/cardmod/scrm"
	"github.com/cardmod/cardmod/scrm/pcsc"
	"github.com/cardmod/cardmod/scrm/vpcd"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdout, nil)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "vcard:", err)
		os.Exit(1)
	}
}

// Time limits of run.
const (
	// saveInterval is how often the card's state is compared with the file.
	saveInterval = time.Second
	// presenceTimeout bounds the wait for pcscd to report the card present
	// (it polls vpcd about every 400 ms) or, at exit, the reader empty.
	presenceTimeout = 10 * time.Second
)

// options are the parsed command line.
type options struct {
	kind    string // "piv" or "gids"
	blank   bool   // a new GIDS card is blank
	state   string
	addr    string
	reader  string
	version piv.Version
	serial  uint32
	mgmtAlg byte
	// pivProfile and gidsProfile: the -profile of a new card.
	pivProfile  piv.Profile
	gidsProfile gids.Profile
	// creation lists the creation flags given, which a loaded card ignores.
	creation []string
}

func parseArgs(args []string, stderr io.Writer) (options, error) {
	fl := flag.NewFlagSet("vcard", flag.ContinueOnError)
	fl.SetOutput(stderr)
	var o options
	var firmware, mgmtAlg, profile string
	var serial uint64
	fl.StringVar(&o.state, "state", "", "the card's state `file` (created on first use)")
	fl.StringVar(&o.kind, "card", "piv", "the `kind` of a new card: piv or gids")
	fl.BoolVar(&o.blank, "blank", false, "a new GIDS card is blank, for initialization tools")
	fl.StringVar(&o.addr, "addr", vpcd.DefaultAddr, "vpcd's `host:port`")
	fl.StringVar(&o.reader, "reader", "", "the reader `name` pcscd gives that vpcd slot (default: Debian's name for ports 35963 and 35964)")
	fl.StringVar(&firmware, "firmware", piv.DefaultVersion.String(), "firmware `version` of a new card")
	fl.Uint64Var(&serial, "serial", uint64(piv.DefaultSerial), "serial `number` of a new card")
	fl.StringVar(&profile, "profile", "", "the card `family` of a new card (cardsim/piv or cardsim/gids profile name)")
	fl.StringVar(&mgmtAlg, "mgmt-alg", "", "management key `algorithm` of a new card: tdes, aes128, aes192, aes256 (default: the firmware's)")
	if err := fl.Parse(args); err != nil {
		return o, err
	}
	fl.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "firmware", "serial", "mgmt-alg", "blank", "card", "profile":
			o.creation = append(o.creation, "-"+f.Name)
		}
	})
	switch o.kind {
	case "piv":
		if o.blank {
			return o, errors.New("-blank is for GIDS cards")
		}
	case "gids":
		for _, c := range o.creation {
			if c == "-firmware" || c == "-serial" || c == "-mgmt-alg" {
				return o, fmt.Errorf("%s is for PIV cards", c)
			}
		}
	default:
		return o, fmt.Errorf("-card %q: want piv or gids", o.kind)
	}
	if profile != "" {
		var known bool
		if o.kind == "gids" {
			o.gidsProfile, known = gids.ProfileByName(profile)
		} else {
			o.pivProfile, known = piv.ProfileByName(profile)
			for _, c := range o.creation {
				if c == "-firmware" {
					return o, errors.New("-firmware and -profile exclude each other: the profile has its firmware")
				}
			}
		}
		if !known {
			return o, fmt.Errorf("-profile %q: not a %s profile (want one of %s)", profile, o.kind, strings.Join(simfile.ProfileNames(o.kind), ", "))
		}
	}
	if fl.NArg() != 0 {
		return o, fmt.Errorf("unexpected arguments %q", fl.Args())
	}
	if o.state == "" {
		return o, errors.New("-state is required")
	}
	v, err := parseVersion(firmware)
	if err != nil {
		return o, err
	}
	o.version = v
	if serial == 0 || serial > 0xFFFFFFFF {
		return o, fmt.Errorf("-serial %d: want 1 to 4294967295", serial)
	}
	o.serial = uint32(serial)
	algs := map[string]byte{"": 0, "tdes": piv.AlgTDES, "aes128": piv.AlgAES128, "aes192": piv.AlgAES192, "aes256": piv.AlgAES256}
	alg, ok := algs[strings.ToLower(mgmtAlg)]
	if !ok {
		return o, fmt.Errorf("-mgmt-alg %q: want tdes, aes128, aes192 or aes256", mgmtAlg)
	}
	o.mgmtAlg = alg
	host, port, err := net.SplitHostPort(o.addr)
	if err != nil || host == "" {
		return o, fmt.Errorf("-addr %q: want host:port", o.addr)
	}
	if o.reader == "" {
		if p, err := strconv.Atoi(port); err == nil {
			o.reader, _ = vpcd.ReaderName(p)
		}
	}
	return o, nil
}

func parseVersion(s string) (piv.Version, error) {
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		return piv.Version{}, fmt.Errorf("-firmware %q: want major.minor.patch", s)
	}
	var n [3]uint8
	for i, p := range parts {
		v, err := strconv.ParseUint(p, 10, 8)
		if err != nil {
			return piv.Version{}, fmt.Errorf("-firmware %q: want major.minor.patch", s)
		}
		n[i] = uint8(v)
	}
	return piv.Version{Major: n[0], Minor: n[1], Patch: n[2]}, nil
}

// printer serialises the lines of the serving goroutine and of run.
type printer struct {
	mu sync.Mutex
	w  io.Writer
}

func (p *printer) printf(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, format+"\n", args...)
}

// pivConfig is the configuration of a new PIV card: the -profile's
// firmware, or -firmware.
func pivConfig(o options) piv.Config {
	cfg := piv.Config{Version: o.version, Serial: o.serial, ManagementKeyAlgorithm: o.mgmtAlg, Profile: o.pivProfile}
	if o.pivProfile.Name != "" {
		cfg.Version = piv.Version{}
	}
	return cfg
}

// openCard loads the state file, or makes a new card and writes it there
// when the file does not exist (package internal/simfile, shared with
// cmd/cardmod). It also returns a description of the card for the
// messages.
func openCard(o options, out *printer) (simfile.Card, string, error) {
	opened, err := simfile.Open(o.state, simfile.Options{
		Kind: o.kind,
		PIV:  pivConfig(o),
		GIDS: gids.Config{Initialized: !o.blank, Profile: o.gidsProfile},
	})
	if err != nil {
		return nil, "", err
	}
	if opened.Created {
		out.printf("created %s in %s", opened.Desc, o.state)
		return opened.Card, opened.Desc, nil
	}
	out.printf("loaded %s from %s", opened.Desc, o.state)
	if len(o.creation) > 0 {
		out.printf("ignoring %s (creation flags apply only to a new card)", strings.Join(o.creation, ", "))
	}
	return opened.Card, opened.Desc, nil
}

// run is the command: it parses args, serves the card until ctx is done,
// then removes it and saves its state. ready, when not nil, is called with
// the reader name once pcscd reports the card present (or with "" when that
// cannot be checked).
func run(ctx context.Context, args []string, stdout io.Writer, ready func(reader string)) (err error) {
	out := &printer{w: stdout}
	o, err := parseArgs(args, stdout)
	if err != nil {
		return err
	}
	card, desc, err := openCard(o, out)
	if err != nil {
		return err
	}
	sv, err := simfile.NewSaver(card, o.state)
	if err != nil {
		return err
	}
	defer func() {
		changed, serr := sv.SaveIfChanged()
		switch {
		case serr != nil:
			err = errors.Join(err, fmt.Errorf("saving the card: %w", serr))
		case changed:
			out.printf("state saved in %s", o.state)
		default:
			out.printf("state unchanged in %s", o.state)
		}
	}()

	// Report the first failure to reach vpcd and the connections that end,
	// not every retry.
	var dialFailed bool // used by the serving goroutine only
	srv := vpcd.Start(card, &vpcd.Config{Addr: o.addr, OnDisconnect: func(err error) {
		var op *net.OpError
		switch {
		case errors.As(err, &op) && op.Op == "dial":
			if !dialFailed {
				out.printf("cannot reach vpcd at %s (is pcscd running with vpcd?): %v; retrying", o.addr, err)
			}
			dialFailed = true
		case err != nil:
			dialFailed = false
			out.printf("vpcd connection ended: %v; reconnecting", err)
		}
	}})
	defer func() { _ = srv.Remove() }() // the loop below reports its error
	out.printf("serving the card to vpcd at %s", o.addr)

	pc := presence(ctx, o, desc, out)
	if pc != nil {
		defer pc.Release()
	}
	if ready != nil {
		if pc != nil {
			ready(o.reader)
		} else {
			ready("")
		}
	}

	tick := time.NewTicker(saveInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			out.printf("removing the card")
			if rerr := srv.Remove(); rerr != nil {
				return rerr
			}
			if pc != nil {
				wctx, cancel := context.WithTimeout(context.Background(), presenceTimeout)
				defer cancel()
				if werr := waitState(wctx, pc, o.reader, scrm.StateEmpty); werr != nil {
					out.printf("pcscd did not report %q empty: %v", o.reader, werr)
				}
			}
			return nil
		case <-srv.Done():
			return srv.Remove() // Serve failed at once (bad ATR or address)
		case <-tick.C:
			changed, err := sv.SaveIfChanged()
			if err != nil {
				return fmt.Errorf("saving the card: %w", err)
			}
			if changed {
				out.printf("state saved in %s", o.state)
			}
		}
	}
}

// presence waits until pcscd reports the card in o.reader and prints the
// reader name. It returns the PC/SC context for the wait at exit, or nil
// when pcscd cannot be asked (no cgo in this build, pcscd not reachable, no
// reader name known) or the card did not appear in time: the card is served
// all the same.
func presence(ctx context.Context, o options, desc string, out *printer) *scrm.Context {
	if o.reader == "" {
		out.printf("reader name unknown for %s: pass -reader to have it checked", o.addr)
		return nil
	}
	b, err := pcsc.New(ctx)
	if err != nil {
		out.printf("cannot ask pcscd whether the card is present (%v); its reader should be %q", err, o.reader)
		return nil
	}
	pc := scrm.NewContext(b)
	wctx, cancel := context.WithTimeout(ctx, presenceTimeout)
	defer cancel()
	if err := waitState(wctx, pc, o.reader, scrm.StatePresent); err != nil {
		out.printf("pcscd does not report the card in %q: %v", o.reader, err)
		_ = pc.Release()
		return nil
	}
	out.printf("%s present in reader %q", desc, o.reader)
	return pc
}

// waitState waits until reader has a card (scrm.StatePresent, with an ATR)
// or none (scrm.StateEmpty).
func waitState(ctx context.Context, pc *scrm.Context, reader string, want scrm.StateFlag) error {
	st := []scrm.ReaderState{{Reader: reader, Current: scrm.StateUnaware}}
	for {
		if err := pc.GetStatusChange(ctx, st); err != nil {
			return err
		}
		ev := st[0].Event
		if ev.Has(scrm.StateUnknown) {
			return fmt.Errorf("%w: %q", scrm.ErrUnknownReader, reader)
		}
		if want == scrm.StatePresent && ev.Has(scrm.StatePresent) && !ev.Has(scrm.StateMute) && len(st[0].ATR) > 0 {
			return nil
		}
		if want == scrm.StateEmpty && ev.Has(scrm.StateEmpty) {
			return nil
		}
		st[0].Update()
	}
}

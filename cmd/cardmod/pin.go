package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"

	"github.com/cardmod/cardmod/basecsp"
	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/minidriver/gids"
	"github.com/cardmod/cardmod/scrm"
)

// pivPUK is the PIV plug-in's PIN ID of the PUK (minidriver/piv.PINPUK).
const pivPUK minidriver.PinID = 3

func pinCommand() *command {
	return &command{
		name: "pin", args: "change|unblock|info",
		short: "change the PIN (-puk: the PIV PUK), unblock it (PIV: with the PUK; GIDS: with the admin key), or show the tries left",
		flags: func(fs *flag.FlagSet, o *cmdOpts) {
			fs.BoolVar(&o.json, "json", false, "info: print JSON")
			fs.BoolVar(&o.puk, "puk", false, "change: change the PUK instead of the PIN (PIV)")
		},
		run: func(ctx context.Context, s *session, o *cmdOpts, args []string) error {
			if len(args) != 1 {
				return usageErrorf("want `pin change`, `pin unblock` or `pin info`")
			}
			switch args[0] {
			case "info":
				return pinInfo(ctx, s, o)
			case "change":
				return pinChange(ctx, s, o.puk)
			case "unblock":
				return pinUnblock(ctx, s)
			}
			return usageErrorf("unknown pin command %q: want change, unblock or info", args[0])
		},
	}
}

type pinInfoOut struct {
	Reader string `json:"reader"`
	Plugin string `json:"plugin"`
	PIN    *tries `json:"pin"`
	PUK    *tries `json:"puk,omitempty"`
}

func pinInfo(ctx context.Context, s *session, o *cmdOpts) error {
	card, err := s.card(ctx)
	if err != nil {
		return err
	}
	info, err := card.Info(ctx)
	if err != nil {
		return err
	}
	pin, puk, err := pinTries(ctx, s.backend, card.Reader(), info.Plugin)
	if err != nil {
		return err
	}
	out := pinInfoOut{Reader: card.Reader(), Plugin: info.Plugin, PIN: pin, PUK: puk}
	if o.json {
		enc := json.NewEncoder(s.io.out)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	fmt.Fprintf(s.io.out, "PIN: %s\n", pin)
	if puk != nil {
		fmt.Fprintf(s.io.out, "PUK: %s\n", puk)
	}
	return nil
}

func pinChange(ctx context.Context, s *session, puk bool) error {
	card, err := s.card(ctx)
	if err != nil {
		return err
	}
	id, what := minidriver.RoleUser, "PIN"
	if puk {
		info, err := card.Info(ctx)
		if err != nil {
			return err
		}
		if info.Plugin != "PIV" {
			return withHint(fmt.Errorf("a %s card has no PUK", info.Plugin), exitUsage, "change the PIN without -puk")
		}
		id, what = pivPUK, "PUK"
	}
	pr := s.asker()
	old, err := pr.askOld(ctx, "Current "+what)
	if err != nil {
		return err
	}
	defer old.Wipe()
	nw, err := pr.askNew(ctx, what)
	if err != nil {
		return err
	}
	defer nw.Wipe()
	if err := card.ChangePIN(ctx, id, old.Bytes(), nw.Bytes()); err != nil {
		return fmt.Errorf("changing the %s: %w", what, err)
	}
	fmt.Fprintf(s.io.err, "%s changed\n", what)
	return nil
}

func pinUnblock(ctx context.Context, s *session) error {
	card, err := s.card(ctx)
	if err != nil {
		return err
	}
	info, err := card.Info(ctx)
	if err != nil {
		return err
	}
	pr := s.asker()
	switch info.Plugin {
	case "PIV":
		puk, err := pr.askOld(ctx, "PUK")
		if err != nil {
			return err
		}
		defer puk.Wipe()
		nw, err := pr.askNew(ctx, "PIN")
		if err != nil {
			return err
		}
		defer nw.Wipe()
		if err := card.UnblockPIN(ctx, minidriver.RoleUser, pivPUK, puk.Bytes(), nw.Bytes()); err != nil {
			return fmt.Errorf("unblocking the PIN: %w", err)
		}
		fmt.Fprintln(s.io.err, "PIN unblocked")
		return nil
	case "GIDS":
		nw, err := pr.askNew(ctx, "PIN")
		if err != nil {
			return err
		}
		defer nw.Wipe()
		// GIDS v2.0 unblocks the user PIN with RESET RETRY COUNTER after
		// the admin key's mutual authentication (minidriver/gids
		// ChangeAuthenticator). The provider answers the card's
		// challenge itself, in the same transaction, with the session's
		// admin responder (minidriver.AdminResponders), and bumps
		// cardcf's PIN counter first so other processes drop the PIN
		// they cached.
		if err := card.UnblockPIN(ctx, minidriver.RoleUser, gids.PINAdmin, nil, nw.Bytes()); err != nil {
			return fmt.Errorf("unblocking the PIN: %w", err)
		}
		fmt.Fprintln(s.io.err, "PIN unblocked")
		return nil
	}
	return fmt.Errorf("unblocking the PIN of a %s card: %w", info.Plugin, minidriver.ErrUnsupported)
}

// initHint is what to do about init on a card that has no initialization.
const initHint = "init is for cards that are initialized by their holder (GIDS)"

func initCommand() *command {
	return &command{
		name:  "init",
		short: "initialize a blank GIDS card: sets the new PIN and the admin key (-mgmt-key-file, default the factory key)",
		run: func(ctx context.Context, s *session, o *cmdOpts, args []string) error {
			if len(args) != 0 {
				return usageErrorf("init takes no arguments")
			}
			if s.g.sim != "" && s.g.simCard == "gids" {
				// A new simulated GIDS card for init is blank.
				s.blankSim = true
			}
			p, err := s.openProvider(ctx)
			if err != nil {
				return err
			}
			reader := s.g.reader
			if reader == "" {
				sc := scrm.NewContext(s.backend) // not released: the session releases the backend
				rs, err := sc.ListReaders(ctx)
				if err != nil {
					return err
				}
				reader, err = firstCard(ctx, sc, rs)
				if err != nil {
					return err
				}
			}
			// A card the provider opens is initialized already, or is of a
			// kind that has no initialization: say so before asking for a
			// PIN for nothing.
			if c, err := p.Card(ctx, reader); err == nil {
				info, err := c.Info(ctx)
				if err != nil {
					return err
				}
				if info.Plugin == "GIDS" {
					return withHint(fmt.Errorf("the GIDS card in %q: %w", reader, minidriver.ErrFileExists), exitFailed, "the card is initialized already")
				}
				return withHint(fmt.Errorf("initializing the %s card in %q: %w", info.Plugin, reader, minidriver.ErrUnsupported), exitFailed, initHint)
			}
			pin, err := s.asker().askNew(ctx, "PIN")
			if err != nil {
				return err
			}
			defer pin.Wipe()
			key, err := s.adminKeyBytes()
			if err != nil {
				return err
			}
			defer clear(key)
			// The provider initializes the card through its plug-in
			// (GIDS v2.0 card initialization, minidriver/gids
			// Card.Initialize) in one transaction ending with a reset.
			_, err = p.InitializeCard(ctx, reader, basecsp.InitParams{PIN: pin.Bytes(), AdminKey: key})
			switch {
			case errors.Is(err, minidriver.ErrFileExists):
				return withHint(fmt.Errorf("initializing the card in %q: %w", reader, err), exitFailed, "the card is initialized already")
			case errors.Is(err, minidriver.ErrUnsupported):
				return withHint(fmt.Errorf("initializing the card in %q: %w", reader, err), exitFailed, initHint)
			case err != nil:
				return fmt.Errorf("initializing the card in %q: %w", reader, err)
			}
			fmt.Fprintf(s.io.err, "GIDS card in %q initialized\n", reader)
			return nil
		},
	}
}

// firstCard returns the first reader holding a card.
func firstCard(ctx context.Context, sc *scrm.Context, readers []string) (string, error) {
	st := make([]scrm.ReaderState, len(readers))
	for i, r := range readers {
		st[i] = scrm.ReaderState{Reader: r}
	}
	if err := sc.GetStatusChange(ctx, st); err != nil {
		return "", err
	}
	for _, r := range st {
		if r.Event.Has(scrm.StatePresent) {
			return r.Reader, nil
		}
	}
	return "", fmt.Errorf("no card in any reader: %w", scrm.ErrNoSmartcard)
}

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/cardmod/cardmod/internal/simfile"
	"github.com/cardmod/cardmod/scrm"
	"github.com/cardmod/cardmod/scrm/pcsc"
	"github.com/cardmod/cardmod/scrm/vpcd"
)

// serveSaveInterval is how often serve compares the card's state with its
// file.
const serveSaveInterval = time.Second

func serveCommand() *command {
	return &command{
		name:  "serve",
		short: "serve the simulated card of -sim FILE to pcscd through vpcd (like examples/vcard), until interrupted",
		flags: func(fs *flag.FlagSet, o *cmdOpts) {
			fs.StringVar(&o.addr, "addr", vpcd.DefaultAddr, "vpcd's `host:port`")
			fs.StringVar(&o.vreader, "vpcd-reader", "", "the reader `name` pcscd gives that vpcd slot, to wait for the card there (default: -reader, else Debian's name for ports 35963 and 35964)")
			fs.BoolVar(&o.blank, "blank", false, "a new GIDS card is blank (for `cardmod init` or gids-tool)")
		},
		noCard: true,
		run:    runServe,
	}
}

// serveReady, when set by a test, is called with the reader name once
// pcscd reports the card present ("" when it cannot be checked).
type serveReadyKey struct{}

func runServe(ctx context.Context, s *session, o *cmdOpts, args []string) error {
	if len(args) != 0 {
		return usageErrorf("serve takes no arguments")
	}
	if s.g.sim == "" {
		return usageErrorf("serve needs -sim FILE, the state file of the card to serve")
	}
	host, port, err := net.SplitHostPort(o.addr)
	if err != nil || host == "" {
		return usageErrorf("-addr %q: want host:port", o.addr)
	}
	reader := o.vreader
	if reader == "" {
		// -reader names the reader the served card appears in.
		reader = s.g.reader
	}
	if reader == "" {
		if p, err := strconv.Atoi(port); err == nil {
			reader, _ = vpcd.ReaderName(p)
		}
	}
	opened, err := s.openSim(!o.blank)
	if err != nil {
		return err
	}
	sv, err := simfile.NewSaver(opened.Card, s.g.sim)
	if err != nil {
		return err
	}
	var mu sync.Mutex
	say := func(format string, a ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(s.io.err, format+"\n", a...)
	}
	verb := "loaded"
	if opened.Created {
		verb = "created"
	}
	say("%s %s in %s", verb, opened.Desc, s.g.sim)
	defer func() {
		if changed, err := sv.SaveIfChanged(); err != nil {
			say("saving the card: %v", err)
		} else if changed {
			say("state saved in %s", s.g.sim)
		}
	}()
	dialFailed := false
	srv := vpcd.Start(opened.Card, &vpcd.Config{Addr: o.addr, OnDisconnect: func(err error) {
		var op *net.OpError
		switch {
		case errors.As(err, &op) && op.Op == "dial":
			if !dialFailed {
				say("cannot reach vpcd at %s (is pcscd running with vpcd?): %v; retrying", o.addr, err)
			}
			dialFailed = true
		case err != nil:
			dialFailed = false
			say("vpcd connection ended: %v; reconnecting", err)
		}
	}})
	defer func() { _ = srv.Remove() }()
	say("serving the card to vpcd at %s", o.addr)
	var pc *scrm.Context
	if reader != "" {
		if b, err := pcsc.New(ctx); err == nil {
			pc = scrm.NewContext(b)
			defer pc.Release()
			wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			if _, err := pc.WaitForCard(wctx, reader); err == nil {
				say("%s present in reader %q", opened.Desc, reader)
				fmt.Fprintln(s.io.out, reader)
			} else {
				say("pcscd does not report the card in %q: %v", reader, err)
			}
			cancel()
		}
	}
	if f, ok := ctx.Value(serveReadyKey{}).(func(string)); ok {
		f(reader)
	}
	tick := time.NewTicker(serveSaveInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			say("removing the card")
			if err := srv.Remove(); err != nil {
				return err
			}
			if pc != nil {
				wctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				_ = pc.WaitForRemoval(wctx, reader)
				cancel()
			}
			return nil
		case <-srv.Done():
			return srv.Remove()
		case <-tick.C:
			if changed, err := sv.SaveIfChanged(); err != nil {
				return fmt.Errorf("saving the card: %w", err)
			} else if changed {
				say("state saved in %s", s.g.sim)
			}
		}
	}
}

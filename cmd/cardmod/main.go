package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"

	"github.com/cardmod/cardmod/internal/simfile"
	"github.com/cardmod/cardmod/scrm"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], &stdio{in: os.Stdin, out: os.Stdout, err: os.Stderr, getenv: os.Getenv})
	stop()
	os.Exit(code)
}

// stdio is what a run of the command reads and writes; tests give their own.
type stdio struct {
	in     io.Reader
	out    io.Writer
	err    io.Writer
	getenv func(string) string
	// backend, when set (tests), is used instead of pcscd; the run
	// releases it.
	backend scrm.Backend
}

// command is one subcommand.
type command struct {
	name  string
	args  string // the arguments after the flags, for usage
	short string // one line for `cardmod help`
	// flags registers the command's own flags; nil for none.
	flags func(fs *flag.FlagSet, o *cmdOpts)
	// run does the command.
	run func(ctx context.Context, s *session, o *cmdOpts, args []string) error
	// noCard: the command does not open the card backend itself (help,
	// serve, agent open what they need).
	noCard bool
}

// commands is the table of subcommands, in the order `cardmod help` shows them.
func commands() []*command {
	return []*command{
		listCommand(),
		agentCommand(),
		generateCommand(),
		importCommand(),
		deleteCommand(),
		certCommand(),
		csrCommand(),
		selfsignCommand(),
		signCommand(),
		pinCommand(),
		initCommand(),
		serveCommand(),
		helpCommand(),
	}
}

func findCommand(name string) *command {
	for _, c := range commands() {
		if c.name == name {
			return c
		}
	}
	return nil
}

// run is the whole command: it parses args, runs the subcommand and returns
// the exit code (see doc.go), printing any error as one line on io.err.
func run(ctx context.Context, args []string, io *stdio) int {
	if io.getenv == nil {
		io.getenv = func(string) string { return "" }
	}
	g := &globals{}
	top := flag.NewFlagSet("cardmod", flag.ContinueOnError)
	top.SetOutput(io.err)
	g.register(top)
	top.Usage = func() { usage(io.err) }
	if err := top.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if top.NArg() == 0 {
		usage(io.err)
		return exitUsage
	}
	name := top.Arg(0)
	cmd := findCommand(name)
	if cmd == nil {
		fmt.Fprintf(io.err, "cardmod: unknown command %q; `cardmod help` lists the commands\n", name)
		return exitUsage
	}
	o := &cmdOpts{}
	fs := flag.NewFlagSet("cardmod "+name, flag.ContinueOnError)
	fs.SetOutput(io.err)
	g.register(fs)
	if cmd.flags != nil {
		cmd.flags(fs, o)
	}
	fs.Usage = func() {
		fmt.Fprintf(io.err, "%s\n%s\n\nflags:\n", strings.TrimSpace("usage: cardmod "+name+" [flags] "+cmd.args), cmd.short)
		fs.PrintDefaults()
	}
	rest, err := parseInterspersed(fs, top.Args()[1:])
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if g.profile != "" && g.sim == "" {
		fmt.Fprintf(io.err, "cardmod %s: -profile is for a new simulated card: give -sim FILE too (`cardmod help` shows the usage)\n", name)
		return exitUsage
	}
	s := &session{g: g, io: io}
	err = cmd.run(ctx, s, o, rest)
	if cerr := s.close(); err == nil {
		err = cerr
	}
	if err == nil {
		return exitOK
	}
	code, line := describe(err)
	if code == exitUsage {
		fmt.Fprintf(io.err, "cardmod %s: %s\n", name, line)
	} else {
		fmt.Fprintf(io.err, "cardmod: %s\n", line)
	}
	return code
}

// parseInterspersed parses flags anywhere among the arguments (`cert
// import -in FILE NAME`, `generate NAME -alg p384`); "--" ends the flags.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func usage(w io.Writer) {
	fmt.Fprint(w, `usage: cardmod [global flags] <command> [flags] [arguments]

commands:
`)
	cmds := commands()
	for _, c := range cmds {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.short)
	}
	fmt.Fprintf(w, `
global flags (also accepted after the command):
  -reader NAME        use this reader only; the others are not looked at
                      (default: every reader; one-card commands take the
                      first card a plug-in takes)
  -sim FILE           use the embedded simulated card kept in FILE instead of pcscd
  -sim-card KIND      the kind of a new simulated card: piv (default) or gids
  -profile NAME       the card family of a new simulated card (also for serve;
                      the first of each list is the default):
                      PIV: %s
                      GIDS: %s
  -trace              print every APDU on standard error, secrets redacted
  -pinentry PATH      ask for PINs with this pinentry program (also $CARDMOD_PINENTRY)
  -pin-stdin          read PINs from standard input, one a line (for scripts)
  -mgmt-key-file FILE the card's management (PIV) or admin (GIDS) key in hex
                      (default: the factory key)

`, strings.Join(simfile.ProfileNames(simfile.KindPIV), ", "), strings.Join(simfile.ProfileNames(simfile.KindGIDS), ", "))
	fmt.Fprint(w, exitCodesText)
	fmt.Fprint(w, "\n`cardmod <command> -h` shows the flags of a command.\n")
}

// exitCodesText is the table of exit codes, in doc.go too.
const exitCodesText = `exit codes:
  0  success
  1  the operation failed (the card refused it, a file could not be read, ...)
  2  usage: unknown command, bad flag or argument
  3  no such reader, card, container or key, or no plug-in takes the card
  4  PIN: wrong, blocked, cancelled, or needed with no way to ask for it
  5  pcscd is not reachable
`

func helpCommand() *command {
	return &command{
		name:   "help",
		args:   "[command]",
		short:  "show the commands, flags and exit codes",
		noCard: true,
		run: func(ctx context.Context, s *session, o *cmdOpts, args []string) error {
			if len(args) == 1 {
				c := findCommand(args[0])
				if c == nil {
					return usageErrorf("unknown command %q", args[0])
				}
				fs := flag.NewFlagSet("cardmod "+c.name, flag.ContinueOnError)
				fs.SetOutput(s.io.out)
				if c.flags != nil {
					c.flags(fs, &cmdOpts{})
				}
				fmt.Fprintf(s.io.out, "%s\n%s\n", strings.TrimSpace("usage: cardmod "+c.name+" [flags] "+c.args), c.short)
				var names []string
				fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
				if len(names) > 0 {
					sort.Strings(names)
					fmt.Fprintln(s.io.out, "\nflags:")
					fs.PrintDefaults()
				}
				return nil
			}
			if len(args) > 1 {
				return usageErrorf("want at most one command name")
			}
			usage(s.io.out)
			return nil
		},
	}
}

// oneLine joins the lines of an error text.
func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", "; ")), " ")
}

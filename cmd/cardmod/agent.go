package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"

	"github.com/cardmod/cardmod/basecsp"
	"github.com/cardmod/cardmod/cardfs"
	"github.com/cardmod/cardmod/keystore"
	"github.com/cardmod/cardmod/scrm"
)

// The agent (`cardmod agent`): an ssh-agent (the protocol of
// draft-miller-ssh-agent, as golang.org/x/crypto/ssh/agent serves it) over
// the ECDSA and RSA keys of every card.
//
//   - It listens on a UNIX socket in a new private directory (0700, the
//     socket 0600), prints the SSH_AUTH_SOCK and SSH_AGENT_PID lines as
//     ssh-agent does, and, unless -D, goes to the background.
//   - Keys are listed afresh on every request for identities, so keys come
//     and go as cards are inserted and removed; a watcher also reopens
//     cards as they arrive so that the provider holds a shared connection
//     to each (the card stays powered: pcscd powers a card down when its
//     last client leaves) while other programs still get the card.
//   - Each signature is one provider operation: one transaction, the PIN
//     verified in it (from the PIN cache as the card's policy allows, or
//     asked for through pinentry or the terminal), then logged out. A wrong
//     PIN is dropped from the cache and never retried.
//   - Lock forgets every cached PIN (the provider is reopened) and hides the
//     keys until Unlock with the same passphrase.
//   - Its log (standard error with -D) names keys and errors; never a PIN,
//     key, data or signature.

// agentWatchPoll bounds each wait for reader changes, so that readers that
// appear are watched too.
const agentWatchPoll = 2 * time.Second

func agentCommand() *command {
	return &command{
		name:   "agent",
		short:  "run an ssh-agent serving the ECDSA and RSA keys of every card (eval $(cardmod agent))",
		noCard: true,
		flags: func(fs *flag.FlagSet, o *cmdOpts) {
			fs.BoolVar(&o.foreground, "D", false, "stay in the foreground and log to standard error")
			fs.StringVar(&o.socket, "a", "", "listen on this socket `path` (default: in a new private directory)")
			fs.BoolVar(&o.kill, "k", false, "stop the agent of $SSH_AGENT_PID")
			fs.BoolVar(&o.exclusive, "exclusive", false, "hold the cards exclusively (fewer APDUs per signature; other programs are kept out while the agent runs)")
		},
		run: runAgent,
	}
}

// agentReadyKey, in a test's context, receives the socket path once the
// agent listens.
type agentReadyKey struct{}

func runAgent(ctx context.Context, s *session, o *cmdOpts, args []string) error {
	if len(args) != 0 {
		return usageErrorf("agent takes no arguments")
	}
	if o.kill {
		return killAgent(s)
	}
	if !o.foreground {
		return startBackground(ctx, s, o)
	}
	return serveAgent(ctx, s, o)
}

// killAgent stops the agent of $SSH_AGENT_PID (ssh-agent -k).
func killAgent(s *session) error {
	pid, err := strconv.Atoi(s.io.getenv("SSH_AGENT_PID"))
	if err != nil || pid <= 0 {
		return withHint(errors.New("SSH_AGENT_PID is not set"), exitUsage, "run it where `eval $(cardmod agent)` ran")
	}
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		return fmt.Errorf("stopping agent %d: %w", pid, err)
	}
	fmt.Fprintln(s.io.out, "unset SSH_AUTH_SOCK;\nunset SSH_AGENT_PID;")
	fmt.Fprintf(s.io.out, "echo Agent pid %d killed;\n", pid)
	return nil
}

// startBackground runs the agent again as a child in its own session
// (with -D, its output going nowhere), waits until it listens and prints
// its lines.
func startBackground(ctx context.Context, s *session, o *cmdOpts) error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	args := s.g.args()
	// The child has no terminal: it asks for PINs with pinentry, on the
	// terminal the agent was started from.
	pe := s.g.pinentry
	if pe == "" {
		pe = s.io.getenv("CARDMOD_PINENTRY")
	}
	if pe == "" && !s.g.pinStdin {
		if p, err := exec.LookPath("pinentry"); err == nil {
			pe = p
		}
	}
	if pe != "" && !s.g.pinStdin {
		args = append(args, "-pinentry", pe)
	}
	args = append(args, "agent", "-D")
	if o.exclusive {
		args = append(args, "-exclusive")
	}
	if o.socket != "" {
		args = append(args, "-a", o.socket)
	}
	cmd := exec.Command(exe, args...)
	cmd.Env = os.Environ()
	if f := ttyOf(s.io.in); f != nil && s.io.getenv("GPG_TTY") == "" {
		if name, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", f.Fd())); err == nil {
			cmd.Env = append(cmd.Env, "GPG_TTY="+name)
		}
	}
	cmd.Env = append(cmd.Env, "CARDMOD_AGENT_BACKGROUND=1")
	if f, ok := s.io.in.(*os.File); ok && s.g.pinStdin {
		cmd.Stdin = f // the PINs of a script: `echo $PIN | cardmod -pin-stdin agent`
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting the agent: %w", err)
	}
	br := bufio.NewReader(io.LimitReader(out, 1<<16))
	var lines []string
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			return errors.New("the agent ended before it listened; run `cardmod agent -D` to see why")
		}
		lines = append(lines, line)
		if strings.HasPrefix(line, "echo Agent pid") {
			break
		}
	}
	_ = cmd.Process.Release()
	for _, l := range lines {
		fmt.Fprint(s.io.out, l)
	}
	return nil
}

// args returns the global flags as arguments, for the background agent.
func (g *globals) args() []string {
	var a []string
	if g.reader != "" {
		a = append(a, "-reader", g.reader)
	}
	if g.sim != "" {
		abs, err := filepath.Abs(g.sim)
		if err == nil {
			a = append(a, "-sim", abs, "-sim-card", g.simCard)
			if g.profile != "" {
				a = append(a, "-profile", g.profile)
			}
		}
	}
	if g.pinStdin {
		a = append(a, "-pin-stdin")
	}
	if g.mgmtKeyFile != "" {
		a = append(a, "-mgmt-key-file", g.mgmtKeyFile)
	}
	if g.cacheDir != "" {
		if abs, err := filepath.Abs(g.cacheDir); err == nil {
			a = append(a, "-cache-dir", abs)
		}
	}
	return a
}

// serveAgent is the agent itself.
func serveAgent(ctx context.Context, s *session, o *cmdOpts) error {
	background := s.io.getenv("CARDMOD_AGENT_BACKGROUND") == "1"
	logw := s.io.err
	if background {
		logw = io.Discard
	}
	lg := log.New(logw, "cardmod agent: ", log.LstdFlags)

	path := o.socket
	if path == "" {
		dir, err := os.MkdirTemp("", "cardmod-agent.")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		path = filepath.Join(dir, fmt.Sprintf("agent.%d", os.Getpid()))
	}
	ln, err := listenPrivate(path)
	if err != nil {
		return err
	}
	defer ln.Close()
	defer os.Remove(path)

	s.exclusive = o.exclusive
	a := &cardAgent{s: s, log: lg}
	if _, err := a.provider(ctx); err != nil {
		return err
	}
	defer a.close()

	fmt.Fprintf(s.io.out, "SSH_AUTH_SOCK=%s; export SSH_AUTH_SOCK;\nSSH_AGENT_PID=%d; export SSH_AGENT_PID;\necho Agent pid %d;\n", path, os.Getpid(), os.Getpid())
	if background {
		s.io.out = io.Discard
	}
	wctx, stopWatch := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	watching := make(chan struct{})
	go func() { defer wg.Done(); a.watch(wctx, watching) }()
	defer func() { stopWatch(); wg.Wait() }()
	if f, ok := ctx.Value(agentReadyKey{}).(func(string, *cardAgent)); ok {
		// Tests count APDUs: they start once the cards present are open.
		select {
		case <-watching:
		case <-ctx.Done():
		}
		f(path, a)
	}

	go func() { <-ctx.Done(); ln.Close() }()
	var conns sync.WaitGroup
	defer conns.Wait()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				lg.Printf("stopping")
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return fmt.Errorf("agent socket: %w", err)
		}
		conns.Add(1)
		go func() {
			defer conns.Done()
			defer c.Close()
			go func() { <-ctx.Done(); c.Close() }()
			if err := agent.ServeAgent(a.withContext(ctx), c); !errors.Is(err, io.EOF) && ctx.Err() == nil {
				lg.Printf("connection: %s", oneLine(err.Error()))
			}
		}()
	}
}

// listenPrivate listens on path, a socket only its owner can use: its
// directory must not be writable by others, and the socket is made 0600.
func listenPrivate(path string) (net.Listener, error) {
	dir := filepath.Dir(path)
	st, err := os.Stat(dir)
	if err != nil {
		return nil, err
	}
	if st.Mode().Perm()&0o022 != 0 {
		return nil, withHint(fmt.Errorf("socket directory %s is writable by others", dir), exitUsage, "use a private directory (mode 0700)")
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("agent socket: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, err
	}
	return ln, nil
}

// cardAgent is the agent.Agent of the card keys.
type cardAgent struct {
	s   *session
	log *log.Logger

	mu     sync.Mutex
	p      *basecsp.Provider
	keys   []*agentKey // as of the last listing
	locked bool
	lockPW [32]byte // SHA-256 of the lock passphrase
	// cardNames names the cards seen, by identity, for key comments.
	cardNames map[cardfs.CardID]string
}

// agentKey is one card key served.
type agentKey struct {
	key     *basecsp.Key
	pub     ssh.PublicKey
	blob    []byte
	comment string
}

// provider returns the provider, opening it when needed.
func (a *cardAgent) provider(ctx context.Context) (*basecsp.Provider, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.providerLocked(ctx)
}

func (a *cardAgent) providerLocked(ctx context.Context) (*basecsp.Provider, error) {
	if a.p != nil {
		return a.p, nil
	}
	p, err := a.s.openProvider(ctx)
	if err != nil {
		return nil, err
	}
	a.p = p
	return p, nil
}

// close closes the provider (the session closes the backend).
func (a *cardAgent) close() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.keys = nil
}

// watch reopens the cards whenever a card comes or goes, so the provider
// keeps a shared connection to each card present, and logs keys coming and
// going. ready is closed once the cards present at the start are open.
func (a *cardAgent) watch(ctx context.Context, ready chan<- struct{}) {
	defer func() {
		if ready != nil {
			close(ready)
		}
	}()
	var sc *scrm.Context
	var scBackend scrm.Backend
	var states []scrm.ReaderState
	changed := true
	for ctx.Err() == nil {
		// The backend is replaced when the PC/SC service was lost.
		b, err := a.backend(ctx)
		if err != nil {
			a.log.Printf("%s", errText(err))
			select {
			case <-ctx.Done():
				return
			case <-time.After(agentWatchPoll):
			}
			continue
		}
		if b != scBackend {
			sc, scBackend, states = scrm.NewContext(b), b, nil // not released: the session owns the backend
		}
		readers, err := sc.ListReaders(ctx)
		if err != nil {
			readers = nil
		}
		if !sameReaders(states, readers) {
			states = states[:0]
			for _, r := range readers {
				states = append(states, scrm.ReaderState{Reader: r, Current: scrm.StateUnaware})
			}
			changed = true
			// Learn the states (a wait from StateUnaware returns at once).
			if len(states) > 0 && sc.GetStatusChange(ctx, states) == nil {
				for i := range states {
					states[i].Update()
				}
			}
		}
		if changed {
			// Opens the cards that arrived (the provider keeps their
			// connections) and notes the keys; nothing is sent to the
			// cards while nothing changes.
			a.refresh(ctx)
			changed = false
		}
		if ready != nil {
			close(ready)
			ready = nil
		}
		wctx, cancel := context.WithTimeout(ctx, agentWatchPoll)
		err = sc.GetStatusChange(wctx, states)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if errors.Is(err, scrm.ErrTimeout) || errors.Is(err, context.DeadlineExceeded) {
				continue
			}
			// The service went away (pcscd restarted) or the reader list
			// changed: look again after a pause.
			if serviceLost(err) {
				a.log.Printf("the PC/SC service was lost (%s); connecting again", errText(err))
				a.mu.Lock()
				a.reopenLocked()
				a.mu.Unlock()
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(agentWatchPoll):
			}
			states = nil
			changed = true
			continue
		}
		// Only a card coming or going matters; a reader's in-use and
		// exclusive flags change with every program's connections,
		// this agent's too.
		for i := range states {
			if presence(states[i].Current) != presence(states[i].Event) ||
				states[i].Current&^0xFFFF != states[i].Event&^0xFFFF {
				changed = true
			}
			states[i].Update()
		}
	}
}

// presence is the part of a reader state that says whether a card is there.
func presence(f scrm.StateFlag) scrm.StateFlag {
	return f & (scrm.StatePresent | scrm.StateEmpty | scrm.StateUnknown | scrm.StateUnavailable | scrm.StateMute)
}

func sameReaders(states []scrm.ReaderState, readers []string) bool {
	if len(states) != len(readers) {
		return false
	}
	for i := range states {
		if states[i].Reader != readers[i] {
			return false
		}
	}
	return true
}

// refresh lists the keys of the cards present and keeps them.
func (a *cardAgent) refresh(ctx context.Context) []*agentKey {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.locked {
		return nil
	}
	p, err := a.providerLocked(ctx)
	if err != nil {
		a.log.Printf("%s", errText(err))
		return nil
	}
	if a.cardNames == nil {
		a.cardNames = map[cardfs.CardID]string{}
	}
	keys, err := listAgentKeys(ctx, p, a.s.g.reader, a.cardNames)
	if serviceLost(err) {
		a.log.Printf("the PC/SC service was lost (%s); connecting again", errText(err))
		a.reopenLocked()
		if p, err = a.providerLocked(ctx); err == nil {
			keys, err = listAgentKeys(ctx, p, a.s.g.reader, a.cardNames)
		}
	}
	if err != nil {
		a.log.Printf("listing keys: %s", errText(err))
	}
	if !sameKeys(a.keys, keys) {
		a.log.Printf("%d keys", len(keys))
		for _, k := range keys {
			a.log.Printf("  %s %s", k.pub.Type(), k.comment)
		}
	}
	a.keys = keys
	return keys
}

// backend returns the session's backend, opening it again after reopen.
func (a *cardAgent) backend(ctx context.Context) (scrm.Backend, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.s.openBackend(ctx)
}

// serviceLost reports an error that says the connection to the PC/SC
// service itself is gone (pcscd restarted or stopped): the provider's
// connections will not work again. cardmod's own client of pcscd reports
// the socket to a pcscd that died or restarted as scrm.ErrCommError
// (SCARD_F_COMM_ERROR; package scrm/pcsc documents it, and its backend
// treats the same codes as a context to establish again); a handle a
// restarted service does not know is scrm.ErrInvalidHandle.
func serviceLost(err error) bool {
	return errors.Is(err, scrm.ErrInvalidHandle) || errors.Is(err, scrm.ErrServiceStopped) ||
		errors.Is(err, scrm.ErrNoService) || errors.Is(err, scrm.ErrReaderUnavailable) ||
		errors.Is(err, scrm.ErrCommError)
}

// reopenLocked drops the provider (and the agent's own pcscd backend) after
// the service was lost; the next use opens them again. The cached PINs go
// with the provider.
func (a *cardAgent) reopenLocked() {
	a.keys = nil
	if a.p != nil {
		_ = a.p.Close()
		a.p = nil
		a.s.provider = nil
	}
	if a.s.io.backend == nil && a.s.g.sim == "" && a.s.backend != nil {
		_ = a.s.backend.Release()
		a.s.backend = nil
	}
}

func sameKeys(x, y []*agentKey) bool {
	if len(x) != len(y) {
		return false
	}
	for i := range x {
		if !bytes.Equal(x[i].blob, y[i].blob) || x[i].comment != y[i].comment {
			return false
		}
	}
	return true
}

// listAgentKeys returns the ECDSA and RSA keys of every card present (of
// reader's card only when reader is set). Keys of a card that cannot be
// read are left out; the error says why.
//
// A key is named "<certificate CN or subject, or the container> [<container>]
// <plug-in> <serial> in <reader>". names caches the card part by card
// identity (nil: no cache).
func listAgentKeys(ctx context.Context, p *basecsp.Provider, reader string, names map[cardfs.CardID]string) ([]*agentKey, error) {
	entries, err := p.Containers(ctx)
	var errs []error
	if err != nil {
		// A card that cannot be read does not hide the others' keys.
		var failed keystore.CardErrors
		if !errors.As(err, &failed) {
			return nil, err
		}
		errs = append(errs, err)
	}
	cardName := func(e basecsp.ContainerEntry) string {
		if n, ok := names[e.CardID]; ok {
			return n
		}
		n := "card"
		if c, err := p.Card(ctx, e.Reader); err == nil {
			if info, err := c.Info(ctx); err == nil {
				n = info.Plugin
				if len(info.Serial) > 0 {
					n += " " + serialText(info.Plugin, info.Serial)
				}
			}
		}
		if names != nil {
			names[e.CardID] = n
		}
		return n
	}
	var keys []*agentKey
	for _, e := range entries {
		if reader != "" && e.Reader != reader {
			continue
		}
		c, err := p.Container(ctx, e.FullName())
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, spec := range c.KeySpecs() {
			if !spec.IsRSA() && !spec.IsECDSA() {
				continue
			}
			k, err := c.Key(spec)
			if err != nil {
				continue
			}
			pub, err := ssh.NewPublicKey(k.Public())
			if err != nil {
				continue
			}
			name := e.Name
			if cert, err := k.Certificate(ctx); err == nil {
				name = cert.Subject.String()
				if cert.Subject.CommonName != "" {
					name = cert.Subject.CommonName
				}
			}
			comment := fmt.Sprintf("%s [%s] %s in %s", clean(name), clean(e.Name), clean(cardName(e)), clean(e.Reader))
			keys = append(keys, &agentKey{key: k, pub: pub, blob: pub.Marshal(), comment: comment})
		}
	}
	return keys, errors.Join(errs...)
}

// withContext returns the agent.ExtendedAgent of one connection.
func (a *cardAgent) withContext(ctx context.Context) agent.ExtendedAgent {
	return &agentConn{a: a, ctx: ctx}
}

// agentConn serves one client connection.
type agentConn struct {
	a   *cardAgent
	ctx context.Context
}

var errAgentLocked = errors.New("agent locked")

// errNotSupported answers what a card agent cannot do.
var errNotSupported = errors.New("not supported: this agent serves the keys of the cards only")

// List lists the keys of the cards present now.
func (c *agentConn) List() ([]*agent.Key, error) {
	keys := c.a.refresh(c.ctx)
	out := make([]*agent.Key, 0, len(keys))
	for _, k := range keys {
		out = append(out, &agent.Key{Format: k.pub.Type(), Blob: k.blob, Comment: k.comment})
	}
	return out, nil
}

// find returns the card key of blob, listing the keys again once when it
// is not among the last listed.
func (c *agentConn) find(blob []byte) (*agentKey, error) {
	c.a.mu.Lock()
	locked := c.a.locked
	keys := c.a.keys
	c.a.mu.Unlock()
	if locked {
		return nil, errAgentLocked
	}
	for pass := 0; pass < 2; pass++ {
		for _, k := range keys {
			if bytes.Equal(k.blob, blob) {
				return k, nil
			}
		}
		if pass == 0 {
			keys = c.a.refresh(c.ctx)
		}
	}
	return nil, errors.New("no such key on the cards present")
}

// Sign signs with the default algorithm of the key.
func (c *agentConn) Sign(key ssh.PublicKey, data []byte) (*ssh.Signature, error) {
	return c.SignWithFlags(key, data, 0)
}

// SignWithFlags signs data on the card: rsa-sha2-256 and rsa-sha2-512 as
// the flags ask, ssh-rsa (SHA-1) otherwise; ECDSA with the curve's hash.
func (c *agentConn) SignWithFlags(key ssh.PublicKey, data []byte, flags agent.SignatureFlags) (*ssh.Signature, error) {
	sig, err := c.sign(key, data, flags)
	if serviceLost(err) {
		// The card was not reached: connect again and sign once more.
		c.a.log.Printf("the PC/SC service was lost; connecting again")
		c.a.mu.Lock()
		c.a.reopenLocked()
		c.a.mu.Unlock()
		sig, err = c.sign(key, data, flags)
	}
	return sig, err
}

func (c *agentConn) sign(key ssh.PublicKey, data []byte, flags agent.SignatureFlags) (*ssh.Signature, error) {
	k, err := c.find(key.Marshal())
	if err != nil {
		c.a.log.Printf("sign: %s", err)
		return nil, err
	}
	signer, err := ssh.NewSignerFromSigner(ctxSigner{c.ctx, k.key})
	if err != nil {
		return nil, err
	}
	var sig *ssh.Signature
	if as, ok := signer.(ssh.AlgorithmSigner); ok && k.pub.Type() == ssh.KeyAlgoRSA {
		alg := ssh.KeyAlgoRSA
		switch {
		case flags&agent.SignatureFlagRsaSha512 != 0:
			alg = ssh.KeyAlgoRSASHA512
		case flags&agent.SignatureFlagRsaSha256 != 0:
			alg = ssh.KeyAlgoRSASHA256
		}
		sig, err = as.SignWithAlgorithm(rand.Reader, data, alg)
	} else {
		sig, err = signer.Sign(rand.Reader, data)
	}
	if err != nil {
		c.a.log.Printf("sign with %s: %s", k.comment, errText(err))
		return nil, err
	}
	c.a.log.Printf("signed with %s", k.comment)
	return sig, nil
}

// ctxSigner is a card key whose Sign runs under the connection's context.
type ctxSigner struct {
	ctx context.Context
	k   *basecsp.Key
}

func (s ctxSigner) Public() crypto.PublicKey { return s.k.Public() }

func (s ctxSigner) Sign(r io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	switch s.k.Public().(type) {
	case *rsa.PublicKey, *ecdsa.PublicKey:
		return s.k.SignContext(s.ctx, r, digest, opts)
	}
	return nil, errNotSupported
}

// Add refuses: the agent holds no software keys.
func (c *agentConn) Add(agent.AddedKey) error { return errNotSupported }

// Remove refuses: card keys are removed by removing the card.
func (c *agentConn) Remove(ssh.PublicKey) error { return errNotSupported }

// RemoveAll refuses, as Remove.
func (c *agentConn) RemoveAll() error { return errNotSupported }

// Lock hides the keys and forgets every cached PIN until Unlock.
func (c *agentConn) Lock(passphrase []byte) error {
	a := c.a
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.locked {
		return errAgentLocked
	}
	a.locked = true
	a.lockPW = sha256.Sum256(passphrase)
	a.keys = nil
	if a.p != nil {
		// Closing the provider wipes its PIN cache; the next one opens
		// the cards again.
		_ = a.p.Close()
		a.p = nil
		a.s.provider = nil
	}
	a.log.Printf("locked")
	return nil
}

// Unlock shows the keys again when passphrase is the one of Lock.
func (c *agentConn) Unlock(passphrase []byte) error {
	a := c.a
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.locked {
		return errors.New("agent not locked")
	}
	h := sha256.Sum256(passphrase)
	if subtle.ConstantTimeCompare(h[:], a.lockPW[:]) != 1 {
		a.log.Printf("unlock refused")
		return errors.New("incorrect passphrase")
	}
	a.locked = false
	clear(a.lockPW[:])
	a.log.Printf("unlocked")
	return nil
}

// Signers returns the card keys as ssh.Signers.
func (c *agentConn) Signers() ([]ssh.Signer, error) {
	keys := c.a.refresh(c.ctx)
	var out []ssh.Signer
	for _, k := range keys {
		s, err := ssh.NewSignerFromSigner(ctxSigner{c.ctx, k.key})
		if err == nil {
			out = append(out, s)
		}
	}
	return out, nil
}

// Extension supports no extension.
func (c *agentConn) Extension(string, []byte) ([]byte, error) {
	return nil, agent.ErrExtensionUnsupported
}

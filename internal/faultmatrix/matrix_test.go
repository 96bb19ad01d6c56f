package faultmatrix_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"math/big"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cardmod/cardmod/basecsp"
	"github.com/cardmod/cardmod/cardsim"
	simgids "github.com/cardmod/cardmod/cardsim/gids"
	simpiv "github.com/cardmod/cardmod/cardsim/piv"
	"github.com/cardmod/cardmod/csptest"
	"github.com/cardmod/cardmod/internal/bertlv"
	"github.com/cardmod/cardmod/keystore"
	"github.com/cardmod/cardmod/ksp"
	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/minidriver/gids"
	"github.com/cardmod/cardmod/minidriver/piv"
	"github.com/cardmod/cardmod/scrm"
	"github.com/cardmod/cardmod/scrm/virtual"
)

const reader = "Virtual Reader 0"

// kind is one card family of the matrix.
type kind struct {
	name   string
	aid    []byte
	pin    string
	tries  int
	admin  minidriver.AdminResponder
	load   func(state []byte) (cardsim.Card, error)
	state  []byte // the card after setup
	cache  string // a disk cache filled from it
	rsa    *rsa.PrivateKey
	cert   *x509.Certificate // for container "ec"
	unlock bool              // the providers can unblock the PIN (PIV: with the PUK)
}

// setupKinds makes each card family's starting card, once per run of the
// test (its disk cache lives in the test's temporary directory): an
// imported RSA-2048 exchange key "rsa", generated ECDSA P-256 keys "ec"
// and "other", an ECDH P-256 key "dh".
func setupKinds(t *testing.T) []*kind {
	t.Helper()
	var kinds []*kind
	var kindsErr error
	func() {
		rk := csptest.RSAKey(t)
		pivKind := &kind{
			name: "PIV", aid: simpiv.AID, pin: simpiv.DefaultPIN, tries: simpiv.DefaultTries, rsa: rk, unlock: true,
			admin: piv.ManagementKey(simpiv.DefaultManagementKey),
			load: func(st []byte) (cardsim.Card, error) {
				return simpiv.Load(bytes.NewReader(st), simpiv.Config{})
			},
		}
		gidsKind := &kind{
			name: "GIDS", aid: simgids.AID, pin: simgids.DefaultPIN, tries: simgids.DefaultPINTries, rsa: rk,
			admin: gids.AdminKey(simgids.DefaultAdminKey),
			load: func(st []byte) (cardsim.Card, error) {
				return simgids.Load(bytes.NewReader(st), simgids.Config{})
			},
		}
		ps, err := simpiv.New(simpiv.Config{})
		if err != nil {
			kindsErr = err
			return
		}
		gs, err := simgids.New(simgids.Config{Initialized: true})
		if err != nil {
			kindsErr = err
			return
		}
		for _, k := range []struct {
			k    *kind
			sim  cardsim.Card
			save func(*bytes.Buffer) error
		}{
			{pivKind, ps, func(b *bytes.Buffer) error { return ps.Save(b) }},
			{gidsKind, gs, func(b *bytes.Buffer) error { return gs.Save(b) }},
		} {
			if kindsErr = populate(t, k.k, k.sim); kindsErr != nil {
				return
			}
			var buf bytes.Buffer
			if kindsErr = k.save(&buf); kindsErr != nil {
				return
			}
			k.k.state = buf.Bytes()
			if kindsErr = fillCache(t, k.k); kindsErr != nil {
				return
			}
		}
		kinds = []*kind{pivKind, gidsKind}
	}()
	require.NoError(t, kindsErr)
	return kinds
}

func populate(t *testing.T, k *kind, sim cardsim.Card) error {
	ctx := context.Background()
	b := virtual.NewBackend()
	b.AddReader(reader).Insert(sim)
	p, err := basecsp.Open(basecsp.Config{Backend: b, Prompt: csptest.NewPrompt(k.pin), AdminResponse: k.admin})
	if err != nil {
		return err
	}
	defer p.Close()
	if _, err := p.CreateContainer(ctx, "rsa", minidriver.KeyExchange, 0, k.rsa); err != nil {
		return fmt.Errorf("rsa: %w", err)
	}
	ct, err := p.CreateContainer(ctx, "ec", minidriver.ECDSAP256, 0, nil)
	if err != nil {
		return fmt.Errorf("ec: %w", err)
	}
	if _, err := p.CreateContainer(ctx, "other", minidriver.ECDSAP256, 0, nil); err != nil {
		return fmt.Errorf("other: %w", err)
	}
	if _, err := p.CreateContainer(ctx, "dh", minidriver.ECDHP256, 0, nil); err != nil {
		return fmt.Errorf("dh: %w", err)
	}
	ek, err := ct.Key(minidriver.ECDSAP256)
	if err != nil {
		return err
	}
	k.cert = csptest.SelfSigned(t, ek, "ec "+k.name)
	return nil
}

// fillCache makes the disk cache a process that ran before the operation
// leaves: every case starts with a copy.
func fillCache(t *testing.T, k *kind) error {
	sim, err := k.load(k.state)
	if err != nil {
		return err
	}
	b := virtual.NewBackend()
	b.AddReader(reader).Insert(sim)
	k.cache = t.TempDir()
	p, err := basecsp.Open(basecsp.Config{Backend: b, Prompt: csptest.NewPrompt(k.pin), AdminResponse: k.admin, CacheDir: k.cache})
	if err != nil {
		return err
	}
	view(t, p, true)
	return p.Close()
}

// env is one case: a card in a reader and the original providers.
type env struct {
	k      *kind
	b      *virtual.Backend
	r      *virtual.Reader
	sim    cardsim.Card
	prompt *csptest.Prompt
	base   *basecsp.Provider
	ksp    *ksp.Provider
	dir    string // the disk cache

	// set by an operation's prepare
	key    *basecsp.Key
	kkey   *ksp.Key
	ct     *basecsp.Container
	card   *basecsp.Card
	input  []byte
	peer   *ecdh.PrivateKey
	newPIN string
}

func newEnv(t *testing.T, k *kind) *env {
	t.Helper()
	sim, err := k.load(k.state)
	require.NoError(t, err)
	b := virtual.NewBackend()
	r := b.AddReader(reader)
	r.Insert(sim)
	e := &env{k: k, b: b, r: r, sim: sim, prompt: csptest.NewPrompt(k.pin), dir: t.TempDir()}
	require.NoError(t, os.CopyFS(e.dir, os.DirFS(k.cache)))
	e.base = e.openBase(t, basecsp.Config{})
	kp, err := ksp.Open(ksp.Config{Backend: b, Prompt: e.prompt, AdminResponse: k.admin})
	require.NoError(t, err)
	t.Cleanup(func() { _ = kp.Close() })
	e.ksp = kp
	return e
}

func (e *env) openBase(t *testing.T, cfg basecsp.Config) *basecsp.Provider {
	t.Helper()
	cfg.Backend = e.b
	cfg.Prompt = e.prompt
	cfg.AdminResponse = e.k.admin
	p, err := basecsp.Open(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// view is what a provider sees of the card: its containers, with their
// public keys when keys is set (only key generation changes them), and the
// certificate store.
func view(t *testing.T, p *basecsp.Provider, keys bool) string {
	t.Helper()
	ctx := context.Background()
	var sb strings.Builder
	entries, err := p.Containers(ctx)
	if err != nil {
		return "ERR containers: " + err.Error()
	}
	slices.SortFunc(entries, func(a, b basecsp.ContainerEntry) int { return strings.Compare(a.Name, b.Name) })
	for _, en := range entries {
		fmt.Fprintf(&sb, "%s #%d default=%v bits=%d/%d", en.Name, en.Index, en.Default, en.SignatureBits, en.KeyExchangeBits)
		if !keys {
			sb.WriteString("\n")
			continue
		}
		ct, err := p.Container(ctx, en.FullName())
		if err != nil {
			fmt.Fprintf(&sb, " ERR open: %v\n", err)
			continue
		}
		for _, spec := range ct.KeySpecs() {
			k, err := ct.Key(spec)
			require.NoError(t, err)
			der, err := x509.MarshalPKIXPublicKey(k.Public())
			require.NoError(t, err)
			fmt.Fprintf(&sb, " %v:%x", spec, sha256.Sum256(der))
		}
		sb.WriteString("\n")
	}
	certs, err := p.Certificates(ctx)
	if err != nil {
		return sb.String() + "ERR certificates: " + err.Error()
	}
	slices.SortFunc(certs, func(a, b keystore.CertEntry) int { return strings.Compare(a.Container, b.Container) })
	for _, c := range certs {
		fmt.Fprintf(&sb, "cert %s %v %x\n", c.Container, c.KeySpec, sha256.Sum256(c.Certificate.Raw))
	}
	return sb.String()
}

// probe connects as another application and reports the PIN's tries
// left (-1: verified, which must never be seen) and whether the admin key
// (the PIV management key, the GIDS admin key) is authenticated.
func probe(t *testing.T, e *env) (tries int, admin bool) {
	t.Helper()
	ctx := context.Background()
	conn, err := scrm.NewContext(e.b).Connect(ctx, reader, nil)
	require.NoError(t, err)
	defer conn.Close(scrm.LeaveCard)
	tx, err := conn.Begin(ctx)
	require.NoError(t, err)
	defer tx.End(scrm.ResetCard) // the probe itself leaves nothing
	if e.k.name == "GIDS" {
		// Selecting GIDS again starts a fresh session (as a Java Card
		// applet is selected again): ask first, in what the last
		// application left selected, as another application could.
		_, err = tx.Do(ctx, scrm.Command{INS: 0x20, P2: 0x80})
		if err == nil {
			return -1, false
		}
		// RESET RETRY COUNTER needs the admin key (GIDS v2.0 9.6).
		_, err = tx.Do(ctx, scrm.Command{INS: 0x2C, P1: 0x02, P2: 0x80, Data: []byte("99999999")})
		admin = err == nil
	}
	_, err = tx.Do(ctx, scrm.Command{INS: 0xA4, P1: 0x04, P2: 0x00, Data: e.k.aid, Ne: 256})
	require.NoError(t, err)
	_, err = tx.Do(ctx, scrm.Command{INS: 0x20, P2: 0x80})
	tries = -1
	if err != nil {
		var se *scrm.StatusError
		require.ErrorAs(t, err, &se)
		n, ok := se.RetriesLeft()
		require.True(t, ok, "an empty VERIFY answers 63Cx: %v", err)
		tries = n
	}
	if e.k.name == "PIV" {
		// PUT DATA needs the management key (SP 800-73-4 part 1, table
		// 2): an empty retired-key certificate object.
		data := append(bertlv.Encode(0x5C, []byte{0x5F, 0xC1, 0x0D}), bertlv.Encode(0x53, nil)...)
		_, err = tx.Do(ctx, scrm.Command{INS: 0xDB, P1: 0x3F, P2: 0xFF, Data: data})
		admin = err == nil
		if err != nil {
			require.ErrorIs(t, err, scrm.ErrSecurityStatus)
		}
	}
	return tries, admin
}

// pinWorks reports whether pin verifies, from a connection of its own
// that resets the card when done.
func pinWorks(t *testing.T, e *env, pin string) bool {
	t.Helper()
	ctx := context.Background()
	conn, err := scrm.NewContext(e.b).Connect(ctx, reader, nil)
	require.NoError(t, err)
	defer conn.Close(scrm.LeaveCard)
	tx, err := conn.Begin(ctx)
	require.NoError(t, err)
	defer tx.End(scrm.ResetCard)
	_, err = tx.Do(ctx, scrm.Command{INS: 0xA4, P1: 0x04, Data: e.k.aid, Ne: 256})
	require.NoError(t, err)
	data := []byte(pin)
	if e.k.name == "PIV" {
		data = append(data, bytes.Repeat([]byte{0xFF}, 8-len(data))...)
	}
	_, err = tx.Do(ctx, scrm.Command{INS: 0x20, P2: 0x80, Data: data})
	return err == nil
}

// operation is one row of the matrix.
type operation struct {
	name    string
	writes  bool             // changes the card
	only    string           // a card kind the operation applies to, "" for every one
	prepare func(*env) error // opens what the operation works on (not counted)
	run     func(context.Context, *env) (any, error)
	check   func(*testing.T, *env, any) // the result of a successful run is right
}

func basekey(e *env, name string, spec minidriver.KeySpec) error {
	ct, err := e.base.Container(context.Background(), name)
	if err != nil {
		return err
	}
	e.ct = ct
	e.key, err = ct.Key(spec)
	return err
}

var operations = []operation{
	{
		name:    "sign",
		prepare: func(e *env) error { e.input = digestOf("sign"); return basekey(e, "ec", minidriver.ECDSAP256) },
		run: func(ctx context.Context, e *env) (any, error) {
			return e.key.SignContext(ctx, rand.Reader, e.input, crypto.SHA256)
		},
		check: func(t *testing.T, e *env, r any) {
			assert.True(t, ecdsa.VerifyASN1(e.key.Public().(*ecdsa.PublicKey), e.input, r.([]byte)), "the signature verifies")
		},
	},
	{
		name: "decrypt PKCS #1 v1.5",
		prepare: func(e *env) error {
			e.input = encryptPKCS1v15(&e.k.rsa.PublicKey, []byte("pkcs1 secret"))
			return basekey(e, "rsa", minidriver.KeyExchange)
		},
		run: func(ctx context.Context, e *env) (any, error) {
			return e.key.DecryptContext(ctx, rand.Reader, e.input, nil)
		},
		check: func(t *testing.T, e *env, r any) { assert.Equal(t, []byte("pkcs1 secret"), r) },
	},
	{
		name: "decrypt OAEP",
		prepare: func(e *env) error {
			var err error
			if e.input, err = rsa.EncryptOAEP(sha256.New(), rand.Reader, &e.k.rsa.PublicKey, []byte("oaep secret"), nil); err != nil {
				return err
			}
			return basekey(e, "rsa", minidriver.KeyExchange)
		},
		run: func(ctx context.Context, e *env) (any, error) {
			return e.key.DecryptContext(ctx, rand.Reader, e.input, &rsa.OAEPOptions{Hash: crypto.SHA256})
		},
		check: func(t *testing.T, e *env, r any) { assert.Equal(t, []byte("oaep secret"), r) },
	},
	{
		name: "ECDH",
		prepare: func(e *env) error {
			var err error
			if e.peer, err = ecdh.P256().GenerateKey(rand.Reader); err != nil {
				return err
			}
			e.kkey, err = e.ksp.OpenKey(context.Background(), "dh")
			return err
		},
		run: func(ctx context.Context, e *env) (any, error) { return e.kkey.ECDHContext(ctx, e.peer.PublicKey()) },
		check: func(t *testing.T, e *env, r any) {
			want, err := e.peer.ECDH(e.kkey.Public().(*ecdh.PublicKey))
			require.NoError(t, err)
			assert.Equal(t, want, r)
		},
	},
	{
		name:    "key generation",
		writes:  true,
		prepare: func(e *env) error { _, err := e.base.Containers(context.Background()); return err },
		run: func(ctx context.Context, e *env) (any, error) {
			return e.base.CreateContainer(ctx, "gen", minidriver.ECDSAP256, 0, nil)
		},
		check: func(t *testing.T, e *env, r any) {
			k, err := r.(*basecsp.Container).Key(minidriver.ECDSAP256)
			require.NoError(t, err)
			fresh := e.openBase(t, basecsp.Config{NoCache: true})
			ct, err := fresh.Container(context.Background(), "gen")
			require.NoError(t, err)
			fk, err := ct.Key(minidriver.ECDSAP256)
			require.NoError(t, err)
			assert.True(t, fk.Public().(*ecdsa.PublicKey).Equal(k.Public()), "the key returned is the card's")
		},
	},
	{
		name:    "certificate write",
		writes:  true,
		prepare: func(e *env) error { return basekey(e, "ec", minidriver.ECDSAP256) },
		run:     func(ctx context.Context, e *env) (any, error) { return nil, e.key.SetCertificate(ctx, e.k.cert) },
		check: func(t *testing.T, e *env, _ any) {
			fresh := e.openBase(t, basecsp.Config{NoCache: true})
			ct, err := fresh.Container(context.Background(), "ec")
			require.NoError(t, err)
			k, err := ct.Key(minidriver.ECDSAP256)
			require.NoError(t, err)
			c, err := k.Certificate(context.Background())
			require.NoError(t, err)
			assert.True(t, c.Equal(e.k.cert))
		},
	},
	{
		name:   "PIN change",
		writes: true,
		prepare: func(e *env) error {
			e.newPIN = "24681357"
			var err error
			e.card, err = e.base.Card(context.Background(), "")
			return err
		},
		run: func(ctx context.Context, e *env) (any, error) {
			return nil, e.card.ChangePIN(ctx, minidriver.RoleUser, []byte(e.k.pin), []byte(e.newPIN))
		},
		check: func(t *testing.T, e *env, _ any) { assert.True(t, pinWorks(t, e, e.newPIN), "the new PIN is set") },
	},
	{
		name:   "unblock",
		writes: true,
		prepare: func(e *env) error {
			e.newPIN = "13572468"
			var err error
			e.card, err = e.base.Card(context.Background(), "")
			return err
		},
		run: func(ctx context.Context, e *env) (any, error) {
			if e.k.name == "GIDS" {
				// With the admin key: the provider answers its challenge.
				return nil, e.card.UnblockPIN(ctx, minidriver.RoleUser, gids.PINAdmin, nil, []byte(e.newPIN))
			}
			return nil, e.card.UnblockPIN(ctx, minidriver.RoleUser, piv.PINPUK, []byte(simpiv.DefaultPUK), []byte(e.newPIN))
		},
		check: func(t *testing.T, e *env, _ any) { assert.True(t, pinWorks(t, e, e.newPIN), "the new PIN is set") },
	},
	{
		name:    "admin authentication",
		writes:  true,
		prepare: func(e *env) error { return basekey(e, "other", minidriver.ECDSAP256) },
		run:     func(ctx context.Context, e *env) (any, error) { return nil, e.ct.SetDefault(ctx) },
		check: func(t *testing.T, e *env, _ any) {
			fresh := e.openBase(t, basecsp.Config{NoCache: true})
			ct, err := fresh.Container(context.Background(), "other")
			require.NoError(t, err)
			assert.True(t, ct.Default())
		},
	},
}

// fault is one column of the matrix.
type fault struct {
	name string
	make func(trigger func()) virtual.Fault
}

var faults = []fault{
	{"reset", func(func()) virtual.Fault { return virtual.Fault{Reset: true} }},
	{"removal", func(func()) virtual.Fault { return virtual.Fault{Remove: true} }},
	{"lost answer", func(func()) virtual.Fault { return virtual.Fault{Mutate: func([]byte) []byte { return nil }} }},
	{"transport error", func(func()) virtual.Fault { return virtual.Fault{Lose: scrm.ErrCommError} }},
	{"deadline", func(trigger func()) virtual.Fault {
		// The deadline passes as the exchange starts.
		return virtual.Fault{Delay: time.Hour}
	}},
}

// deadlineCtx is a context whose deadline passes when expire is called.
type deadlineCtx struct {
	context.Context
	done chan struct{}
	once sync.Once
}

func newDeadlineCtx() *deadlineCtx {
	return &deadlineCtx{Context: context.Background(), done: make(chan struct{})}
}

func (c *deadlineCtx) expire()                     { c.once.Do(func() { close(c.done) }) }
func (c *deadlineCtx) Done() <-chan struct{}       { return c.done }
func (c *deadlineCtx) Deadline() (time.Time, bool) { return time.Now().Add(time.Hour), true }
func (c *deadlineCtx) Err() error {
	select {
	case <-c.done:
		return context.DeadlineExceeded
	default:
		return nil
	}
}

// at queues f for the exchange at position pos (0 = the operation's first
// exchange), calling trigger as it applies.
func at(r *virtual.Reader, pos int, f virtual.Fault, trigger func()) {
	var n atomic.Int32
	f.Match = func([]byte) bool {
		if int(n.Add(1)-1) == pos {
			trigger()
			return true
		}
		return false
	}
	r.InjectFault(f)
}

// exchanges counts the exchanges of op on a fresh card.
func exchanges(t *testing.T, k *kind, op operation) int {
	t.Helper()
	e := newEnv(t, k)
	require.NoError(t, op.prepare(e))
	var n atomic.Int32
	e.r.InjectFault(virtual.Fault{Match: func([]byte) bool { n.Add(1); return false }})
	_, err := op.run(context.Background(), e)
	require.NoError(t, err, "%s on %s without a fault", op.name, k.name)
	e.r.ClearFaults()
	return int(n.Load())
}

func TestFaultMatrix(t *testing.T) {
	for _, k := range setupKinds(t) {
		t.Run(k.name, func(t *testing.T) {
			t.Parallel()
			for _, op := range operations {
				if op.only != "" && op.only != k.name {
					continue
				}
				n := exchanges(t, k, op)
				t.Logf("%s: %d exchanges", op.name, n)
				t.Run(op.name, func(t *testing.T) {
					t.Parallel()
					for _, fl := range faults {
						t.Run(fl.name, func(t *testing.T) {
							for pos := range n {
								t.Run(fmt.Sprint(pos), func(t *testing.T) { runCase(t, k, op, fl, pos) })
							}
						})
					}
				})
			}
		})
	}
}

func runCase(t *testing.T, k *kind, op operation, fl fault, pos int) {
	e := newEnv(t, k)
	require.NoError(t, op.prepare(e))
	prompts := e.prompt.Count.Load()
	var ctx context.Context = context.Background()
	trigger := func() {}
	if fl.name == "deadline" {
		dc := newDeadlineCtx()
		ctx, trigger = dc, dc.expire
	}
	at(e.r, pos, fl.make(trigger), trigger)
	res, err := op.run(ctx, e)
	require.Zero(t, e.r.ClearFaults(), "the fault hit exchange %d", pos)
	if fl.name == "removal" {
		e.r.Insert(e.sim) // put back: the card is still the same card
	}

	if err == nil {
		op.check(t, e, res)
	} else if fl.name == "reset" && !op.writes {
		assert.NoError(t, err, "a reset is no failure for what writes nothing")
	}
	assert.LessOrEqual(t, e.prompt.Count.Load()-prompts, int32(1), "the PIN is asked for once at most")

	tries, admin := probe(t, e)
	assert.NotEqual(t, -1, tries, "the PIN is not left verified")
	assert.Equal(t, e.k.tries, tries, "no PIN try burnt")
	assert.False(t, admin, "the management key is not left authenticated")

	keys := op.name == "key generation"
	orig := view(t, e.base, keys)
	fresh := view(t, e.openBase(t, basecsp.Config{NoCache: true}), keys)
	disk := view(t, e.openBase(t, basecsp.Config{CacheDir: e.dir}), keys)
	assert.Equal(t, fresh, orig, "the original provider sees the card")
	assert.Equal(t, fresh, disk, "the disk cache agrees with the card")
	assert.NotContains(t, fresh, "ERR", "the card can be read")
}

func digestOf(s string) []byte {
	d := sha256.Sum256([]byte(s))
	return d[:]
}

// encryptPKCS1v15 builds a PKCS #1 v1.5 type 2 ciphertext (RFC 8017
// 7.2.1; rsa.EncryptPKCS1v15 is deprecated).
func encryptPKCS1v15(pub *rsa.PublicKey, msg []byte) []byte {
	k := pub.Size()
	em := make([]byte, k)
	em[1] = 2
	ps := em[2 : k-len(msg)-1]
	for i := range ps {
		for ps[i] == 0 {
			_, _ = rand.Read(ps[i : i+1])
		}
	}
	copy(em[k-len(msg):], msg)
	c := new(big.Int).Exp(new(big.Int).SetBytes(em), big.NewInt(int64(pub.E)), pub.N)
	return c.FillBytes(make([]byte, k))
}

package piv_test

// APDU budgets of issue 12 for the new-process path and the PIV plug-in,
// asserted on every cardsim/piv profile, on cards provisioned by cardmod
// (basecsp) and by a peer (the APDUs piv-go and yubico-piv-tool send:
// GENERATE and PUT DATA of the certificate, no container map, no cardcf).
// A "new process" is a fresh basecsp.Provider (its own engine, registry and
// caches) over the same card; "with the disk cache" gives every process the
// same Config.CacheDir.

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cardmod/cardmod/basecsp"
	simpiv "github.com/cardmod/cardmod/cardsim/piv"
	"github.com/cardmod/cardmod/internal/bertlv"
	"github.com/cardmod/cardmod/internal/cspcore"
	"github.com/cardmod/cardmod/keystore"
	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/minidriver/piv"
	"github.com/cardmod/cardmod/pincache"
	"github.com/cardmod/cardmod/scrm"
	"github.com/cardmod/cardmod/scrm/virtual"
)

// countingSim counts (and keeps a short trace of) the command APDUs a
// simulated card receives: the card's side of the count.
type countingSim struct {
	*simpiv.Card
	mu  sync.Mutex
	log []string
	// answer, when set, gives the answer the card sends in place of the
	// simulator's rsp (another card family's status words).
	answer func(apdu, rsp []byte) []byte
}

func (c *countingSim) Transmit(apdu []byte) []byte {
	rsp := c.Card.Transmit(apdu)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.answer != nil {
		rsp = c.answer(apdu, rsp)
	}
	head := apdu[:min(len(apdu), 12)]
	c.log = append(c.log, fmt.Sprintf("% X → %X", head, rsp[max(len(rsp)-2, 0):]))
	return rsp
}

// take returns and clears the trace.
func (c *countingSim) take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	l := c.log
	c.log = nil
	return l
}

// budgetSlot is one key of a budget scenario.
type budgetSlot struct {
	slot byte
	spec minidriver.KeySpec
}

// budgetSlots are the scenario's keys, all P-256 with a certificate and
// the slot's default PIN policy (9C always, 9E never, the others once):
// ECDSA in 9A, 9C, 9E; ECDH in 9D and in the first retired slot where the
// card has one.
var budgetSlots = []budgetSlot{
	{0x9A, minidriver.ECDSAP256}, {0x9C, minidriver.ECDSAP256}, {0x9D, minidriver.ECDHP256},
	{0x9E, minidriver.ECDSAP256}, {0x82, minidriver.ECDHP256},
}

// budgetFixture is one provisioned card: its state, to start every
// measurement from, and the container to sign with.
type budgetFixture struct {
	profile simpiv.Profile
	state   []byte
	sign    string // full container name of the 9A key
	certs   int    // certificates on the card
	pub     crypto.PublicKey
	// readOnly: the card refuses every write (piv-issued).
	readOnly bool
}

// budgetRun is one measurement: the fixture's card in a virtual reader.
type budgetRun struct {
	t      testing.TB
	f      *budgetFixture
	sim    *countingSim
	b      *virtual.Backend
	reader string
	cache  string
}

const budgetReader = "Budget Reader"

func (f *budgetFixture) start(t testing.TB) *budgetRun {
	t.Helper()
	sim, err := simpiv.Load(bytes.NewReader(f.state), simpiv.Config{Profile: f.profile, Rand: seeded(3)})
	require.NoError(t, err)
	cs := &countingSim{Card: sim}
	b := virtual.NewBackend()
	b.AddReader(budgetReader).Insert(cs)
	return &budgetRun{t: t, f: f, sim: cs, b: b, reader: budgetReader, cache: t.TempDir()}
}

// process opens a new provider ("a new process"), with the run's disk
// cache when disk is set.
func (r *budgetRun) process(disk bool) *basecsp.Provider {
	r.t.Helper()
	cfg := basecsp.Config{Backend: r.b, Prompt: pincache.NewFixed([]byte(simpiv.DefaultPIN)),
		AdminResponse: piv.ManagementKey(simpiv.DefaultManagementKey)}
	if disk {
		cfg.CacheDir = r.cache
	}
	p, err := basecsp.Open(cfg)
	require.NoError(r.t, err)
	r.t.Cleanup(func() { _ = p.Close() })
	return p
}

// count runs op and returns the APDUs the card received, logging them.
func (r *budgetRun) count(what string, op func()) int {
	r.t.Helper()
	r.sim.take()
	op()
	l := r.sim.take()
	r.t.Logf("%s: %d APDUs\n\t%s", what, len(l), strings.Join(l, "\n\t"))
	return len(l)
}

// signNew signs with the 9A key in a new process and checks the signature.
func (r *budgetRun) signNew(disk bool) {
	t := r.t
	ctx := context.Background()
	p := r.process(disk)
	c, err := p.Container(ctx, r.f.sign)
	require.NoError(t, err)
	k, err := c.Key(minidriver.ECDSAP256)
	require.NoError(t, err)
	d := sha256.Sum256([]byte("budget"))
	sig, err := k.SignContext(ctx, rand.Reader, d[:], crypto.SHA256)
	require.NoError(t, err)
	require.True(t, ecdsa.VerifyASN1(r.f.pub.(*ecdsa.PublicKey), d[:], sig))
	require.NoError(t, p.Close())
}

// signOneShot is signNew with the look-up and the signature in one call
// and one transaction (basecsp.Provider.Sign).
func (r *budgetRun) signOneShot(disk bool) {
	t := r.t
	ctx := context.Background()
	p := r.process(disk)
	reader, name, err := keystore.ParseName(r.f.sign)
	require.NoError(t, err)
	d := sha256.Sum256([]byte("budget"))
	sig, k, err := p.Sign(ctx, basecsp.KeyQuery{Reader: reader, Container: name, KeySpec: minidriver.ECDSAP256}, rand.Reader, d[:], crypto.SHA256)
	require.NoError(t, err)
	require.True(t, ecdsa.VerifyASN1(r.f.pub.(*ecdsa.PublicKey), d[:], sig))
	assert.True(t, r.f.pub.(*ecdsa.PublicKey).Equal(k.Public()))
	require.NoError(t, p.Close())
}

// listNew lists the certificates in a new process.
func (r *budgetRun) list(p *basecsp.Provider) {
	certs, err := p.Certificates(context.Background())
	require.NoError(r.t, err)
	require.Len(r.t, certs, r.f.certs)
}

// newBudgetFixture provisions a card of profile: by cardmod (basecsp) or,
// with peer, as piv-go and yubico-piv-tool do. The issued profile comes
// provisioned by its issuer.
func newBudgetFixture(t testing.TB, profile simpiv.Profile, peer bool) *budgetFixture {
	t.Helper()
	sim, err := simpiv.New(simpiv.Config{Profile: profile, Rand: seeded(2)})
	require.NoError(t, err)
	f := &budgetFixture{profile: profile, readOnly: profile.Issued}
	slots := budgetSlots
	if profile.RetiredSlots == 0 {
		slots = slots[:4]
	}
	ctx := context.Background()
	b := virtual.NewBackend()
	b.AddReader(budgetReader).Insert(sim)
	switch {
	case profile.Issued:
		f.certs = 4 + profile.IssuedRetired
	case peer:
		peerProvision(t, b, profile, slots)
		f.certs = len(slots)
	default:
		p, err := basecsp.Open(basecsp.Config{Backend: b, Prompt: pincache.NewFixed([]byte(simpiv.DefaultPIN)),
			AdminResponse: piv.ManagementKey(simpiv.DefaultManagementKey)})
		require.NoError(t, err)
		for _, s := range slots {
			c, err := p.CreateContainer(ctx, fmt.Sprintf(`\\.\%s\budget-%02x`, budgetReader, s.slot), s.spec, 0, nil)
			require.NoError(t, err, "slot %02X", s.slot)
			k, err := c.Key(s.spec)
			require.NoError(t, err)
			cert, err := x509.ParseCertificate(makeCert(t, k.Public(), fmt.Sprintf("cardmod %02x", s.slot)))
			require.NoError(t, err)
			require.NoError(t, k.SetCertificate(ctx, cert))
		}
		require.NoError(t, p.Close())
		f.certs = len(slots)
	}
	// The container of the 9A key, as a new process names it.
	p, err := basecsp.Open(basecsp.Config{Backend: b})
	require.NoError(t, err)
	conts, err := p.Containers(ctx)
	require.NoError(t, err)
	list, err := p.Certificates(ctx)
	require.NoError(t, err)
	for _, c := range conts {
		if c.Index != 0 { // slot 9A: the first container in both layouts
			continue
		}
		for _, e := range list {
			if e.Container == c.Name {
				f.sign = c.FullName()
				f.pub = e.Certificate.PublicKey
			}
		}
	}
	require.NoError(t, p.Close())
	require.NotEmpty(t, f.sign, "no container for 9A")
	var st bytes.Buffer
	require.NoError(t, sim.Save(&st))
	f.state = st.Bytes()
	return f
}

// peerProvision generates each slot's key and writes its certificate with
// the commands piv-go's GenerateKey and SetCertificate send (management
// key, GENERATE ASYMMETRIC KEY PAIR, PUT DATA; SP 800-73-4 part 2, 3.3):
// no container map, no cardcf, no CHUID.
func peerProvision(t testing.TB, b *virtual.Backend, profile simpiv.Profile, slots []budgetSlot) {
	t.Helper()
	ctx := context.Background()
	card, err := scrm.NewContext(b).Connect(ctx, budgetReader, nil)
	require.NoError(t, err)
	defer func() { _ = card.Close(scrm.LeaveCard) }()
	l := card.Limits()
	l.Extended = profile.Version.AtLeast(4, 0, 0)
	card.SetLimits(l)
	tx, err := card.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = tx.End(scrm.LeaveCard) }()
	_, err = tx.Do(ctx, scrm.Command{INS: 0xA4, P1: 0x04, Data: []byte{0xA0, 0x00, 0x00, 0x03, 0x08}, Ne: 256})
	require.NoError(t, err)
	alg := profile.DefaultManagementAlgorithm
	rsp, err := tx.Do(ctx, scrm.Command{INS: 0x87, P1: alg, P2: 0x9B, Data: []byte{0x7C, 0x02, 0x81, 0x00}, Ne: 256})
	require.NoError(t, err)
	dyn, err := bertlv.Single(rsp.Data, 0x7C)
	require.NoError(t, err)
	ch, ok := bertlv.Find(dyn, 0x81)
	require.True(t, ok)
	resp, err := piv.ManagementKeyResponse(simpiv.DefaultManagementKey, ch)
	require.NoError(t, err)
	_, err = tx.Do(ctx, scrm.Command{INS: 0x87, P1: alg, P2: 0x9B, Data: bertlv.Encode(0x7C, bertlv.Encode(0x82, resp))})
	require.NoError(t, err)
	for _, s := range slots {
		rsp, err := tx.Do(ctx, scrm.Command{INS: 0x47, P2: s.slot, Data: bertlv.Encode(0xAC, []byte{0x80, 0x01, simpiv.AlgECCP256}), Ne: 256})
		require.NoError(t, err, "generate %02X", s.slot)
		tmpl, err := bertlv.Single(rsp.Data, 0x7F49)
		require.NoError(t, err)
		point, ok := bertlv.Find(tmpl, 0x86)
		require.True(t, ok)
		pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), point)
		require.NoError(t, err)
		der := makeCert(t, pub, fmt.Sprintf("peer %02x", s.slot))
		tag := simpiv.CertObject(s.slot)
		obj := bertlv.Encode(0x70, der)
		obj = append(obj, 0x71, 0x01, 0x00, 0xFE, 0x00)
		data := append([]byte{0x5C, 0x03, byte(tag >> 16), byte(tag >> 8), byte(tag)}, bertlv.Encode(0x53, obj)...)
		_, err = tx.Do(ctx, scrm.Command{INS: 0xDB, P1: 0x3F, P2: 0xFF, Data: data})
		require.NoError(t, err, "certificate %02X", s.slot)
	}
}

// budgetScenarios are the profiles and provisioners measured.
func budgetScenarios(t *testing.T) map[string]*budgetFixture {
	out := map[string]*budgetFixture{}
	for _, p := range simpiv.Profiles() {
		if p.Issued {
			out[p.Name+"/issuer"] = newBudgetFixture(t, p, false)
			continue
		}
		out[p.Name+"/cardmod"] = newBudgetFixture(t, p, false)
		out[p.Name+"/peer"] = newBudgetFixture(t, p, true)
	}
	return out
}

// budget is what one scenario may spend, in APDUs the card receives.
// Issue 12 asks for a signature in a new process in at most 8 APDUs
// without the disk cache and 5 with it, and for listing the certificates
// in at most 2 warm, 3 in a new process with the disk cache and one per
// certificate plus 3 without; the numbers here are what cardmod spends
// today (docs/benchmarks.md says where the rest goes), so that any
// regression fails.
type budget struct {
	signNew, signDisk           int
	listNew, listWarm, listDisk int
	// oneShot, oneShotDisk: the signature with the look-up in its
	// transaction (basecsp.Provider.Sign), without and with the disk cache.
	oneShot, oneShotDisk int
}

// budgets by scenario (profile/provisioner). Cards without a GET SERIAL
// and without a CHUID (YubiKey 4 and NEO provisioned by cardmod or a
// peer) are told apart by the serial their OTP application gives (three
// APDUs more when the process opens the card, TestOTPSerial), and cached
// from then on; the piv-applet card (no room for cardcf) is not
// (CacheNone), and the issued card (its issuer alone writes it) only
// for the process's session with it (CacheSessionOnly: warm listing 2,
// nothing on disk), as docs/piv-mapping.md, "Caching", decides. A YubiKey 5 is opened with SELECT and GET SERIAL
// alone; the 5.0 profile (firmware 5.2, no GET METADATA) spends one more
// without the disk cache, the GET METADATA its 6D00 answer turns off (with
// it, the answer is kept: noMetadataItem). Listing on a card cardmod
// provisioned reads the container map, then each certificate the map's
// key sizes announce, and asks the plug-in for no key (no GET METADATA):
// on a YubiKey 5 that is issue 12's budget, one read per object present
// (cardcf, the map, the certificates) plus 3 (listIssueBudget). On a
// YubiKey a peer provisioned (no map) it reads each of the 24 certificate
// objects once (minidriver/piv ScanCertificates): 28, where it asked every
// slot's GET METADATA and then read the certificates (33; OpenSC 29,
// piv-go 32 through pcscd).
var budgets = map[string]budget{
	"yubikey-5.7/cardmod": {9, 7, 9, 1, 3, 8, 5},
	"yubikey-5.7/peer":    {9, 7, 28, 2, 3, 8, 5},
	"yubikey-5.4/cardmod": {9, 7, 9, 1, 3, 8, 5},
	"yubikey-5.4/peer":    {9, 7, 28, 2, 3, 8, 5},
	"yubikey-5.0/cardmod": {10, 7, 9, 1, 3, 9, 5},
	"yubikey-5.0/peer":    {10, 7, 28, 2, 3, 9, 5},
	"yubikey-4/cardmod":   {12, 10, 13, 1, 7, 11, 8},
	"yubikey-4/peer":      {12, 10, 33, 2, 7, 11, 8},
	"yubikey-neo/cardmod": {16, 12, 18, 2, 8, 14, 8},
	"yubikey-neo/peer":    {13, 10, 37, 2, 7, 12, 8},
	"piv-issued/issuer":   {10, 10, 18, 2, 18, 9, 9},
	"piv-applet/cardmod":  {11, 11, 35, 22, 35, 10, 10},
	"piv-applet/peer":     {11, 11, 35, 22, 35, 10, 10},
}

func TestBudgetNewProcessSign(t *testing.T) {
	for name, f := range budgetScenarios(t) {
		t.Run(name, func(t *testing.T) {
			want, ok := budgets[name]
			require.True(t, ok, "no budget for %s", name)
			r := f.start(t)
			n := r.count("sign, new process, no disk cache", func() { r.signNew(false) })
			assert.LessOrEqual(t, n, want.signNew, "sign in a new process without the disk cache")
			r.count("sign, new process, disk cache (first)", func() { r.signNew(true) })
			n = r.count("sign, new process, disk cache", func() { r.signNew(true) })
			assert.LessOrEqual(t, n, want.signDisk, "sign in a new process with the disk cache")
			n = r.count("sign in one call, new process, no disk cache", func() { r.signOneShot(false) })
			assert.LessOrEqual(t, n, want.oneShot, "find and sign in one call in a new process without the disk cache")
			n = r.count("sign in one call, new process, disk cache", func() { r.signOneShot(true) })
			assert.LessOrEqual(t, n, want.oneShotDisk, "find and sign in one call in a new process with the disk cache")
		})
	}
}

// listIssueBudget: the scenarios whose listing in a new process without
// the disk cache meets issue 12's budget, one read per object present
// plus 3. The others spend more, docs/benchmarks.md says why: a card
// without a container map (provisioned by a peer, or without room for
// one) is asked about every slot, as no PIV command lists the keys or
// certificates a card holds (a YubiKey does not keep the Key History's
// count up to date, Yubico's KeyHistory documentation); a YubiKey 4 or
// NEO is opened with three APDUs more (the serial from the OTP
// application).
var listIssueBudget = map[string]bool{
	"yubikey-5.7/cardmod": true,
	"yubikey-5.4/cardmod": true,
	"yubikey-5.0/cardmod": true,
}

func TestBudgetListCertificates(t *testing.T) {
	for name, f := range budgetScenarios(t) {
		t.Run(name, func(t *testing.T) {
			want, ok := budgets[name]
			require.True(t, ok, "no budget for %s", name)
			r := f.start(t)
			var p *basecsp.Provider
			n := r.count("list, new process, no disk cache", func() { p = r.process(false); r.list(p) })
			assert.LessOrEqual(t, n, want.listNew, "list in a new process without the disk cache")
			if listIssueBudget[name] {
				assert.LessOrEqual(t, n, f.certs+2+3, "issue 12: one read per object present (cardcf, the map, %d certificates) plus 3", f.certs)
			}
			n = r.count("list, warm", func() { r.list(p) })
			assert.LessOrEqual(t, n, want.listWarm, "list warm")
			r.count("list, new process, disk cache (first)", func() { r.list(r.process(true)) })
			n = r.count("list, new process, disk cache", func() { r.list(r.process(true)) })
			assert.LessOrEqual(t, n, want.listDisk, "list in a new process with the disk cache")
		})
	}
}

// BenchmarkNewProcessSign signs with the 9A key in a new process (a new
// provider each time) on a YubiKey 5.7 provisioned by cardmod and by a
// peer, with and without the disk cache, and reports the APDUs the card
// receives per signature.
func BenchmarkNewProcessSign(b *testing.B) {
	for _, peer := range []bool{false, true} {
		f := newBudgetFixture(b, simpiv.ProfileYubiKey57(), peer)
		for _, disk := range []bool{false, true} {
			b.Run(fmt.Sprintf("peer=%v/disk=%v", peer, disk), func(b *testing.B) {
				r := f.start(b)
				r.signNew(disk) // fills the disk cache
				r.sim.take()
				b.ResetTimer()
				for b.Loop() {
					r.signNew(disk)
				}
				b.ReportMetric(float64(len(r.sim.take()))/float64(b.N), "APDUs/op")
			})
		}
	}
}

// writeBudgets are what generating a P-256 key with its container and
// writing its certificate cost, warm (the provider has listed the card
// first), by scenario. Issue 12 asks for at most 8 and 6: the generation
// meets it on every YubiKey 5.3 and later and on a YubiKey 4 cardmod
// provisioned (7
// where GET DATA 5FFF20 answering as last seen stands in for the SELECT);
// the certificate write follows the generation's card reset (the
// management key's logout), so it re-selects: 7. The others are today's
// counts, so that a regression fails (docs/benchmarks.md says where the
// rest goes). The issued card is read-only. The generation is the
// process's first write: on a YubiKey 5, which Open knows by its GET
// SERIAL answer alone, it asks the management key's algorithm (GET
// METADATA 9B, where Open used to send GET VERSION), and on a card
// without cardmod's file store it reads the CHUID (is it
// issuer-signed?, where Open used to read it): the two APDUs a YubiKey 5's
// Open no longer sends, paid by a process's first write and not by every
// process. On a YubiKey 5.0 (firmware 5.2, no GET METADATA) cardmod
// provisioned that GET METADATA 9B is the process's first, answered
// 6D00 (after which none is sent): 9. It used to be the listing's, which
// asked the plug-in for every container's key; the listing reads the
// map's key sizes now (TestBudgetListCertificates: 11 → 9). On a
// YubiKey a peer provisioned the generation is the card's first cardmod
// write, which stores a container map of every key the card has, so it
// asks every slot (24 GET METADATA on a YubiKey 5: 34), as a new
// process's generation always did (37 through pcscd): the listing before
// it reads the certificates alone now (ScanCertificates, 33 → 28) and
// leaves that to the write (it was 10 when the listing had asked every
// slot; the two together cost more now, each command in its own process
// less). On a YubiKey 4 or 5.0 (no GET METADATA) the map is built from
// the certificates and the Key History the listing read: one APDU or two
// more than before.
var writeBudgets = map[string]struct{ generate, writeCert int }{
	"yubikey-5.7/cardmod": {8, 7},
	"yubikey-5.7/peer":    {34, 7},
	"yubikey-5.4/cardmod": {8, 7},
	"yubikey-5.4/peer":    {34, 7},
	"yubikey-5.0/cardmod": {9, 7},
	"yubikey-5.0/peer":    {12, 7},
	"yubikey-4/cardmod":   {8, 7},
	"yubikey-4/peer":      {10, 7},
	"piv-applet/cardmod":  {23, 6},
	"piv-applet/peer":     {23, 6},
}

func TestBudgetGenerateAndWrite(t *testing.T) {
	for name, f := range budgetScenarios(t) {
		if f.readOnly || f.profile.RetiredSlots == 0 {
			// The issued card is read-only; the NEO's four slots are
			// taken.
			continue
		}
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			r := f.start(t)
			p := r.process(false)
			r.list(p)
			var k *basecsp.Key
			gen := r.count("generate P-256, warm", func() {
				c, err := p.CreateContainer(ctx, `\\.\`+r.reader+`\budget-new`, minidriver.ECDSAP256, 0, nil)
				require.NoError(t, err)
				k, err = c.Key(minidriver.ECDSAP256)
				require.NoError(t, err)
			})
			cert, err := x509.ParseCertificate(makeCert(t, k.Public(), "budget new"))
			require.NoError(t, err)
			wr := r.count("write certificate, warm", func() { require.NoError(t, k.SetCertificate(ctx, cert)) })
			want, ok := writeBudgets[name]
			require.True(t, ok, "no budget for %s", name)
			assert.LessOrEqual(t, gen, want.generate, "generate a P-256 key with its container")
			assert.LessOrEqual(t, wr, want.writeCert, "write a certificate")

			// The same write after a signature (no reset since): where
			// the card keeps cardcf, GET DATA 5FFF20 answering as last
			// seen stands in for SELECT and the cardcf read: 6, the
			// issue's budget.
			d := sha256.Sum256([]byte("between the writes"))
			_, err = k.Sign(rand.Reader, d[:], crypto.SHA256)
			require.NoError(t, err)
			again := r.count("write certificate again, after a signature", func() { require.NoError(t, k.SetCertificate(ctx, cert)) })
			assert.LessOrEqual(t, again, min(want.writeCert, 6), "write a certificate after a signature")
		})
	}
}

// TestCertificatesAgreeWithListKeys: on every scenario, the certificate
// listing (which takes each key's spec from the container map's key
// sizes, checked against the certificate) gives every certificate that
// ListKeys (which asks the plug-in for each container's keys) gives, with
// the same container and key spec, and no other; each certificate is of
// its key's public key.
func TestCertificatesAgreeWithListKeys(t *testing.T) {
	ctx := context.Background()
	for name, f := range budgetScenarios(t) {
		t.Run(name, func(t *testing.T) {
			r := f.start(t)
			certs, err := r.process(false).Certificates(ctx)
			require.NoError(t, err)
			keys, err := r.process(false).ListKeys(ctx)
			require.NoError(t, err)
			type at struct {
				container string
				spec      minidriver.KeySpec
			}
			want := map[at]*x509.Certificate{}
			for _, k := range keys {
				if k.Certificate != nil {
					want[at{k.Container, k.KeySpec}] = k.Certificate
					assert.True(t, cspcore.SamePublic(k.Certificate.PublicKey, k.Public), "%s/%v: the certificate is of the key", k.Container, k.KeySpec)
				}
			}
			got := map[at]*x509.Certificate{}
			for _, c := range certs {
				got[at{c.Container, c.KeySpec}] = c.Certificate
			}
			require.Len(t, got, len(want))
			for a, c := range want {
				if assert.Contains(t, got, a) {
					assert.True(t, c.Equal(got[a]), "%v: the same certificate", a)
				}
			}
		})
	}
}

// newProcessGenerateBudgets are what generating a P-256 key with its
// container costs in a new process without the disk cache: with a reader
// in the name, with the name alone (cardmod generate without -reader)
// where the card's is the only reader, and with the name alone beside a
// second, empty reader. With a reader named, or the only one, the card is
// opened in the create's transaction (engine CardDo: SELECT, GET SERIAL,
// then the create flow of writeBudgets' generation, whose GET DATA
// 5FFF20 is the cardcf read and whose map read is the process's first).
// Beside another reader every card is first opened in the transaction
// that looks for the name on it, and the create's own transaction starts
// with GET DATA 5FFF20 again: one more. Issue 12 asks for 8: the YubiKey 5
// pays its GET SERIAL (the identity), the GET METADATA 9B of a process's
// first write, the VERIFY of the create flow (docs/design.md, "Who
// creates a key") and the cardcf read and bump; the peer cards, the
// slots' survey of their first cardmod write (writeBudgets). The later
// generations follow the first on the card it wrote, so on a peer card
// they are not the first cardmod write. Before the create ran in the
// opening's transaction the first two cost one more (12 and 13 on a
// YubiKey 5.7 cardmod provisioned, 37 on a peer card). On piv-applet,
// which has no room for the map, every create flow builds the container
// map from every slot (writeBudgets: 23 warm), beside another reader once
// in the look-up and once in the create.
var newProcessGenerateBudgets = map[string]struct{ reader, nameOnly, twoReaders int }{
	"yubikey-5.7/cardmod": {11, 11, 12},
	"yubikey-5.7/peer":    {36, 11, 12},
	"yubikey-5.4/cardmod": {11, 11, 12},
	"yubikey-5.4/peer":    {36, 11, 12},
	"yubikey-5.0/cardmod": {12, 12, 13},
	"yubikey-5.0/peer":    {38, 12, 13},
	"yubikey-4/cardmod":   {15, 15, 16},
	"yubikey-4/peer":      {40, 15, 16},
	"piv-applet/cardmod":  {36, 36, 53},
	"piv-applet/peer":     {36, 36, 53},
}

func TestBudgetGenerateNewProcess(t *testing.T) {
	for name, f := range budgetScenarios(t) {
		if f.readOnly || f.profile.RetiredSlots == 0 {
			continue // as TestBudgetGenerateAndWrite
		}
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			r := f.start(t)
			gen := func(cname string) int {
				p := r.process(false)
				defer func() { require.NoError(t, p.Close()) }()
				return r.count("generate P-256, new process: "+cname, func() {
					c, err := p.CreateContainer(ctx, cname, minidriver.ECDSAP256, 0, nil)
					require.NoError(t, err)
					_, err = c.Key(minidriver.ECDSAP256)
					require.NoError(t, err)
				})
			}
			withReader := gen(`\\.\` + r.reader + `\budget-new-reader`)
			nameOnly := gen("budget-new-name")
			r.b.AddReader("Budget Reader, empty")
			twoReaders := gen("budget-new-beside")
			want, ok := newProcessGenerateBudgets[name]
			require.True(t, ok, "no budget for %s", name)
			assert.LessOrEqual(t, withReader, want.reader, "generate in a new process, reader named")
			assert.LessOrEqual(t, nameOnly, want.nameOnly, "generate in a new process, name alone, one reader")
			assert.LessOrEqual(t, twoReaders, want.twoReaders, "generate in a new process, name alone, two readers")
		})
	}
}

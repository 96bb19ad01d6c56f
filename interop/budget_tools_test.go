package interop

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/go-piv/piv-go/v2/piv"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	simgids "github.com/cardmod/cardmod/cardsim/gids"
	simpiv "github.com/cardmod/cardmod/cardsim/piv"
	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/pincache"
	"github.com/cardmod/cardmod/scrm"
)

// pkcs11Module is opensc-pkcs11.so as Debian's opensc-pkcs11 package
// installs it (dpkg -L opensc-pkcs11).
const pkcs11Module = "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so"

// expected reports whether the table has a measurement for op by col on a
// PIV card: "–" marks what a tool does not offer. retired tells whether
// OpenSC sees the card's retired slots (fixture.keyHistory).
func expected(op, col string, retired bool) bool {
	switch col {
	case colBasecspShared, colBasecspExclusive:
		return op != opECDH // ECDH is the KSP's
	case colKSPShared, colKSPExclusive:
		return true
	case colPivGo:
		return op != opSignNewCache && op != opSignOneNew && op != opSignOneNewCache && op != opWriteCertOneNew
	case colOpenSC:
		// OpenSC's PIV driver cannot authenticate the management key
		// through PKCS#11, so it neither generates nor writes.
		switch op {
		case opSignEC, opSignRSA, opDecrypt, opSignNew, opListNew:
			return true
		case opECDH:
			return retired // the ECDH key is in 82
		}
		return false
	case colYkpiv:
		switch op {
		case opSignNew, opListNew, opGenerateNew, opWriteCertNew:
			return true
		}
		return false
	}
	return false
}

func (f *fixture) newName() string { return fmt.Sprintf(`\\.\%s\budget-new`, f.reader) }

func (f *fixture) pin() string {
	if f.gids {
		return simgids.DefaultPIN
	}
	return simpiv.DefaultPIN
}

// warmOp is one operation of an in-process session.
type warmOp struct {
	op  string
	run func() error
}

// cardmodWarm measures one cardmod column's in-process operations: a
// provider that has done each operation once does it again.
func (h *harness) cardmodWarm(f *fixture, col, lib string, excl bool) {
	t := h.t
	ctx := context.Background()
	h.restore(f)
	b := h.newBackend()
	defer func() { require.NoError(t, b.Release()) }()
	prompt := pincache.NewFixed([]byte(f.pin()))
	defer prompt.Wipe()
	cfg := cardmodConfig{Backend: b, Prompt: prompt, Exclusive: excl}
	if !f.gids {
		cfg.Admin = basecspAdmin()
	}
	sess, err := openCardmod(lib, cfg)
	require.NoError(t, err)
	ops := []warmOp{
		{opSignRSA, func() error {
			sig, err := sess.sign(ctx, f.names[0x9D], minidriver.KeyExchange, f.digest, crypto.SHA256)
			if err != nil {
				return err
			}
			return f.checkSig(0x9D, f.digest, sig)
		}},
		{opDecrypt, func() error {
			pt, err := sess.decrypt(ctx, f.names[0x9D], minidriver.KeyExchange, f.ct)
			if err != nil {
				return err
			}
			return f.checkPlain(pt)
		}},
	}
	if !f.gids {
		ops = append([]warmOp{{opSignEC, func() error {
			sig, err := sess.sign(ctx, f.names[0x9A], minidriver.ECDSAP256, f.digest, crypto.SHA256)
			if err != nil {
				return err
			}
			return f.checkSig(0x9A, f.digest, sig)
		}}}, ops...)
		if lib == "ksp" {
			ops = append(ops, warmOp{opECDH, func() error {
				z, err := sess.ecdh(ctx, f.names[0x82], minidriver.ECDHP256, f.peer.PublicKey())
				if err != nil {
					return err
				}
				return f.checkShared(z)
			}})
		}
		ops = append(ops, warmOp{opList, func() error {
			n, err := sess.certificates(ctx)
			if err != nil {
				return err
			}
			return checkCerts(n)
		}})
	}
	for _, o := range ops {
		h.unmeasured(f, o.op, col, "warm-up", o.run)
	}
	for _, o := range ops {
		h.measureCounted(f, o.op, col, sess, o.run)
	}
	if !f.gids {
		// The writes come last, the certificate first: the key
		// generation then runs on the card the certificate was written
		// to (a card swapped under an open session would be no real
		// card).
		h.measureCounted(f, opWriteCert, col, sess, func() error {
			cert, err := x509.ParseCertificate(f.cert)
			if err != nil {
				return err
			}
			return sess.writeCert(ctx, f.names[0x9A], minidriver.ECDSAP256, cert)
		})
		h.measureCounted(f, opGenerate, col, sess, func() error {
			pub, err := sess.generate(ctx, f.newName())
			if err != nil {
				return err
			}
			return checkP256(pub)
		})
	}
	h.unmeasured(f, "", col, "close", sess.close)
}

// measureCounted measures an in-process cardmod operation and checks the
// card's count against cardmod's own (scrm.Card.Stats): the two must
// agree to the byte, or the harness or cardmod miscounts.
func (h *harness) measureCounted(f *fixture, op, col string, sess cardmodSession, run func() error) {
	h.t.Helper()
	ctx := context.Background()
	var before, after scrm.Stats
	var serr error
	h.measure(f, op, col, func() error {
		before, serr = sess.stats(ctx, f.reader)
		err := run()
		if serr == nil {
			after, serr = sess.stats(ctx, f.reader)
		}
		return err
	})
	c := f.cell(op, col)
	s := h.tab.samples[c]
	if _, failed := h.tab.errs[c]; failed || len(s) == 0 {
		return
	}
	if !assert.NoError(h.t, serr, "%v: cardmod's own count", c) {
		return
	}
	got, d := s[len(s)-1].count, after.Sub(before)
	assert.Equal(h.t, [3]uint64{uint64(got.APDUs), uint64(got.Sent), uint64(got.Received)},
		[3]uint64{d.APDUs, d.BytesSent, d.BytesReceived},
		"%v: APDUs, bytes sent and received as the card saw them and as cardmod counted them", c)
}

// cardmodNew measures one cardmod column's operations in new processes.
func (h *harness) cardmodNew(f *fixture, col, lib string, excl bool) {
	ctx := context.Background()
	spec := helperSpec{Lib: lib, Exclusive: excl, Reader: f.reader, PIN: f.pin(), Digest: f.digest,
		Container: f.names[0x9A], Spec: minidriver.ECDSAP256}
	slot := byte(0x9A)
	if f.gids {
		spec.Container, spec.Spec, slot = f.names[0x9D], minidriver.KeyExchange, 0x9D
	} else {
		spec.MgmtKey = simpiv.DefaultManagementKey
	}
	sign := func(s helperSpec) func() error {
		return func() error {
			res, err := runHelperProcess(ctx, s)
			if err != nil {
				return err
			}
			return f.checkSig(slot, f.digest, res.Sig)
		}
	}
	s := spec
	s.Op = opSignNew
	h.measureNew(f, opSignNew, col, sign(s))
	s.Op = opSignOneNew
	h.measureNew(f, opSignOneNew, col, sign(s))
	if f.gids {
		return
	}
	for _, op := range []string{opSignNewCache, opSignOneNewCache} {
		s.Op = op
		s.CacheDir = h.t.TempDir()
		h.restore(f)
		h.unmeasured(f, op, col, "filling the disk cache", sign(s))
		h.measureNew(f, op, col, sign(s))
	}

	s = spec
	s.Op = opListNew
	h.measureNew(f, opListNew, col, func() error {
		res, err := runHelperProcess(ctx, s)
		if err != nil {
			return err
		}
		return checkCerts(res.Certs)
	})
	for _, op := range []string{opWriteCertNew, opWriteCertOneNew} {
		s.Op, s.Cert = op, f.cert
		h.measureNew(f, op, col, func() error {
			_, err := runHelperProcess(ctx, s)
			return err
		})
	}
	s.Op, s.NewName = opGenerateNew, f.newName()
	h.measureNew(f, opGenerateNew, col, func() error { return generated(runHelperProcess(ctx, s)) })
}

func generated(res helperResult, err error) error {
	if err != nil {
		return err
	}
	pub, err := x509.ParsePKIXPublicKey(res.Pub)
	if err != nil {
		return err
	}
	return checkP256(pub)
}

// pivGoWarm measures piv-go's in-process operations. piv-go holds the card
// exclusively from Open to Close, in one transaction.
func (h *harness) pivGoWarm(f *fixture) {
	t := h.t
	h.restore(f)
	yk, err := piv.Open(f.reader)
	require.NoError(t, err)
	auth := piv.KeyAuth{PIN: simpiv.DefaultPIN}
	key := func(ref byte) crypto.PrivateKey {
		slot, _ := pivGoSlot(ref)
		k, err := yk.PrivateKey(slot, f.pubs[ref], auth)
		require.NoError(t, err)
		return k
	}
	k9a, k9d, k82 := key(0x9A), key(0x9D), key(0x82)
	ops := []warmOp{
		{opSignEC, func() error {
			sig, err := k9a.(crypto.Signer).Sign(rand.Reader, f.digest, crypto.SHA256)
			if err != nil {
				return err
			}
			return f.checkSig(0x9A, f.digest, sig)
		}},
		{opSignRSA, func() error {
			sig, err := k9d.(crypto.Signer).Sign(rand.Reader, f.digest, crypto.SHA256)
			if err != nil {
				return err
			}
			return f.checkSig(0x9D, f.digest, sig)
		}},
		{opDecrypt, func() error {
			pt, err := k9d.(crypto.Decrypter).Decrypt(rand.Reader, f.ct, nil)
			if err != nil {
				return err
			}
			return f.checkPlain(pt)
		}},
		{opECDH, func() error {
			ec, ok := k82.(*piv.ECDSAPrivateKey)
			if !ok {
				return fmt.Errorf("82: %T", k82)
			}
			z, err := ec.ECDH(f.peer.PublicKey())
			if err != nil {
				return err
			}
			return f.checkShared(z)
		}},
		{opList, func() error {
			n, err := pivGoCertificates(yk)
			if err != nil {
				return err
			}
			return checkCerts(n)
		}},
	}
	for _, o := range ops {
		h.unmeasured(f, o.op, colPivGo, "warm-up", o.run)
	}
	for _, o := range ops {
		h.measure(f, o.op, colPivGo, o.run)
	}
	h.measure(f, opWriteCert, colPivGo, func() error {
		cert, err := x509.ParseCertificate(f.cert)
		if err != nil {
			return err
		}
		return yk.SetCertificate(simpiv.DefaultManagementKey, piv.SlotAuthentication, cert)
	})
	h.measure(f, opGenerate, colPivGo, func() error {
		pub, err := pivGoGenerate(yk, simpiv.DefaultManagementKey)
		if err != nil {
			return err
		}
		return checkP256(pub)
	})
	h.unmeasured(f, "", colPivGo, "close", yk.Close)
}

// pivGoNew measures piv-go's operations in new processes.
func (h *harness) pivGoNew(f *fixture) {
	ctx := context.Background()
	pub, err := x509.MarshalPKIXPublicKey(f.pubs[0x9A])
	require.NoError(h.t, err)
	s := helperSpec{Lib: "piv-go", Reader: f.reader, PIN: simpiv.DefaultPIN, MgmtKey: simpiv.DefaultManagementKey,
		Slot: 0x9A, Pub: pub, Digest: f.digest, Cert: f.cert}
	s.Op = opSignNew
	h.measureNew(f, opSignNew, colPivGo, func() error {
		res, err := runHelperProcess(ctx, s)
		if err != nil {
			return err
		}
		return f.checkSig(0x9A, f.digest, res.Sig)
	})
	s.Op = opListNew
	h.measureNew(f, opListNew, colPivGo, func() error {
		res, err := runHelperProcess(ctx, s)
		if err != nil {
			return err
		}
		return checkCerts(res.Certs)
	})
	s.Op = opWriteCertNew
	h.measureNew(f, opWriteCertNew, colPivGo, func() error {
		_, err := runHelperProcess(ctx, s)
		return err
	})
	s.Op = opGenerateNew
	h.measureNew(f, opGenerateNew, colPivGo, func() error { return generated(runHelperProcess(ctx, s)) })
}

// toolRun runs an external tool as one measured operation and returns its
// sample (nil when it failed; the failure is recorded).
func (h *harness) toolRun(f *fixture, op, col string, check func(out string) error, name string, args ...string) *budgetSample {
	h.t.Helper()
	h.measureNew(f, op, col, func() error {
		out, err := h.runTool(f, name, args...)
		if err != nil {
			return err
		}
		return check(out)
	})
	s := h.tab.samples[f.cell(op, col)]
	if _, failed := h.tab.errs[f.cell(op, col)]; failed || len(s) == 0 {
		return nil
	}
	return &s[len(s)-1]
}

// measureNew measures a new process: the card is a fresh copy of the
// provisioned state, as after a power cycle, whether or not pcscd
// power-cycled it since the last process (which it does after an idle
// grace period, so it depends on timing).
func (h *harness) measureNew(f *fixture, op, col string, run func() error) {
	h.t.Helper()
	h.restore(f)
	h.measure(f, op, col, run)
}

// openSC measures pkcs11-tool. Each run is a new process (C_Initialize,
// token binding, login, the operation); the warm rows (†) are what the
// operation's run sends after its login, less what a login-only run sends
// after the same login (addDiff): what a logged-in PKCS#11 session pays
// per operation.
func (h *harness) openSC(f *fixture) {
	base := []string{"--module", pkcs11Module, "--slot-description", f.reader}
	login := append(append([]string(nil), base...), "--login", "--pin", f.pin())
	ok := func(string) error { return nil }
	const loginOp = "login-only"
	baseline := h.toolRun(f, loginOp, colOpenSC, ok, "pkcs11-tool", append(login, "--list-mechanisms")...)
	// The baseline is not a row of the table; it stays in the samples
	// (its determinism is checked too) under its own name.
	out := func(name string) string { return filepath.Join(f.dir, name) }
	readFile := func(name string) ([]byte, error) { return os.ReadFile(out(name)) }
	keySlot, keyID := byte(0x9A), f.p11IDs[0x9A]
	rsaID := f.p11IDs[0x9D]
	type run struct {
		warm, full string
		args       []string
		check      func(string) error
	}
	runs := []run{}
	if !f.gids {
		runs = append(runs, run{opSignEC, opSignNew,
			append(append([]string(nil), login...), "--sign", "--id", keyID, "--mechanism", "ECDSA-SHA256",
				"--signature-format", "openssl", "-i", f.files["msg"], "-o", out("p11-ec.sig")),
			func(string) error {
				sig, err := readFile("p11-ec.sig")
				if err != nil {
					return err
				}
				return f.checkSig(keySlot, f.digest, sig)
			}})
	}
	rsaFull := ""
	if f.gids {
		rsaFull = opSignNew
	}
	runs = append(runs, run{opSignRSA, rsaFull,
		append(append([]string(nil), login...), "--sign", "--id", rsaID, "--mechanism", "SHA256-RSA-PKCS",
			"-i", f.files["msg"], "-o", out("p11-rsa.sig")),
		func(string) error {
			sig, err := readFile("p11-rsa.sig")
			if err != nil {
				return err
			}
			return f.checkSig(0x9D, f.digest, sig)
		}},
		run{opDecrypt, "",
			append(append([]string(nil), login...), "--decrypt", "--id", rsaID, "--mechanism", "RSA-PKCS",
				"-i", f.files["ct"], "-o", out("p11.plain")),
			func(string) error {
				pt, err := readFile("p11.plain")
				if err != nil {
					return err
				}
				return f.checkPlain(pt)
			}})
	if !f.gids && !f.keyHistory {
		// OpenSC 0.23's PIV driver learns how many retired keys a card
		// holds from its Key History object (SP 800-73-4 part 1, 3.3.2)
		// and looks at no retired slot without one: the 82 key, and its
		// certificate, are not there for it.
		h.tab.notes[f.cell(opECDH, colOpenSC)] = "‡"
		h.tab.notes[f.cell(opListNew, colOpenSC)] = "‡"
	}
	if !f.gids && f.keyHistory {
		runs = append(runs, run{opECDH, "",
			append(append([]string(nil), login...), "--derive", "--id", f.p11IDs[0x82], "--mechanism", "ECDH1-DERIVE",
				"-i", f.files["peer"], "-o", out("p11.z")),
			func(string) error {
				z, err := readFile("p11.z")
				if err != nil {
					return err
				}
				return f.checkShared(z)
			}})
	}
	for _, r := range runs {
		full := r.full
		if full == "" {
			full = r.warm + "/process"
		}
		s := h.toolRun(f, full, colOpenSC, r.check, "pkcs11-tool", r.args...)
		if s != nil && baseline != nil {
			h.tab.addDiff(f.cell(r.warm, colOpenSC), *s, *baseline)
		}
	}
	if !f.gids {
		h.toolRun(f, opListNew, colOpenSC, func(out string) error {
			n := strings.Count(out, "Certificate Object")
			if !f.keyHistory {
				n++ // the 82 certificate it cannot see
			}
			return checkCerts(n)
		}, "pkcs11-tool", append(base, "--list-objects", "--type", "cert")...)
	}
}

// afterLogin returns the exchanges after the last VERIFY that carries a
// PIN (the login), or nil when there is none.
func afterLogin(log []exchange) []exchange {
	for i := len(log) - 1; i >= 0; i-- {
		if log[i].INS == 0x20 && log[i].Sent > 5 {
			return log[i+1:]
		}
	}
	return nil
}

// addDiff records a warm (†) cell of pkcs11-tool from two runs: what the
// operation's run sends after its login, less what the login-only run
// sends after the same login (OpenSC's logout at the end of the session,
// on GIDS). That is what a logged-in PKCS#11 session pays per operation;
// what pkcs11-tool does before the login (C_Initialize, token binding,
// PIN status queries) is the new-process cost.
func (b *BudgetTable) addDiff(c budgetCell, full, base budgetSample) {
	op, end := afterLogin(full.trace), afterLogin(base.trace)
	if len(end) <= len(op) {
		suffix := true
		for i, x := range end {
			if op[len(op)-len(end)+i].shape() != x.shape() {
				suffix = false
			}
		}
		if suffix {
			op = op[:len(op)-len(end)]
		}
	}
	s := budgetSample{count: countOf(op, 0), trace: op}
	for _, x := range op {
		s.shape = append(s.shape, x.shape())
	}
	b.samples[c] = append(b.samples[c], s)
	b.notes[c] = "†"
}

// ykpiv measures yubico-piv-tool: every run is a new process.
func (h *harness) ykpiv(f *fixture) {
	r := []string{"-r", f.reader}
	key := "--key=" + mgmtKeyHex()
	h.toolRun(f, opSignNew, colYkpiv, func(out string) error {
		if !strings.Contains(out, "Successful") && !strings.Contains(out, "successful") {
			return fmt.Errorf("test-signature did not report success:\n%s", out)
		}
		return nil
	}, "yubico-piv-tool", append(r, "-a", "verify-pin", "-P", simpiv.DefaultPIN, "-a", "test-signature", "-s", "9a",
		"-i", filepath.Join(f.dir, "9a.crt"))...)
	slotLine := regexp.MustCompile(`(?m)^Slot [0-9a-f]{2}:`)
	h.toolRun(f, opListNew, colYkpiv, func(out string) error {
		return checkCerts(len(slotLine.FindAllString(out, -1)))
	}, "yubico-piv-tool", append(r, "-a", "status")...)
	h.toolRun(f, opWriteCertNew, colYkpiv, func(string) error { return nil },
		"yubico-piv-tool", append(r, key, "-a", "import-certificate", "-s", "9a", "-i", f.files["cert"])...)
	pubFile := filepath.Join(f.dir, "ykpiv-generated.pub")
	h.toolRun(f, opGenerateNew, colYkpiv, func(string) error {
		b, err := os.ReadFile(pubFile)
		if err != nil {
			return err
		}
		pub, err := parsePEMPublicKey(b)
		if err != nil {
			return err
		}
		return checkP256(pub)
	}, "yubico-piv-tool", append(r, key, "-a", "generate", "-s", fmt.Sprintf("%02x", generatedSlot), "-A", "ECCP256", "-o", pubFile)...)
}

package ksp_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cardmod/cardmod/basecsp"
	simpiv "github.com/cardmod/cardmod/cardsim/piv"
	"github.com/cardmod/cardmod/ksp"
	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/minidriver/piv"
	"github.com/cardmod/cardmod/scrm/pcsc"
	"github.com/cardmod/cardmod/scrm/pcsc/pcscdtest"
)

// Environment of the child processes of TestTwoProcessesPCSCD.
const (
	envTwoProcRole   = "CARDMOD_TWOPROC_ROLE" // 0: the Base CSP, 1: the KSP
	envTwoProcReader = "CARDMOD_TWOPROC_READER"
	envTwoProcCache  = "CARDMOD_TWOPROC_CACHE"
	envTwoProcRounds = "CARDMOD_TWOPROC_ROUNDS"
)

// twoProcRounds is the rounds each process runs: each writes a
// certificate (which ends with a reset: the PIV management key cannot be
// logged out) and signs.
const twoProcRounds = 300

// TestTwoProcessesPCSCD: two OS processes (this test binary run again),
// one through the Base CSP and one through the KSP, each with its own disk
// cache, write certificates and sign on one card behind a real pcscd for
// 300 rounds each. Every reset the other process causes is recovered:
// 0 failures. Afterwards each container holds the certificate its writer
// wrote last, and both disk caches agree with the card.
func TestTwoProcessesPCSCD(t *testing.T) {
	if role := os.Getenv(envTwoProcRole); role != "" {
		twoProcChild(t, role)
		return
	}
	env := pcscdtest.Require(t)
	sim, err := simpiv.New(simpiv.Config{Serial: 43000001})
	require.NoError(t, err)
	reader := env.Insert(t, sim)
	ctx := context.Background()
	admin := piv.ManagementKey(simpiv.DefaultManagementKey)
	open := func(dir string, noCache bool) *basecsp.Provider {
		p, err := basecsp.Open(basecsp.Config{Backend: env.Isolated(t), Prompt: newPrompt(simpiv.DefaultPIN),
			AdminResponse: admin, CacheDir: dir, NoCache: noCache})
		require.NoError(t, err)
		t.Cleanup(func() { _ = p.Close() })
		return p
	}
	setup := open("", false)
	ca := softKey(t)
	for i := range 2 {
		ct, err := setup.CreateContainer(ctx, twoProcName(reader, i), minidriver.ECDSAP256, 0, nil)
		require.NoError(t, err)
		k, err := ct.Key(minidriver.ECDSAP256)
		require.NoError(t, err)
		require.NoError(t, k.SetCertificate(ctx, twoProcCert(t, ca, k.Public(), i, 0)))
	}
	require.NoError(t, setup.Close())

	rounds := twoProcRounds
	if s := os.Getenv(envTwoProcRounds); s != "" {
		rounds, err = strconv.Atoi(s)
		require.NoError(t, err)
	}
	dirs := []string{t.TempDir(), t.TempDir()}
	outs := make([]bytes.Buffer, 2)
	errs := make([]error, 2)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range 2 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestTwoProcessesPCSCD$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(), envTwoProcRole+"="+strconv.Itoa(i), envTwoProcReader+"="+reader,
			envTwoProcCache+"="+dirs[i], envTwoProcRounds+"="+strconv.Itoa(rounds))
		cmd.Stdout, cmd.Stderr = &outs[i], &outs[i]
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = cmd.Run()
		}()
	}
	wg.Wait()
	t.Logf("2 processes x %d rounds in %v", rounds, time.Since(start))
	last := make([]string, 2)
	for i := range 2 {
		require.NoError(t, errs[i], "process %d:\n%s", i, outs[i].String())
		sc := bufio.NewScanner(&outs[i])
		for sc.Scan() {
			if v, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "LAST-CERT "); ok {
				last[i] = v
			}
		}
		require.NotEmpty(t, last[i], "process %d reported its last certificate:\n%s", i, outs[i].String())
	}

	// Every certificate written is on the card, as its writer left it.
	fresh := open("", true)
	for i := range 2 {
		ct, err := fresh.Container(ctx, twoProcName(reader, i))
		require.NoError(t, err)
		k, err := ct.Key(minidriver.ECDSAP256)
		require.NoError(t, err)
		cert, err := k.Certificate(ctx)
		require.NoError(t, err)
		assert.Equal(t, last[i], certHash(cert), "container %d holds its writer's last certificate", i)
	}
	// Both processes' disk caches agree with the card.
	want := twoProcView(t, fresh, reader)
	for i, dir := range dirs {
		assert.Equal(t, want, twoProcView(t, open(dir, false), reader), "disk cache of process %d", i)
	}
}

func twoProcName(reader string, i int) string { return `\\.\` + reader + `\p` + strconv.Itoa(i) }

func certHash(c *x509.Certificate) string {
	h := sha256.Sum256(c.Raw)
	return hex.EncodeToString(h[:])
}

// twoProcView is what a provider sees of the card in reader.
func twoProcView(t *testing.T, p *basecsp.Provider, reader string) string {
	t.Helper()
	ctx := context.Background()
	entries, err := p.Containers(ctx)
	require.NoError(t, err)
	var lines []string
	for _, e := range entries {
		if e.Reader == reader {
			lines = append(lines, fmt.Sprintf("%s #%d %v %d/%d", e.Name, e.Index, e.Default, e.SignatureBits, e.KeyExchangeBits))
		}
	}
	certs, err := p.Certificates(ctx)
	require.NoError(t, err)
	for _, c := range certs {
		if c.Reader == reader {
			lines = append(lines, fmt.Sprintf("cert %s %v %s", c.Container, c.KeySpec, certHash(c.Certificate)))
		}
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

// twoProcChild is one process of TestTwoProcessesPCSCD: rounds of writing
// one of two certificates to its container, signing with the container's
// key, and reading both containers' certificates back.
func twoProcChild(t *testing.T, role string) {
	ctx := context.Background()
	reader := os.Getenv(envTwoProcReader)
	rounds, err := strconv.Atoi(os.Getenv(envTwoProcRounds))
	require.NoError(t, err)
	me, err := strconv.Atoi(role)
	require.NoError(t, err)
	b, err := pcsc.New(ctx)
	require.NoError(t, err)
	defer b.Release()
	dir := os.Getenv(envTwoProcCache)

	// The Base CSP in process 0, the KSP in process 1.
	var (
		signer   crypto.Signer
		write    func(*x509.Certificate) error
		certOf   func(i int) (*x509.Certificate, error)
		publicOf = map[int]crypto.PublicKey{}
	)
	if me == 0 {
		p, err := basecsp.Open(basecsp.Config{Backend: b, Prompt: newPrompt(simpiv.DefaultPIN),
			AdminResponse: piv.ManagementKey(simpiv.DefaultManagementKey), CacheDir: dir})
		require.NoError(t, err)
		defer p.Close()
		keys := map[int]*basecsp.Key{}
		for i := range 2 {
			ct, err := p.Container(ctx, twoProcName(reader, i))
			require.NoError(t, err)
			keys[i], err = ct.Key(minidriver.ECDSAP256)
			require.NoError(t, err)
			publicOf[i] = keys[i].Public()
		}
		signer = keys[me]
		write = func(c *x509.Certificate) error { return keys[me].SetCertificate(ctx, c) }
		certOf = func(i int) (*x509.Certificate, error) { return keys[i].Certificate(ctx) }
	} else {
		p, err := ksp.Open(ksp.Config{Backend: b, Prompt: newPrompt(simpiv.DefaultPIN),
			AdminResponse: piv.ManagementKey(simpiv.DefaultManagementKey), CacheDir: dir})
		require.NoError(t, err)
		defer p.Close()
		keys := map[int]*ksp.Key{}
		for i := range 2 {
			keys[i], err = p.OpenKey(ctx, twoProcName(reader, i))
			require.NoError(t, err)
			publicOf[i] = keys[i].Public()
		}
		signer = keys[me]
		write = func(c *x509.Certificate) error {
			return keys[me].SetProperty(ctx, ksp.PropSmartCardKeyCertificate, c)
		}
		certOf = func(i int) (*x509.Certificate, error) {
			v, err := keys[i].Property(ctx, ksp.PropSmartCardKeyCertificate)
			if err != nil {
				return nil, err
			}
			return v.(*x509.Certificate), nil
		}
	}
	ca := softKey(t)
	certs := []*x509.Certificate{twoProcCert(t, ca, publicOf[me], me, 1), twoProcCert(t, ca, publicOf[me], me, 2)}

	failures := 0
	fail := func(r int, what string, err error) {
		failures++
		t.Errorf("round %d: %s: %v", r, what, err)
	}
	var lastCert *x509.Certificate
	for r := range rounds {
		cert := certs[r%2]
		if err := write(cert); err != nil {
			fail(r, "write", err)
			continue
		}
		lastCert = cert
		digest := sha256.Sum256([]byte(fmt.Sprintf("%d/%d", me, r)))
		sig, err := signer.Sign(rand.Reader, digest[:], crypto.SHA256)
		if err != nil {
			fail(r, "sign", err)
		} else if !ecdsa.VerifyASN1(publicOf[me].(*ecdsa.PublicKey), digest[:], sig) {
			fail(r, "sign", fmt.Errorf("the signature does not verify"))
		}
		for i := range 2 {
			got, err := certOf(i)
			switch {
			case err != nil:
				fail(r, fmt.Sprintf("read certificate %d", i), err)
			case i == me && !got.Equal(cert):
				fail(r, "read own certificate", fmt.Errorf("not the one written"))
			case !publicOf[i].(*ecdsa.PublicKey).Equal(got.PublicKey):
				fail(r, fmt.Sprintf("read certificate %d", i), fmt.Errorf("not for the container's key"))
			}
		}
	}
	require.NotNil(t, lastCert)
	fmt.Printf("LAST-CERT %s\n", certHash(lastCert))
	fmt.Printf("FAILURES %d\n", failures)
}

func twoProcCert(t *testing.T, ca *ecdsa.PrivateKey, pub crypto.PublicKey, who, n int) *x509.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(int64(who*10 + n)),
		Subject:   pkix.Name{CommonName: fmt.Sprintf("process %d certificate %d", who, n)},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, ca)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return cert
}

package gids_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cardmod/cardmod/basecsp"
	"github.com/cardmod/cardmod/cardfs"
	simgids "github.com/cardmod/cardmod/cardsim/gids"
	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/minidriver/gids"
	"github.com/cardmod/cardmod/minidriver/minidrivertest"
	"github.com/cardmod/cardmod/pincache"
	"github.com/cardmod/cardmod/scrm"
	"github.com/cardmod/cardmod/scrm/pcsc/pcscdtest"
)

// TestConformancePCSCD runs the conformance suite on simulated GIDS cards
// presented to a real pcscd through vpcd (scripts/test.sh sets it up).
func TestConformancePCSCD(t *testing.T) {
	pc := pcscdtest.Require(t)
	h := conformanceHarness(t)
	h.NewCard = func(t *testing.T) *scrm.Card {
		reader := pc.Insert(t, newSim(t, false))
		card, err := pc.Context(t).Connect(context.Background(), reader, nil)
		require.NoError(t, err)
		t.Cleanup(func() { _ = card.Close(scrm.LeaveCard) })
		provision(t, card)
		return card
	}
	minidrivertest.Run(t, h)
}

// opensc-pkcs11.so as Debian's opensc-pkcs11 package installs it.
const pkcs11Module = "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so"

// tools runs OpenSC's tools in a temporary directory, with a configuration
// giving the PKCS#11 module a slot for every vpcd reader.
type tools struct {
	t    *testing.T
	dir  string
	conf string
}

func newTools(t *testing.T, reader string) *tools {
	t.Helper()
	for _, n := range []string{"gids-tool", "pkcs11-tool", "openssl"} {
		_, err := exec.LookPath(n)
		require.NoError(t, err, "%s is needed (scripts/test.sh installs it)", n)
	}
	return &tools{t: t, dir: t.TempDir(), conf: pcscdtest.OpenSCConf(t, reader)}
}

func (r *tools) path(name string) string { return filepath.Join(r.dir, name) }

// must runs a program with stdin closed and a time limit and returns its
// output; it fails the test when the program fails.
func (r *tools) must(name string, args ...string) string {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = r.dir
	cmd.Env = append(os.Environ(), "OPENSC_CONF="+r.conf)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("%s: %w", name, ctx.Err())
	}
	require.NoError(r.t, err, "%s %s:\n%s", name, strings.Join(args, " "), out.String())
	return out.String()
}

// TestInteropOpenSC: a card that gids-tool initialized and pkcs11-tool
// provisioned (an RSA-2048 key and its certificate) shows the key as a
// container with its certificate through the plug-in, and signs; a
// container and certificate created through the plug-in (by basecsp, with
// no GIDS-specific code) are listed by pkcs11-tool -O and sign there.
//
// It runs on every simulated GIDS profile (cardsim/gids.Profiles): OpenSC
// makes RSA keys only, which each of them has.
func TestInteropOpenSC(t *testing.T) {
	pc := pcscdtest.Require(t)
	for _, prof := range simgids.Profiles() {
		t.Run(prof.Name, func(t *testing.T) { interopOpenSC(t, pc, prof) })
	}
}

func interopOpenSC(t *testing.T, pc *pcscdtest.Env, prof simgids.Profile) {
	sim, err := simgids.New(simgids.Config{Profile: prof})
	require.NoError(t, err)
	reader := pc.Insert(t, sim)
	r := newTools(t, reader)
	const pin = "123456"
	p11 := func(args ...string) string {
		t.Helper()
		return r.must("pkcs11-tool", append([]string{"--module", pkcs11Module, "--slot-description", reader}, args...)...)
	}
	r.must("gids-tool", "-r", reader, "--initialize", "--admin-key", "010203040506070801020304050607080102030405060708",
		"--pin", pin, "--serial-number", "00112233445566778899AABBCCDDEEFF")
	p11("--login", "--pin", pin, "--keypairgen", "--key-type", "rsa:2048", "--label", "opensc key")
	p11("--read-object", "--type", "pubkey", "--label", "opensc key", "--output-file", r.path("pub.der"))
	r.must("openssl", "pkey", "-pubin", "-inform", "DER", "-in", r.path("pub.der"), "-out", r.path("pub.pem"))
	r.must("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
		"-keyout", r.path("ca.key"), "-out", r.path("ca.crt"), "-subj", "/CN=gids interop CA", "-days", "2")
	r.must("openssl", "x509", "-new", "-force_pubkey", r.path("pub.pem"), "-subj", "/CN=opensc key",
		"-CA", r.path("ca.crt"), "-CAkey", r.path("ca.key"), "-days", "1", "-outform", "DER", "-out", r.path("cert.der"))
	p11("--login", "--pin", pin, "--write-object", r.path("cert.der"), "--type", "cert", "--id", "00", "--label", "opensc key")
	certDER, err := os.ReadFile(r.path("cert.der"))
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(certDER)
	require.NoError(t, err)

	t.Run("OpenSC's key through the plug-in", func(t *testing.T) {
		ctx := context.Background()
		card, err := pc.Context(t).Connect(ctx, reader, nil)
		require.NoError(t, err)
		defer func() { _ = card.Close(scrm.ResetCard) }()
		md, _, err := minidriver.NewRegistry(gids.Plugin{}).Open(ctx, card, minidriver.Env{})
		require.NoError(t, err)
		defer func() { _ = md.Close() }()
		tx, err := card.Begin(ctx)
		require.NoError(t, err)
		defer func() { _ = tx.End(scrm.ResetCard) }()
		require.NoError(t, md.Resume(ctx, tx))
		raw, err := md.ReadFile(ctx, tx, "mscp", "cmapfile")
		require.NoError(t, err)
		cmap, err := cardfs.ParseContainerMap(raw)
		require.NoError(t, err)
		rec, ok := cmap.Find("opensc key")
		require.True(t, ok, "the container map names OpenSC's key")
		assert.Equal(t, uint16(2048), rec.KeyExchangeKeySizeBits)
		info, err := md.ContainerInfo(ctx, tx, rec.Index)
		require.NoError(t, err)
		assert.Equal(t, minidriver.KeyExchange, info.KeyExchangeSpec)
		assert.True(t, cert.PublicKey.(*rsa.PublicKey).Equal(info.KeyExchange))
		name, err := cardfs.CertFileName(rec.Index, cardfs.KeySpecKeyExchange)
		require.NoError(t, err)
		stored, err := md.ReadFile(ctx, tx, "mscp", name)
		require.NoError(t, err)
		got, err := cardfs.DecompressCert(stored)
		require.NoError(t, err)
		assert.Equal(t, certDER, got)
		_, err = md.Authenticate(ctx, tx, gids.PINUser, []byte(pin), 0)
		require.NoError(t, err)
		digest := sha256.Sum256([]byte("signed through the plug-in"))
		sig, err := md.SignData(ctx, tx, minidriver.SignRequest{Container: rec.Index, KeySpec: minidriver.KeyExchange, Digest: digest[:], Padding: minidriver.PaddingPKCS1, Hash: crypto.SHA256})
		require.NoError(t, err)
		require.NoError(t, rsa.VerifyPKCS1v15(info.KeyExchange.(*rsa.PublicKey), crypto.SHA256, digest[:], sig))
	})

	t.Run("a basecsp container in pkcs11-tool", func(t *testing.T) {
		ctx := context.Background()
		p, err := basecsp.Open(basecsp.Config{
			Backend:  pc.Isolated(t),
			Registry: minidriver.NewRegistry(gids.Plugin{}),
			Prompt:   pincache.NewFixed([]byte(pin)),
		})
		require.NoError(t, err)
		defer func() { _ = p.Close() }()
		c, err := p.CreateContainer(ctx, `\\.\`+reader+`\cardmod key`, minidriver.KeyExchange, 2048, nil)
		require.NoError(t, err)
		k, err := c.Key(minidriver.KeyExchange)
		require.NoError(t, err)
		mine, err := x509.ParseCertificate(makeCert(t, k.Public(), "cardmod certificate"))
		require.NoError(t, err)
		require.NoError(t, k.SetCertificate(ctx, mine))

		out := p11("--login", "--pin", pin, "-O")
		assert.Contains(t, out, "cardmod key")
		assert.Contains(t, out, "cardmod certificate")
		assert.Contains(t, out, "opensc key")
		p11("--read-object", "--type", "cert", "--label", "cardmod key", "--output-file", r.path("mine.der"))
		back, err := os.ReadFile(r.path("mine.der"))
		require.NoError(t, err)
		assert.Equal(t, mine.Raw, back)
		data := r.path("data")
		require.NoError(t, os.WriteFile(data, []byte("signed by OpenSC with a cardmod key"), 0o600))
		// pkcs11-tool 0.23 picks the signing key by --id only: the
		// container index (OpenSC's key is container 0).
		p11("--login", "--pin", pin, "--sign", "--mechanism", "SHA256-RSA-PKCS", "--id", "01",
			"--input-file", data, "--output-file", r.path("sig"))
		sig, err := os.ReadFile(r.path("sig"))
		require.NoError(t, err)
		digest := sha256.Sum256([]byte("signed by OpenSC with a cardmod key"))
		require.NoError(t, rsa.VerifyPKCS1v15(k.Public().(*rsa.PublicKey), crypto.SHA256, digest[:], sig))
	})
}

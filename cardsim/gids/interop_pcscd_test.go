package gids_test

// Interoperability with OpenSC 0.23 (opensc-tool, gids-tool, pkcs11-tool)
// through a real pcscd and vpcd (scrm/pcsc/pcscdtest). The tests run when
// CARDMOD_PCSCD=1 (scripts/test.sh sets it) and skip otherwise.

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cardmod/cardmod/cardsim/gids"
	"github.com/cardmod/cardmod/scrm/pcsc/pcscdtest"
)

// opensc-pkcs11.so as Debian's opensc-pkcs11 package installs it.
const pkcs11Module = "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so"

// runner runs OpenSC's tools in a temporary directory with a configuration
// that gives the PKCS#11 module enough slots for every vpcd reader.
type runner struct {
	t    *testing.T
	dir  string
	conf string
}

func newRunner(t *testing.T, reader string, names ...string) *runner {
	t.Helper()
	for _, n := range names {
		_, err := exec.LookPath(n)
		require.NoError(t, err, "%s is needed (scripts/test.sh installs it)", n)
	}
	return &runner{t: t, dir: t.TempDir(), conf: pcscdtest.OpenSCConf(t, reader)}
}

func (r *runner) path(name string) string { return filepath.Join(r.dir, name) }

// run runs a program with stdin closed (a prompt reads EOF) and a time
// limit, and returns its combined output.
func (r *runner) run(name string, args ...string) (string, error) {
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
	return out.String(), err
}

func (r *runner) must(name string, args ...string) string {
	r.t.Helper()
	out, err := r.run(name, args...)
	require.NoError(r.t, err, "%s %s:\n%s", name, strings.Join(args, " "), out)
	return out
}

// TestInteropOpenSC: opensc-tool names the blank card, gids-tool
// initializes it, pkcs11-tool generates an RSA-2048 key and signs, the
// signature verifies; gids-tool unblocks the PIN and changes the admin key.
func TestInteropOpenSC(t *testing.T) {
	env := pcscdtest.Require(t)
	card, err := gids.New(gids.Config{})
	require.NoError(t, err)
	reader, _ := env.InsertTB(t, card)
	r := newRunner(t, reader, "opensc-tool", "gids-tool", "pkcs11-tool", "openssl")
	const adminKey = "010203040506070801020304050607080102030405060708"
	p11 := func(args ...string) string {
		t.Helper()
		return r.must("pkcs11-tool", append([]string{"--module", pkcs11Module, "--slot-description", reader}, args...)...)
	}
	step := func(name string, f func(t *testing.T)) {
		t.Helper()
		if !t.Run(name, f) {
			t.FailNow()
		}
	}

	step("opensc-tool -n", func(t *testing.T) {
		out := r.must("opensc-tool", "-r", reader, "-n")
		assert.Contains(t, out, "GIDS")
	})
	step("gids-tool --initialize", func(t *testing.T) {
		r.must("gids-tool", "-r", reader, "--initialize", "--admin-key", adminKey, "--pin", "123456",
			"--serial-number", "00112233445566778899AABBCCDDEEFF")
		assert.Equal(t, gids.LifeCycleOperational, card.LifeCycle())
		out := r.must("gids-tool", "-r", reader)
		assert.Contains(t, out, "cmapfile")
	})
	step("pkcs11-tool keygen and sign", func(t *testing.T) {
		// OpenSC's GIDS emulation numbers keys by container (ID 00 for
		// the first) whatever --id asks for; the label is kept.
		out := p11("--login", "--pin", "123456", "--keypairgen", "--key-type", "rsa:2048", "--id", "81", "--label", "gids test")
		assert.Contains(t, out, "RSA 2048 bits")
		data := r.path("data")
		require.NoError(t, os.WriteFile(data, []byte("signed by a simulated GIDS card"), 0o600))
		p11("--login", "--pin", "123456", "--sign", "--mechanism", "SHA256-RSA-PKCS", "--label", "gids test",
			"--input-file", data, "--output-file", r.path("sig"))
		sig, err := os.ReadFile(r.path("sig"))
		require.NoError(t, err)
		// The public key, read from the card in-process.
		tc := &tcard{t: t, c: card}
		tc.mustOK(0xA4, 0x04, 0x00, gids.AID[:9])
		pub := tc.publicKey(0x81).(*rsa.PublicKey)
		digest := sha256.Sum256([]byte("signed by a simulated GIDS card"))
		require.NoError(t, rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig))
		assert.Contains(t, p11("--list-objects"), "gids test")
		// And openssl agrees, with the public key as pkcs11-tool reads it.
		p11("--read-object", "--type", "pubkey", "--label", "gids test", "--output-file", r.path("pub.der"))
		r.must("openssl", "pkey", "-pubin", "-inform", "DER", "-in", r.path("pub.der"), "-out", r.path("pub.pem"))
		out = r.must("openssl", "dgst", "-sha256", "-verify", r.path("pub.pem"), "-signature", r.path("sig"), data)
		assert.Contains(t, out, "Verified OK")
	})
	step("pkcs11-tool decrypt", func(t *testing.T) {
		require.NoError(t, os.WriteFile(r.path("secret"), []byte("a session key"), 0o600))
		r.must("openssl", "pkeyutl", "-encrypt", "-pubin", "-inkey", r.path("pub.pem"), "-pkeyopt", "rsa_padding_mode:pkcs1",
			"-in", r.path("secret"), "-out", r.path("ct"))
		p11("--login", "--pin", "123456", "--decrypt", "--mechanism", "RSA-PKCS", "--label", "gids test",
			"--input-file", r.path("ct"), "--output-file", r.path("pt"))
		pt, err := os.ReadFile(r.path("pt"))
		require.NoError(t, err)
		assert.Equal(t, "a session key", string(pt))
	})
	step("pkcs11-tool certificate", func(t *testing.T) {
		r.must("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
			"-keyout", r.path("ca.key"), "-out", r.path("ca.crt"), "-subj", "/CN=gids interop CA", "-days", "2")
		r.must("openssl", "x509", "-new", "-force_pubkey", r.path("pub.pem"), "-subj", "/CN=gids card key",
			"-CA", r.path("ca.crt"), "-CAkey", r.path("ca.key"), "-days", "1", "-outform", "DER", "-out", r.path("cert.der"))
		p11("--login", "--pin", "123456", "--write-object", r.path("cert.der"), "--type", "cert", "--id", "00", "--label", "gids test")
		p11("--read-object", "--type", "cert", "--id", "00", "--output-file", r.path("back.der"))
		want, err := os.ReadFile(r.path("cert.der"))
		require.NoError(t, err)
		got, err := os.ReadFile(r.path("back.der"))
		require.NoError(t, err)
		assert.Equal(t, want, got)
		assert.Contains(t, p11("--list-objects"), "gids card key")
	})
	step("pkcs11-tool second key, then delete it", func(t *testing.T) {
		p11("--login", "--pin", "123456", "--keypairgen", "--key-type", "rsa:1024", "--label", "second")
		assert.Contains(t, p11("--list-objects"), "second")
		p11("--login", "--pin", "123456", "--delete-object", "--type", "privkey", "--label", "second")
		out := p11("--login", "--pin", "123456", "--list-objects")
		assert.NotContains(t, out, "second")
		assert.Contains(t, out, "gids test")
		// The key file of the second container (B082) is gone.
		tc := &tcard{t: t, c: card}
		tc.mustOK(0xA4, 0x04, 0x00, gids.AID[:9])
		tc.wantSW(0x6A82, 0xA4, 0x00, 0x0C, h("B0 82"))
		tc.mustOK(0xA4, 0x00, 0x0C, h("B0 81"))
	})
	step("pkcs11-tool --change-pin", func(t *testing.T) {
		p11("--login", "--pin", "123456", "--change-pin", "--new-pin", "11223344")
		p11("--login", "--pin", "11223344", "--list-objects")
		assert.Equal(t, 3, card.PINTriesLeft())
	})
	step("gids-tool --unblock", func(t *testing.T) {
		for range 3 {
			_, _ = r.run("pkcs11-tool", "--module", pkcs11Module, "--slot-description", reader, "--login", "--pin", "999999", "--list-objects")
		}
		require.Equal(t, 0, card.PINTriesLeft())
		r.must("gids-tool", "-r", reader, "--unblock", "--admin-key", adminKey, "--pin", "654321")
		assert.Equal(t, 3, card.PINTriesLeft())
		p11("--login", "--pin", "654321", "--list-objects")
	})
	step("gids-tool --change-admin-key", func(t *testing.T) {
		const newKey = "0F0E0D0C0B0A09080706050403020100F0E0D0C0B0A09080"
		r.must("gids-tool", "-r", reader, "--change-admin-key", "--admin-key", adminKey, "--new-admin-key", newKey)
		_, err := r.run("gids-tool", "-r", reader, "--unblock", "--admin-key", adminKey, "--pin", "111111")
		assert.Error(t, err, "the old admin key is refused")
		r.must("gids-tool", "-r", reader, "--unblock", "--admin-key", newKey, "--pin", "111111")
	})
}

package main

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"

	simpiv "github.com/cardmod/cardmod/cardsim/piv"
	"github.com/cardmod/cardmod/internal/simfile"
	"github.com/cardmod/cardmod/scrm/pcsc/pcscdtest"
)

// listThrough runs `cardmod -reader reader list -json` through pcscd.
func listThrough(t *testing.T, env *pcscdtest.Env, reader string) *cardEntry {
	t.Helper()
	r := runIO(t, &stdio{backend: nopRelease{env.Isolated(t)}}, "", "-reader", reader, "list", "-json")
	require.Equal(t, exitOK, r.code, r.err)
	var l listing
	require.NoError(t, json.Unmarshal([]byte(r.out), &l), r.out)
	require.Len(t, l.Readers, 1)
	require.NotNil(t, l.Readers[0].Card, r.out)
	require.Empty(t, l.Readers[0].Card.Error)
	return l.Readers[0].Card
}

// serving is a `cardmod serve` run in-process by a test.
type serving struct {
	out, errb syncBuffer
	done      chan int
	stop      context.CancelFunc
}

// startServe runs `cardmod <args> serve <serveArgs>` until the test stops
// it, and returns once pcscd reports the card in reader.
func startServe(t *testing.T, ctx context.Context, reader string, args ...string) *serving {
	t.Helper()
	sv := &serving{done: make(chan int, 1)}
	ready := make(chan string, 1)
	sctx, stop := context.WithCancel(context.WithValue(ctx, serveReadyKey{}, func(r string) { ready <- r }))
	sv.stop = stop
	t.Cleanup(stop)
	go func() {
		sv.done <- run(sctx, args, &stdio{out: &sv.out, err: &sv.errb, getenv: func(string) string { return "" }})
	}()
	select {
	case r := <-ready:
		require.Equal(t, reader, r)
	case code := <-sv.done:
		t.Fatalf("serve ended with %d: %s", code, sv.errb.String())
	}
	assert.Contains(t, sv.errb.String(), "present in reader")
	assert.Equal(t, reader+"\n", sv.out.String())
	return sv
}

// end stops serve and requires a clean exit.
func (sv *serving) end(t *testing.T) {
	t.Helper()
	sv.stop()
	select {
	case code := <-sv.done:
		require.Equal(t, exitOK, code, sv.errb.String())
	case <-time.After(time.Minute):
		t.Fatal("serve did not stop")
	}
}

// TestServeThroughPCSCD: `cardmod serve` presents the -sim card to pcscd
// through vpcd; cardmod itself provisions it there, and the state file
// keeps what was done.
func TestServeThroughPCSCD(t *testing.T) {
	env := pcscdtest.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	slot, err := env.Acquire(ctx)
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, slot.Release()) })
	sim := simFile(t)
	sv := startServe(t, ctx, slot.Name, "-sim", sim, "serve", "-addr", slot.Addr, "-vpcd-reader", slot.Name)

	c := listThrough(t, env, slot.Name)
	assert.Equal(t, "PIV", c.Plugin)
	assert.Equal(t, "10000001", c.Serial)
	r := runIO(t, &stdio{backend: nopRelease{env.Isolated(t)}}, "123456\n", "-reader", slot.Name, "-pin-stdin", "generate", "-alg", "p384", "served")
	require.Equal(t, exitOK, r.code, r.err)

	sv.end(t)
	assert.Contains(t, sv.errb.String(), "state saved in "+sim)
	l := listJSON(t, "-sim", sim)
	require.Len(t, l.Readers[0].Card.Containers, 1)
	assert.Equal(t, "served", l.Readers[0].Card.Containers[0].Name)
	assert.Equal(t, "ECDSA P-384", l.Readers[0].Card.Containers[0].Keys[0].Algorithm)
}

// TestServeProfileThroughPCSCD: `cardmod -profile P serve` makes the new
// card of that family and serves it (the reader to wait in given with
// -reader): an RSA-only GIDS card (gids-rsa) and a non-Yubico PIV applet
// (piv-applet), as pcscd and cardmod see them; the state file keeps the
// profile.
func TestServeProfileThroughPCSCD(t *testing.T) {
	env := pcscdtest.Require(t)
	tests := []struct {
		kind, profile, plugin string
		p256                  int // exit code of generate -alg p256 on the card
	}{
		{"gids", "gids-rsa", "GIDS", exitFailed},
		{"piv", "piv-applet", "PIV", exitOK},
	}
	for _, tt := range tests {
		t.Run(tt.profile, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			slot, err := env.Acquire(ctx)
			require.NoError(t, err)
			t.Cleanup(func() { assert.NoError(t, slot.Release()) })
			sim := simFile(t)
			sv := startServe(t, ctx, slot.Name, "-sim", sim, "-sim-card", tt.kind, "-profile", tt.profile, "-reader", slot.Name, "serve", "-addr", slot.Addr)
			assert.Contains(t, sv.errb.String(), "("+tt.profile+",")

			c := listThrough(t, env, slot.Name)
			assert.Equal(t, tt.plugin, c.Plugin)
			opened, err := simfile.Open(sim, simfile.Options{})
			require.NoError(t, err)
			assert.Equal(t, spaced(opened.Card.ATR()), c.ATR, "pcscd reports the profile's ATR")
			r := runIO(t, &stdio{backend: nopRelease{env.Isolated(t)}}, "123456\n", "-reader", slot.Name, "-pin-stdin", "generate", "-alg", "p256", "k")
			assert.Equal(t, tt.p256, r.code, r.err)

			sv.end(t)
			again, err := simfile.Open(sim, simfile.Options{})
			require.NoError(t, err)
			assert.Equal(t, tt.profile, again.Profile)
		})
	}
}

// TestListCardOfYubicoPIVTool: on every simulated PIV profile
// yubico-piv-tool can write to, a card it provisioned (a key generated in
// slot 9A, a certificate imported, a wrong PIN) is listed with what that
// tool shows. yubico-piv-tool 2.2.0 knows 3DES management keys only: the
// 5.7 card is one whose owner set a 3DES key; the issued card's key is its
// issuer's.
func TestListCardOfYubicoPIVTool(t *testing.T) {
	env := pcscdtest.Require(t)
	tool := needTool(t, "yubico-piv-tool")
	for i, p := range simpiv.Profiles() {
		if p.Issued {
			continue // read-only for its holder (above)
		}
		t.Run(p.Name, func(t *testing.T) {
			serial := uint32(4242 + i)
			card, err := simpiv.New(simpiv.Config{Profile: p, Serial: serial, ManagementKeyAlgorithm: simpiv.AlgTDES})
			require.NoError(t, err)
			reader := env.Insert(t, card)
			dir := t.TempDir()
			pubFile := filepath.Join(dir, "pub.pem")
			yk := func(args ...string) string {
				out, err := exec.Command(tool, append([]string{"-r", reader}, args...)...).CombinedOutput()
				require.NoError(t, err, "yubico-piv-tool %v: %s", args, out)
				return string(out)
			}
			yk("-a", "generate", "-s", "9a", "-A", "ECCP256", "-o", pubFile)
			b, err := os.ReadFile(pubFile)
			require.NoError(t, err)
			blk, _ := pem.Decode(b)
			require.NotNil(t, blk)
			pub, err := x509.ParsePKIXPublicKey(blk.Bytes)
			require.NoError(t, err)
			certFile := filepath.Join(dir, "cert.pem")
			certPEM := issue(t, pub, "CN=Provisioned by yubico-piv-tool")
			require.NoError(t, os.WriteFile(certFile, certPEM, 0o600))
			yk("-a", "import-certificate", "-s", "9a", "-i", certFile)
			out, _ := exec.Command(tool, "-r", reader, "-a", "verify-pin", "-P", "000000").CombinedOutput()
			assert.Contains(t, string(out), "2 tries left")
			status := yk("-a", "status")
			assert.Contains(t, status, "PIN tries left:\t2")

			c := listThrough(t, env, reader)
			assert.Equal(t, "PIV", c.Plugin)
			if p.Serial {
				assert.Equal(t, strconv.FormatUint(uint64(serial), 10), c.Serial)
			}
			require.NotNil(t, c.PIN)
			assert.Equal(t, 2, c.PIN.Left, "as yubico-piv-tool -a status says")
			require.Len(t, c.Containers, 1)
			k := c.Containers[0].Keys
			require.Len(t, k, 1)
			assert.Equal(t, "ECDSA P-256", k[0].Algorithm)
			require.NotNil(t, k[0].Certificate)
			assert.Equal(t, "CN=Provisioned by yubico-piv-tool", k[0].Certificate.Subject)
			cb, _ := pem.Decode(certPEM)
			cert, err := x509.ParseCertificate(cb.Bytes)
			require.NoError(t, err)
			assert.Equal(t, cert.NotAfter.UTC().Truncate(time.Second), k[0].Certificate.NotAfter)
		})
	}
}

// TestListCardOfOpenSC: on every simulated PIV profile OpenSC's piv-tool
// can write to, a key it generates (slot 9A, P-256, algorithm 11; mutual
// authentication with the 3DES management key from PIV_EXT_AUTH_KEY) is
// listed, then the certificate piv-tool writes for it. That needs a card
// that tells a key's public key (GET METADATA, firmware 5.3 and later, and
// the applet): piv-tool cannot decode the key it generated, and a card
// without GET METADATA gives a key's public key only when it generates it
// (Yubico .NET SDK, "Keeping track of PIV slot contents"), so there
// cardmod, like OpenSC itself, sees no key and nobody can certify it
// (docs/piv-mapping.md, "Keys on cards without GET METADATA"). The 5.7
// card has a 3DES management key (OpenSC 0.23's piv-tool -A M:9B:03 is
// 3DES); the issued card's key is its issuer's, so piv-tool cannot write
// to it at all.
func TestListCardOfOpenSC(t *testing.T) {
	env := pcscdtest.Require(t)
	pivTool := needTool(t, "piv-tool")
	keyFile := filepath.Join(t.TempDir(), "mgmt.key")
	var hexKey []string
	for _, b := range simpiv.DefaultManagementKey {
		hexKey = append(hexKey, fmt.Sprintf("%02X", b))
	}
	require.NoError(t, os.WriteFile(keyFile, []byte(strings.Join(hexKey, ":")), 0o600))
	for i, p := range simpiv.Profiles() {
		if p.Issued {
			continue // read-only for its holder (above)
		}
		t.Run(p.Name, func(t *testing.T) {
			serial := uint32(5151 + i)
			card, err := simpiv.New(simpiv.Config{Profile: p, Serial: serial, ManagementKeyAlgorithm: simpiv.AlgTDES})
			require.NoError(t, err)
			reader := env.Insert(t, card)
			dir := t.TempDir()
			cmd := exec.Command(pivTool, "-r", reader, "-A", "M:9B:03", "-G", "9A:11")
			cmd.Env = append(os.Environ(), "PIV_EXT_AUTH_KEY="+keyFile, "OPENSC_CONF="+pcscdtest.OpenSCConf(t, reader))
			// OpenSC 0.23 (Debian 12) generates the key on the card, then
			// fails on the host decoding the public key with OpenSSL 3
			// ("unable to gen EC key ... invalid curve"): what matters
			// here is the card.
			out, err := cmd.CombinedOutput()
			if err != nil {
				require.Contains(t, string(out), "gen_key unable to gen EC key", "piv-tool: %s", out)
			}

			c := listThrough(t, env, reader)
			assert.Equal(t, "PIV", c.Plugin)
			if p.Serial {
				assert.Equal(t, strconv.FormatUint(uint64(serial), 10), c.Serial)
			}
			require.NotNil(t, c.PIN)
			assert.Equal(t, 3, c.PIN.Left)
			if !p.Metadata {
				assert.Empty(t, c.Containers, "a key without certificate on a card without GET METADATA")
				return
			}
			require.Len(t, c.Containers, 1, "%+v", c.Containers)
			k := c.Containers[0].Keys
			require.Len(t, k, 1)
			assert.Equal(t, "ECDSA P-256", k[0].Algorithm)
			assert.Nil(t, k[0].Certificate)

			// A certificate for that key, written by piv-tool (-C 9A -i
			// PEM: OpenSC 0.23 reads it with PEM_read_X509, "does not
			// contain PEM-encoded certificate" otherwise; the public key
			// comes from `cardmod list -ssh`, piv-tool could not decode
			// it), is listed with its subject and fingerprint.
			r := runIO(t, &stdio{backend: nopRelease{env.Isolated(t)}}, "", "-reader", reader, "list", "-ssh")
			require.Equal(t, exitOK, r.code, r.err)
			sshPub, _, _, _, err := ssh.ParseAuthorizedKey([]byte(r.out))
			require.NoError(t, err, r.out)
			pub := sshPub.(ssh.CryptoPublicKey).CryptoPublicKey()
			certPEM := issue(t, pub, "CN=Written by piv-tool")
			blk, _ := pem.Decode(certPEM)
			require.NotNil(t, blk)
			certFile := filepath.Join(dir, "cert.pem")
			require.NoError(t, os.WriteFile(certFile, certPEM, 0o600))
			cmd = exec.Command(pivTool, "-r", reader, "-A", "M:9B:03", "-C", "9A", "-i", certFile)
			cmd.Env = append(os.Environ(), "PIV_EXT_AUTH_KEY="+keyFile, "OPENSC_CONF="+pcscdtest.OpenSCConf(t, reader))
			// OpenSC 0.23's piv-tool exits non-zero (31, 32 seen) printing
			// nothing after writing it (pcscd's log: both chained PUT DATA
			// parts of 5FC105 answered 9000): the listing below is what
			// tells.
			out, err = cmd.CombinedOutput()
			if err != nil {
				require.Empty(t, strings.TrimSpace(string(out)), "piv-tool -C: %v", err)
				t.Logf("piv-tool -C: %v", err)
			}
			c = listThrough(t, env, reader)
			require.Len(t, c.Containers, 1, "%+v", c.Containers)
			k = c.Containers[0].Keys
			require.Len(t, k, 1)
			require.NotNil(t, k[0].Certificate, "%+v", k[0])
			assert.Equal(t, "CN=Written by piv-tool", k[0].Certificate.Subject)
			sum := sha256.Sum256(blk.Bytes)
			assert.Equal(t, hex.EncodeToString(sum[:]), k[0].Certificate.SHA256)
		})
	}
}

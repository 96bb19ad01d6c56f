package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cardmod/cardmod/cardfs"
	simpiv "github.com/cardmod/cardmod/cardsim/piv"
	"github.com/cardmod/cardmod/internal/simfile"
	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/minidriver/gids"
	"github.com/cardmod/cardmod/scrm"
	"github.com/cardmod/cardmod/scrm/virtual"
)

// result is one run of the command.
type result struct {
	code     int
	out, err string
}

// runIO runs the command in-process with stdin and returns what it did.
func runIO(t *testing.T, io *stdio, stdin string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	io.in, io.out, io.err = strings.NewReader(stdin), &out, &errb
	if io.getenv == nil {
		io.getenv = func(string) string { return "" }
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	code := run(ctx, args, io)
	return result{code, out.String(), errb.String()}
}

func runCmd(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	return runIO(t, &stdio{}, stdin, args...)
}

// simFile returns a state file path for a new simulated card.
func simFile(t *testing.T) string { return filepath.Join(t.TempDir(), "card.json") }

// ok requires a successful run.
func ok(t *testing.T, r result) result {
	t.Helper()
	require.Equal(t, exitOK, r.code, "stdout:\n%s\nstderr:\n%s", r.out, r.err)
	return r
}

func parsePublicKey(t *testing.T, out string) crypto.PublicKey {
	t.Helper()
	blk, _ := pem.Decode([]byte(out))
	require.NotNil(t, blk, out)
	require.Equal(t, "PUBLIC KEY", blk.Type)
	pub, err := x509.ParsePKIXPublicKey(blk.Bytes)
	require.NoError(t, err)
	return pub
}

func listJSON(t *testing.T, args ...string) listing {
	t.Helper()
	r := ok(t, runCmd(t, "", append(args, "list", "-json")...))
	var l listing
	require.NoError(t, json.Unmarshal([]byte(r.out), &l), r.out)
	return l
}

func TestUsageAndExitCodes(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
		want string // in stdout+stderr
	}{
		{"no command", nil, exitUsage, "usage: cardmod"},
		{"help", []string{"help"}, exitOK, "exit codes:"},
		{"help lists sign", []string{"help"}, exitOK, "sign"},
		{"help of a command", []string{"help", "sign"}, exitOK, "-hash"},
		{"help of an unknown command", []string{"help", "nope"}, exitUsage, "unknown command"},
		{"unknown command", []string{"frobnicate"}, exitUsage, "unknown command \"frobnicate\""},
		{"bad flag", []string{"list", "-nope"}, exitUsage, "flag provided but not defined"},
		{"-h", []string{"list", "-h"}, exitOK, "usage: cardmod list"},
		{"bad sim kind", []string{"-sim-card", "java", "-sim", "x.json", "list"}, exitUsage, "-sim-card"},
		{"list takes no args", []string{"list", "x"}, exitUsage, "no arguments"},
		{"generate wants a name", []string{"generate"}, exitUsage, "container name"},
		{"generate bad alg", []string{"generate", "-alg", "dsa", "k"}, exitUsage, "-alg"},
		{"sign bad hash", []string{"sign", "-hash", "md4", "k"}, exitUsage, "-hash"},
		{"csr needs a subject", []string{"csr", "k"}, exitUsage, "-subject"},
		{"pin needs a subcommand", []string{"pin"}, exitUsage, "pin change"},
		{"serve needs -sim", []string{"serve"}, exitUsage, "-sim FILE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCmd(t, "", tt.args...)
			assert.Equal(t, tt.code, r.code, "%s%s", r.out, r.err)
			assert.Contains(t, r.out+r.err, tt.want)
			if tt.code != exitOK && tt.code != exitUsage {
				assert.Equal(t, 1, strings.Count(r.err, "\n"), "one line: %q", r.err)
			}
		})
	}
}

// TestErrorsAreOneLineWithHint checks the exit codes and the one-line
// errors of failures that are not usage errors.
func TestErrorsAreOneLineWithHint(t *testing.T) {
	sim := simFile(t)
	tests := []struct {
		name  string
		stdin string
		args  []string
		code  int
		want  string
	}{
		{"no way to ask the PIN", "", []string{"-sim", sim, "generate", "k"}, exitPIN, "use -pin-stdin or -pinentry"},
		{"no PIN on stdin", "", []string{"-sim", sim, "-pin-stdin", "generate", "k"}, exitPIN, "no PIN on standard input"},
		{"wrong PIN", "999999\n", []string{"-sim", sim, "-pin-stdin", "generate", "k"}, exitPIN, "2 tries left"},
		{"unknown reader", "", []string{"-sim", sim, "-reader", "nope", "list"}, exitNotFound, "`cardmod list` shows the readers"},
		{"unknown container", "", []string{"-sim", sim, "cert", "export", "nope"}, exitNotFound, "`cardmod list` shows the containers"},
		{"bad state file", "", []string{"-sim", "/proc/version", "list"}, exitFailed, "remove this one"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCmd(t, tt.stdin, tt.args...)
			assert.Equal(t, tt.code, r.code, "%s%s", r.out, r.err)
			assert.Contains(t, r.err, tt.want)
			assert.Equal(t, 1, strings.Count(r.err, "\n"), "one line: %q", r.err)
			assert.True(t, strings.HasPrefix(r.err, "cardmod: "), r.err)
		})
	}
}

func TestListNewSimulatedCards(t *testing.T) {
	for _, kind := range []string{"piv", "gids"} {
		t.Run(kind, func(t *testing.T) {
			sim := simFile(t)
			r := ok(t, runCmd(t, "", "-sim", sim, "-sim-card", kind, "list"))
			assert.Contains(t, r.out, "Reader: "+simReaderName(kind))
			assert.Contains(t, r.out, "Card:        "+strings.ToUpper(kind))
			assert.Contains(t, r.out, "no containers")
			l := listJSON(t, "-sim", sim)
			assert.Contains(t, ok(t, runCmd(t, "", "--sim", sim, "list", "--json")).out, `"readers"`, "--flags too")
			require.Len(t, l.Readers, 1)
			c := l.Readers[0].Card
			require.NotNil(t, c)
			assert.Equal(t, strings.ToUpper(kind), c.Plugin)
			assert.NotEmpty(t, c.ID)
			require.NotNil(t, c.PIN, c.TriesError)
			assert.Equal(t, 3, c.PIN.Left)
			if kind == "piv" {
				assert.Equal(t, 3, c.PIN.Max)
				require.NotNil(t, c.PUK)
				assert.Equal(t, 3, c.PUK.Left)
				assert.Equal(t, "10000001", c.Serial)
			} else {
				assert.Nil(t, c.PUK)
			}
			require.NotNil(t, c.FreeSpace)
			assert.Positive(t, c.FreeSpace.MaxContainers)
		})
	}
}

// unreadable is a card that no plug-in takes: it answers 6A82 to
// everything.
type unreadable struct{}

func (unreadable) ATR() []byte                 { return []byte{0x3B, 0x80, 0x80, 0x01, 0x01} }
func (unreadable) Reset()                      {}
func (unreadable) Transmit(apdu []byte) []byte { return []byte{0x6A, 0x82} }

// TestListShowsUnreadableCardBesideOthers: a card no plug-in takes and an
// empty reader are listed with the good card.
func TestListShowsUnreadableCardBesideOthers(t *testing.T) {
	sim, err := simpiv.New(simpiv.Config{})
	require.NoError(t, err)
	b := virtual.NewBackend()
	b.AddReader("A bad card").Insert(unreadable{})
	b.AddReader("B good card").Insert(sim)
	b.AddReader("C empty")
	r := runIO(t, &stdio{backend: b}, "", "list", "-json")
	require.Equal(t, exitOK, r.code, r.err)
	var l listing
	require.NoError(t, json.Unmarshal([]byte(r.out), &l))
	require.Len(t, l.Readers, 3)
	byName := map[string]readerEntry{}
	for _, re := range l.Readers {
		byName[re.Name] = re
	}
	require.NotNil(t, byName["A bad card"].Card)
	assert.Contains(t, byName["A bad card"].Card.Error, "no plug-in takes this card")
	require.NotNil(t, byName["B good card"].Card)
	assert.Empty(t, byName["B good card"].Card.Error)
	assert.Equal(t, "PIV", byName["B good card"].Card.Plugin)
	assert.Nil(t, byName["C empty"].Card)

	b2 := virtual.NewBackend()
	b2.AddReader("A bad card").Insert(unreadable{})
	b2.AddReader("B good card").Insert(sim)
	b2.AddReader("C empty")
	r = runIO(t, &stdio{backend: b2}, "", "list")
	require.Equal(t, exitOK, r.code, r.err)
	assert.Contains(t, r.out, "error:       ")
	assert.Contains(t, r.out, "Card:        PIV")
	assert.Contains(t, r.out, "no card")
}

// corruptCertCard answers the GET DATA of one certificate object with an
// object that is not one (a 70 tag holding one byte of no certificate).
type corruptCertCard struct {
	virtual.Card
	tag [3]byte
}

func (c corruptCertCard) Transmit(apdu []byte) []byte {
	if len(apdu) >= 10 && apdu[1] == 0xCB && bytes.Contains(apdu, append([]byte{0x5C, 0x03}, c.tag[:]...)) {
		return []byte{0x53, 0x07, 0x70, 0x01, 0xFF, 0x71, 0x01, 0x00, 0xFE, 0x00, 0x90, 0x00}
	}
	return c.Card.Transmit(apdu)
}

// TestListShowsUnreadableCertificateBesideOthers: a certificate that
// cannot be read is reported on its key, which is still listed with its
// algorithm; the other containers, keys and certificates of the card are
// listed as usual.
func TestListShowsUnreadableCertificateBesideOthers(t *testing.T) {
	opened, err := simfile.Open(provisioned(t), simfile.Options{})
	require.NoError(t, err)
	b := virtual.NewBackend()
	b.AddReader("Reader 1").Insert(corruptCertCard{Card: opened.Card, tag: [3]byte{0x5F, 0xC1, 0x05}}) // 9A: ec256's
	r := runIO(t, &stdio{backend: nopRelease{b}}, "", "list", "-json")
	require.Equal(t, exitOK, r.code, r.err)
	var l listing
	require.NoError(t, json.Unmarshal([]byte(r.out), &l))
	require.Len(t, l.Readers, 1)
	ce := l.Readers[0].Card
	require.NotNil(t, ce)
	assert.Empty(t, ce.Error)
	assert.Empty(t, ce.ContainersErr)
	byName := map[string]containerEntry{}
	for _, c := range ce.Containers {
		byName[c.Name] = c
	}
	require.Len(t, byName, 3, "every container is listed")
	ec := byName["ec256"]
	assert.Empty(t, ec.Error)
	require.Len(t, ec.Keys, 1)
	assert.Equal(t, "ECDSA P-256", ec.Keys[0].Algorithm)
	assert.Nil(t, ec.Keys[0].Certificate)
	assert.NotEmpty(t, ec.Keys[0].CertError, "the certificate that cannot be read is reported on its key")
	for _, name := range []string{"ec384", "rsa"} {
		c := byName[name]
		assert.Empty(t, c.Error, name)
		if assert.Len(t, c.Keys, 1, name) {
			assert.NotEmpty(t, c.Keys[0].Algorithm, name)
			assert.Empty(t, c.Keys[0].CertError, name)
		}
	}
}

// TestKeyLifecycle runs the provisioning commands in order on one
// simulated card of each kind.
func TestKeyLifecycle(t *testing.T) {
	for _, kind := range []string{"piv", "gids"} {
		t.Run(kind, func(t *testing.T) {
			sim := simFile(t)
			g := []string{"-sim", sim, "-sim-card", kind, "-pin-stdin"}
			pin := "123456\n" // the default of both simulators
			cmd := func(stdin string, args ...string) result {
				return runCmd(t, stdin, append(append([]string{}, g...), args...)...)
			}
			ecPub := parsePublicKey(t, ok(t, cmd(pin, "generate", "-alg", "p256", "ec")).out)
			assert.IsType(t, &ecdsa.PublicKey{}, ecPub)
			rsaPub := parsePublicKey(t, ok(t, cmd(pin, "generate", "-alg", "rsa2048", "rsa")).out)
			assert.Equal(t, "RSA", fmtAlg(rsaPub))

			// A container name taken is refused.
			r := cmd(pin, "generate", "-alg", "p256", "ec")
			assert.Equal(t, exitFailed, r.code, r.err)
			assert.Contains(t, r.err, "choose another name")

			// selfsign stores the certificate; export returns it.
			self := ok(t, cmd(pin, "selfsign", "-subject", "CN=Alice,O=Example", "-days", "30", "ec")).out
			exp := ok(t, cmd("", "cert", "export", "ec")).out
			assert.Equal(t, self, exp)
			blk, _ := pem.Decode([]byte(exp))
			require.NotNil(t, blk)
			cert, err := x509.ParseCertificate(blk.Bytes)
			require.NoError(t, err)
			assert.Equal(t, "Alice", cert.Subject.CommonName)
			assert.True(t, publicEqual(cert.PublicKey, ecPub))

			// csr: signed by the card key.
			csrOut := ok(t, cmd(pin, "csr", "-subject", "CN=Bob", "rsa")).out
			blk, _ = pem.Decode([]byte(csrOut))
			require.NotNil(t, blk)
			req, err := x509.ParseCertificateRequest(blk.Bytes)
			require.NoError(t, err)
			require.NoError(t, req.CheckSignature())
			assert.True(t, publicEqual(req.PublicKey, rsaPub))

			// cert import: a certificate for the RSA key issued by a CA.
			certFile := filepath.Join(t.TempDir(), "rsa.pem")
			require.NoError(t, os.WriteFile(certFile, issue(t, rsaPub, "CN=Bob"), 0o600))
			ok(t, cmd(pin, "cert", "import", "-in", certFile, "rsa"))
			// ... but not for another key.
			r = cmd(pin, "cert", "import", "-in", certFile, "ec")
			assert.Equal(t, exitFailed, r.code)
			assert.Contains(t, r.err, "not of this container's key")

			// sign: ECDSA and RSA (PKCS #1 v1.5 and PSS), verified here too.
			data := filepath.Join(t.TempDir(), "data")
			require.NoError(t, os.WriteFile(data, []byte("hello"), 0o600))
			digest := sha256.Sum256([]byte("hello"))
			for _, sg := range []struct {
				name string
				args []string
				pub  crypto.PublicKey
				pss  bool
			}{{"ec", nil, ecPub, false}, {"rsa", nil, rsaPub, false}, {"rsa", []string{"-pss"}, rsaPub, true}} {
				args := append(append([]string{"sign", "-in", data}, sg.args...), sg.name)
				out := ok(t, cmd(pin, args...)).out
				sig, err := base64.StdEncoding.DecodeString(strings.TrimSpace(out))
				require.NoError(t, err)
				var opts crypto.SignerOpts = crypto.SHA256
				if sg.pss {
					opts = pssOpts()
				}
				assert.NoError(t, verifySig(sg.pub, digest[:], sig, opts))
			}

			// import: a PKCS #8 key with its certificate in one PEM file.
			key, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
			require.NoError(t, err)
			der, err := x509.MarshalPKCS8PrivateKey(key)
			require.NoError(t, err)
			keyFile := filepath.Join(t.TempDir(), "key.pem")
			pemData := append(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), issue(t, key.Public(), "CN=Imported")...)
			require.NoError(t, os.WriteFile(keyFile, pemData, 0o600))
			imp := parsePublicKey(t, ok(t, cmd(pin, "import", "-in", keyFile, "imported")).out)
			assert.True(t, publicEqual(imp, key.Public()))

			l := listJSON(t, "-sim", sim)
			c := l.Readers[0].Card
			require.NotNil(t, c)
			require.Empty(t, c.ContainersErr)
			names := map[string]containerEntry{}
			for _, ct := range c.Containers {
				names[ct.Name] = ct
			}
			require.Contains(t, names, "ec")
			require.Contains(t, names, "rsa")
			require.Contains(t, names, "imported")
			ec := names["ec"].Keys[0]
			assert.Equal(t, "ECDSA P-256", ec.Algorithm)
			require.NotNil(t, ec.Certificate)
			sum := sha256.Sum256(cert.Raw)
			assert.Equal(t, hexString(sum[:]), ec.Certificate.SHA256)
			assert.Equal(t, "CN=Alice,O=Example", ec.Certificate.Subject)
			assert.Equal(t, "RSA", names["rsa"].Keys[0].Algorithm)
			assert.Equal(t, 2048, names["rsa"].Keys[0].Bits)
			require.NotNil(t, names["rsa"].Keys[0].Certificate)
			assert.Equal(t, "CN=Test CA", names["rsa"].Keys[0].Certificate.Issuer)
			require.NotNil(t, names["imported"].Keys[0].Certificate)
			assert.Equal(t, "ECDSA P-384", names["imported"].Keys[0].Algorithm)

			// delete
			ok(t, cmd(pin, "delete", "imported"))
			r = cmd("", "cert", "export", "imported")
			assert.Equal(t, exitNotFound, r.code, r.err)
		})
	}
}

func fmtAlg(pub crypto.PublicKey) string { a, _ := algorithmOf(pub); return a }

func hexString(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}

// issue makes a PEM certificate for pub signed by a throwaway CA.
func issue(t *testing.T, pub crypto.PublicKey, cn string) []byte {
	t.Helper()
	ca, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	n, err := parseSubject(cn)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: n, Issuer: pkix.Name{CommonName: "Test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	parent := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Test CA"}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, ca)
	require.NoError(t, err)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// TestPINCommands: info, a wrong PIN, change, block, unblock with the PUK.
func TestPINCommands(t *testing.T) {
	sim := simFile(t)
	cmd := func(stdin string, args ...string) result {
		return runCmd(t, stdin, append([]string{"-sim", sim, "-pin-stdin"}, args...)...)
	}
	r := ok(t, cmd("", "pin", "info"))
	assert.Equal(t, "PIN: 3 of 3 tries left\nPUK: 3 of 3 tries left\n", r.out)

	r = cmd("000000\n111111\n", "pin", "change")
	assert.Equal(t, exitPIN, r.code, r.err)
	assert.Contains(t, r.err, "2 tries left")

	ok(t, cmd("123456\n654321\n", "pin", "change"))
	r = ok(t, cmd("", "pin", "info", "-json"))
	var info pinInfoOut
	require.NoError(t, json.Unmarshal([]byte(r.out), &info))
	assert.Equal(t, 3, info.PIN.Left, "a good PIN resets the counter")
	assert.Equal(t, "PIV", info.Plugin)

	ok(t, cmd("654321\n", "generate", "k"))
	for range 3 {
		cmd("000000\n", "sign", "-in", "/dev/null", "k")
	}
	r = cmd("654321\n", "sign", "-in", "/dev/null", "k")
	assert.Equal(t, exitPIN, r.code)
	assert.Contains(t, r.err, "cardmod pin unblock")
	r = ok(t, cmd("", "pin", "info"))
	assert.Contains(t, r.out, "PIN: blocked")

	ok(t, cmd(simpiv.DefaultPUK+"\n112233\n", "pin", "unblock"))
	ok(t, cmd("112233\n", "sign", "-in", "/dev/null", "k"))

	ok(t, cmd(simpiv.DefaultPUK+"\n87654321\n", "pin", "change", "-puk"))
	r = ok(t, cmd("", "pin", "info"))
	assert.Contains(t, r.out, "PUK: 3 of 3 tries left")
}

// TestTraceRedactsSecrets: -trace shows the APDUs, never the PIN.
func TestTraceRedactsSecrets(t *testing.T) {
	sim := simFile(t)
	r := ok(t, runCmd(t, "123456\n", "-sim", sim, "-pin-stdin", "-trace", "generate", "k"))
	assert.Contains(t, r.err, "apdu cardmod Simulated PIV 0 > 00 A4 04 00")
	assert.Contains(t, r.err, "00 20 00 80 [8 data bytes redacted]")
	assert.NotContains(t, r.err, "31 32 33 34 35 36", "the PIN in hex")
	// The management key's cryptogram is redacted both ways.
	assert.Regexp(t, `> 00 87 0A 9B \[\d+ data bytes redacted\]`, r.err)
	for _, line := range strings.Split(r.err, "\n") {
		if strings.Contains(line, "< ") && strings.Contains(line, "00 87") {
			t.Fatalf("unexpected: %s", line)
		}
	}
}

// TestInitBlankGIDS: init turns a blank GIDS card into one that lists and
// generates keys with the new PIN; a second init, or one on a PIV card, is
// refused with what to do.
func TestInitBlankGIDS(t *testing.T) {
	sim := simFile(t)
	r := ok(t, runCmd(t, "24681357\n", "-sim", sim, "-sim-card", "gids", "-pin-stdin", "init"))
	assert.Contains(t, r.err, "initialized")
	l := listJSON(t, "-sim", sim)
	require.NotNil(t, l.Readers[0].Card)
	assert.Equal(t, "GIDS", l.Readers[0].Card.Plugin)
	ok(t, runCmd(t, "24681357\n", "-sim", sim, "-pin-stdin", "generate", "-alg", "p256", "k"))
	// Refused before any PIN is asked (none on standard input).
	r = runCmd(t, "", "-sim", sim, "-pin-stdin", "init")
	assert.Equal(t, exitFailed, r.code, r.err)
	assert.Contains(t, r.err, "initialized already")

	// A PIV card has no card initialization.
	r = runCmd(t, "", "-sim", simFile(t), "-pin-stdin", "init")
	assert.Equal(t, exitFailed, r.code, r.err)
	assert.Contains(t, r.err, "init is for cards that are initialized by their holder (GIDS)")
	assert.Equal(t, 1, strings.Count(r.err, "\n"), "one line: %q", r.err)
}

func pssOpts() crypto.SignerOpts {
	return &rsaPSS
}

var rsaPSS = rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: crypto.SHA256}

// TestGIDSUnblock: a blocked GIDS PIN is unblocked with the admin key (a
// wrong one, given with -mgmt-key-file, leaves it blocked and says so), and
// cardcf's PIN counter moves (other processes drop the PIN they cached).
func TestGIDSUnblock(t *testing.T) {
	sim := simFile(t)
	cmd := func(stdin string, args ...string) result {
		return runCmd(t, stdin, append([]string{"-sim", sim, "-sim-card", "gids", "-pin-stdin"}, args...)...)
	}
	ok(t, cmd("123456\n", "generate", "k"))
	for range 3 {
		cmd("999999\n", "sign", "-in", "/dev/null", "k")
	}
	r := ok(t, cmd("", "pin", "info"))
	assert.Contains(t, r.out, "PIN: blocked")
	wrongKey := filepath.Join(t.TempDir(), "admin.hex")
	require.NoError(t, os.WriteFile(wrongKey, []byte(strings.Repeat("11", 24)+"\n"), 0o600))
	r = cmd("24682468\n", "-mgmt-key-file", wrongKey, "pin", "unblock")
	assert.Equal(t, exitFailed, r.code, "a wrong admin key unblocks nothing: %s", r.err)
	assert.Contains(t, r.err, "-mgmt-key-file", "the hint names the flag")
	r = ok(t, cmd("", "pin", "info"))
	assert.Contains(t, r.out, "PIN: blocked")
	before := pinsFreshness(t, sim)
	ok(t, cmd("24682468\n", "pin", "unblock"))
	assert.Equal(t, before+1, pinsFreshness(t, sim), "cardcf's PIN counter bumped")
	r = ok(t, cmd("", "pin", "info"))
	assert.Contains(t, r.out, "PIN: 3 tries left")
	ok(t, cmd("24682468\n", "sign", "-in", "/dev/null", "k"))
	r = cmd("123456\n", "sign", "-in", "/dev/null", "k")
	assert.Equal(t, exitPIN, r.code, "the old PIN is gone")
}

// pinsFreshness reads bPinsFreshness of the GIDS card in sim's cardcf.
func pinsFreshness(t *testing.T, sim string) byte {
	t.Helper()
	ctx := context.Background()
	opened, err := simfile.Open(sim, simfile.Options{})
	require.NoError(t, err)
	b := virtual.NewBackend()
	b.AddReader("R").Insert(opened.Card)
	conn, err := scrm.NewContext(b).Connect(ctx, "R", nil)
	require.NoError(t, err)
	defer conn.Close(scrm.LeaveCard)
	md, _, err := minidriver.NewRegistry(gids.Plugin{}).Open(ctx, conn, minidriver.Env{})
	require.NoError(t, err)
	defer md.Close()
	tx, err := conn.Begin(ctx)
	require.NoError(t, err)
	defer tx.End(scrm.LeaveCard)
	require.NoError(t, md.Resume(ctx, tx))
	raw, err := md.ReadFile(ctx, tx, "", cardfs.CardCFFile)
	require.NoError(t, err)
	cf, err := cardfs.ParseCardCF(raw)
	require.NoError(t, err)
	return cf.Pins
}

// TestTraceRedactsImportedKeys: -trace never shows the private key of an
// import, on either card.
func TestTraceRedactsImportedKeys(t *testing.T) {
	for _, kind := range []string{"piv", "gids"} {
		t.Run(kind, func(t *testing.T) {
			key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			require.NoError(t, err)
			der, err := x509.MarshalPKCS8PrivateKey(key)
			require.NoError(t, err)
			keyFile := filepath.Join(t.TempDir(), "key.pem")
			require.NoError(t, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600))
			r := ok(t, runCmd(t, "123456\n", "-sim", simFile(t), "-sim-card", kind, "-pin-stdin", "-trace", "import", "-in", keyFile, "k"))
			d, err := key.Bytes()
			require.NoError(t, err)
			assert.NotContains(t, r.err, spaced(d[:8]), "a piece of the private key in the trace")
			assert.Contains(t, r.err, "redacted")
		})
	}
}

// TestDocListsExitCodes: the package doc and `cardmod help` give the same
// exit codes.
func TestDocListsExitCodes(t *testing.T) {
	doc, err := os.ReadFile("doc.go")
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(exitCodesText), "\n")[1:]
	require.Len(t, lines, 6)
	for _, l := range lines {
		assert.Contains(t, string(doc), "//\t"+strings.TrimSpace(l)+"\n")
	}
}

// TestSimProfile: -profile makes the new -sim card of that family (every
// documented profile of both kinds; the card answers with the profile's
// ATR and behaves as the profile says), a state file that exists keeps its
// card's profile (and says so), and a name that is no profile of the kind,
// or -profile without -sim, is a usage error.
func TestSimProfile(t *testing.T) {
	for _, kind := range []string{simfile.KindPIV, simfile.KindGIDS} {
		for _, name := range simfile.ProfileNames(kind) {
			t.Run(name, func(t *testing.T) {
				sim := simFile(t)
				l := listJSON(t, "-sim", sim, "-sim-card", kind, "-profile", name)
				require.Len(t, l.Readers, 1)
				c := l.Readers[0].Card
				require.NotNil(t, c)
				require.Empty(t, c.Error)
				opened, err := simfile.Open(sim, simfile.Options{})
				require.NoError(t, err)
				assert.Equal(t, name, opened.Profile)
				assert.Equal(t, spaced(opened.Card.ATR()), c.ATR)
				if kind == simfile.KindPIV {
					p, ok := simpiv.ProfileByName(name)
					require.True(t, ok)
					assert.Equal(t, spaced(p.ATR), c.ATR, "the profile's ATR")
					assert.Equal(t, "PIV", c.Plugin)
					assert.Equal(t, p.Issued, c.ReadOnly, "an issued card is read-only")
				} else {
					assert.Equal(t, "GIDS", c.Plugin)
				}
			})
		}
	}

	t.Run("behaviour", func(t *testing.T) {
		tests := []struct {
			kind, profile, alg string
			code               int
		}{
			{simfile.KindGIDS, "gids-rsa-ec", "p256", exitOK},
			{simfile.KindGIDS, "gids-rsa", "p256", exitFailed}, // RSA-only card
			{simfile.KindPIV, "yubikey-5.7", "p256", exitOK},
			{simfile.KindPIV, "piv-issued", "p256", exitFailed}, // read-only for its holder
		}
		for _, tt := range tests {
			r := runCmd(t, "123456\n", "-sim", simFile(t), "-sim-card", tt.kind, "-profile", tt.profile, "-pin-stdin", "generate", "-alg", tt.alg, "k")
			assert.Equal(t, tt.code, r.code, "%s generate -alg %s: %s", tt.profile, tt.alg, r.err)
		}
	})

	t.Run("default", func(t *testing.T) {
		for _, kind := range []string{simfile.KindPIV, simfile.KindGIDS} {
			sim := simFile(t)
			listJSON(t, "-sim", sim, "-sim-card", kind)
			opened, err := simfile.Open(sim, simfile.Options{})
			require.NoError(t, err)
			assert.Equal(t, simfile.ProfileNames(kind)[0], opened.Profile, "the first profile listed is the default")
		}
	})

	t.Run("existing file keeps its profile", func(t *testing.T) {
		sim := simFile(t)
		listJSON(t, "-sim", sim, "-profile", "yubikey-4")
		r := ok(t, runCmd(t, "", "-sim", sim, "-profile", "piv-applet", "list"))
		assert.Contains(t, r.err, "-profile piv-applet ignored: "+sim+" holds a yubikey-4 piv card")
		r = ok(t, runCmd(t, "", "-sim", sim, "-profile", "yubikey-4", "list"))
		assert.Empty(t, r.err, "the profile it has: nothing to say")
		opened, err := simfile.Open(sim, simfile.Options{})
		require.NoError(t, err)
		assert.Equal(t, "yubikey-4", opened.Profile)
	})

	t.Run("usage", func(t *testing.T) {
		tests := []struct {
			name string
			args []string
			want string
		}{
			{"unknown", []string{"-sim", simFile(t), "-profile", "yubikey-99", "list"}, "yubikey-5.7, yubikey-5.4"},
			{"a PIV profile for a GIDS card", []string{"-sim", simFile(t), "-sim-card", "gids", "-profile", "yubikey-4", "list"}, "gids-rsa-ec, gids-rsa, gids-rsa-quiet"},
			{"without -sim", []string{"-profile", "yubikey-4", "list"}, "give -sim FILE"},
			{"serve without -sim", []string{"serve", "-profile", "gids-rsa"}, "give -sim FILE"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				r := runCmd(t, "", tt.args...)
				assert.Equal(t, exitUsage, r.code, r.err)
				assert.Contains(t, r.err, tt.want)
				assert.Equal(t, 1, strings.Count(r.err, "\n"), "one line: %q", r.err)
			})
		}
	})
}

// TestDocListsProfiles: `cardmod help` and the package doc name every
// profile of the simulated cards.
func TestDocListsProfiles(t *testing.T) {
	doc, err := os.ReadFile("doc.go")
	require.NoError(t, err)
	help := ok(t, runCmd(t, "", "help")).out
	for _, kind := range []string{simfile.KindPIV, simfile.KindGIDS} {
		for _, name := range simfile.ProfileNames(kind) {
			assert.Contains(t, help, name)
			assert.Contains(t, string(doc), name)
		}
	}
}

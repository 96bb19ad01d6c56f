package main

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	simpiv "github.com/cardmod/cardmod/cardsim/piv"
	"github.com/cardmod/cardmod/internal/pcscdtest"
)

// listThrough runs `cardmod -reader reader list -json` through pcscd.
func listThrough(t *testing.T, env *pcscdtest.Env, reader string) *cardEntry {
	t.Helper()
	r := runIO(t, &stdio{backend: nopRelease{env.Backend(t)}}, "", "-reader", reader, "list", "-json")
	require.Equal(t, exitOK, r.code, r.err)
	var l listing
	require.NoError(t, json.Unmarshal([]byte(r.out), &l), r.out)
	require.Len(t, l.Readers, 1)
	require.NotNil(t, l.Readers[0].Card, r.out)
	require.Empty(t, l.Readers[0].Card.Error)
	return l.Readers[0].Card
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

	ready := make(chan string, 1)
	sctx, stop := context.WithCancel(context.WithValue(ctx, serveReadyKey{}, func(r string) { ready <- r }))
	defer stop()
	var out, errb syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(sctx, []string{"-sim", sim, "serve", "-addr", slot.Addr, "-vpcd-reader", slot.Name}, &stdio{out: &out, err: &errb, getenv: func(string) string { return "" }})
	}()
	select {
	case r := <-ready:
		require.Equal(t, slot.Name, r)
	case code := <-done:
		t.Fatalf("serve ended with %d: %s", code, errb.String())
	}
	assert.Contains(t, errb.String(), "present in reader")
	assert.Equal(t, slot.Name+"\n", out.String())

	c := listThrough(t, env, slot.Name)
	assert.Equal(t, "PIV", c.Plugin)
	assert.Equal(t, "10000001", c.Serial)
	r := runIO(t, &stdio{backend: nopRelease{env.Backend(t)}}, "123456\n", "-reader", slot.Name, "-pin-stdin", "generate", "-alg", "p384", "served")
	require.Equal(t, exitOK, r.code, r.err)

	stop()
	select {
	case code := <-done:
		require.Equal(t, exitOK, code, errb.String())
	case <-time.After(time.Minute):
		t.Fatal("serve did not stop")
	}
	assert.Contains(t, errb.String(), "state saved in "+sim)
	l := listJSON(t, "-sim", sim)
	require.Len(t, l.Readers[0].Card.Containers, 1)
	assert.Equal(t, "served", l.Readers[0].Card.Containers[0].Name)
	assert.Equal(t, "ECDSA P-384", l.Readers[0].Card.Containers[0].Keys[0].Algorithm)
}

// TestListCardOfYubicoPIVTool: a card provisioned by yubico-piv-tool (a
// key generated in slot 9A, a certificate imported, a wrong PIN) is listed
// with what that tool shows.
func TestListCardOfYubicoPIVTool(t *testing.T) {
	env := pcscdtest.Require(t)
	tool := needTool(t, "yubico-piv-tool")
	// yubico-piv-tool 2.2.0 knows 3DES management keys only: firmware 5.4.
	card, err := simpiv.New(simpiv.Config{Version: simpiv.Version{Major: 5, Minor: 4, Patch: 3}, Serial: 4242})
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
	assert.Equal(t, "4242", c.Serial)
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
}

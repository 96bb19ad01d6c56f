package piv_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	simpiv "github.com/cardmod/cardmod/cardsim/piv"
	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/minidriver/minidrivertest"
	"github.com/cardmod/cardmod/minidriver/piv"
	"github.com/cardmod/cardmod/scrm"
	"github.com/cardmod/cardmod/scrm/pcsc/pcscdtest"
)

// TestConformancePCSCD runs the conformance suite on simulated YubiKeys
// presented to a real pcscd through vpcd (scripts/test.sh sets it up).
func TestConformancePCSCD(t *testing.T) {
	pc := pcscdtest.Require(t)
	var serial atomic.Uint32
	serial.Store(30000000)
	h := conformanceHarness(t)
	h.NewCard = func(t *testing.T) *scrm.Card {
		reader := pc.Insert(t, newSim(t, simpiv.Config{Serial: serial.Add(1)}))
		card, err := pc.Context(t).Connect(context.Background(), reader, nil)
		require.NoError(t, err)
		t.Cleanup(func() { _ = card.Close(scrm.LeaveCard) })
		provision(t, card)
		return card
	}
	minidrivertest.Run(t, h)
}

// pivTool runs yubico-piv-tool on reader.
func pivTool(t *testing.T, reader string, args ...string) string {
	t.Helper()
	out, err := exec.Command("yubico-piv-tool", append([]string{"-r", reader}, args...)...).CombinedOutput()
	require.NoError(t, err, "yubico-piv-tool %v: %s", args, out)
	return string(out)
}

// TestYubicoPIVToolInterop: a key and certificate provisioned with
// yubico-piv-tool appear as a container and a certificate file, and sign;
// a key and certificate made through the plug-in appear in
// yubico-piv-tool's status.
func TestYubicoPIVToolInterop(t *testing.T) {
	pc := pcscdtest.Require(t)
	if _, err := exec.LookPath("yubico-piv-tool"); err != nil {
		t.Fatalf("yubico-piv-tool: %v", err)
	}
	// Firmware 5.4: the factory management key is 3DES, which
	// yubico-piv-tool 2.2 assumes.
	sim := newSim(t, simpiv.Config{Version: simpiv.Version{Major: 5, Minor: 4, Patch: 3}})
	reader := pc.Insert(t, sim)
	dir := t.TempDir()

	pubPEM := pivTool(t, reader, "-a", "generate", "-s", "9a", "-A", "ECCP256")
	blk, _ := pem.Decode([]byte(pubPEM))
	require.NotNil(t, blk, "%s", pubPEM)
	pubAny, err := x509.ParsePKIXPublicKey(blk.Bytes)
	require.NoError(t, err)
	pub := pubAny.(*ecdsa.PublicKey)
	cert := makeCert(t, pub, "from yubico-piv-tool")
	certFile := filepath.Join(dir, "cert.pem")
	require.NoError(t, os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert}), 0o600))
	pivTool(t, reader, "-a", "import-certificate", "-s", "9a", "-i", certFile)

	ctx := context.Background()
	card, err := pc.Context(t).Connect(ctx, reader, nil)
	require.NoError(t, err)
	defer func() { _ = card.Close(scrm.LeaveCard) }()
	md, m, err := minidriver.NewRegistry(piv.Plugin{}).Open(ctx, card, minidriver.Env{})
	require.NoError(t, err)
	defer func() { _ = md.Close() }()
	assert.True(t, m.ByATR)
	e := &env{card: card, md: md}
	e.runEnd(t, scrm.ResetCard, func(ctx context.Context, tx *scrm.Tx) {
		files, err := md.ListFiles(ctx, tx, "mscp")
		require.NoError(t, err)
		assert.Contains(t, files, "ksc00")
		got, err := md.ReadFile(ctx, tx, "mscp", "ksc00")
		require.NoError(t, err)
		assert.Equal(t, cert, got)
		info, err := md.ContainerInfo(ctx, tx, 0)
		require.NoError(t, err)
		assert.True(t, pub.Equal(info.Signature))
		userPIN(t, ctx, md, tx)
		digest := sha256.Sum256([]byte("interop"))
		sig, err := md.SignData(ctx, tx, minidriver.SignRequest{Container: 0, Digest: digest[:]})
		require.NoError(t, err)
		assert.True(t, ecdsa.VerifyASN1(pub, digest[:], sig))
		opensslVerify(t, dir, pubAny, []byte("interop"), sig)

		// The other way: a key and certificate in 9D through the plug-in.
		admin(t, ctx, md, tx, simpiv.DefaultManagementKey)
		require.NoError(t, minidriver.CreateContainer(ctx, md, tx, minidriver.CreateContainerRequest{Index: 2, KeySpec: minidriver.ECDHP256}))
		info, err = md.ContainerInfo(ctx, tx, 2)
		require.NoError(t, err)
		require.NoError(t, minidriver.WriteFile(ctx, md, tx, "mscp", "kxc02", makeCert(t, info.KeyExchange, "from cardmod")))
	})
	status := pivTool(t, reader, "-a", "status")
	assert.Contains(t, status, "Slot 9d")
	assert.Contains(t, status, "from cardmod")
	assert.Contains(t, status, "from yubico-piv-tool")

	// OpenSC's PKCS #11 module lists both certificates too.
	out, err := pcscdtest.RunTool(t, pcscdtest.OpenSCConf(t, reader), "pkcs11-tool", "--module", opensc, "--slot-description", reader, "-O")
	require.NoError(t, err, "pkcs11-tool: %s", out)
	assert.Contains(t, string(out), "from cardmod")
	assert.Contains(t, string(out), "from yubico-piv-tool")
}

// opensc is Debian's OpenSC PKCS #11 module.
const opensc = "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so"

// opensslVerify checks sig over data (SHA-256) with openssl, as an
// application outside Go would.
func opensslVerify(t *testing.T, dir string, pub any, data, sig []byte) {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	require.NoError(t, err)
	pubFile := filepath.Join(dir, "verify-pub.pem")
	dataFile := filepath.Join(dir, "verify-data")
	sigFile := filepath.Join(dir, "verify-sig")
	require.NoError(t, os.WriteFile(pubFile, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o600))
	require.NoError(t, os.WriteFile(dataFile, data, 0o600))
	require.NoError(t, os.WriteFile(sigFile, sig, 0o600))
	out, err := exec.Command("openssl", "dgst", "-sha256", "-verify", pubFile, "-signature", sigFile, dataFile).CombinedOutput()
	require.NoError(t, err, "openssl: %s", out)
	assert.Contains(t, string(out), "Verified OK")
}

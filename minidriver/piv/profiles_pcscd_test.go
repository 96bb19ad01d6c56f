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
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	simpiv "github.com/cardmod/cardmod/cardsim/piv"
	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/minidriver/piv"
	"github.com/cardmod/cardmod/scrm"
	"github.com/cardmod/cardmod/scrm/pcsc/pcscdtest"
)

// TestPeerToolsOnProfiles runs, through pcscd, on every simulated PIV
// profile a peer tool can provision: a key generated and a certificate
// imported with yubico-piv-tool (which leaves no cardmod object) is a
// container that signs through the plug-in; a key and certificate made
// through the plug-in are listed by yubico-piv-tool and by OpenSC's
// pkcs11-tool. yubico-piv-tool 2.2 (Debian 12's) knows only 3DES
// management keys, so the YubiKey 5.7 profile's card (AES-192 from the
// factory) is one whose owner set a 3DES key, as `ykman piv access
// change-management-key -a TDES` does (Yubico's ykman PIV commands;
// TestInteropYubicoPIVToolAESManagementKey in cardsim/piv); the issued
// card, whose management key is its issuer's, is read: OpenSC lists its
// certificates, cardmod signs with them.
func TestPeerToolsOnProfiles(t *testing.T) {
	pc := pcscdtest.Require(t)
	for _, bin := range []string{"yubico-piv-tool", "pkcs11-tool", "openssl"} {
		_, err := exec.LookPath(bin)
		require.NoError(t, err, "%s is needed (scripts/test.sh installs it)", bin)
	}
	for i, p := range simpiv.Profiles() {
		t.Run(p.Name, func(t *testing.T) {
			cfg := simpiv.Config{Profile: p, Serial: 52000000 + uint32(i), Rand: seededN(uint32(52000000 + i))}
			if !p.Issued {
				cfg.ManagementKeyAlgorithm = simpiv.AlgTDES
			}
			sim := newSim(t, cfg)
			reader := pc.Insert(t, sim)
			dir := t.TempDir()
			peer := !p.Issued

			var pub *ecdsa.PublicKey
			var cert []byte
			if peer {
				pubPEM := pivTool(t, reader, "-a", "generate", "-s", "9a", "-A", "ECCP256")
				blk, _ := pem.Decode([]byte(pubPEM))
				require.NotNil(t, blk, "%s", pubPEM)
				pubAny, err := x509.ParsePKIXPublicKey(blk.Bytes)
				require.NoError(t, err)
				pub = pubAny.(*ecdsa.PublicKey)
				cert = makeCert(t, pub, "from yubico-piv-tool")
				certFile := filepath.Join(dir, "cert.pem")
				require.NoError(t, os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert}), 0o600))
				pivTool(t, reader, "-a", "import-certificate", "-s", "9a", "-i", certFile)
			}

			ctx := context.Background()
			card, err := pc.Context(t).Connect(ctx, reader, nil)
			require.NoError(t, err)
			defer func() { _ = card.Close(scrm.LeaveCard) }()
			md, _, err := minidriver.NewRegistry(piv.Plugin{}).Open(ctx, card, minidriver.Env{})
			require.NoError(t, err)
			defer func() { _ = md.Close() }()
			e := &env{card: card, md: md}
			e.runEnd(t, scrm.ResetCard, func(ctx context.Context, tx *scrm.Tx) {
				if peer {
					got, err := md.ReadFile(ctx, tx, "mscp", "ksc00")
					require.NoError(t, err)
					assert.Equal(t, cert, got)
				}
				info, err := md.ContainerInfo(ctx, tx, 0)
				require.NoError(t, err, "the key in 9A")
				if pub == nil {
					pub = info.Signature.(*ecdsa.PublicKey)
				}
				assert.True(t, pub.Equal(info.Signature))
				userPIN(t, ctx, md, tx)
				digest := sha256.Sum256([]byte("interop " + p.Name))
				sig, err := md.SignData(ctx, tx, minidriver.SignRequest{Container: 0, Digest: digest[:]})
				require.NoError(t, err)
				assert.True(t, ecdsa.VerifyASN1(pub, digest[:], sig))
				opensslVerify(t, dir, pub, []byte("interop "+p.Name), sig)
				if p.Issued {
					return
				}
				// The other way: a key and certificate in 9D through the
				// plug-in.
				admin(t, ctx, md, tx, simpiv.DefaultManagementKey)
				require.NoError(t, minidriver.CreateContainer(ctx, md, tx, minidriver.CreateContainerRequest{Index: 2, KeySpec: minidriver.ECDHP256}))
				info, err = md.ContainerInfo(ctx, tx, 2)
				require.NoError(t, err)
				require.NoError(t, minidriver.WriteFile(ctx, md, tx, "mscp", "kxc02", makeCert(t, info.KeyExchange, "from cardmod")))
			})
			out, err := pcscdtest.RunTool(t, pcscdtest.OpenSCConf(t, reader), "pkcs11-tool", "--module", opensc, "--slot-description", reader, "-O")
			require.NoError(t, err, "pkcs11-tool: %s", out)
			if p.Issued {
				assert.Contains(t, string(out), "cardsim PIV holder PIV Authentication")
				return
			}
			assert.Contains(t, string(out), "from cardmod")
			if peer {
				assert.Contains(t, string(out), "from yubico-piv-tool")
				status := pivTool(t, reader, "-a", "status")
				assert.Contains(t, status, "from cardmod")
				assert.Contains(t, status, "from yubico-piv-tool")
			}
		})
	}
}

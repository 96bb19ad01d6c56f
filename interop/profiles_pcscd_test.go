package interop

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"testing"
	"time"

	pivgo "github.com/go-piv/piv-go/v2/piv"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	simpiv "github.com/cardmod/cardmod/cardsim/piv"
	"github.com/cardmod/cardmod/minidriver"
	mdpiv "github.com/cardmod/cardmod/minidriver/piv"
	"github.com/cardmod/cardmod/scrm"
	"github.com/cardmod/cardmod/scrm/pcsc/pcscdtest"
)

// issueCert makes a certificate for pub, issued by a throwaway CA.
func issueCert(t *testing.T, pub any, cn string) []byte {
	t.Helper()
	ca, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, &x509.Certificate{Subject: pkix.Name{CommonName: "interop CA"}}, pub, ca)
	require.NoError(t, err)
	return der
}

// TestPivGoOnProfiles: on every simulated PIV profile where piv-go v2.6.0
// works, a key piv-go generates (leaving no cardmod object) is a container
// that signs through cardmod's plug-in, and a key and certificate cardmod
// makes are read by piv-go. piv-go needs Yubico's GET VERSION (its Open
// fails without it: the issued standard card) and knows the slot
// certificates only through the objects (the applet has no attestation and
// no 5FFFxx objects, which piv-go does not need here).
func TestPivGoOnProfiles(t *testing.T) {
	env := pcscdtest.Require(t)
	for i, p := range simpiv.Profiles() {
		t.Run(p.Name, func(t *testing.T) {
			card, err := simpiv.New(simpiv.Config{Profile: p, Serial: 53000000 + uint32(i)})
			require.NoError(t, err)
			reader, _ := env.InsertTB(t, card)

			yk, err := pivgo.Open(reader)
			if p.Version == (simpiv.Version{}) {
				require.Error(t, err, "piv-go opens a card without GET VERSION")
				if yk != nil {
					_ = yk.Close()
				}
				return
			}
			require.NoError(t, err, "piv.Open(%q)", reader)
			assert.Equal(t, pivgo.Version{Major: int(p.Version.Major), Minor: int(p.Version.Minor), Patch: int(p.Version.Patch)}, yk.Version())
			pub, err := yk.GenerateKey(pivgo.DefaultManagementKey, pivgo.SlotAuthentication,
				pivgo.Key{Algorithm: pivgo.AlgorithmEC256, PINPolicy: pivgo.PINPolicyOnce, TouchPolicy: pivgo.TouchPolicyNever})
			require.NoError(t, err, "piv-go GenerateKey")
			ecPub := pub.(*ecdsa.PublicKey)
			require.NoError(t, yk.SetCertificate(pivgo.DefaultManagementKey, pivgo.SlotAuthentication,
				parseCertDER(t, issueCert(t, ecPub, "from piv-go"))))
			require.NoError(t, yk.Close())

			ctx := context.Background()
			sc, err := env.Context(t).Connect(ctx, reader, nil)
			require.NoError(t, err)
			md, _, err := minidriver.NewRegistry(mdpiv.Plugin{}).Open(ctx, sc, minidriver.Env{})
			require.NoError(t, err)
			tx, err := sc.Begin(ctx)
			require.NoError(t, err)
			require.NoError(t, md.Resume(ctx, tx))
			info, err := md.ContainerInfo(ctx, tx, 0)
			require.NoError(t, err)
			assert.True(t, ecPub.Equal(info.Signature), "piv-go's key is container 0")
			_, err = md.Authenticate(ctx, tx, mdpiv.PINUser, []byte(simpiv.DefaultPIN), 0)
			require.NoError(t, err)
			digest := sha256.Sum256([]byte("piv-go and cardmod on " + p.Name))
			sig, err := md.SignData(ctx, tx, minidriver.SignRequest{Container: 0, Digest: digest[:]})
			require.NoError(t, err)
			assert.True(t, ecdsa.VerifyASN1(ecPub, digest[:], sig))
			// cardmod's key in 9D, with its certificate.
			ch, err := minidriver.Challenge(ctx, md, tx, mdpiv.PINAdmin)
			require.NoError(t, err)
			resp, err := mdpiv.ManagementKeyResponse(simpiv.DefaultManagementKey, ch)
			require.NoError(t, err)
			_, err = md.Authenticate(ctx, tx, mdpiv.PINAdmin, resp, 0)
			require.NoError(t, err)
			require.NoError(t, minidriver.CreateContainer(ctx, md, tx, minidriver.CreateContainerRequest{Index: 2, KeySpec: minidriver.ECDHP256}))
			info, err = md.ContainerInfo(ctx, tx, 2)
			require.NoError(t, err)
			mine := issueCert(t, info.KeyExchange, "from cardmod")
			require.NoError(t, minidriver.WriteFile(ctx, md, tx, "mscp", "kxc02", mine))
			require.NoError(t, tx.End(scrm.ResetCard))
			require.NoError(t, md.Close())
			require.NoError(t, sc.Close(scrm.LeaveCard))

			yk, err = pivgo.Open(reader)
			require.NoError(t, err)
			defer func() { _ = yk.Close() }()
			cert, err := yk.Certificate(pivgo.SlotKeyManagement)
			require.NoError(t, err, "piv-go reads cardmod's certificate")
			assert.Equal(t, mine, cert.Raw)
		})
	}
}

func parseCertDER(t *testing.T, der []byte) *x509.Certificate {
	t.Helper()
	c, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return c
}

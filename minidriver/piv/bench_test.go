package piv_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	simpiv "github.com/cardmod/cardmod/cardsim/piv"
	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/minidriver/minidrivertest"
	"github.com/cardmod/cardmod/minidriver/piv"
	"github.com/cardmod/cardmod/scrm"
)

// benchCard is a card with an RSA-2048 key in container 0 (slot 9A) and
// an ECDH P-256 key in container 2 (9D), each with a certificate.
func benchCard(b *testing.B) *env {
	e := newEnv(b, newSim(b, simpiv.Config{}), piv.Plugin{})
	key := testRSAKey(b)
	e.run(b, func(ctx context.Context, tx *scrm.Tx) {
		admin(b, ctx, e.md, tx, simpiv.DefaultManagementKey)
		require.NoError(b, minidriver.CreateContainer(ctx, e.md, tx, minidriver.CreateContainerRequest{Index: 0, KeySpec: minidriver.KeyExchange, Key: key}))
		require.NoError(b, minidriver.CreateContainer(ctx, e.md, tx, minidriver.CreateContainerRequest{Index: 2, KeySpec: minidriver.ECDHP256}))
		require.NoError(b, minidriver.WriteFile(ctx, e.md, tx, "mscp", "kxc00", makeCert(b, &key.PublicKey, "rsa")))
		p256, err := ecdsa.GenerateKey(ecdsaCurve(), rand.Reader)
		require.NoError(b, err)
		require.NoError(b, minidriver.WriteFile(ctx, e.md, tx, "mscp", "kxc02", makeCert(b, &p256.PublicKey, "ec")))
	})
	return e
}

// measure runs op in transactions as the engine runs them and reports
// APDUs per operation (minidrivertest.Measure), with the user PIN verified
// when pin is set.
func measure(b *testing.B, e *env, pin bool, op func(ctx context.Context, tx *scrm.Tx) error) {
	var secret []byte
	if pin {
		secret = []byte(simpiv.DefaultPIN)
	}
	minidrivertest.Measure(b, e.card, e.md, piv.PINUser, secret, op)
}

func BenchmarkSignRSA2048(b *testing.B) {
	e := benchCard(b)
	digest := sha256.Sum256([]byte("bench"))
	measure(b, e, true, func(ctx context.Context, tx *scrm.Tx) error {
		_, err := e.md.SignData(ctx, tx, minidriver.SignRequest{Container: 0, KeySpec: minidriver.KeyExchange, Digest: digest[:], Padding: minidriver.PaddingPKCS1, Hash: crypto.SHA256})
		return err
	})
}

func BenchmarkSignP256(b *testing.B) {
	e := benchCard(b)
	e.run(b, func(ctx context.Context, tx *scrm.Tx) {
		admin(b, ctx, e.md, tx, simpiv.DefaultManagementKey)
		require.NoError(b, minidriver.CreateContainer(ctx, e.md, tx, minidriver.CreateContainerRequest{Index: 3, KeySpec: minidriver.ECDSAP256}))
	})
	digest := sha256.Sum256([]byte("bench"))
	// Slot 9E: no PIN.
	measure(b, e, false, func(ctx context.Context, tx *scrm.Tx) error {
		_, err := e.md.SignData(ctx, tx, minidriver.SignRequest{Container: 3, Digest: digest[:]})
		return err
	})
}

func BenchmarkDecryptRSA2048(b *testing.B) {
	e := benchCard(b)
	ct, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, &testRSAKey(b).PublicKey, []byte("key"), nil)
	require.NoError(b, err)
	measure(b, e, true, func(ctx context.Context, tx *scrm.Tx) error {
		_, err := minidriver.RSADecrypt(ctx, e.md, tx, minidriver.DecryptRequest{Container: 0, KeySpec: minidriver.KeyExchange, Ciphertext: ct, Padding: minidriver.PaddingNone})
		return err
	})
}

func BenchmarkAgreeP256(b *testing.B) {
	e := benchCard(b)
	peer, err := ecdhCurve().GenerateKey(rand.Reader)
	require.NoError(b, err)
	measure(b, e, true, func(ctx context.Context, tx *scrm.Tx) error {
		idx, err := minidriver.Agree(ctx, e.md, tx, 2, peer.PublicKey())
		if err != nil {
			return err
		}
		return e.md.(minidriver.KeyAgreer).DestroyAgreement(idx)
	})
}

// BenchmarkReadAllCertificates lists mscp and reads every certificate: on
// a card without a stored container map (one GET METADATA per slot) and on
// one with Yubico's map in 5FFF10 (written back as the engine does).
func BenchmarkReadAllCertificates(b *testing.B) {
	for _, stored := range []bool{false, true} {
		name := "NoStoredMap"
		if stored {
			name = "StoredMap"
		}
		b.Run(name, func(b *testing.B) {
			e := benchCard(b)
			if stored {
				e.run(b, func(ctx context.Context, tx *scrm.Tx) {
					m, err := e.md.ReadFile(ctx, tx, "mscp", "cmapfile")
					require.NoError(b, err)
					admin(b, ctx, e.md, tx, simpiv.DefaultManagementKey)
					require.NoError(b, minidriver.WriteFile(ctx, e.md, tx, "mscp", "cmapfile", m))
				})
			}
			measure(b, e, false, func(ctx context.Context, tx *scrm.Tx) error {
				files, err := e.md.ListFiles(ctx, tx, "mscp")
				if err != nil {
					return err
				}
				n := 0
				for _, f := range files {
					if strings.HasPrefix(f, "k") {
						if _, err := e.md.ReadFile(ctx, tx, "mscp", f); err != nil {
							return err
						}
						n++
					}
				}
				if n != 2 {
					b.Fatalf("%d certificates", n)
				}
				return nil
			})
		})
	}
}

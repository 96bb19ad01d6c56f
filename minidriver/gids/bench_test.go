package gids_test

import (
	"context"
	"crypto"
	"crypto/ecdh"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cardmod/cardmod/cardfs"
	simgids "github.com/cardmod/cardmod/cardsim/gids"
	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/minidriver/gids"
	"github.com/cardmod/cardmod/minidriver/minidrivertest"
	"github.com/cardmod/cardmod/scrm"
)

// benchCard is a card with an RSA-2048 key exchange key in container 0,
// an ECDSA P-256 key in container 1 and an ECDH P-256 key in container 2,
// containers 0 and 2 with a certificate.
func benchCard(b *testing.B) (*env, *rsa.PublicKey) {
	e := newEnv(b, nil)
	var pub *rsa.PublicKey
	e.run(b, func(ctx context.Context, tx *scrm.Tx) {
		userPIN(b, ctx, e.md, tx)
		require.NoError(b, minidriver.CreateContainer(ctx, e.md, tx, minidriver.CreateContainerRequest{Index: 0, KeySpec: minidriver.KeyExchange, Bits: 2048}))
		require.NoError(b, minidriver.CreateContainer(ctx, e.md, tx, minidriver.CreateContainerRequest{Index: 1, KeySpec: minidriver.ECDSAP256}))
		require.NoError(b, minidriver.CreateContainer(ctx, e.md, tx, minidriver.CreateContainerRequest{Index: 2, KeySpec: minidriver.ECDHP256}))
		for _, idx := range []int{0, 2} {
			info, err := e.md.ContainerInfo(ctx, tx, idx)
			require.NoError(b, err)
			var certPub crypto.PublicKey = info.KeyExchange
			if k, ok := info.KeyExchange.(*ecdh.PublicKey); ok {
				certPub = ecdsaOf(b, k)
			} else {
				pub = info.KeyExchange.(*rsa.PublicKey)
			}
			name, err := cardfs.CertFileName(idx, cardfs.KeySpecKeyExchange)
			require.NoError(b, err)
			require.NoError(b, minidriver.CreateFile(ctx, e.md, tx, "mscp", name, cardfs.EveryoneReadUserWriteAc))
			require.NoError(b, minidriver.WriteFile(ctx, e.md, tx, "mscp", name, makeCert(b, certPub, name)))
		}
	})
	return e, pub
}

// measure runs op in transactions as the engine runs them and reports
// APDUs per operation (minidrivertest.Measure), with the user PIN verified
// when pin is set.
func measure(b *testing.B, e *env, pin bool, op func(ctx context.Context, tx *scrm.Tx) error) {
	var secret []byte
	if pin {
		secret = []byte(simgids.DefaultPIN)
	}
	minidrivertest.Measure(b, e.card, e.md, gids.PINUser, secret, op)
}

func BenchmarkSignRSA2048(b *testing.B) {
	e, _ := benchCard(b)
	digest := sha256.Sum256([]byte("bench"))
	measure(b, e, true, func(ctx context.Context, tx *scrm.Tx) error {
		_, err := e.md.SignData(ctx, tx, minidriver.SignRequest{Container: 0, KeySpec: minidriver.KeyExchange, Digest: digest[:], Padding: minidriver.PaddingPKCS1, Hash: crypto.SHA256})
		return err
	})
}

func BenchmarkSignP256(b *testing.B) {
	e, _ := benchCard(b)
	digest := sha256.Sum256([]byte("bench"))
	measure(b, e, true, func(ctx context.Context, tx *scrm.Tx) error {
		_, err := e.md.SignData(ctx, tx, minidriver.SignRequest{Container: 1, KeySpec: minidriver.ECDSAP256, Digest: digest[:]})
		return err
	})
}

func BenchmarkDecryptRSA2048(b *testing.B) {
	e, pub := benchCard(b)
	ct, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, pub, []byte("key"), nil)
	require.NoError(b, err)
	measure(b, e, true, func(ctx context.Context, tx *scrm.Tx) error {
		_, err := minidriver.RSADecrypt(ctx, e.md, tx, minidriver.DecryptRequest{Container: 0, KeySpec: minidriver.KeyExchange, Ciphertext: ct, Padding: minidriver.PaddingNone})
		return err
	})
}

func BenchmarkAgreeP256(b *testing.B) {
	e, _ := benchCard(b)
	peer, err := ecdh.P256().GenerateKey(rand.Reader)
	require.NoError(b, err)
	measure(b, e, true, func(ctx context.Context, tx *scrm.Tx) error {
		idx, err := minidriver.Agree(ctx, e.md, tx, 2, peer.PublicKey())
		if err != nil {
			return err
		}
		return e.md.(minidriver.KeyAgreer).DestroyAgreement(idx)
	})
}

// BenchmarkReadAllCertificates lists mscp and reads every certificate.
func BenchmarkReadAllCertificates(b *testing.B) {
	e, _ := benchCard(b)
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
}

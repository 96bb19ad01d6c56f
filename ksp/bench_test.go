package ksp_test

import (
	"context"
	"crypto"
	"crypto/ecdh"
	"crypto/rand"
	"crypto/sha256"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cardmod/cardmod/ksp"
)

func reportAPDUs(b *testing.B, total uint64) {
	b.ReportMetric(float64(total)/float64(b.N), "APDUs/op")
}

// BenchmarkECDSASignP256: a P-256 signature through the KSP with the PIN
// and key data cached (shared mode).
func BenchmarkECDSASignP256(b *testing.B) {
	f := newFixture(b, ksp.Config{})
	k := f.create(b, "ec", ksp.ECDSAP256, nil)
	digest := sha256.Sum256(nil)
	_, err := k.Sign(rand.Reader, digest[:], crypto.SHA256)
	require.NoError(b, err)
	before := k.Stats()
	b.ResetTimer()
	for range b.N {
		if _, err := k.Sign(rand.Reader, digest[:], crypto.SHA256); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	reportAPDUs(b, k.Stats().Sub(before).APDUs)
}

func benchAgree(b *testing.B, run func(k *ksp.Key, peer *ecdh.PublicKey) error) {
	f := newFixture(b, ksp.Config{})
	k := f.create(b, "dh", ksp.ECDHP256, nil)
	peer, err := ecdh.P256().GenerateKey(rand.Reader)
	require.NoError(b, err)
	require.NoError(b, run(k, peer.PublicKey()))
	before := k.Stats()
	b.ResetTimer()
	for range b.N {
		if err := run(k, peer.PublicKey()); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	reportAPDUs(b, k.Stats().Sub(before).APDUs)
}

// BenchmarkECDHAgreementP256: one ECDH agreement on the card returning
// Z (Key.ECDH).
func BenchmarkECDHAgreementP256(b *testing.B) {
	benchAgree(b, func(k *ksp.Key, peer *ecdh.PublicKey) error {
		_, err := k.ECDH(peer)
		return err
	})
}

// BenchmarkSecretAgreementDeriveP256: SecretAgreement, one Derive, Close
// (the NCryptSecretAgreement / NCryptDeriveKey / free sequence).
func BenchmarkSecretAgreementDeriveP256(b *testing.B) {
	ctx := context.Background()
	benchAgree(b, func(k *ksp.Key, peer *ecdh.PublicKey) error {
		s, err := k.SecretAgreement(ctx, peer)
		if err != nil {
			return err
		}
		defer s.Close()
		_, err = s.DeriveContext(ctx, kdfSHA256{})
		return err
	})
}

// kdfSHA256 is a minimal KDF for the benchmark: SHA-256(Z).
type kdfSHA256 struct{}

func (kdfSHA256) Derive(z []byte) ([]byte, error) {
	d := sha256.Sum256(z)
	return d[:], nil
}

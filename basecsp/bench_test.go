package basecsp_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cardmod/cardmod/basecsp"
	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/scrm"
)

// stats returns the APDU counts of provider p's connection to the card.
func stats(b *testing.B, p *basecsp.Provider) scrm.Stats {
	b.Helper()
	card, err := p.Card(context.Background(), "")
	require.NoError(b, err)
	return card.Stats()
}

func reportAPDUs(b *testing.B, total uint64) {
	b.ReportMetric(float64(total)/float64(b.N), "APDUs/op")
}

func benchSignWarm(b *testing.B, cfg basecsp.Config) {
	f := newFixture(b, cfg)
	k := f.create(b, "ec", minidriver.ECDSAP256, nil)
	digest := sha256.Sum256(nil)
	_, err := k.Sign(rand.Reader, digest[:], crypto.SHA256)
	require.NoError(b, err)
	before := stats(b, f.p)
	b.ResetTimer()
	for range b.N {
		if _, err := k.Sign(rand.Reader, digest[:], crypto.SHA256); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	reportAPDUs(b, stats(b, f.p).Sub(before).APDUs)
}

// BenchmarkSignP256Warm: a P-256 signature with the PIN and container
// data cached, shared mode.
func BenchmarkSignP256Warm(b *testing.B) { benchSignWarm(b, basecsp.Config{}) }

// BenchmarkSignP256WarmExclusive: the same in exclusive mode.
func BenchmarkSignP256WarmExclusive(b *testing.B) { benchSignWarm(b, basecsp.Config{Exclusive: true}) }

func benchSignFirst(b *testing.B, disk bool) {
	f := newFixture(b, basecsp.Config{})
	f.create(b, "ec", minidriver.ECDSAP256, nil)
	dir := b.TempDir()
	digest := sha256.Sum256(nil)
	run := func() uint64 {
		cfg := basecsp.Config{}
		if disk {
			cfg.CacheDir = dir
		}
		p := f.open(b, cfg) // closed at the end: Close releases the shared backend
		ct, err := p.Container(context.Background(), "ec")
		if err != nil {
			b.Fatal(err)
		}
		k, err := ct.Key(minidriver.ECDSAP256)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := k.Sign(rand.Reader, digest[:], crypto.SHA256); err != nil {
			b.Fatal(err)
		}
		return stats(b, p).APDUs
	}
	if disk {
		run() // fill the disk cache
	}
	var total uint64
	b.ResetTimer()
	for range b.N {
		total += run()
	}
	b.StopTimer()
	reportAPDUs(b, total)
}

// BenchmarkSignP256FirstAfterOpen: a new provider opens the card, the
// container, and signs once (nothing cached).
func BenchmarkSignP256FirstAfterOpen(b *testing.B) { benchSignFirst(b, false) }

// BenchmarkSignP256NewProcessDiskCache: the same with an on-disk cache an
// earlier provider (process) filled.
func BenchmarkSignP256NewProcessDiskCache(b *testing.B) { benchSignFirst(b, true) }

// BenchmarkDecryptRSA2048: PKCS #1 v1.5 decryption, warm.
func BenchmarkDecryptRSA2048(b *testing.B) {
	f, k := rsaFixture(b)
	c := encryptPKCS1v15(b, k.Public().(*rsa.PublicKey), []byte("0123456789abcdef"))
	_, err := k.Decrypt(rand.Reader, c, nil)
	require.NoError(b, err)
	before := stats(b, f.p)
	b.ResetTimer()
	for range b.N {
		if _, err := k.Decrypt(rand.Reader, c, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	reportAPDUs(b, stats(b, f.p).Sub(before).APDUs)
}

// certFixture holds four containers with certificates.
func certFixture(b *testing.B) *fixture {
	f := newFixture(b, basecsp.Config{})
	for _, name := range []string{"a", "b", "c", "d"} {
		k := f.create(b, name, minidriver.ECDSAP256, nil)
		require.NoError(b, k.SetCertificate(context.Background(), selfSigned(b, k, name)))
	}
	return f
}

// BenchmarkCertificatesCold: a new provider lists the four certificates.
func BenchmarkCertificatesCold(b *testing.B) {
	f := certFixture(b)
	var total uint64
	b.ResetTimer()
	for range b.N {
		p := f.open(b, basecsp.Config{})
		certs, err := p.Certificates(context.Background())
		if err != nil || len(certs) != 4 {
			b.Fatal(len(certs), err)
		}
		total += stats(b, p).APDUs
	}
	b.StopTimer()
	reportAPDUs(b, total)
}

// BenchmarkCertificatesWarm: the same provider lists them again.
func BenchmarkCertificatesWarm(b *testing.B) {
	f := certFixture(b)
	_, err := f.p.Certificates(context.Background())
	require.NoError(b, err)
	before := stats(b, f.p)
	b.ResetTimer()
	for range b.N {
		certs, err := f.p.Certificates(context.Background())
		if err != nil || len(certs) != 4 {
			b.Fatal(len(certs), err)
		}
	}
	b.StopTimer()
	reportAPDUs(b, stats(b, f.p).Sub(before).APDUs)
}

package ksp_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cardmod/cardmod/basecsp"
	simpiv "github.com/cardmod/cardmod/cardsim/piv"
	"github.com/cardmod/cardmod/ksp"
	"github.com/cardmod/cardmod/pincache"
	"github.com/cardmod/cardmod/scrm/virtual"
)

const readerName = "Virtual Reader 0"

// prompt answers with the PIN it holds and counts the questions.
type prompt struct {
	pin   atomic.Value // string
	count atomic.Int32
}

func newPrompt(pin string) *prompt {
	p := &prompt{}
	p.pin.Store(pin)
	return p
}

func (p *prompt) PIN(ctx context.Context, r pincache.Request) (*pincache.Secret, error) {
	p.count.Add(1)
	return pincache.NewSecret([]byte(p.pin.Load().(string))), nil
}

type fixture struct {
	b      *virtual.Backend
	reader *virtual.Reader
	sim    *simpiv.Card
	prompt *prompt
	p      *ksp.Provider
}

// newFixture opens a KSP on a virtual reader holding a fresh simulated
// YubiKey. cfg's Backend, Prompt and AdminResponse are filled in when
// empty (Prompt only when not silent).
func newFixture(t testing.TB, cfg ksp.Config) *fixture {
	t.Helper()
	return newFixtureSim(t, simpiv.Config{}, cfg)
}

// newFixtureSim is newFixture with a simulated card set up by simCfg.
func newFixtureSim(t testing.TB, simCfg simpiv.Config, cfg ksp.Config) *fixture {
	t.Helper()
	sim, err := simpiv.New(simCfg)
	require.NoError(t, err)
	b := virtual.NewBackend()
	r := b.AddReader(readerName)
	r.Insert(sim)
	f := &fixture{b: b, reader: r, sim: sim, prompt: newPrompt(simpiv.DefaultPIN)}
	f.p = f.open(t, cfg)
	return f
}

// open opens another KSP on the fixture's backend.
func (f *fixture) open(t testing.TB, cfg ksp.Config) *ksp.Provider {
	t.Helper()
	cfg.Backend = f.b
	if cfg.Prompt == nil && !cfg.Silent {
		cfg.Prompt = f.prompt
	}
	if cfg.AdminResponse == nil {
		cfg.AdminResponse = ksp.PIVManagementKey(simpiv.DefaultManagementKey)
	}
	p, err := ksp.Open(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// baseCSP opens a Base CSP on the fixture's backend.
func (f *fixture) baseCSP(t testing.TB) *basecsp.Provider {
	t.Helper()
	p, err := basecsp.Open(basecsp.Config{Backend: f.b, Prompt: f.prompt,
		AdminResponse: basecsp.PIVManagementKey(simpiv.DefaultManagementKey)})
	require.NoError(t, err)
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// create makes a key of alg named name, generated on the card (priv nil)
// or imported.
func (f *fixture) create(t testing.TB, name string, alg ksp.Algorithm, priv crypto.PrivateKey) *ksp.Key {
	t.Helper()
	ctx := context.Background()
	k, err := f.p.CreatePersistedKey(ctx, name, alg)
	require.NoError(t, err)
	if priv == nil {
		require.NoError(t, k.Finalize(ctx))
	} else {
		require.NoError(t, k.FinalizeImport(ctx, priv))
	}
	return k
}

var rsaKeys struct {
	once sync.Once
	k    *rsa.PrivateKey
	err  error
}

// rsaKey returns one RSA-2048 key for every test: generating keys on the
// simulated card is slow under the race detector, importing is not.
func rsaKey(t testing.TB) *rsa.PrivateKey {
	t.Helper()
	rsaKeys.once.Do(func() { rsaKeys.k, rsaKeys.err = rsa.GenerateKey(rand.Reader, 2048) })
	require.NoError(t, rsaKeys.err)
	return rsaKeys.k
}

// selfSigned issues a self-signed certificate for the card key k.
func selfSigned(t testing.TB, k crypto.Signer, cn string) *x509.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{cn},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.Public(), k)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return cert
}

// softKey is a software P-256 key.
func softKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	return k
}

// tlsHandshake runs a TLS handshake over net.Pipe in which the client
// authenticates with key (and its certificate) and the server requires and
// verifies it.
func tlsHandshake(t *testing.T, version uint16, key crypto.Signer, cert *x509.Certificate) {
	t.Helper()
	srvKey := softKey(t)
	srvCert := selfSigned(t, srvKey, "server.test")
	clientCAs, serverCAs := x509.NewCertPool(), x509.NewCertPool()
	clientCAs.AddCert(cert)
	serverCAs.AddCert(srvCert)

	cc, sc := net.Pipe()
	defer cc.Close()
	defer sc.Close()
	server := tls.Server(sc, &tls.Config{
		MinVersion: version, MaxVersion: version,
		Certificates: []tls.Certificate{{Certificate: [][]byte{srvCert.Raw}, PrivateKey: srvKey}},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    clientCAs,
	})
	client := tls.Client(cc, &tls.Config{
		MinVersion: version, MaxVersion: version,
		ServerName:   "server.test",
		RootCAs:      serverCAs,
		Certificates: []tls.Certificate{{Certificate: [][]byte{cert.Raw}, PrivateKey: key}},
	})
	done := make(chan error, 1)
	go func() { done <- server.Handshake() }()
	require.NoError(t, client.Handshake())
	require.NoError(t, <-done)
	state := server.ConnectionState()
	require.Len(t, state.PeerCertificates, 1)
	assert.Equal(t, cert.Raw, state.PeerCertificates[0].Raw, "the server verified the card's certificate")
	assert.Equal(t, version, state.Version)
}

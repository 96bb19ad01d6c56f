// Package csptest is the test kit of the providers (packages basecsp and
// ksp), beside them as net/http/httptest is beside net/http: a counting
// PIN prompt, keys and certificates, a TLS handshake with client
// authentication by a card key, simulated cards that count or corrupt
// what they answer (CountingCard, FaultCard), and the provider behaviour
// written once and run through an adapter of each provider's API
// (Suite, Provider, Key):
//
//   - Run: every simulated card profile (Profiles), PIV and GIDS: keys
//     generated, listed (ListKeys, FindKey by the plug-in's address) and
//     used, certificates, the PIN;
//   - RunClosed: after Close, every method fails with the provider's
//     ErrClosed, with no APDU and no PIN prompt;
//   - RunListing: listings beside a card or a certificate that cannot be
//     read;
//   - RunInput: caller input refused before the card.
//
// The adapter's types are the providers' own under the core's names:
// keystore.KeyInfo is keystore.KeyInfo and keystore.KeyInfo, cspcore.Query their
// KeyQuery, cspcore.CertEntry their CertEntry, cspcore.CardErrors their
// CardErrors. Only tests import this package (scrm's TestImportLayers).
//
// Concurrency: Prompt is safe for concurrent use; the functions may be
// called from parallel tests.
package csptest

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

	"github.com/cardmod/cardmod/pincache"
)

// Prompt answers with the PIN it holds and counts the questions.
type Prompt struct {
	// Answer holds the PIN (a string) given to every question.
	Answer atomic.Value
	// Count is the number of questions asked.
	Count atomic.Int32
}

// NewPrompt returns a Prompt answering pin.
func NewPrompt(pin string) *Prompt {
	p := &Prompt{}
	p.Answer.Store(pin)
	return p
}

// PIN implements pincache.Prompt.
func (p *Prompt) PIN(ctx context.Context, r pincache.Request) (*pincache.Secret, error) {
	p.Count.Add(1)
	return pincache.NewSecret([]byte(p.Answer.Load().(string))), nil
}

var rsaKeys struct {
	once sync.Once
	k    *rsa.PrivateKey
	err  error
}

// RSAKey returns one RSA-2048 key for every test of the binary:
// generating keys on the simulated card is slow under the race detector,
// importing is not.
func RSAKey(t testing.TB) *rsa.PrivateKey {
	t.Helper()
	rsaKeys.once.Do(func() { rsaKeys.k, rsaKeys.err = rsa.GenerateKey(rand.Reader, 2048) })
	require.NoError(t, rsaKeys.err)
	return rsaKeys.k
}

// SelfSigned issues a self-signed certificate for the card key k.
func SelfSigned(t testing.TB, k crypto.Signer, cn string) *x509.Certificate {
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

// SoftKey is a software P-256 key.
func SoftKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	return k
}

// TLSHandshake runs a TLS handshake of version over net.Pipe in which
// the client authenticates with key (and its certificate) and the server
// requires and verifies it.
func TLSHandshake(t *testing.T, version uint16, key crypto.Signer, cert *x509.Certificate) {
	t.Helper()
	srvKey := SoftKey(t)
	srvCert := SelfSigned(t, srvKey, "server.test")
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

// EncryptPKCS1v15 builds a PKCS #1 v1.5 type 2 ciphertext of msg for pub
// (RFC 8017, 7.2.1; rsa.EncryptPKCS1v15 is deprecated).
func EncryptPKCS1v15(t testing.TB, pub *rsa.PublicKey, msg []byte) []byte {
	t.Helper()
	k := pub.Size()
	require.LessOrEqual(t, len(msg), k-11)
	em := make([]byte, k)
	em[1] = 2
	ps := em[2 : k-len(msg)-1]
	for i := range ps {
		for ps[i] == 0 {
			_, err := rand.Read(ps[i : i+1])
			require.NoError(t, err)
		}
	}
	copy(em[k-len(msg):], msg)
	c := new(big.Int).Exp(new(big.Int).SetBytes(em), big.NewInt(int64(pub.E)), pub.N)
	return c.FillBytes(make([]byte, k))
}

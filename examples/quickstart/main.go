// Command quickstart shows cardmod's real job on the embedded simulated card
// (a YubiKey 5 with its PIV application, in a virtual reader): no hardware
// and no pcscd needed.
//
//	go run ./examples/quickstart           # the embedded simulated card
//	go run ./examples/quickstart -pcscd    # the first PIV card pcscd sees
//	go run ./examples/quickstart -pcscd -reader "Yubico YubiKey OTP+FIDO+CCID 00 00"
//
// Through the Base CSP (package basecsp) it creates two key containers on
// the card, one with a P-256 key and one with an RSA-2048 key, issues a
// self-signed certificate for each with the card key as the signer and
// stores it on the card, signs and verifies (ECDSA, RSA PKCS #1 v1.5, RSA-PSS),
// encrypts to the card's RSA key and decrypts on the card (OAEP), reads the
// certificates back, and reports the APDUs each step cost.
//
// With -pcscd it works on a real reader: the card must be a PIV card with
// the default PIN and management key, and the containers it creates stay
// on the card (use a test card).
package main

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/big"
	"os"
	"time"

	"github.com/cardmod/cardmod/basecsp"
	simpiv "github.com/cardmod/cardmod/cardsim/piv"
	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/minidriver/piv"
	"github.com/cardmod/cardmod/pincache"
	"github.com/cardmod/cardmod/scrm"
	"github.com/cardmod/cardmod/scrm/pcsc"
	"github.com/cardmod/cardmod/scrm/virtual"
)

func main() {
	usePCSCD := flag.Bool("pcscd", false, "use the system's readers through pcscd instead of the embedded simulated card")
	reader := flag.String("reader", "", "with -pcscd, the reader whose card to use (default: the first card a plug-in takes)")
	flag.Parse()
	if err := run(context.Background(), os.Stdout, *usePCSCD, *reader); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

// run does the job and writes the report to w; with usePCSCD on the card
// in reader ("" for the first card).
func run(ctx context.Context, w io.Writer, usePCSCD bool, reader string) error {
	var backend scrm.Backend
	if usePCSCD {
		b, err := pcsc.New(ctx)
		if err != nil {
			return err
		}
		backend = b
	} else {
		sim, err := simpiv.New(simpiv.Config{})
		if err != nil {
			return err
		}
		b := virtual.NewBackend()
		b.AddReader("cardmod Virtual Reader 0").Insert(sim)
		backend = b
	}
	defer backend.Release()

	p, err := basecsp.Open(basecsp.Config{
		Backend: backend,
		// The PIN comes from here when the card needs it; an interactive
		// program would use pincache.Terminal.
		Prompt: pincache.NewFixed([]byte(simpiv.DefaultPIN)),
		// Writing to a PIV card (keys, certificates) needs its management
		// key.
		AdminResponse: piv.ManagementKey(simpiv.DefaultManagementKey),
	})
	if err != nil {
		return err
	}
	defer p.Close()

	card, err := p.Card(ctx, reader)
	if err != nil {
		return err
	}
	info, err := card.Info(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "%s card %s in %q (serial % X)\n", info.Plugin, info.ID, info.Reader, info.Serial)

	step := func(name string, f func() error) error {
		before := card.Stats()
		start := time.Now()
		if err := f(); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		d := card.Stats().Sub(before)
		fmt.Fprintf(w, "  %-50s %3d APDUs  %9s\n", name, d.APDUs, time.Since(start).Round(time.Microsecond))
		return nil
	}

	var ecKey, rsaKey *basecsp.Key
	var ecCont, rsaCont *basecsp.Container
	fmt.Fprintln(w, "containers:")
	if err := step("create \"quickstart-ecc\" (P-256, on-card key)", func() error {
		ecCont, err = p.CreateContainer(ctx, `\\.\`+info.Reader+`\quickstart-ecc`, minidriver.ECDSAP256, 0, nil)
		if err != nil {
			return err
		}
		ecKey, err = ecCont.Key(minidriver.ECDSAP256)
		return err
	}); err != nil {
		return err
	}
	if err := step("create \"quickstart-rsa\" (RSA-2048, on-card key)", func() error {
		rsaCont, err = p.CreateContainer(ctx, `\\.\`+info.Reader+`\quickstart-rsa`, minidriver.KeyExchange, 2048, nil)
		if err != nil {
			return err
		}
		rsaKey, err = rsaCont.Key(minidriver.KeyExchange)
		return err
	}); err != nil {
		return err
	}

	fmt.Fprintln(w, "certificates (self-signed by the card keys, stored on the card):")
	for _, k := range []struct {
		name string
		key  *basecsp.Key
	}{{"P-256", ecKey}, {"RSA-2048", rsaKey}} {
		if err := step("issue and store the "+k.name+" certificate", func() error {
			cert, err := selfSigned(k.key, "cardmod quickstart "+k.name)
			if err != nil {
				return err
			}
			return k.key.SetCertificate(ctx, cert)
		}); err != nil {
			return err
		}
	}

	fmt.Fprintln(w, "signatures (verified with the public key):")
	digest := sha256.Sum256([]byte("hello from cardmod"))
	signs := []struct {
		name string
		key  *basecsp.Key
		opts crypto.SignerOpts
	}{
		{"ECDSA P-256, SHA-256", ecKey, crypto.SHA256},
		{"RSA PKCS #1 v1.5, SHA-256", rsaKey, crypto.SHA256},
		{"RSA-PSS, SHA-256", rsaKey, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: crypto.SHA256}},
	}
	for _, s := range signs {
		if err := step(s.name, func() error {
			sig, err := s.key.SignContext(ctx, rand.Reader, digest[:], s.opts)
			if err != nil {
				return err
			}
			return verify(s.key.Public(), digest[:], sig, s.opts)
		}); err != nil {
			return err
		}
	}

	fmt.Fprintln(w, "encryption to the card (RSA-OAEP, decrypted on the card):")
	secret := []byte("a secret only the card can read")
	if err := step("encrypt with the public key, decrypt on the card", func() error {
		ct, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, rsaKey.Public().(*rsa.PublicKey), secret, nil)
		if err != nil {
			return err
		}
		pt, err := rsaKey.DecryptContext(ctx, rand.Reader, ct, &rsa.OAEPOptions{Hash: crypto.SHA256})
		if err != nil {
			return err
		}
		if string(pt) != string(secret) {
			return errors.New("decrypted text differs")
		}
		return nil
	}); err != nil {
		return err
	}

	fmt.Fprintln(w, "the certificates, read back from the card:")
	for _, k := range []*basecsp.Key{ecKey, rsaKey} {
		var cert *x509.Certificate
		if err := step(fmt.Sprintf("read the certificate of %q", k.Container().Name()), func() error {
			cert, err = k.Certificate(ctx)
			return err
		}); err != nil {
			return err
		}
		fmt.Fprintf(w, "    %-30s %v key, certificate verifies with it: %v\n", cert.Subject.CommonName, k.Spec(),
			cert.CheckSignature(cert.SignatureAlgorithm, cert.RawTBSCertificate, cert.Signature) == nil)
	}

	if usePCSCD {
		return nil
	}
	st := card.Stats()
	fmt.Fprintf(w, "all done: %d APDUs, %d bytes sent, %d received; the PIN was asked for once and cached\n", st.APDUs, st.BytesSent, st.BytesReceived)
	return nil
}

// selfSigned issues a certificate for key signed by key itself: the card
// does the signing, through crypto.Signer.
func selfSigned(key *basecsp.Key, cn string) (*x509.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Minute),
		NotAfter:     time.Now().Add(365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return cert, cert.CheckSignature(cert.SignatureAlgorithm, cert.RawTBSCertificate, cert.Signature)
}

func verify(pub crypto.PublicKey, digest, sig []byte, opts crypto.SignerOpts) error {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if !ecdsa.VerifyASN1(k, digest, sig) {
			return errors.New("ECDSA signature does not verify")
		}
		return nil
	case *rsa.PublicKey:
		if pss, ok := opts.(*rsa.PSSOptions); ok {
			return rsa.VerifyPSS(k, opts.HashFunc(), digest, sig, pss)
		}
		return rsa.VerifyPKCS1v15(k, opts.HashFunc(), digest, sig)
	}
	return fmt.Errorf("unexpected public key %T", pub)
}

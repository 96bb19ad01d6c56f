package main

import (
	"context"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/big"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/cardmod/cardmod/basecsp"
	"github.com/cardmod/cardmod/minidriver"
)

// containerName is the provider name of container name on -reader's card.
func (s *session) containerName(name string) string {
	if s.g.reader != "" {
		return `\\.\` + s.g.reader + `\` + name
	}
	return name
}

// parseSpec reads -spec.
func parseSpec(s string) (minidriver.KeySpec, error) {
	for spec := minidriver.KeyExchange; spec <= minidriver.ECDHP521; spec++ {
		if specName(spec) == s {
			return spec, nil
		}
	}
	return 0, usageErrorf("-spec %q: want keyexchange, signature, ecdsa-p256, ecdsa-p384, ecdsa-p521, ecdh-p256, ecdh-p384 or ecdh-p521", s)
}

// parseAlg reads -alg of generate: the key spec and RSA size.
func parseAlg(alg, spec string) (minidriver.KeySpec, int, error) {
	a := strings.ToLower(strings.ReplaceAll(alg, "-", ""))
	switch a {
	case "p256", "ecdsap256", "ecp256":
		return minidriver.ECDSAP256, 0, nil
	case "p384", "ecdsap384", "ecp384":
		return minidriver.ECDSAP384, 0, nil
	case "p521", "ecdsap521":
		return minidriver.ECDSAP521, 0, nil
	case "ecdhp256":
		return minidriver.ECDHP256, 0, nil
	case "ecdhp384":
		return minidriver.ECDHP384, 0, nil
	case "rsa1024", "rsa2048", "rsa3072", "rsa4096":
		bits, _ := strconv.Atoi(a[3:]) // one of the four sizes above
		ks := minidriver.KeyExchange
		if spec == "signature" {
			ks = minidriver.Signature
		} else if spec != "" && spec != "keyexchange" {
			return 0, 0, usageErrorf("-spec %q: an RSA key is keyexchange or signature", spec)
		}
		return ks, bits, nil
	}
	return 0, 0, usageErrorf("-alg %q: want p256, p384, p521, ecdh-p256, ecdh-p384, rsa1024, rsa2048, rsa3072 or rsa4096", alg)
}

func oneName(args []string, what string) (string, error) {
	if len(args) != 1 || args[0] == "" {
		return "", usageErrorf("want one %s name", what)
	}
	return args[0], nil
}

func generateCommand() *command {
	return &command{
		name: "generate", args: "NAME",
		short: "generate a key on the card in a new container; prints the public key (PEM)",
		flags: func(fs *flag.FlagSet, o *cmdOpts) {
			fs.StringVar(&o.alg, "alg", "p256", "key `algorithm`: p256, p384, p521, ecdh-p256, ecdh-p384, rsa1024, rsa2048, rsa3072, rsa4096")
			fs.StringVar(&o.spec, "spec", "", "for RSA: keyexchange (default; signs and decrypts) or signature")
		},
		run: func(ctx context.Context, s *session, o *cmdOpts, args []string) error {
			name, err := oneName(args, "container")
			if err != nil {
				return err
			}
			spec, bits, err := parseAlg(o.alg, o.spec)
			if err != nil {
				return err
			}
			p, err := s.openProvider(ctx)
			if err != nil {
				return err
			}
			stop := s.progress(fmt.Sprintf("generating a %s key on the card", o.alg))
			c, err := p.CreateContainer(ctx, s.containerName(name), spec, bits, nil)
			stop()
			if err != nil {
				return fmt.Errorf("generating the key: %w", err)
			}
			k, err := c.Key(spec)
			if err != nil {
				return err
			}
			return writePublicKey(s.io.out, k.Public())
		},
	}
}

func writePublicKey(w io.Writer, pub crypto.PublicKey) error {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return err
	}
	return pem.Encode(w, &pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// progress shows what is happening on a terminal (standard error) until
// stop is called; nothing when standard error is not a terminal.
func (s *session) progress(what string) (stop func()) {
	if !isTerminalWriter(s.io.err) {
		return func() {}
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	start := time.Now()
	go func() {
		defer close(finished)
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		spin := `-\|/`
		for i := 0; ; i++ {
			fmt.Fprintf(s.io.err, "\r%s %c %ds", what, spin[i%4], int(time.Since(start).Seconds()))
			select {
			case <-done:
				fmt.Fprintf(s.io.err, "\r%s: done in %.1fs\n", what, time.Since(start).Seconds())
				return
			case <-t.C:
			}
		}
	}()
	return func() { close(done); <-finished }
}

// isTerminalWriter reports whether w is a terminal.
func isTerminalWriter(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// readKeyFile reads a private key (PKCS #8, PKCS #1 or SEC 1, in PEM or
// DER) and any certificates in the same PEM file.
func readKeyFile(path string) (crypto.PrivateKey, []*x509.Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	defer clear(b)
	var key crypto.PrivateKey
	var certs []*x509.Certificate
	rest := b
	sawPEM := false
	for {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			break
		}
		sawPEM = true
		switch blk.Type {
		case "CERTIFICATE":
			c, err := x509.ParseCertificate(blk.Bytes)
			if err != nil {
				return nil, nil, fmt.Errorf("%s: certificate: %w", path, err)
			}
			certs = append(certs, c)
		case "PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY":
			if key != nil {
				return nil, nil, fmt.Errorf("%s: more than one private key", path)
			}
			key, err = parsePrivateKey(blk.Bytes)
			clear(blk.Bytes)
			if err != nil {
				return nil, nil, fmt.Errorf("%s: %w", path, err)
			}
		case "ENCRYPTED PRIVATE KEY":
			return nil, nil, fmt.Errorf("%s: an encrypted key: decrypt it first (openssl pkcs8 -in %s)", path, path)
		}
	}
	if !sawPEM {
		key, err = parsePrivateKey(b)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: neither PEM nor a DER private key: %w", path, err)
		}
	}
	if key == nil {
		return nil, nil, fmt.Errorf("%s: no private key", path)
	}
	return key, certs, nil
}

func parsePrivateKey(der []byte) (crypto.PrivateKey, error) {
	if k, err := x509.ParsePKCS8PrivateKey(der); err == nil {
		return k, nil
	}
	if k, err := x509.ParsePKCS1PrivateKey(der); err == nil {
		return k, nil
	}
	if k, err := x509.ParseECPrivateKey(der); err == nil {
		return k, nil
	}
	return nil, errors.New("not a PKCS #8, PKCS #1 or SEC 1 private key")
}

// importSpec picks the key spec of an imported key.
func importSpec(key crypto.PrivateKey, spec string) (minidriver.KeySpec, error) {
	if spec != "" {
		return parseSpec(spec)
	}
	switch k := key.(type) {
	case *rsa.PrivateKey:
		return minidriver.KeyExchange, nil
	case *ecdsa.PrivateKey:
		switch k.Curve {
		case elliptic.P256():
			return minidriver.ECDSAP256, nil
		case elliptic.P384():
			return minidriver.ECDSAP384, nil
		case elliptic.P521():
			return minidriver.ECDSAP521, nil
		}
	case *ecdh.PrivateKey:
		switch k.Curve() {
		case ecdh.P256():
			return minidriver.ECDHP256, nil
		case ecdh.P384():
			return minidriver.ECDHP384, nil
		}
	}
	return 0, fmt.Errorf("a %T key cannot go on a card", key)
}

func importCommand() *command {
	return &command{
		name: "import", args: "NAME",
		short: "import a private key (PEM or DER: PKCS #8, PKCS #1, SEC 1) into a new container, with its certificate if the file has one",
		flags: func(fs *flag.FlagSet, o *cmdOpts) {
			fs.StringVar(&o.in, "in", "", "the key `file` (required)")
			fs.StringVar(&o.spec, "spec", "", "key spec (default: keyexchange for RSA, the curve's ECDSA spec for EC)")
		},
		run: func(ctx context.Context, s *session, o *cmdOpts, args []string) error {
			name, err := oneName(args, "container")
			if err != nil {
				return err
			}
			if o.in == "" {
				return usageErrorf("-in FILE is required")
			}
			key, certs, err := readKeyFile(o.in)
			if err != nil {
				return withHint(err, exitFailed, "give a PEM or DER private key")
			}
			spec, err := importSpec(key, o.spec)
			if err != nil {
				return err
			}
			p, err := s.openProvider(ctx)
			if err != nil {
				return err
			}
			c, err := p.CreateContainer(ctx, s.containerName(name), spec, 0, key)
			if err != nil {
				return fmt.Errorf("importing the key: %w", err)
			}
			k, err := c.Key(spec)
			if err != nil {
				return err
			}
			for _, cert := range certs {
				if publicEqual(cert.PublicKey, k.Public()) {
					if err := k.SetCertificate(ctx, cert); err != nil {
						return fmt.Errorf("storing the certificate: %w", err)
					}
					break
				}
			}
			return writePublicKey(s.io.out, k.Public())
		},
	}
}

func publicEqual(a, b crypto.PublicKey) bool {
	type eq interface{ Equal(crypto.PublicKey) bool }
	x, ok := a.(eq)
	return ok && x.Equal(b)
}

func deleteCommand() *command {
	return &command{
		name: "delete", args: "NAME",
		short: "delete a container: its keys and certificates",
		run: func(ctx context.Context, s *session, o *cmdOpts, args []string) error {
			name, err := oneName(args, "container")
			if err != nil {
				return err
			}
			p, err := s.openProvider(ctx)
			if err != nil {
				return err
			}
			if err := p.DeleteContainer(ctx, s.containerName(name)); err != nil {
				return fmt.Errorf("deleting container %q: %w", name, err)
			}
			return nil
		},
	}
}

// key opens the key of a container: of -spec, or its only (first) key.
func (s *session) key(ctx context.Context, name, spec string) (*basecsp.Key, error) {
	p, err := s.openProvider(ctx)
	if err != nil {
		return nil, err
	}
	c, err := p.Container(ctx, s.containerName(name))
	if err != nil {
		return nil, fmt.Errorf("container %q: %w", name, err)
	}
	if spec != "" {
		ks, err := parseSpec(spec)
		if err != nil {
			return nil, err
		}
		return c.Key(ks)
	}
	specs := c.KeySpecs()
	if len(specs) == 0 {
		return nil, fmt.Errorf("container %q: %w", name, minidriver.ErrNoKeyContainer)
	}
	return c.Key(specs[0])
}

func certCommand() *command {
	return &command{
		name: "cert", args: "import|export NAME",
		short: "import a certificate for a container's key (-in FILE, PEM or DER), or export it (PEM)",
		flags: func(fs *flag.FlagSet, o *cmdOpts) {
			fs.StringVar(&o.in, "in", "", "import: the certificate `file`")
			fs.StringVar(&o.spec, "spec", "", "the key spec (default: the container's first key)")
		},
		run: func(ctx context.Context, s *session, o *cmdOpts, args []string) error {
			if len(args) != 2 || (args[0] != "import" && args[0] != "export") {
				return usageErrorf("want `cert import -in FILE NAME` or `cert export NAME`")
			}
			if args[0] == "export" {
				k, err := s.key(ctx, args[1], o.spec)
				if err != nil {
					return err
				}
				c, err := k.Certificate(ctx)
				if err != nil {
					return fmt.Errorf("reading the certificate: %w", err)
				}
				return pem.Encode(s.io.out, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
			}
			if o.in == "" {
				return usageErrorf("-in FILE is required")
			}
			cert, err := readCertFile(o.in)
			if err != nil {
				return err
			}
			return s.importCert(ctx, args[1], o.spec, cert)
		},
	}
}

// importCert stores cert as the certificate of container name's key
// that it is for (of -spec, when given): the look-up and the write in one
// transaction (basecsp.Provider.SetCertificate), what a new process pays
// once. When no key is found, a look-up of the container alone tells an
// unknown container from a certificate of another key.
func (s *session) importCert(ctx context.Context, name, spec string, cert *x509.Certificate) error {
	q := basecsp.KeyQuery{Reader: s.g.reader, Container: name}
	if spec != "" {
		ks, err := parseSpec(spec)
		if err != nil {
			return err
		}
		q.KeySpec = ks
	}
	p, err := s.openProvider(ctx)
	if err != nil {
		return err
	}
	_, err = p.SetCertificate(ctx, q, cert)
	switch {
	case errors.Is(err, minidriver.ErrNoKeyContainer):
		if _, err := s.key(ctx, name, spec); err != nil {
			return err
		}
		return withHint(errors.New("the certificate is not of this container's key"), exitFailed, "`cardmod list` shows the keys")
	case err != nil:
		return fmt.Errorf("storing the certificate: %w", err)
	}
	return nil
}

func readCertFile(path string) (*x509.Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if blk, _ := pem.Decode(b); blk != nil {
		if blk.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("%s: a PEM %q, not a CERTIFICATE", path, blk.Type)
		}
		b = blk.Bytes
	}
	c, err := x509.ParseCertificate(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// parseSubject reads "CN=name,O=org,OU=unit,C=country,L=...,ST=..." (RFC
// 4514 attribute names; commas inside values escaped with a backslash).
func parseSubject(s string) (pkix.Name, error) {
	var n pkix.Name
	if strings.TrimSpace(s) == "" {
		return n, usageErrorf("-subject is empty")
	}
	var parts []string
	var cur strings.Builder
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '\\' && i+1 < len(s):
			cur.WriteByte(s[i+1])
			i++
		case s[i] == ',':
			parts = append(parts, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(s[i])
		}
	}
	parts = append(parts, cur.String())
	for _, p := range parts {
		k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
		if !ok || v == "" {
			return n, usageErrorf("-subject %q: want TYPE=value[,TYPE=value...]", s)
		}
		switch strings.ToUpper(strings.TrimSpace(k)) {
		case "CN":
			n.CommonName = v
		case "O":
			n.Organization = append(n.Organization, v)
		case "OU":
			n.OrganizationalUnit = append(n.OrganizationalUnit, v)
		case "C":
			n.Country = append(n.Country, v)
		case "L":
			n.Locality = append(n.Locality, v)
		case "ST":
			n.Province = append(n.Province, v)
		case "SERIALNUMBER":
			n.SerialNumber = v
		default:
			return n, usageErrorf("-subject: unknown attribute %q (CN, O, OU, C, L, ST, SERIALNUMBER)", k)
		}
	}
	return n, nil
}

func csrCommand() *command {
	return &command{
		name: "csr", args: "NAME",
		short: "print a certificate signing request (PEM) signed by a container's key",
		flags: func(fs *flag.FlagSet, o *cmdOpts) {
			fs.StringVar(&o.subject, "subject", "", "the `subject`, e.g. \"CN=Alice,O=Example\" (required)")
			fs.StringVar(&o.spec, "spec", "", "the key spec (default: the container's first key)")
		},
		run: func(ctx context.Context, s *session, o *cmdOpts, args []string) error {
			name, err := oneName(args, "container")
			if err != nil {
				return err
			}
			subj, err := parseSubject(o.subject)
			if err != nil {
				return err
			}
			k, err := s.key(ctx, name, o.spec)
			if err != nil {
				return err
			}
			der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: subj}, signerCtx{ctx, k})
			if err != nil {
				return fmt.Errorf("signing the request: %w", err)
			}
			req, err := x509.ParseCertificateRequest(der)
			if err != nil {
				return err
			}
			if err := req.CheckSignature(); err != nil {
				return fmt.Errorf("the card's signature on the request does not verify: %w", err)
			}
			return pem.Encode(s.io.out, &pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
		},
	}
}

// signerCtx is a card key as a crypto.Signer whose Sign uses ctx.
type signerCtx struct {
	ctx context.Context
	k   *basecsp.Key
}

func (s signerCtx) Public() crypto.PublicKey { return s.k.Public() }
func (s signerCtx) Sign(r io.Reader, d []byte, o crypto.SignerOpts) ([]byte, error) {
	return s.k.SignContext(s.ctx, r, d, o)
}

func selfsignCommand() *command {
	return &command{
		name: "selfsign", args: "NAME",
		short: "issue a self-signed certificate for a container's key, store it on the card and print it (PEM)",
		flags: func(fs *flag.FlagSet, o *cmdOpts) {
			fs.StringVar(&o.subject, "subject", "", "the `subject`, e.g. \"CN=Alice\" (required)")
			fs.IntVar(&o.days, "days", 365, "validity in `days`")
			fs.StringVar(&o.spec, "spec", "", "the key spec (default: the container's first key)")
		},
		run: func(ctx context.Context, s *session, o *cmdOpts, args []string) error {
			name, err := oneName(args, "container")
			if err != nil {
				return err
			}
			subj, err := parseSubject(o.subject)
			if err != nil {
				return err
			}
			if o.days < 1 {
				return usageErrorf("-days %d: want at least 1", o.days)
			}
			k, err := s.key(ctx, name, o.spec)
			if err != nil {
				return err
			}
			serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
			if err != nil {
				return err
			}
			now := time.Now()
			usage := x509.KeyUsageDigitalSignature
			if _, ok := k.Public().(*rsa.PublicKey); ok && k.Spec() == minidriver.KeyExchange {
				usage |= x509.KeyUsageKeyEncipherment
			}
			tmpl := &x509.Certificate{SerialNumber: serial, Subject: subj, NotBefore: now.Add(-time.Minute),
				NotAfter: now.Add(time.Duration(o.days) * 24 * time.Hour), KeyUsage: usage, BasicConstraintsValid: true}
			der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.Public(), signerCtx{ctx, k})
			if err != nil {
				return fmt.Errorf("signing the certificate: %w", err)
			}
			cert, err := x509.ParseCertificate(der)
			if err != nil {
				return err
			}
			if err := cert.CheckSignature(cert.SignatureAlgorithm, cert.RawTBSCertificate, cert.Signature); err != nil {
				return fmt.Errorf("the card's signature on the certificate does not verify: %w", err)
			}
			if err := k.SetCertificate(ctx, cert); err != nil {
				return fmt.Errorf("storing the certificate: %w", err)
			}
			return pem.Encode(s.io.out, &pem.Block{Type: "CERTIFICATE", Bytes: der})
		},
	}
}

// parseHash reads -hash.
func parseHash(s string) (crypto.Hash, error) {
	switch strings.ToLower(strings.ReplaceAll(s, "-", "")) {
	case "sha256":
		return crypto.SHA256, nil
	case "sha384":
		return crypto.SHA384, nil
	case "sha512":
		return crypto.SHA512, nil
	case "sha1":
		return crypto.SHA1, nil
	}
	return 0, usageErrorf("-hash %q: want sha256, sha384, sha512 or sha1", s)
}

func signCommand() *command {
	return &command{
		name: "sign", args: "NAME",
		short: "sign standard input (or -in FILE) with a container's key; the signature is verified, then printed in base64",
		flags: func(fs *flag.FlagSet, o *cmdOpts) {
			fs.StringVar(&o.in, "in", "", "the `file` to sign (default: standard input)")
			fs.StringVar(&o.out, "out", "", "write the raw signature to `file` instead of base64 on standard output")
			fs.StringVar(&o.hash, "hash", "sha256", "the hash: sha256, sha384, sha512, sha1")
			fs.BoolVar(&o.pss, "pss", false, "RSA: sign with PSS (salt length = hash length) instead of PKCS #1 v1.5")
			fs.StringVar(&o.spec, "spec", "", "the key spec (default: the container's first key)")
		},
		run: func(ctx context.Context, s *session, o *cmdOpts, args []string) error {
			name, err := oneName(args, "container")
			if err != nil {
				return err
			}
			h, err := parseHash(o.hash)
			if err != nil {
				return err
			}
			if o.in == "" && s.g.pinStdin {
				return usageErrorf("-pin-stdin reads the PIN from standard input: give the data with -in FILE")
			}
			var r io.Reader = s.io.in
			if o.in != "" {
				f, err := os.Open(o.in)
				if err != nil {
					return err
				}
				defer f.Close()
				r = f
			}
			hh := h.New()
			if _, err := io.Copy(hh, r); err != nil {
				return fmt.Errorf("reading the data: %w", err)
			}
			digest := hh.Sum(nil)
			k, sig, err := s.sign(ctx, name, o.spec, o.pss, digest, h)
			if err != nil {
				return err
			}
			var opts crypto.SignerOpts = h
			if o.pss {
				opts = &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: h}
			}
			if err := verifySig(k.Public(), digest, sig, opts); err != nil {
				return fmt.Errorf("the card's signature does not verify with its public key: %w", err)
			}
			if o.out != "" {
				return os.WriteFile(o.out, sig, 0o644)
			}
			_, err = fmt.Fprintln(s.io.out, base64.StdEncoding.EncodeToString(sig))
			return err
		},
	}
}

// sign signs digest with the key of container name. Without -pss the
// key is found and used in one call (basecsp.Provider.Sign: one card
// transaction, what a command run once pays; docs/benchmarks.md); with
// -pss the key is found first, to refuse a key that is not RSA before any
// PIN is asked for.
func (s *session) sign(ctx context.Context, name, spec string, pss bool, digest []byte, h crypto.Hash) (*basecsp.Key, []byte, error) {
	if pss {
		k, err := s.key(ctx, name, spec)
		if err != nil {
			return nil, nil, err
		}
		if _, ok := k.Public().(*rsa.PublicKey); !ok {
			return nil, nil, usageErrorf("-pss is for RSA keys")
		}
		sig, err := k.SignContext(ctx, rand.Reader, digest, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: h})
		if err != nil {
			return nil, nil, fmt.Errorf("signing: %w", err)
		}
		return k, sig, nil
	}
	q := basecsp.KeyQuery{Reader: s.g.reader, Container: name}
	if spec != "" {
		ks, err := parseSpec(spec)
		if err != nil {
			return nil, nil, err
		}
		q.KeySpec = ks
	}
	p, err := s.openProvider(ctx)
	if err != nil {
		return nil, nil, err
	}
	sig, k, err := p.Sign(ctx, q, rand.Reader, digest, h)
	switch {
	case errors.Is(err, minidriver.ErrNoKeyContainer):
		return nil, nil, fmt.Errorf("container %q: %w", name, err)
	case err != nil:
		return nil, nil, fmt.Errorf("signing: %w", err)
	}
	return k, sig, nil
}

func verifySig(pub crypto.PublicKey, digest, sig []byte, opts crypto.SignerOpts) error {
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
	return fmt.Errorf("cannot verify with a %T", pub)
}

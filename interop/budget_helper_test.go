package interop

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/go-piv/piv-go/v2/piv"

	"github.com/cardmod/cardmod/minidriver"
	mdpiv "github.com/cardmod/cardmod/minidriver/piv"
	"github.com/cardmod/cardmod/pincache"
	"github.com/cardmod/cardmod/scrm/pcsc"
)

// envHelper, when set, makes the test binary a helper process: it runs
// the one operation the JSON value describes (helperSpec) and exits. The
// harness re-executes its own test binary this way to measure what a new
// process pays.
const envHelper = "CARDMOD_BUDGET_HELPER"

// TestMain runs the helper process when envHelper asks for one, and the
// tests otherwise.
func TestMain(m *testing.M) {
	if spec := os.Getenv(envHelper); spec != "" {
		os.Exit(runHelper(spec))
	}
	os.Exit(m.Run())
}

// helperSpec is one operation for a helper process: which library, how
// configured, on which reader and key. The PIN and management key are the
// simulated card's factory values.
type helperSpec struct {
	Lib       string // "basecsp", "ksp" or "piv-go"
	Exclusive bool
	CacheDir  string
	Reader    string
	Op        string // opSignNew, opSignNewCache, opSignOneNew, opSignOneNewCache, opListNew, opGenerateNew, opWriteCertNew, opWriteCertOneNew
	Container string // the full name of the container (cardmod)
	Spec      minidriver.KeySpec
	Slot      byte   // the PIV slot (piv-go)
	Alg       string // "ec" or "rsa" (the key's algorithm, piv-go)
	Pub       []byte // PKIX public key of the slot (piv-go)
	Digest    []byte
	Cert      []byte // DER (write)
	NewName   string // container to create (cardmod)
	PIN       string
	MgmtKey   []byte
}

// helperResult is what a helper process prints on its standard output.
type helperResult struct {
	Sig   []byte `json:",omitempty"`
	Certs int    `json:",omitempty"`
	Pub   []byte `json:",omitempty"` // PKIX, of a generated key
	Err   string `json:",omitempty"`
}

func runHelper(specJSON string) int {
	var spec helperSpec
	var res helperResult
	if err := json.Unmarshal([]byte(specJSON), &spec); err != nil {
		res.Err = "bad spec: " + err.Error()
	} else {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := spec.run(ctx, &res); err != nil {
			res.Err = err.Error()
		}
	}
	out, _ := json.Marshal(res)
	fmt.Println(string(out))
	if res.Err != "" {
		return 1
	}
	return 0
}

func (s *helperSpec) run(ctx context.Context, res *helperResult) error {
	switch s.Lib {
	case "basecsp", "ksp":
		return s.runCardmod(ctx, res)
	case "piv-go":
		return s.runPivGo(res)
	}
	return fmt.Errorf("unknown library %q", s.Lib)
}

func (s *helperSpec) runCardmod(ctx context.Context, res *helperResult) (err error) {
	b, err := pcsc.New(ctx)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, b.Release()) }()
	var admin minidriver.AdminResponder
	if s.MgmtKey != nil {
		admin = mdpiv.ManagementKey(s.MgmtKey)
	}
	prompt := pincache.NewFixed([]byte(s.PIN))
	defer prompt.Wipe()
	sess, err := openCardmod(s.Lib, cardmodConfig{
		Backend: b, Prompt: prompt, Exclusive: s.Exclusive, CacheDir: s.CacheDir, Admin: admin,
	})
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, sess.close()) }()
	switch s.Op {
	case opSignNew, opSignNewCache:
		res.Sig, err = sess.sign(ctx, s.Container, s.Spec, s.Digest, crypto.SHA256)
	case opSignOneNew, opSignOneNewCache:
		res.Sig, err = sess.signOneCall(ctx, s.Container, s.Spec, s.Digest, crypto.SHA256)
	case opListNew:
		res.Certs, err = sess.certificates(ctx)
	case opGenerateNew:
		var pub crypto.PublicKey
		if pub, err = sess.generate(ctx, s.NewName); err == nil {
			res.Pub, err = x509.MarshalPKIXPublicKey(pub)
		}
	case opWriteCertNew, opWriteCertOneNew:
		var cert *x509.Certificate
		if cert, err = x509.ParseCertificate(s.Cert); err == nil && s.Op == opWriteCertNew {
			err = sess.writeCert(ctx, s.Container, s.Spec, cert)
		} else if err == nil {
			err = sess.writeCertOneCall(ctx, s.Container, s.Spec, cert)
		}
	default:
		err = fmt.Errorf("unknown operation %q", s.Op)
	}
	return err
}

func (s *helperSpec) runPivGo(res *helperResult) (err error) {
	yk, err := piv.Open(s.Reader)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, yk.Close()) }()
	switch s.Op {
	case opSignNew:
		pub, err := x509.ParsePKIXPublicKey(s.Pub)
		if err != nil {
			return err
		}
		slot, ok := pivGoSlot(s.Slot)
		if !ok {
			return fmt.Errorf("slot %02X", s.Slot)
		}
		priv, err := yk.PrivateKey(slot, pub, piv.KeyAuth{PIN: s.PIN})
		if err != nil {
			return err
		}
		signer, ok := priv.(crypto.Signer)
		if !ok {
			return fmt.Errorf("%T is no signer", priv)
		}
		res.Sig, err = signer.Sign(rand.Reader, s.Digest, crypto.SHA256)
		return err
	case opListNew:
		res.Certs, err = pivGoCertificates(yk)
		return err
	case opGenerateNew:
		pub, err := pivGoGenerate(yk, s.MgmtKey)
		if err != nil {
			return err
		}
		res.Pub, err = x509.MarshalPKIXPublicKey(pub)
		return err
	case opWriteCertNew:
		cert, err := x509.ParseCertificate(s.Cert)
		if err != nil {
			return err
		}
		return yk.SetCertificate(s.MgmtKey, piv.SlotAuthentication, cert)
	}
	return fmt.Errorf("unknown operation %q", s.Op)
}

// pivGoSlot returns piv-go's slot for a PIV key reference.
func pivGoSlot(ref byte) (piv.Slot, bool) {
	switch ref {
	case 0x9A:
		return piv.SlotAuthentication, true
	case 0x9C:
		return piv.SlotSignature, true
	case 0x9D:
		return piv.SlotKeyManagement, true
	case 0x9E:
		return piv.SlotCardAuthentication, true
	}
	return piv.RetiredKeyManagementSlot(uint32(ref))
}

// pivGoCertificates reads the certificate of every key slot (9A, 9C, 9D,
// 9E, 82 to 95), as a piv-go program listing a card's certificates must:
// piv-go has no call that says which slots hold one.
func pivGoCertificates(yk *piv.YubiKey) (int, error) {
	n := 0
	refs := []byte{0x9A, 0x9C, 0x9D, 0x9E}
	for r := byte(0x82); r <= 0x95; r++ {
		refs = append(refs, r)
	}
	for _, r := range refs {
		slot, _ := pivGoSlot(r)
		_, err := yk.Certificate(slot)
		switch {
		case err == nil:
			n++
		case errors.Is(err, piv.ErrNotFound):
		default:
			return n, fmt.Errorf("certificate %02X: %w", r, err)
		}
	}
	return n, nil
}

// pivGoGenerate generates the P-256 key of the generate operation in slot
// 83 (the slot cardmod's container map gives the sixth container).
func pivGoGenerate(yk *piv.YubiKey, mgmt []byte) (crypto.PublicKey, error) {
	slot, _ := pivGoSlot(generatedSlot)
	return yk.GenerateKey(mgmt, slot, piv.Key{Algorithm: piv.AlgorithmEC256, PINPolicy: piv.PINPolicyOnce, TouchPolicy: piv.TouchPolicyNever})
}

// runHelperProcess re-executes the test binary as a helper for spec and
// returns its result; a helper that fails gives an error with its output.
func runHelperProcess(ctx context.Context, spec helperSpec) (helperResult, error) {
	var res helperResult
	js, err := json.Marshal(spec)
	if err != nil {
		return res, err
	}
	ctx, cancel := context.WithTimeout(ctx, toolTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envHelper+"="+string(js))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, runErr := cmd.Output()
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if jerr := json.Unmarshal([]byte(lines[len(lines)-1]), &res); jerr != nil {
		return res, fmt.Errorf("helper %s %s: %v (%v): %s%s", spec.Lib, spec.Op, runErr, jerr, out, stderr.String())
	}
	if res.Err != "" || runErr != nil {
		return res, fmt.Errorf("helper %s %s: %s (%v) %s", spec.Lib, spec.Op, res.Err, runErr, stderr.String())
	}
	return res, nil
}

package piv

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"math/big"
	"time"

	"github.com/cardmod/cardmod/cardsim/internal/tlv"
)

// secret is a PIN or PUK with its retry counter.
type secret struct {
	value [8]byte // padded with FF to 8 bytes
	max   int     // tries allowed
	left  int     // tries remaining
}

func (s *secret) blocked() bool { return s.left <= 0 }

// managementKey is the card management key (key reference 9B).
type managementKey struct {
	alg   byte
	key   []byte
	touch bool
}

// state is everything a card keeps across power cycles, and what Save
// writes.
type state struct {
	prof       Profile
	fw         Version
	serial     uint32
	formFactor byte
	pin, puk   secret
	mgmt       managementKey
	keys       map[byte]*slotKey
	objects    map[uint32][]byte
	rootDER    []byte // simulated attestation root CA
}

// session is the volatile security state of the PIV application; Reset and
// a SELECT of another application clear it.
type session struct {
	selected    bool
	otp         bool // Yubico's OTP application is selected
	pinVerified bool
	// pinFresh is set by a successful VERIFY and consumed by the next
	// operation with a PIN-always key (SP 800-73-4: "PIN Always ... must
	// be submitted and verified every time immediately before").
	pinFresh  bool
	mgmtAuth  bool
	challenge *mgmtChallenge
	touchedAt map[byte]time.Time
}

// mgmtChallenge is a pending management-key authentication.
type mgmtChallenge struct {
	mutual bool   // witness (80) sent; expecting 80 + 81
	alg    byte   // algorithm reference of the exchange
	value  []byte // plain witness, or plain challenge for single auth
}

// padPIN encodes a PIN or PUK of 6 to 8 bytes padded with FF.
func padPIN(s string) ([8]byte, error) {
	var out [8]byte
	if len(s) < 6 || len(s) > 8 {
		return out, fmt.Errorf("piv: PIN and PUK must be 6 to 8 bytes, got %d", len(s))
	}
	for i := range out {
		out[i] = 0xFF
	}
	copy(out[:], s)
	for _, b := range []byte(s) {
		if b == 0xFF {
			return out, errors.New("piv: PIN and PUK must not contain byte FF")
		}
	}
	return out, nil
}

// validPaddedPIN reports whether b is 8 bytes holding a 6- to 8-byte value
// padded with FF (SP 800-73-4 part 2, 2.4.3; a YubiKey refuses a new PIN
// shorter than 6).
func validPaddedPIN(b []byte) bool {
	if len(b) != 8 {
		return false
	}
	n := bytes.IndexByte(b, 0xFF)
	if n < 0 {
		n = 8
	}
	if n < 6 {
		return false
	}
	for _, x := range b[n:] {
		if x != 0xFF {
			return false
		}
	}
	return true
}

var (
	defaultPINPadded, _ = padPIN(DefaultPIN)
	defaultPUKPadded, _ = padPIN(DefaultPUK)
)

// defaultMgmtAlg is the factory management key algorithm of a profile.
func defaultMgmtAlg(p *Profile) byte { return p.DefaultManagementAlgorithm }

// mgmtKeyLen returns the key length of a management key algorithm.
func mgmtKeyLen(alg byte) int {
	switch alg {
	case AlgTDES, AlgAES192:
		return 24
	case AlgAES128:
		return 16
	case AlgAES256:
		return 32
	}
	return 0
}

// mgmtAlgSupported: AES management keys where the profile has them
// (YubiKey 5.4 and later).
func mgmtAlgSupported(p *Profile, alg byte) bool {
	switch alg {
	case AlgTDES:
		return true
	case AlgAES128, AlgAES192, AlgAES256:
		return p.AESManagementKey || alg == p.DefaultManagementAlgorithm
	}
	return false
}

func newState(cfg Config, r io.Reader) (*state, error) {
	prof, err := resolveProfile(cfg)
	if err != nil {
		return nil, err
	}
	st := &state{
		prof:       prof,
		fw:         prof.Version,
		serial:     cfg.Serial,
		formFactor: cfg.FormFactor,
		keys:       map[byte]*slotKey{},
		objects:    map[uint32][]byte{},
	}
	if st.serial == 0 {
		st.serial = DefaultSerial
	}
	if st.formFactor == 0 {
		st.formFactor = DefaultFormFactor
	}
	pin, puk := cfg.PIN, cfg.PUK
	if pin == "" {
		pin = DefaultPIN
	}
	if puk == "" {
		puk = DefaultPUK
	}
	if st.pin.value, err = padPIN(pin); err != nil {
		return nil, err
	}
	if st.puk.value, err = padPIN(puk); err != nil {
		return nil, err
	}
	st.pin.max, st.puk.max = cfg.PINRetries, cfg.PUKRetries
	if st.pin.max == 0 {
		st.pin.max = DefaultTries
	}
	if st.puk.max == 0 {
		st.puk.max = DefaultTries
	}
	if st.pin.max < 1 || st.pin.max > 255 || st.puk.max < 1 || st.puk.max > 255 {
		return nil, errors.New("piv: PIN and PUK retries must be 1 to 255")
	}
	st.pin.left, st.puk.left = st.pin.max, st.puk.max

	st.mgmt.alg = cfg.ManagementKeyAlgorithm
	if st.mgmt.alg == 0 {
		st.mgmt.alg = defaultMgmtAlg(&st.prof)
	}
	if !mgmtAlgSupported(&st.prof, st.mgmt.alg) {
		return nil, fmt.Errorf("piv: management key algorithm %02X not supported by profile %s", st.mgmt.alg, st.prof.Name)
	}
	st.mgmt.key = append([]byte(nil), cfg.ManagementKey...)
	if cfg.ManagementKey == nil {
		st.mgmt.key = append([]byte(nil), DefaultManagementKey...)
	}
	if len(st.mgmt.key) != mgmtKeyLen(st.mgmt.alg) {
		return nil, fmt.Errorf("piv: management key must be %d bytes for algorithm %02X", mgmtKeyLen(st.mgmt.alg), st.mgmt.alg)
	}
	if prof.Attestation {
		if err := st.makeAttestation(r); err != nil {
			return nil, err
		}
	}
	if prof.Issued {
		if err := st.issue(r); err != nil {
			return nil, err
		}
	}
	return st, nil
}

// Validity of the simulated attestation certificates: fixed dates, as
// Yubico's PIV root CA has (2016-03-14 to 2052-04-17), so that a card's
// certificates do not depend on the clock.
var (
	attestNotBefore = time.Date(2016, 3, 14, 0, 0, 0, 0, time.UTC)
	attestNotAfter  = time.Date(2052, 4, 17, 0, 0, 0, 0, time.UTC)
)

// makeAttestation creates the simulated attestation root CA and the slot F9
// attestation key with its certificate (object 5FFF01), as a YubiKey leaves
// the factory with a key in F9 certified by Yubico's PIV CA. The keys are
// ECDSA P-256 (a real YubiKey's F9 key is RSA-2048; P-256 keeps card
// creation fast).
func (st *state) makeAttestation(r io.Reader) error {
	rootKey, err := generateKey(AlgECCP256, r)
	if err != nil {
		return fmt.Errorf("piv: generating attestation root: %w", err)
	}
	f9, err := generateKey(AlgECCP256, r)
	if err != nil {
		return fmt.Errorf("piv: generating attestation key: %w", err)
	}
	serial := func() (*big.Int, error) {
		b := make([]byte, 16)
		if _, err := io.ReadFull(r, b); err != nil {
			return nil, err
		}
		b[0] &= 0x7F
		b[0] |= 0x01
		return new(big.Int).SetBytes(b), nil
	}
	rootSerial, err := serial()
	if err != nil {
		return err
	}
	root := &x509.Certificate{
		SerialNumber:          rootSerial,
		Subject:               pkix.Name{CommonName: "cardsim Simulated PIV Attestation Root CA"},
		NotBefore:             attestNotBefore,
		NotAfter:              attestNotAfter,
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLen:            1,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		SignatureAlgorithm:    x509.ECDSAWithSHA256,
	}
	rk := rootKey.(*ecdsa.PrivateKey)
	rootDER, err := x509.CreateCertificate(r, root, root, &rk.PublicKey, rk)
	if err != nil {
		return fmt.Errorf("piv: attestation root certificate: %w", err)
	}
	rootCert, err := x509.ParseCertificate(rootDER)
	if err != nil {
		return err
	}
	f9Serial, err := serial()
	if err != nil {
		return err
	}
	inter := &x509.Certificate{
		SerialNumber:          f9Serial,
		Subject:               pkix.Name{CommonName: "Yubico PIV Attestation"},
		NotBefore:             attestNotBefore,
		NotAfter:              attestNotAfter,
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign,
		SignatureAlgorithm:    x509.ECDSAWithSHA256,
	}
	fk := f9.(*ecdsa.PrivateKey)
	f9DER, err := x509.CreateCertificate(r, inter, rootCert, &fk.PublicKey, rk)
	if err != nil {
		return fmt.Errorf("piv: attestation certificate: %w", err)
	}
	st.rootDER = rootDER
	st.keys[SlotAttestation] = &slotKey{alg: AlgECCP256, origin: OriginImported, priv: f9}
	st.objects[objAttestationCert] = certObject(f9DER)
	return nil
}

// certObject wraps a DER certificate as a PIV certificate object
// (SP 800-73-4 part 1, table 15: 70 certificate, 71 CertInfo 00, FE error
// detection code).
func certObject(der []byte) []byte {
	return tlv.Join(tlv.Encode(0x70, der), tlv.Encode(0x71, []byte{0x00}), tlv.Encode(0xFE, nil))
}

// objectBytes is the storage the objects use.
func (st *state) objectBytes() int {
	n := 0
	for _, v := range st.objects {
		n += len(v)
	}
	return n
}

// factoryReset restores a fresh application: keys and data objects go,
// except the attestation key and certificate ("The attestation key and
// certificate will not be cleared out by a reset of the device", Yubico
// PIV attestation OID arc); PIN, PUK, management key and retries return to
// their factory defaults.
func (st *state) factoryReset() {
	for slot := range st.keys {
		if slot != SlotAttestation {
			delete(st.keys, slot)
		}
	}
	for tag := range st.objects {
		if tag != objAttestationCert {
			delete(st.objects, tag)
		}
	}
	st.pin = secret{value: defaultPINPadded, max: DefaultTries, left: DefaultTries}
	st.puk = secret{value: defaultPUKPadded, max: DefaultTries, left: DefaultTries}
	st.mgmt = managementKey{alg: defaultMgmtAlg(&st.prof), key: append([]byte(nil), DefaultManagementKey...)}
}

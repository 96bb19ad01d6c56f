package piv

import (
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"math/big"
	"time"

	"github.com/cardmod/cardmod/cardsim/internal/tlv"
)

// Validity of the simulated issuer's certificates: fixed dates, so that a
// card's content does not depend on the clock.
var (
	issuedNotBefore = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	issuedNotAfter  = time.Date(2036, 1, 1, 0, 0, 0, 0, time.UTC)
)

// issuedSlots are the slots an issued card holds keys in, with the subject
// of each certificate: the four SP 800-73-4 keys, then the retired key
// management keys the Key History counts.
var issuedSlots = [...]struct {
	slot    byte
	subject string
	usage   x509.KeyUsage
}{
	{0x9A, "PIV Authentication", x509.KeyUsageDigitalSignature},
	{0x9C, "Digital Signature", x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment},
	{0x9D, "Key Management", x509.KeyUsageKeyAgreement},
	{0x9E, "Card Authentication", x509.KeyUsageDigitalSignature},
}

// issue personalises the card as a PIV issuer does (SP 800-73-4 part 1,
// 3.1 and 3.3): a simulated issuer CA, P-256 keys with certificates in
// 9A, 9C, 9D, 9E and in the first Profile.IssuedRetired retired slots,
// the CHUID (FASC-N, GUID, expiration date, issuer signature), the Card
// Capability Container and the Key History object; the management key is
// replaced by a random one that only the issuer would know.
func (st *state) issue(r io.Reader) error {
	caKey, err := generateKey(AlgECCP256, r)
	if err != nil {
		return fmt.Errorf("piv: generating issuer key: %w", err)
	}
	ca := caKey.(*ecdsa.PrivateKey)
	serial := func() (*big.Int, error) {
		b := make([]byte, 16)
		if _, err := io.ReadFull(r, b); err != nil {
			return nil, err
		}
		b[0] = b[0]&0x7F | 0x01
		return new(big.Int).SetBytes(b), nil
	}
	caSerial, err := serial()
	if err != nil {
		return err
	}
	caTmpl := &x509.Certificate{
		SerialNumber: caSerial, Subject: pkix.Name{CommonName: "cardsim Simulated PIV Issuer CA"},
		NotBefore: issuedNotBefore, NotAfter: issuedNotAfter, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign, SignatureAlgorithm: x509.ECDSAWithSHA256,
	}
	caDER, err := x509.CreateCertificate(r, caTmpl, caTmpl, &ca.PublicKey, ca)
	if err != nil {
		return fmt.Errorf("piv: issuer certificate: %w", err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return err
	}
	type slotSpec struct {
		slot    byte
		subject string
		usage   x509.KeyUsage
	}
	var slots []slotSpec
	for _, s := range issuedSlots {
		slots = append(slots, slotSpec(s))
	}
	for i := range st.prof.IssuedRetired {
		slots = append(slots, slotSpec{0x82 + byte(i), fmt.Sprintf("Retired Key Management %d", i+1), x509.KeyUsageKeyAgreement})
	}
	for _, s := range slots {
		priv, err := generateKey(AlgECCP256, r)
		if err != nil {
			return fmt.Errorf("piv: generating the key of slot %02X: %w", s.slot, err)
		}
		sn, err := serial()
		if err != nil {
			return err
		}
		tmpl := &x509.Certificate{
			SerialNumber: sn, Subject: pkix.Name{CommonName: "cardsim PIV holder " + s.subject},
			NotBefore: issuedNotBefore, NotAfter: issuedNotAfter, KeyUsage: s.usage,
			SignatureAlgorithm: x509.ECDSAWithSHA256,
		}
		der, err := x509.CreateCertificate(r, tmpl, caCert, publicKey(priv), ca)
		if err != nil {
			return fmt.Errorf("piv: certificate of slot %02X: %w", s.slot, err)
		}
		st.keys[s.slot] = &slotKey{alg: AlgECCP256, origin: OriginGenerated, priv: priv}
		st.objects[CertObject(s.slot)] = certObject(der)
	}

	// CHUID (SP 800-73-4 part 1, table 9): FASC-N 30, GUID 34, expiration
	// date 35, issuer asymmetric signature 3E, error detection code FE.
	// The signature here is a DER ECDSA signature by the issuer CA over
	// SHA-256 of the preceding elements, standing in for the CMS
	// SignedData a real issuer writes: what a reader checks here is that
	// the CHUID is signed at all.
	fascn := make([]byte, 25)
	guid := make([]byte, 16)
	if _, err := io.ReadFull(r, fascn); err != nil {
		return err
	}
	if _, err := io.ReadFull(r, guid); err != nil {
		return err
	}
	body := tlv.Join(tlv.Encode(0x30, fascn), tlv.Encode(0x34, guid), tlv.Encode(0x35, []byte("20351231")))
	digest := sha256.Sum256(body)
	sig, err := ecdsa.SignASN1(r, ca, digest[:])
	if err != nil {
		return fmt.Errorf("piv: signing the CHUID: %w", err)
	}
	st.objects[ObjCHUID] = tlv.Join(body, tlv.Encode(0x3E, sig), tlv.Encode(0xFE, nil))

	// Card Capability Container (SP 800-73-4 part 1, table 8).
	cardID := make([]byte, 21)
	if _, err := io.ReadFull(r, cardID); err != nil {
		return err
	}
	st.objects[ObjCardCapabilityContainer] = tlv.Join(
		tlv.Encode(0xF0, cardID), tlv.Encode(0xF1, []byte{0x21}), tlv.Encode(0xF2, []byte{0x21}),
		tlv.Encode(0xF3, nil), tlv.Encode(0xF4, []byte{0x00}), tlv.Encode(0xF5, []byte{0x10}),
		tlv.Encode(0xF6, nil), tlv.Encode(0xF7, nil), tlv.Encode(0xFA, nil), tlv.Encode(0xFB, nil),
		tlv.Encode(0xFC, nil), tlv.Encode(0xFD, nil), tlv.Encode(0xFE, nil))

	// Key History (SP 800-73-4 part 1, table 19): keysWithOnCardCerts C1,
	// keysWithOffCardCerts C2, error detection code FE. The retired keys
	// with on-card certificates are in the lowest retired slots.
	st.objects[ObjKeyHistory] = tlv.Join(
		tlv.Encode(0xC1, []byte{byte(st.prof.IssuedRetired)}), tlv.Encode(0xC2, []byte{0x00}), tlv.Encode(0xFE, nil))

	// The issuer keeps the management key.
	mk := make([]byte, mgmtKeyLen(st.mgmt.alg))
	if _, err := io.ReadFull(r, mk); err != nil {
		return err
	}
	st.mgmt.key = mk
	return nil
}

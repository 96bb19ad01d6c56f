package piv

import (
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
)

// Attestation certificate extensions (Yubico "PIV attestation OID arc",
// base 1.3.6.1.4.1.41482.3).
var (
	OIDFirmwareVersion = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 41482, 3, 3} // 3 bytes major minor patch
	OIDSerialNumber    = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 41482, 3, 7} // DER INTEGER
	OIDPolicy          = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 41482, 3, 8} // 2 bytes: PIN policy, touch policy
	OIDFormFactor      = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 41482, 3, 9} // 1 byte
)

// attestationCertificate builds the attestation of slot's key the way a
// YubiKey does (Yubico, PIV attestation): random 16-byte serial, issuer
// the subject of the F9 certificate, validity copied from it, subject
// "YubiKey PIV Attestation <slot>", SHA-256 signature by the F9 key, and
// the firmware, serial, policy and form factor extensions.
func (c *Card) attestationCertificate(slot byte, k *slotKey, signer crypto.Signer, f9Cert *x509.Certificate) ([]byte, error) {
	serialBytes := make([]byte, 16)
	if err := c.readRand(serialBytes); err != nil {
		return nil, errRand
	}
	serialBytes[0] &= 0x7F
	serialBytes[0] |= 0x01 // a positive 16-byte integer
	pin, touch := k.policies(slot)
	serialDER, err := asn1.Marshal(int64(c.st.serial))
	if err != nil {
		return nil, err
	}
	fw := c.st.fw
	tmpl := &x509.Certificate{
		SerialNumber: new(big.Int).SetBytes(serialBytes),
		Subject:      pkix.Name{CommonName: fmt.Sprintf("YubiKey PIV Attestation %02x", slot)},
		NotBefore:    attestNotBefore,
		NotAfter:     attestNotAfter,
		ExtraExtensions: []pkix.Extension{
			{Id: OIDFirmwareVersion, Value: []byte{fw.Major, fw.Minor, fw.Patch}},
			{Id: OIDSerialNumber, Value: serialDER},
			{Id: OIDPolicy, Value: []byte{pin, touch}},
			{Id: OIDFormFactor, Value: []byte{c.st.formFactor}},
		},
	}
	// The parent carries the issuer name and the signer's public key; with
	// no readable F9 certificate the issuer is "Yubico PIV Attestation".
	parent := &x509.Certificate{
		Subject:   pkix.Name{CommonName: "Yubico PIV Attestation"},
		PublicKey: signer.Public(),
	}
	if f9Cert != nil {
		parent.RawSubject = f9Cert.RawSubject
		parent.SubjectKeyId = f9Cert.SubjectKeyId
		tmpl.NotBefore, tmpl.NotAfter = f9Cert.NotBefore, f9Cert.NotAfter
	}
	switch signer.Public().(type) {
	case *rsa.PublicKey:
		tmpl.SignatureAlgorithm = x509.SHA256WithRSA
	case *ecdsa.PublicKey:
		tmpl.SignatureAlgorithm = x509.ECDSAWithSHA256
	case ed25519.PublicKey:
		tmpl.SignatureAlgorithm = x509.PureEd25519
	default:
		return nil, errors.New("piv: unsupported attestation key")
	}
	pub := publicKey(k.priv)
	if xpub, isX := pub.(*ecdh.PublicKey); isX {
		return createWithX25519(c, tmpl, parent, xpub, signer)
	}
	return x509.CreateCertificate(c.h.rand, tmpl, parent, pub, signer)
}

// createWithX25519 issues a certificate for an X25519 key, which
// crypto/x509 will not put in a certificate: it issues one for a stand-in
// Ed25519 key, swaps the subjectPublicKeyInfo in the to-be-signed part and
// signs that again.
func createWithX25519(c *Card, tmpl, parent *x509.Certificate, pub *ecdh.PublicKey, signer crypto.Signer) ([]byte, error) {
	stand := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	der, err := x509.CreateCertificate(c.h.rand, tmpl, parent, stand.Public(), signer)
	if err != nil {
		return nil, err
	}
	var outer struct {
		TBS    asn1.RawValue
		SigAlg asn1.RawValue
		Sig    asn1.BitString
	}
	if rest, err := asn1.Unmarshal(der, &outer); err != nil || len(rest) != 0 {
		return nil, errors.New("piv: re-parsing certificate")
	}
	// TBSCertificate: version [0], serial, signature, issuer, validity,
	// subject, subjectPublicKeyInfo, extensions [3].
	var fields []asn1.RawValue
	rest := outer.TBS.Bytes
	for len(rest) > 0 {
		var f asn1.RawValue
		var err error
		if rest, err = asn1.Unmarshal(rest, &f); err != nil {
			return nil, err
		}
		fields = append(fields, f)
	}
	if len(fields) < 7 {
		return nil, errors.New("piv: unexpected TBSCertificate")
	}
	spki, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	var body []byte
	for i, f := range fields {
		if i == 6 {
			body = append(body, spki...)
		} else {
			body = append(body, f.FullBytes...)
		}
	}
	tbs, err := asn1.Marshal(asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSequence, IsCompound: true, Bytes: body})
	if err != nil {
		return nil, err
	}
	var sig []byte
	switch signer.Public().(type) {
	case ed25519.PublicKey:
		sig, err = signer.Sign(c.h.rand, tbs, crypto.Hash(0))
	default:
		h := sha256.Sum256(tbs)
		sig, err = signer.Sign(c.h.rand, h[:], crypto.SHA256)
	}
	if err != nil {
		return nil, err
	}
	return asn1.Marshal(struct {
		TBS    asn1.RawValue
		SigAlg asn1.RawValue
		Sig    asn1.BitString
	}{asn1.RawValue{FullBytes: tbs}, asn1.RawValue{FullBytes: outer.SigAlg.FullBytes}, asn1.BitString{Bytes: sig, BitLength: len(sig) * 8}})
}

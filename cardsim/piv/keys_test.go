package piv_test

import (
	"bytes"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"math/big"
	"testing"
	"time"

	"github.com/cardmod/cardmod/cardsim/piv"
)

// pkcs1v15 pads a SHA-256 digest for signing, as host libraries do before
// sending it to the card for the raw RSA operation.
func pkcs1v15(t testing.TB, size int, digest []byte) []byte {
	t.Helper()
	prefix := []byte{0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20}
	t2 := cat(prefix, digest)
	out := []byte{0x00, 0x01}
	out = append(out, bytes.Repeat([]byte{0xFF}, size-3-len(t2))...)
	out = append(out, 0x00)
	return append(out, t2...)
}

// encryptPKCS1v15 encrypts with PKCS #1 v1.5 padding (block type 2), as a
// peer encrypting to the card's key management key does.
func encryptPKCS1v15(t testing.TB, pub *rsa.PublicKey, msg []byte) []byte {
	t.Helper()
	k := pub.Size()
	em := make([]byte, k)
	em[1] = 2
	ps := em[2 : k-len(msg)-1]
	for i := range ps {
		for ps[i] == 0 {
			var b [1]byte
			rand.Read(b[:])
			ps[i] = b[0]
		}
	}
	copy(em[k-len(msg):], msg)
	c := new(big.Int).Exp(new(big.Int).SetBytes(em), big.NewInt(int64(pub.E)), pub.N)
	return c.FillBytes(make([]byte, k))
}

func ecPublic(t testing.TB, curve elliptic.Curve, point []byte) *ecdsa.PublicKey {
	t.Helper()
	pub, err := ecdsa.ParseUncompressedPublicKey(curve, point)
	if err != nil {
		t.Fatalf("public point %x: %v", point, err)
	}
	return pub
}

func rsaPublic(t testing.TB, m map[uint32][]byte) *rsa.PublicKey {
	t.Helper()
	return &rsa.PublicKey{N: new(big.Int).SetBytes(m[0x81]), E: int(new(big.Int).SetBytes(m[0x82]).Int64())}
}

func TestGenerateNeedsManagementKey(t *testing.T) {
	tc := selected(t, piv.Config{})
	tc.wantSW(0x6982, 0x47, 0x00, 0x9A, h("AC 03 80 01 11"))
	tc.mustAuth()
	tc.wantSW(0x6A86, 0x47, 0x00, 0x9B, h("AC 03 80 01 11"))
	tc.wantSW(0x6A86, 0x47, 0x00, 0x04, h("AC 03 80 01 11"))
	tc.wantSW(0x6A86, 0x47, 0x01, 0x9A, h("AC 03 80 01 11"))
	tc.wantSW(0x6A80, 0x47, 0x00, 0x9A, h("AC 03 80 01 03"))          // symmetric
	tc.wantSW(0x6A80, 0x47, 0x00, 0x9A, h("AC 03 80 01 FF"))          // unknown
	tc.wantSW(0x6A80, 0x47, 0x00, 0x9A, h("AC 03 AA 01 01"))          // no algorithm
	tc.wantSW(0x6A80, 0x47, 0x00, 0x9A, h("AC 06 80 01 11 AA 01 04")) // bad PIN policy
	tc.wantSW(0x6A80, 0x47, 0x00, 0x9A, h("AC 06 80 01 11 AB 01 04")) // bad touch policy
	tc.wantSW(0x6A80, 0x47, 0x00, 0x9A, h("AC 04 80 01 11"))
	tc.wantSW(0x6A80, 0x47, 0x00, 0x9A, h("AD 03 80 01 11"))
	// Algorithms of firmware 5.7 are refused by older firmware.
	old := selected(t, piv.Config{Version: piv.Version{Major: 5, Minor: 4, Patch: 3}})
	old.mustAuth()
	for _, alg := range []byte{piv.AlgEd25519, piv.AlgX25519, piv.AlgRSA3072, piv.AlgRSA4096} {
		old.wantSW(0x6A80, 0x47, 0x00, 0x9A, tlv(0xAC, tlv(0x80, []byte{alg})))
	}
}

func TestECDSAP256(t *testing.T) {
	tc := selected(t, piv.Config{})
	tc.mustAuth()
	pubTLV := tc.generate(0x9A, piv.AlgECCP256)
	pub := ecPublic(t, elliptic.P256(), pubTLV[0x86])
	digest := sha256.Sum256([]byte("hello"))
	// 9A: PIN once.
	if _, sw := tc.sign(piv.AlgECCP256, 0x9A, digest[:]); sw != 0x6982 {
		t.Fatalf("sign without PIN: %04X", sw)
	}
	tc.verifyPIN(piv.DefaultPIN)
	for i := 0; i < 2; i++ {
		sig, sw := tc.sign(piv.AlgECCP256, 0x9A, digest[:])
		if sw != 0x9000 {
			t.Fatalf("sign: %04X", sw)
		}
		if !ecdsa.VerifyASN1(pub, digest[:], sig) {
			t.Fatal("signature does not verify")
		}
	}
	// A shorter hash (SHA-1 size) and a longer one (truncated).
	short := digest[:20]
	sig, _ := tc.sign(piv.AlgECCP256, 0x9A, short)
	if !ecdsa.VerifyASN1(pub, short, sig) {
		t.Fatal("short hash")
	}
	long := sha512.Sum512([]byte("x"))
	sig, _ = tc.sign(piv.AlgECCP256, 0x9A, long[:])
	if !ecdsa.VerifyASN1(pub, long[:], sig) {
		t.Fatal("long hash")
	}
	// Wrong algorithm reference, bad templates, empty slot.
	if _, sw := tc.sign(piv.AlgECCP384, 0x9A, digest[:]); sw != 0x6A80 {
		t.Fatalf("wrong P1: %04X", sw)
	}
	tc.wantSW(0x6A86, 0x87, 0x42, 0x9A, tlv(0x7C, cat(tlv(0x82, nil), tlv(0x81, digest[:]))))
	tc.wantSW(0x6A86, 0x87, piv.AlgECCP256, 0x04, tlv(0x7C, cat(tlv(0x82, nil), tlv(0x81, digest[:]))))
	tc.wantSW(0x6A80, 0x87, piv.AlgECCP256, 0x9A, tlv(0x7C, tlv(0x81, digest[:])))
	tc.wantSW(0x6A80, 0x87, piv.AlgECCP256, 0x9A, tlv(0x7C, cat(tlv(0x82, h("00")), tlv(0x81, digest[:]))))
	tc.wantSW(0x6A80, 0x87, piv.AlgECCP256, 0x9A, tlv(0x7C, cat(tlv(0x82, nil), tlv(0x81, nil))))
	tc.wantSW(0x6A80, 0x87, piv.AlgECCP256, 0x9A, tlv(0x7C, cat(tlv(0x82, nil), tlv(0x81, digest[:]), tlv(0x85, digest[:]))))
	if _, sw := tc.sign(piv.AlgECCP256, 0x9D, digest[:]); sw != 0x6A82 {
		t.Fatalf("empty slot: %04X", sw)
	}
	// The PIN verified state goes with Reset.
	tc.c.Reset()
	tc.mustOK(0xA4, 0x04, 0x00, piv.AID)
	if _, sw := tc.sign(piv.AlgECCP256, 0x9A, digest[:]); sw != 0x6982 {
		t.Fatalf("after reset: %04X", sw)
	}
}

func TestPINAlwaysSlot9C(t *testing.T) {
	tc := selected(t, piv.Config{})
	tc.mustAuth()
	pub := ecPublic(t, elliptic.P256(), tc.generate(0x9C, piv.AlgECCP256)[0x86])
	digest := sha256.Sum256([]byte("sign me"))
	tc.verifyPIN(piv.DefaultPIN)
	sig, sw := tc.sign(piv.AlgECCP256, 0x9C, digest[:])
	if sw != 0x9000 || !ecdsa.VerifyASN1(pub, digest[:], sig) {
		t.Fatalf("first signature: %04X", sw)
	}
	// The PIN is still verified but was used up for 9C.
	tc.wantSW(0x9000, 0x20, 0x00, 0x80, nil)
	if _, sw := tc.sign(piv.AlgECCP256, 0x9C, digest[:]); sw != 0x6982 {
		t.Fatalf("second signature without VERIFY: %04X", sw)
	}
	tc.verifyPIN(piv.DefaultPIN)
	if _, sw := tc.sign(piv.AlgECCP256, 0x9C, digest[:]); sw != 0x9000 {
		t.Fatalf("after VERIFY again: %04X", sw)
	}
}

func TestPINAndTouchPolicies(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	var touches []byte
	answer := true
	tc := selected(t, piv.Config{
		Now: func() time.Time { return now },
		Touch: func(slot byte) bool {
			touches = append(touches, slot)
			return answer
		},
	})
	tc.mustAuth()
	digest := sha256.Sum256([]byte("policies"))
	// 9E: PIN never by default.
	tc.generate(0x9E, piv.AlgECCP256)
	if _, sw := tc.sign(piv.AlgECCP256, 0x9E, digest[:]); sw != 0x9000 {
		t.Fatalf("9E: %04X", sw)
	}
	// PIN never on 9A, touch always.
	tc.generate(0x9A, piv.AlgECCP256, tlv(0xAA, []byte{piv.PINPolicyNever})...)
	tc.generate(0x9D, piv.AlgECCP256, cat(tlv(0xAA, []byte{piv.PINPolicyNever}), tlv(0xAB, []byte{piv.TouchPolicyAlways}))...)
	tc.generate(0x82, piv.AlgECCP256, cat(tlv(0xAA, []byte{piv.PINPolicyNever}), tlv(0xAB, []byte{piv.TouchPolicyCached}))...)
	if _, sw := tc.sign(piv.AlgECCP256, 0x9A, digest[:]); sw != 0x9000 || len(touches) != 0 {
		t.Fatalf("9A PIN never: %04X, touches %x", sw, touches)
	}
	for i := 1; i <= 2; i++ {
		if _, sw := tc.sign(piv.AlgECCP256, 0x9D, digest[:]); sw != 0x9000 || len(touches) != i {
			t.Fatalf("touch always: %04X, touches %x", sw, touches)
		}
	}
	answer = false
	if _, sw := tc.sign(piv.AlgECCP256, 0x9D, digest[:]); sw != 0x6982 {
		t.Fatalf("no touch: %04X", sw)
	}
	answer = true
	touches = nil
	// Cached: one touch serves for 15 s.
	tc.sign(piv.AlgECCP256, 0x82, digest[:])
	now = now.Add(10 * time.Second)
	tc.sign(piv.AlgECCP256, 0x82, digest[:])
	if len(touches) != 1 {
		t.Fatalf("cached touch asked %d times", len(touches))
	}
	now = now.Add(10 * time.Second)
	tc.sign(piv.AlgECCP256, 0x82, digest[:])
	if len(touches) != 2 {
		t.Fatalf("expired cache: %d touches", len(touches))
	}
	// Metadata reports the resolved policies.
	m := tlvs(t, tc.mustOK(0xF7, 0x00, 0x82, nil))
	if !bytes.Equal(m[0x02], []byte{piv.PINPolicyNever, piv.TouchPolicyCached}) {
		t.Fatalf("policy %x", m[0x02])
	}
	m = tlvs(t, tc.mustOK(0xF7, 0x00, 0x9E, nil))
	if !bytes.Equal(m[0x02], []byte{piv.PINPolicyNever, piv.TouchPolicyNever}) {
		t.Fatalf("9E policy %x", m[0x02])
	}
}

// TestTouchHeld shows a test holding a touch: the operation waits for it.
func TestTouchHeld(t *testing.T) {
	release := make(chan bool)
	asked := make(chan struct{}, 1)
	tc := selected(t, piv.Config{Touch: func(byte) bool {
		asked <- struct{}{}
		return <-release
	}})
	tc.mustAuth()
	tc.generate(0x9E, piv.AlgECCP256, tlv(0xAB, []byte{piv.TouchPolicyAlways})...)
	digest := sha256.Sum256([]byte("held"))
	done := make(chan uint16)
	go func() {
		r := tc.c.Transmit(cat(h("00 87 11 9E"), []byte{byte(len(digest) + 6)}, tlv(0x7C, cat(tlv(0x82, nil), tlv(0x81, digest[:])))))
		done <- uint16(r[len(r)-2])<<8 | uint16(r[len(r)-1])
	}()
	<-asked
	select {
	case <-done:
		t.Fatal("operation finished before the touch")
	case <-time.After(20 * time.Millisecond):
	}
	release <- true
	if sw := <-done; sw != 0x9000 {
		t.Fatalf("after touch: %04X", sw)
	}
}

func TestRSA(t *testing.T) {
	tc := selected(t, piv.Config{})
	tc.mustAuth()
	tc.verifyPIN(piv.DefaultPIN)
	algs := []struct {
		alg  byte
		bits int
	}{{piv.AlgRSA1024, 1024}, {piv.AlgRSA2048, 2048}, {piv.AlgRSA3072, 3072}, {piv.AlgRSA4096, 4096}}
	if testing.Short() {
		algs = algs[:2]
	}
	for _, a := range algs {
		start := time.Now()
		pub := rsaPublic(t, tc.generate(0x9D, a.alg))
		t.Logf("RSA-%d generated in %v", a.bits, time.Since(start))
		if pub.N.BitLen() != a.bits || pub.E != 65537 {
			t.Fatalf("RSA-%d: %d bits, e %d", a.bits, pub.N.BitLen(), pub.E)
		}
		digest := sha256.Sum256([]byte("rsa"))
		sig, sw := tc.sign(a.alg, 0x9D, pkcs1v15(t, a.bits/8, digest[:]))
		if sw != 0x9000 {
			t.Fatalf("RSA-%d sign: %04X", a.bits, sw)
		}
		if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig); err != nil {
			t.Fatalf("RSA-%d: %v", a.bits, err)
		}
		// Decryption: the card returns the padded block.
		msg := []byte("secret message")
		ct := encryptPKCS1v15(t, pub, msg)
		block, sw := tc.sign(a.alg, 0x9D, ct)
		if sw != 0x9000 || block[0] != 0 || block[1] != 2 || !bytes.HasSuffix(block, cat([]byte{0}, msg)) {
			t.Fatalf("RSA-%d decrypt: %04X %x", a.bits, sw, block)
		}
		// Input of the wrong size, or not below the modulus.
		if _, sw := tc.sign(a.alg, 0x9D, ct[1:]); sw != 0x6A80 {
			t.Fatalf("short input: %04X", sw)
		}
		if _, sw := tc.sign(a.alg, 0x9D, bytes.Repeat([]byte{0xFF}, a.bits/8)); sw != 0x6A80 {
			t.Fatalf("input above modulus: %04X", sw)
		}
		if _, sw := tc.genAuth(a.alg, 0x9D, 0x85, ct); sw != 0x6A80 {
			t.Fatalf("RSA with 85: %04X", sw)
		}
	}
}

func TestImportRSA(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	key.Precompute()
	pad := func(b *big.Int) []byte { return b.FillBytes(make([]byte, 128)) }
	parts := cat(tlv(0x01, pad(key.Primes[0])), tlv(0x02, pad(key.Primes[1])), tlv(0x03, pad(key.Precomputed.Dp)), tlv(0x04, pad(key.Precomputed.Dq)), tlv(0x05, pad(key.Precomputed.Qinv)))
	tc := selected(t, piv.Config{})
	tc.wantSW(0x6982, 0xFE, piv.AlgRSA2048, 0x9A, parts)
	tc.mustAuth()
	tc.wantSW(0x6A86, 0xFE, piv.AlgRSA2048, 0x9B, parts)
	tc.wantSW(0x6A86, 0xFE, 0x42, 0x9A, parts)
	tc.wantSW(0x6A80, 0xFE, piv.AlgRSA1024, 0x9A, parts)
	tc.wantSW(0x6A80, 0xFE, piv.AlgRSA2048, 0x9A, parts[:len(parts)-10])
	wrongDp := cat(tlv(0x01, pad(key.Primes[0])), tlv(0x02, pad(key.Primes[1])), tlv(0x03, pad(key.Precomputed.Dq)), tlv(0x04, pad(key.Precomputed.Dq)), tlv(0x05, pad(key.Precomputed.Qinv)))
	tc.wantSW(0x6A80, 0xFE, piv.AlgRSA2048, 0x9A, wrongDp)
	tc.wantSW(0x6A80, 0xFE, piv.AlgRSA2048, 0x9A, cat(parts, tlv(0x06, h("01"))))
	tc.mustOK(0xFE, piv.AlgRSA2048, 0x9A, cat(parts, tlv(0xAA, []byte{piv.PINPolicyNever})))
	digest := sha256.Sum256([]byte("imported"))
	sig, sw := tc.sign(piv.AlgRSA2048, 0x9A, pkcs1v15(t, 256, digest[:]))
	if sw != 0x9000 {
		t.Fatalf("sign: %04X", sw)
	}
	if err := rsa.VerifyPKCS1v15(&key.PublicKey, crypto.SHA256, digest[:], sig); err != nil {
		t.Fatal(err)
	}
	m := tlvs(t, tc.mustOK(0xF7, 0x00, 0x9A, nil))
	if m[0x03][0] != piv.OriginImported || m[0x01][0] != piv.AlgRSA2048 {
		t.Fatalf("metadata %x", m)
	}
	if got := rsaPublic(t, tlvs(t, m[0x04])); !got.Equal(&key.PublicKey) {
		t.Fatal("metadata public key differs")
	}
}

func TestECDHAndImportEC(t *testing.T) {
	for _, tt := range []struct {
		alg   byte
		curve elliptic.Curve
		ecdh  ecdh.Curve
	}{{piv.AlgECCP256, elliptic.P256(), ecdh.P256()}, {piv.AlgECCP384, elliptic.P384(), ecdh.P384()}} {
		tc := selected(t, piv.Config{})
		tc.mustAuth()
		tc.verifyPIN(piv.DefaultPIN)
		// Generated key: ECDH against a host key.
		point := tc.generate(0x9D, tt.alg)[0x86]
		cardPub, err := tt.ecdh.NewPublicKey(point)
		if err != nil {
			t.Fatal(err)
		}
		host, _ := tt.ecdh.GenerateKey(rand.Reader)
		secret, sw := tc.genAuth(tt.alg, 0x9D, 0x85, host.PublicKey().Bytes())
		if sw != 0x9000 {
			t.Fatalf("ECDH: %04X", sw)
		}
		want, _ := host.ECDH(cardPub)
		if !bytes.Equal(secret, want) {
			t.Fatal("shared secrets differ")
		}
		if _, sw := tc.genAuth(tt.alg, 0x9D, 0x85, point[:len(point)-1]); sw != 0x6A80 {
			t.Fatalf("bad point: %04X", sw)
		}
		// Imported key: ECDSA verifies against the host's public key.
		key, _ := ecdsa.GenerateKey(tt.curve, rand.Reader)
		raw, err := key.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		tc.wantSW(0x6A80, 0xFE, tt.alg, 0x9A, tlv(0x06, make([]byte, len(raw))))
		tc.wantSW(0x6A80, 0xFE, tt.alg, 0x9A, tlv(0x07, raw))
		tc.mustOK(0xFE, tt.alg, 0x9A, tlv(0x06, raw))
		digest := sha256.Sum256([]byte("ec import"))
		sig, sw := tc.sign(tt.alg, 0x9A, digest[:])
		if sw != 0x9000 || !ecdsa.VerifyASN1(&key.PublicKey, digest[:], sig) {
			t.Fatalf("imported signature: %04X", sw)
		}
	}
}

func TestEd25519AndX25519(t *testing.T) {
	tc := selected(t, piv.Config{})
	tc.mustAuth()
	tc.verifyPIN(piv.DefaultPIN)
	pub := ed25519.PublicKey(tc.generate(0x9A, piv.AlgEd25519)[0x86])
	msg := []byte("a whole message, not a hash")
	sig, sw := tc.sign(piv.AlgEd25519, 0x9A, msg)
	if sw != 0x9000 || !ed25519.Verify(pub, msg, sig) {
		t.Fatalf("Ed25519: %04X", sw)
	}
	if _, sw := tc.genAuth(piv.AlgEd25519, 0x9A, 0x85, make([]byte, 32)); sw != 0x6A80 {
		t.Fatalf("Ed25519 with 85: %04X", sw)
	}
	// Import Ed25519 (07 seed).
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	tc.mustOK(0xFE, piv.AlgEd25519, 0x9C, tlv(0x07, priv.Seed()))
	tc.verifyPIN(piv.DefaultPIN)
	sig, sw = tc.sign(piv.AlgEd25519, 0x9C, msg)
	if sw != 0x9000 || !ed25519.Verify(priv.Public().(ed25519.PublicKey), msg, sig) {
		t.Fatalf("imported Ed25519: %04X", sw)
	}

	// X25519.
	point := tc.generate(0x9D, piv.AlgX25519)[0x86]
	cardPub, err := ecdh.X25519().NewPublicKey(point)
	if err != nil {
		t.Fatal(err)
	}
	host, _ := ecdh.X25519().GenerateKey(rand.Reader)
	secret, sw := tc.genAuth(piv.AlgX25519, 0x9D, 0x85, host.PublicKey().Bytes())
	want, _ := host.ECDH(cardPub)
	if sw != 0x9000 || !bytes.Equal(secret, want) {
		t.Fatalf("X25519: %04X", sw)
	}
	if _, sw := tc.genAuth(piv.AlgX25519, 0x9D, 0x85, make([]byte, 32)); sw != 0x6A80 {
		t.Fatalf("X25519 low-order point: %04X", sw)
	}
	if _, sw := tc.sign(piv.AlgX25519, 0x9D, make([]byte, 32)); sw != 0x6A80 {
		t.Fatalf("X25519 sign: %04X", sw)
	}
	// Import X25519 (08 scalar).
	xk, _ := ecdh.X25519().GenerateKey(rand.Reader)
	tc.mustOK(0xFE, piv.AlgX25519, 0x82, tlv(0x08, xk.Bytes()))
	secret, _ = tc.genAuth(piv.AlgX25519, 0x82, 0x85, host.PublicKey().Bytes())
	want, _ = xk.ECDH(host.PublicKey())
	if !bytes.Equal(secret, want) {
		t.Fatal("imported X25519 secret differs")
	}
	// The public keys in metadata.
	m := tlvs(t, tc.mustOK(0xF7, 0x00, 0x82, nil))
	if !bytes.Equal(tlvs(t, m[0x04])[0x86], xk.PublicKey().Bytes()) || m[0x01][0] != piv.AlgX25519 {
		t.Fatalf("X25519 metadata %x", m)
	}
}

func TestDeterministicKeys(t *testing.T) {
	gen := func() []byte {
		tc := selected(t, piv.Config{Rand: seededRand(42)})
		tc.mustAuth()
		return tc.generate(0x9A, piv.AlgECCP256)[0x86]
	}
	if a, b := gen(), gen(); !bytes.Equal(a, b) {
		t.Fatal("same seed, different keys")
	}
	root1 := newCard(t, piv.Config{Rand: seededRand(7)}).c.AttestationRoot()
	root2 := newCard(t, piv.Config{Rand: seededRand(7)}).c.AttestationRoot()
	if !root1.PublicKey.(*ecdsa.PublicKey).Equal(root2.PublicKey) {
		t.Fatal("same seed, different attestation roots")
	}
	_ = x509.ECDSAWithSHA256
}

// zeroReader is a degenerate random source.
type zeroReader struct{}

func (zeroReader) Read(b []byte) (int, error) {
	clear(b)
	return len(b), nil
}

func TestDegenerateRandom(t *testing.T) {
	// A source that always gives zeros cannot make a card (the EC scalar
	// would be 0); one that gives the same bytes cannot make two distinct
	// RSA primes. Neither may hang or panic.
	if _, err := piv.New(piv.Config{Rand: zeroReader{}}); err == nil {
		t.Fatal("New with an all-zero random source succeeded")
	}
	// A constant non-zero source makes valid EC keys but equal RSA primes:
	// GENERATE fails with 6F00 instead of looping.
	tc := selected(t, piv.Config{Rand: constReader(0x5A)})
	tc.mustAuth()
	tc.wantSW(0x6F00, 0x47, 0x00, 0x9A, h("AC 03 80 01 06"))
	tc.generate(0x9A, piv.AlgECCP256)
}

type constReader byte

func (c constReader) Read(b []byte) (int, error) {
	for i := range b {
		b[i] = byte(c)
	}
	return len(b), nil
}

package gids_test

import (
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"math/big"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cardmod/cardmod/cardsim/gids"
)

// keyFileFCP is the key file OpenSC's GIDS driver creates: security 8F 10
// 10 10 00 (generate, MSE and import need the PIN; the public key is
// free) and CRTs for decipherment (raw, OAEP, PKCS#1) and signature
// (off-card padding, PKCS#1) for a key exchange key, signature only
// otherwise.
func keyFileFCP(kid, alg byte, exchange bool) []byte {
	ref := func(tmpl byte, a byte) []byte {
		return tlv(uint16(tmpl), cat(tlv(0x80, []byte{a}), tlv(0x83, []byte{kid}), tlv(0x95, []byte{0x40})))
	}
	var crts []byte
	if exchange {
		crts = cat(ref(0xB8, alg), ref(0xB8, 0x80+alg), ref(0xB8, 0x40+alg))
	}
	crts = cat(crts, ref(0xB6, 0x10+alg), ref(0xB6, 0x50+alg))
	return tlv(0x62, cat(h("82 01 18"), tlv(0x83, []byte{0xB0, kid}), h("8C 05 8F 10 10 10 00"), tlv(0xA5, crts)))
}

// ecKeyFileFCP is a key file for an EC key: signature and key agreement.
func ecKeyFileFCP(kid, alg byte) []byte {
	ref := func(tmpl byte, a byte) []byte {
		return tlv(uint16(tmpl), cat(tlv(0x80, []byte{a}), tlv(0x83, []byte{kid})))
	}
	return tlv(0x62, cat(h("82 01 18"), tlv(0x83, []byte{0xB0, kid}), h("8C 05 8F 10 10 10 00"),
		tlv(0xA5, cat(ref(0xB6, alg), ref(0xB6, 0x10+alg), ref(0xA4, alg)))))
}

// createKeyFile creates and activates a key file (PIN verified).
func (tc *tcard) createKeyFile(fcp []byte) {
	tc.t.Helper()
	tc.mustOK(0xE0, 0, 0, fcp)
	tc.mustOK(0x44, 0, 0, nil)
}

// generate runs GENERATE ASYMMETRIC KEY PAIR as OpenSC does (no Le), then
// reads the public key with GET DATA 3FFF.
func (tc *tcard) generate(kid, alg byte) crypto.PublicKey {
	t := tc.t
	t.Helper()
	_, sw := tc.raw(short(0, 0x47, 0, 0, cat(h("AC 06 80 01"), []byte{alg}, h("83 01"), []byte{kid}), false))
	require.Equal(t, uint16(0x9000), sw)
	return tc.publicKey(kid)
}

func (tc *tcard) publicKey(kid byte) crypto.PublicKey {
	t := tc.t
	t.Helper()
	resp := tc.mustOK(0xCB, 0x3F, 0xFF, cat(h("70 08 84 01"), []byte{kid}, h("A5 03 7F 49 80")))
	return parsePublic(t, resp)
}

// parsePublic decodes 7F49 { 81 n, 82 e } or 7F49 { 86 point }.
func parsePublic(t testing.TB, b []byte) crypto.PublicKey {
	t.Helper()
	require.Equal(t, h("7F 49"), b[:2])
	inner := skipHeader(t, b[2:])
	var n, e, point []byte
	for len(inner) > 0 {
		tag := inner[0]
		v := skipHeader(t, inner[1:])
		hdr := len(inner) - len(v)
		switch tag {
		case 0x81:
			n = v[:valueLen(t, inner[1:])]
		case 0x82:
			e = v[:valueLen(t, inner[1:])]
		case 0x86:
			point = v[:valueLen(t, inner[1:])]
		}
		inner = inner[hdr+valueLen(t, inner[1:]):]
	}
	if point != nil {
		for _, c := range []elliptic.Curve{elliptic.P256(), elliptic.P384(), elliptic.P521()} {
			if len(point) == 1+2*((c.Params().BitSize+7)/8) {
				pub, err := ecdsa.ParseUncompressedPublicKey(c, point)
				require.NoError(t, err)
				return pub
			}
		}
		t.Fatalf("point of %d bytes", len(point))
	}
	require.NotEmpty(t, n)
	return &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
}

// valueLen decodes a BER length at b.
func valueLen(t testing.TB, b []byte) int {
	t.Helper()
	switch b[0] {
	case 0x81:
		return int(b[1])
	case 0x82:
		return int(b[1])<<8 | int(b[2])
	}
	return int(b[0])
}

// skipHeader returns what follows a BER length at b.
func skipHeader(t testing.TB, b []byte) []byte {
	t.Helper()
	switch b[0] {
	case 0x81:
		return b[2:]
	case 0x82:
		return b[3:]
	}
	return b[1:]
}

// mse sets the security environment for a private key.
func (tc *tcard) mse(p2, alg, kid byte) uint16 {
	tc.t.Helper()
	_, sw := tc.raw(short(0, 0x22, 0x41, p2, cat(h("80 01"), []byte{alg}, h("84 01"), []byte{kid}), false))
	return sw
}

// digestInfoSHA256 is the DigestInfo prefix OpenSC sends before a SHA-256
// hash.
var digestInfoSHA256 = h("30 31 30 0d 06 09 60 86 48 01 65 03 04 02 01 05 00 04 20")

// TestRSAKeyLikeOpenSC follows pkcs11-tool --keypairgen and --sign on a
// card OpenSC initialized: create the key file, generate RSA-2048, read the
// public key, MSE 41 B6 57, PSO COMPUTE DIGITAL SIGNATURE of a DigestInfo;
// then decipher with MSE 41 B8 47.
func TestRSAKeyLikeOpenSC(t *testing.T) {
	tc := initialized(t)
	require.Equal(t, uint16(0x9000), tc.verify(gids.DefaultPIN))
	tc.createKeyFile(keyFileFCP(0x81, gids.AlgRSA2048, true))
	pub, ok := tc.generate(0x81, gids.AlgRSA2048).(*rsa.PublicKey)
	require.True(t, ok)
	assert.Equal(t, 2048, pub.N.BitLen())
	assert.Equal(t, 65537, pub.E)

	require.Equal(t, uint16(0x9000), tc.mse(0xB6, 0x50|gids.AlgRSA2048, 0x81))
	digest := sha256.Sum256([]byte("GIDS"))
	sig := tc.mustOK(0x2A, 0x9E, 0x9A, cat(digestInfoSHA256, digest[:]))
	require.NoError(t, rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig))

	// Decipher: 00 padding indicator, 257 bytes chained.
	require.Equal(t, uint16(0x9000), tc.mse(0xB8, 0x40|gids.AlgRSA2048, 0x81))
	ct := encryptPKCS1(pub, []byte("session key"))
	assert.Equal(t, []byte("session key"), tc.mustOK(0x2A, 0x80, 0x86, cat([]byte{0}, ct)))
	tc.wantSW(0x6A80, 0x2A, 0x80, 0x86, cat([]byte{1}, ct))
	tc.wantSW(0x6700, 0x2A, 0x80, 0x86, ct[1:])
	// Without the padding indicator, as OpenSC 0.23 sends it.
	assert.Equal(t, []byte("session key"), tc.mustOK(0x2A, 0x80, 0x86, ct))
	// The same ciphertext as an extended APDU.
	data := cat([]byte{0}, ct)
	resp, sw := tc.raw(cat(h("00 2A 80 86 00 01 01"), data, h("00 00")))
	require.Equal(t, uint16(0x9000), sw)
	assert.Equal(t, []byte("session key"), resp)
	// Garbage decrypts to something without valid padding.
	bad := make([]byte, len(ct))
	bad[5] = 1
	tc.wantSW(0x6A80, 0x2A, 0x80, 0x86, cat([]byte{0}, bad))

	// OAEP (SHA-1) and raw.
	require.Equal(t, uint16(0x9000), tc.mse(0xB8, 0x80|gids.AlgRSA2048, 0x81))
	ct, err := rsa.EncryptOAEP(sha1.New(), rand.Reader, pub, []byte("oaep"), nil)
	require.NoError(t, err)
	assert.Equal(t, []byte("oaep"), tc.mustOK(0x2A, 0x80, 0x86, cat([]byte{0}, ct)))
	require.Equal(t, uint16(0x9000), tc.mse(0xB8, gids.AlgRSA2048, 0x81))
	m := new(big.Int).SetBytes([]byte("raw block"))
	c := new(big.Int).Exp(m, big.NewInt(int64(pub.E)), pub.N).FillBytes(make([]byte, 256))
	assert.Equal(t, m.FillBytes(make([]byte, 256)), tc.mustOK(0x2A, 0x80, 0x86, cat([]byte{0}, c)))

	// Signature with padding done off card (1x).
	require.Equal(t, uint16(0x9000), tc.mse(0xB6, 0x10|gids.AlgRSA2048, 0x81))
	em := make([]byte, 256)
	em[1] = 1
	for i := 2; i < 256-len(digestInfoSHA256)-32-1; i++ {
		em[i] = 0xFF
	}
	copy(em[256-32-len(digestInfoSHA256):], cat(digestInfoSHA256, digest[:]))
	sig = tc.mustOK(0x2A, 0x9E, 0x9A, em)
	require.NoError(t, rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig))
	tc.wantSW(0x6700, 0x2A, 0x9E, 0x9A, em[1:])
}

func TestKeyOperationsNeedThePIN(t *testing.T) {
	tc := initialized(t)
	require.Equal(t, uint16(0x9000), tc.verify(gids.DefaultPIN))
	tc.createKeyFile(keyFileFCP(0x81, gids.AlgRSA1024, false))
	pub := tc.generate(0x81, gids.AlgRSA1024).(*rsa.PublicKey)
	require.Equal(t, uint16(0x9000), tc.mse(0xB6, 0x50|gids.AlgRSA1024, 0x81))
	digest := sha256.Sum256([]byte("x"))
	// A wrong PIN: the environment survives, the right to use it does not.
	require.Equal(t, uint16(0x63C2), tc.verify("000000"))
	tc.wantSW(0x6982, 0x2A, 0x9E, 0x9A, cat(digestInfoSHA256, digest[:]))
	// Deauthentication forgets the environment too.
	tc.mustOK(0x20, 0x00, 0x82, nil)
	tc.wantSW(0x6985, 0x2A, 0x9E, 0x9A, cat(digestInfoSHA256, digest[:]))
	assert.Equal(t, uint16(0x6982), tc.mse(0xB6, 0x50|gids.AlgRSA1024, 0x81))
	_, sw := tc.raw(short(0, 0x47, 0, 0, h("AC 06 80 01 06 83 01 81"), false))
	assert.Equal(t, uint16(0x6982), sw)
	// The public key is free.
	assert.Equal(t, pub, tc.publicKey(0x81))
	require.Equal(t, uint16(0x9000), tc.verify(gids.DefaultPIN))
	require.Equal(t, uint16(0x9000), tc.mse(0xB6, 0x50|gids.AlgRSA1024, 0x81))
	sig := tc.mustOK(0x2A, 0x9E, 0x9A, cat(digestInfoSHA256, digest[:]))
	require.NoError(t, rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig))
}

func TestMaxRSABits(t *testing.T) {
	tc := selected(t, gids.Config{Initialized: true, MaxRSABits: 1024})
	require.Equal(t, uint16(0x9000), tc.verify(gids.DefaultPIN))
	tc.createKeyFile(keyFileFCP(0x81, gids.AlgRSA2048, true))
	_, sw := tc.raw(short(0, 0x47, 0, 0, h("AC 06 80 01 07 83 01 81"), false))
	assert.Equal(t, uint16(0x6A81), sw)
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	tc.wantSW(0x6A81, 0xDB, 0x3F, 0xFF, tlv(0x70, cat(h("84 01 81"), tlv(0xA5, tlv(0x87, x509.MarshalPKCS1PrivateKey(key))))))
}

func TestSecurityEnvironmentErrors(t *testing.T) {
	tc := initialized(t)
	require.Equal(t, uint16(0x9000), tc.verify(gids.DefaultPIN))
	tc.createKeyFile(keyFileFCP(0x81, gids.AlgRSA1024, false))
	digest := sha256.Sum256([]byte("x"))
	// No key yet, no environment yet.
	assert.Equal(t, uint16(0x6A88), tc.mse(0xB6, 0x50|gids.AlgRSA1024, 0x81))
	tc.wantSW(0x6985, 0x2A, 0x9E, 0x9A, cat(digestInfoSHA256, digest[:]))
	tc.generate(0x81, gids.AlgRSA1024)
	assert.Equal(t, uint16(0x6A80), tc.mse(0xB8, 0x40|gids.AlgRSA1024, 0x81), "signature-only key file")
	assert.Equal(t, uint16(0x6A80), tc.mse(0xB6, 0x50|gids.AlgRSA2048, 0x81), "other key size")
	assert.Equal(t, uint16(0x6A88), tc.mse(0xB6, 0x50|gids.AlgRSA1024, 0x82))
	assert.Equal(t, uint16(0x6A86), tc.mse(0xB7, 0x50|gids.AlgRSA1024, 0x81))
	tc.wantSW(0x6A80, 0x22, 0x41, 0xB6, h("80 01 56"))
	tc.wantSW(0x6A80, 0x22, 0x41, 0xB6, h("80 01"))
	tc.wantSW(0x6A86, 0x22, 0x42, 0xB6, h("80 01 56 84 01 81"))
	require.Equal(t, uint16(0x9000), tc.mse(0xB6, 0x50|gids.AlgRSA1024, 0x81))
	tc.wantSW(0x6985, 0x2A, 0x80, 0x86, make([]byte, 129))
	tc.wantSW(0x6A86, 0x2A, 0x9E, 0x9B, digest[:])
	tc.wantSW(0x6700, 0x2A, 0x9E, 0x9A, make([]byte, 120))
	// RESTORE forgets the environment.
	tc.mustOK(0x22, 0xF3, 0x00, nil)
	tc.wantSW(0x6985, 0x2A, 0x9E, 0x9A, cat(digestInfoSHA256, digest[:]))
	// GENERATE errors.
	for _, c := range []struct {
		data string
		sw   uint16
	}{
		{"AC 06 80 01 0A 83 01 81", 0x6A81},
		{"AC 06 80 01 07 83 01 81", 0x6A80},
		{"AC 06 80 01 06 83 01 85", 0x6A88},
		{"AC 03 80 01 06", 0x6A80},
		{"AD 06 80 01 06 83 01 81", 0x6A80},
	} {
		_, sw := tc.raw(short(0, 0x47, 0, 0, h(c.data), false))
		assert.Equalf(t, c.sw, sw, "%s", c.data)
	}
	_, sw := tc.raw(short(0, 0x47, 0, 1, h("AC 06 80 01 06 83 01 81"), false))
	assert.Equal(t, uint16(0x6A86), sw)
	// A deleted key file takes its key along.
	tc.mustOK(0xE4, 0, 0, h("B0 81"))
	tc.wantSW(0x6A88, 0xCB, 0x3F, 0xFF, h("70 08 84 01 81 A5 03 7F 49 80"))
}

// TestGenerateAnswersPublicKeyWithLe: with Le the public key comes with
// GENERATE (in 61xx parts for RSA-2048... here 1024).
func TestGenerateAnswersPublicKeyWithLe(t *testing.T) {
	tc := initialized(t)
	require.Equal(t, uint16(0x9000), tc.verify(gids.DefaultPIN))
	tc.createKeyFile(keyFileFCP(0x82, gids.AlgRSA1024, true))
	resp := tc.mustOK(0x47, 0, 0, h("AC 06 80 01 06 83 01 82"))
	assert.Equal(t, tc.publicKey(0x82), parsePublic(t, resp))
}

func TestECCKeys(t *testing.T) {
	for _, c := range []struct {
		alg   byte
		curve elliptic.Curve
		ecdh  ecdh.Curve
		hash  []byte
	}{
		{gids.AlgECCP256, elliptic.P256(), ecdh.P256(), make([]byte, 32)},
		{gids.AlgECCP384, elliptic.P384(), ecdh.P384(), make([]byte, 48)},
		{gids.AlgECCP521, elliptic.P521(), ecdh.P521(), make([]byte, 64)},
	} {
		t.Run(c.curve.Params().Name, func(t *testing.T) {
			tc := initialized(t)
			require.Equal(t, uint16(0x9000), tc.verify(gids.DefaultPIN))
			tc.createKeyFile(ecKeyFileFCP(0x83, c.alg))
			pub, ok := tc.generate(0x83, c.alg).(*ecdsa.PublicKey)
			require.True(t, ok)
			assert.Equal(t, c.curve, pub.Curve)

			copy(c.hash, "a hash of the right size for this curve..........................")
			require.Equal(t, uint16(0x9000), tc.mse(0xB6, c.alg, 0x83))
			sig := tc.mustOK(0x2A, 0x9E, 0x9A, c.hash)
			size := (c.curve.Params().BitSize + 7) / 8
			require.Len(t, sig, 2*size)
			r, s := new(big.Int).SetBytes(sig[:size]), new(big.Int).SetBytes(sig[size:])
			assert.True(t, ecdsa.Verify(pub, c.hash, r, s))

			// ECDH through GENERAL AUTHENTICATE.
			peer, err := c.ecdh.GenerateKey(rand.Reader)
			require.NoError(t, err)
			require.Equal(t, uint16(0x9000), tc.mse(0xA4, c.alg, 0x83))
			resp := tc.mustOK(0x87, 0, 0, tlv(0x7C, tlv(0x85, peer.PublicKey().Bytes())))
			cardPub, err := pub.ECDH()
			require.NoError(t, err)
			want, err := peer.ECDH(cardPub)
			require.NoError(t, err)
			assert.Equal(t, tlv(0x7C, tlv(0x82, want)), resp)
			tc.wantSW(0x6A80, 0x87, 0, 0, tlv(0x7C, tlv(0x85, []byte{4, 1, 2})))
			// ECDH needs a key agreement environment.
			require.Equal(t, uint16(0x9000), tc.mse(0xB6, c.alg, 0x83))
			tc.wantSW(0x6985, 0x87, 0, 0, tlv(0x7C, tlv(0x85, peer.PublicKey().Bytes())))
		})
	}
}

// TestImportRSAKeyLikeOpenSC imports an RSA key the way OpenSC's
// gids_import_key encodes it: 70 { 84 kid, A5 { 83 02, 84 00, 87 SEQUENCE
// of nine INTEGERs written as unsigned bytes } }.
func TestImportRSAKeyLikeOpenSC(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 1024)
	require.NoError(t, err)
	unsigned := func(b *big.Int) []byte { return tlv(0x02, b.Bytes()) }
	seq := tlv(0x30, cat(h("02 01 00"), unsigned(key.N), unsigned(big.NewInt(int64(key.E))), unsigned(key.D),
		unsigned(key.Primes[0]), unsigned(key.Primes[1]), unsigned(key.Precomputed.Dp), unsigned(key.Precomputed.Dq), unsigned(key.Precomputed.Qinv)))
	body := tlv(0x70, cat(h("84 01 84"), tlv(0xA5, cat(h("83 01 02 84 01 00"), tlv(0x87, seq)))))

	tc := initialized(t)
	require.Equal(t, uint16(0x9000), tc.verify(gids.DefaultPIN))
	tc.createKeyFile(keyFileFCP(0x84, gids.AlgRSA1024, true))
	tc.mustOK(0xDB, 0x3F, 0xFF, body)
	assert.True(t, key.PublicKey.Equal(tc.publicKey(0x84)))
	require.Equal(t, uint16(0x9000), tc.mse(0xB6, 0x50|gids.AlgRSA1024, 0x84))
	digest := sha256.Sum256([]byte("imported"))
	sig := tc.mustOK(0x2A, 0x9E, 0x9A, cat(digestInfoSHA256, digest[:]))
	require.NoError(t, rsa.VerifyPKCS1v15(&key.PublicKey, crypto.SHA256, digest[:], sig))

	// A key the key file does not allow, and a broken key.
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	tc.wantSW(0x6A80, 0xDB, 0x3F, 0xFF, tlv(0x70, cat(h("84 01 84"), tlv(0xA5, tlv(0x87, x509.MarshalPKCS1PrivateKey(other))))))
	broken := tlv(0x30, cat(h("02 01 00"), unsigned(new(big.Int).Add(key.N, big.NewInt(2))), unsigned(big.NewInt(int64(key.E))), unsigned(key.D),
		unsigned(key.Primes[0]), unsigned(key.Primes[1]), unsigned(key.Precomputed.Dp), unsigned(key.Precomputed.Dq), unsigned(key.Precomputed.Qinv)))
	tc.wantSW(0x6A80, 0xDB, 0x3F, 0xFF, tlv(0x70, cat(h("84 01 84"), tlv(0xA5, tlv(0x87, broken)))))
	// Without the PIN.
	tc.mustOK(0x20, 0x00, 0x82, nil)
	tc.wantSW(0x6982, 0xDB, 0x3F, 0xFF, body)
}

func TestImportECKey(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	der, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	tc := initialized(t)
	require.Equal(t, uint16(0x9000), tc.verify(gids.DefaultPIN))
	tc.createKeyFile(ecKeyFileFCP(0x85, gids.AlgECCP256))
	tc.mustOK(0xDB, 0x3F, 0xFF, tlv(0x70, cat(h("84 01 85"), tlv(0xA5, tlv(0x87, der)))))
	assert.True(t, key.PublicKey.Equal(tc.publicKey(0x85)))
}

// TestDeterministicKeys: the same Config.Rand gives the same keys.
func TestDeterministicKeys(t *testing.T) {
	gen := func() crypto.PublicKey {
		tc := selected(t, gids.Config{Initialized: true, Rand: seededRand(7)})
		require.Equal(t, uint16(0x9000), tc.verify(gids.DefaultPIN))
		tc.createKeyFile(ecKeyFileFCP(0x81, gids.AlgECCP384))
		return tc.generate(0x81, gids.AlgECCP384)
	}
	a, b := gen(), gen()
	assert.True(t, a.(*ecdsa.PublicKey).Equal(b))
}

// encryptPKCS1 pads msg with PKCS#1 v1.5 type 2 (nonzero filler) and
// encrypts it with the public key, as a host wrapping a session key does.
func encryptPKCS1(pub *rsa.PublicKey, msg []byte) []byte {
	k := (pub.N.BitLen() + 7) / 8
	em := make([]byte, k)
	em[1] = 0x02
	for i := 2; i < k-len(msg)-1; i++ {
		em[i] = byte(i%250) + 1
	}
	copy(em[k-len(msg):], msg)
	c := new(big.Int).Exp(new(big.Int).SetBytes(em), big.NewInt(int64(pub.E)), pub.N)
	return c.FillBytes(make([]byte, k))
}

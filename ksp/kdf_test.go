package ksp_test

import (
	"context"
	"crypto"
	"crypto/ecdh"
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/binary"
	"encoding/hex"
	"hash"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cardmod/cardmod/keystore"
	"github.com/cardmod/cardmod/ksp"
	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/minidriver/kdf"
)

// The P-256 ECDH test vector of RFC 5903 §8.1: the card holds i, the
// peer is g^r, and Z is the x-coordinate of g^ir.
const (
	rfc5903I    = "C88F01F510D9AC3F70A292DAA2316DE544E9AAB8AFE84049C62A9C57862D1433"
	rfc5903GiX  = "DAD0B65394221CF9B051E1FECA5787D098DFE637FC90B9EF945D0C3772581180"
	rfc5903GiY  = "5271A0461CDB8252D61F1C456FA3E59AB1F45B33ACCF5F58389E0577B8990BB3"
	rfc5903GrX  = "D12DFB5289C8D4F81208B70270398C342296970A0BCCB74C736FC7554494BF63"
	rfc5903GrY  = "56FBF3CA366CC23E8157854C13C58D6AAC23F046ADA30F8353E74F33039872AB"
	rfc5903GirX = "D6840F6B42F6EDAFD13116E0E12565202FEF8E9ECE7DCE03812464D04B9442DE"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	require.NoError(t, err)
	return b
}

// rfc5903Key imports the RFC 5903 initiator key as an ECDH key and
// returns it with the responder's public key.
func rfc5903Key(t *testing.T, f *fixture) (*ksp.Key, *ecdh.PublicKey) {
	t.Helper()
	priv, err := ecdh.P256().NewPrivateKey(unhex(t, rfc5903I))
	require.NoError(t, err)
	k := f.create(t, "rfc5903", ksp.ECDHP256, priv)
	assert.Equal(t, unhex(t, "04"+rfc5903GiX+rfc5903GiY), k.Public().(*ecdh.PublicKey).Bytes())
	peer, err := ecdh.P256().NewPublicKey(unhex(t, "04"+rfc5903GrX+rfc5903GrY))
	require.NoError(t, err)
	return k, peer
}

// The reference computations below follow the standards' text and share
// nothing with package kdf.

func digest(h func() hash.Hash, parts ...[]byte) []byte {
	d := h()
	for _, p := range parts {
		d.Write(p)
	}
	return d.Sum(nil)
}

func mac(h func() hash.Hash, key []byte, parts ...[]byte) []byte {
	m := hmac.New(h, key)
	for _, p := range parts {
		m.Write(p)
	}
	return m.Sum(nil)
}

// pHash is P_hash of RFC 2246 §5 / RFC 5246 §5.
func pHash(h func() hash.Hash, secret, seed []byte, n int) []byte {
	var out []byte
	a := seed
	for len(out) < n {
		a = mac(h, secret, a)
		out = append(out, mac(h, secret, a, seed)...)
	}
	return out[:n]
}

// tls10PRF is the PRF of RFC 2246 §5: P_MD5 over the first half of the
// secret XOR P_SHA-1 over the second (halves overlap by one byte when the
// length is odd).
func tls10PRF(secret []byte, label string, seed []byte, n int) []byte {
	half := (len(secret) + 1) / 2
	ls := append([]byte(label), seed...)
	a := pHash(md5.New, secret[:half], ls, n)
	b := pHash(sha1.New, secret[len(secret)-half:], ls, n)
	for i := range a {
		a[i] ^= b[i]
	}
	return a
}

func be32(v int) []byte { return binary.BigEndian.AppendUint32(nil, uint32(v)) }

// concatKDF is the single-step KDF of SP 800-56A §5.8.1 with a hash.
func concatKDF(h func() hash.Hash, z, otherInfo []byte, n int) []byte {
	var out []byte
	for i := 1; len(out) < n; i++ {
		out = append(out, digest(h, be32(i), z, otherInfo)...)
	}
	return out[:n]
}

// ctrHMAC is SP 800-108 §4.1 (counter mode, HMAC, 32-bit counter before
// the fixed data Label ‖ 0x00 ‖ Context ‖ [L]_32).
func ctrHMAC(h func() hash.Hash, z, label, context []byte, n int) []byte {
	var out []byte
	for i := 1; len(out) < n; i++ {
		out = append(out, mac(h, z, be32(i), label, []byte{0}, context, be32(8*n))...)
	}
	return out[:n]
}

// TestReferencePRFPublishedVector checks the test's own P_SHA256 against
// the TLS 1.2 PRF vector circulated on the IETF TLS working group list.
func TestReferencePRFPublishedVector(t *testing.T) {
	got := pHash(sha256.New, unhex(t, "9bbe436ba940f017b17652849a71db35"),
		append([]byte("test label"), unhex(t, "a0ba9f936cda311827a6f796ffd5198c")...), 100)
	assert.Equal(t, "e3f229ba727be17b8d122620557cd453c2aab21d07c3d495329b52d4e61edb5a6b301791e90d35c9c9a46b4e14baf9af0fa022f7077def17abfd3797c0564bab4fbc91666e9def9b97fce34f796789baa48082d122ee42c5a72e5a5110fff70187347b66", hex.EncodeToString(got))
}

// TestKDFKnownAnswers derives with every KDF through the KSP from the
// RFC 5903 agreement (whose Z is published) and compares with the
// reference computations.
func TestKDFKnownAnswers(t *testing.T) {
	f := newFixture(t, ksp.Config{})
	k, peer := rfc5903Key(t, f)
	ctx := context.Background()
	z := unhex(t, rfc5903GirX)

	raw, err := k.ECDH(peer)
	require.NoError(t, err)
	require.Equal(t, z, raw, "the published Z")

	s, err := k.SecretAgreement(ctx, peer)
	require.NoError(t, err)
	defer s.Close()

	pre1, pre2, app := []byte("prepend-1"), []byte("prepend-2"), []byte("append")
	hmacKey := []byte("hmac key")
	seed := make([]byte, kdf.TLSSeedSize)
	for i := range seed {
		seed[i] = byte(i)
	}
	alg, u, v, pub, priv := []byte("AES-256"), []byte("party U"), []byte("party V"), []byte("pub"), []byte("priv")
	other := append(append(append(append(append([]byte(nil), alg...), u...), v...), pub...), priv...)
	label, kctx := []byte("label"), []byte("context")

	for _, c := range []struct {
		name string
		kdf  minidriver.KDF
		want []byte
	}{
		{"HASH SHA1 default", kdf.Hash{}, digest(sha1.New, z)},
		{"HASH SHA256 prepend append", kdf.Hash{Hash: crypto.SHA256, Prepend: [][]byte{pre1, pre2}, Append: [][]byte{app}}, digest(sha256.New, pre1, pre2, z, app)},
		{"HASH SHA384", kdf.Hash{Hash: crypto.SHA384}, digest(sha512.New384, z)},
		{"HASH SHA512", kdf.Hash{Hash: crypto.SHA512, Append: [][]byte{app}}, digest(sha512.New, z, app)},
		{"HASH MD5", kdf.Hash{Hash: crypto.MD5}, digest(md5.New, z)},
		{"HMAC SHA256 key", kdf.HMAC{Hash: crypto.SHA256, Key: hmacKey, Prepend: [][]byte{pre1}, Append: [][]byte{app}}, mac(sha256.New, hmacKey, pre1, z, app)},
		{"HMAC SHA1 secret as key", kdf.HMAC{UseSecretAsKey: true, Append: [][]byte{app}}, mac(sha1.New, z, z, app)},
		{"TLS_PRF 1.0", kdf.TLSPRF{Protocol: kdf.TLS10, Label: "master secret", Seed: seed}, tls10PRF(z, "master secret", seed, 48)},
		{"TLS_PRF 1.1", kdf.TLSPRF{Protocol: kdf.TLS11, Label: "master secret", Seed: seed}, tls10PRF(z, "master secret", seed, 48)},
		{"TLS_PRF 1.2 SHA256", kdf.TLSPRF{Protocol: kdf.TLS12, Label: "master secret", Seed: seed}, pHash(sha256.New, z, append([]byte("master secret"), seed...), 48)},
		{"TLS_PRF 1.2 SHA384", kdf.TLSPRF{Protocol: kdf.TLS12, Hash: crypto.SHA384, Label: "master secret", Seed: seed}, pHash(sha512.New384, z, append([]byte("master secret"), seed...), 48)},
		{"SP800_56A_CONCAT SHA256 80 bytes", kdf.SP80056AConcat{Hash: crypto.SHA256, AlgorithmID: alg, PartyUInfo: u, PartyVInfo: v, SuppPubInfo: pub, SuppPrivInfo: priv, Length: 80}, concatKDF(sha256.New, z, other, 80)},
		{"SP800_56A_CONCAT SHA1 default length", kdf.SP80056AConcat{AlgorithmID: alg, PartyUInfo: u, PartyVInfo: v}, concatKDF(sha1.New, z, append(append(append([]byte(nil), alg...), u...), v...), 20)},
		{"SP800_108_CTR_HMAC SHA256 42 bytes", kdf.SP800108CTRHMAC{Hash: crypto.SHA256, Label: label, Context: kctx, Length: 42}, ctrHMAC(sha256.New, z, label, kctx, 42)},
		{"SP800_108_CTR_HMAC SHA384", kdf.SP800108CTRHMAC{Hash: crypto.SHA384, Label: label, Context: kctx}, ctrHMAC(sha512.New384, z, label, kctx, 48)},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := s.Derive(c.kdf)
			require.NoError(t, err)
			assert.Equal(t, hex.EncodeToString(c.want), hex.EncodeToString(got))
		})
	}

	// The same through names and BCryptBuffer lists.
	sha256Param, err := kdf.HashParam(crypto.SHA256)
	require.NoError(t, err)
	named := []struct {
		name   string
		kdf    string
		params []kdf.Param
		want   []byte
	}{
		{"HASH", kdf.NameHash, []kdf.Param{sha256Param, {Type: kdf.ParamSecretPrepend, Value: pre1}, {Type: kdf.ParamSecretAppend, Value: app}}, digest(sha256.New, pre1, z, app)},
		{"HMAC", kdf.NameHMAC, []kdf.Param{{Type: kdf.ParamHMACKey, Value: hmacKey}}, mac(sha1.New, hmacKey, z)},
		{"TLS_PRF", kdf.NameTLSPRF, []kdf.Param{{Type: kdf.ParamTLSPRFLabel, Value: []byte("master secret")}, {Type: kdf.ParamTLSPRFSeed, Value: seed}, kdf.ProtocolParam(kdf.TLS12), sha256Param},
			pHash(sha256.New, z, append([]byte("master secret"), seed...), 48)},
		{"SP800_56A_CONCAT", kdf.NameSP80056AConcat, []kdf.Param{{Type: kdf.ParamAlgorithmID, Value: alg}, {Type: kdf.ParamPartyUInfo, Value: u}, {Type: kdf.ParamPartyVInfo, Value: v}, sha256Param},
			concatKDF(sha256.New, z, append(append(append([]byte(nil), alg...), u...), v...), 32)},
		{"SP800_108_CTR_HMAC", kdf.NameSP800108CTRHMAC, []kdf.Param{{Type: kdf.ParamLabel, Value: label}, {Type: kdf.ParamContext, Value: kctx}, sha256Param},
			ctrHMAC(sha256.New, z, label, kctx, 32)},
	}
	for _, c := range named {
		t.Run("named "+c.name, func(t *testing.T) {
			got, err := s.DeriveNamed(ctx, c.kdf, c.params)
			require.NoError(t, err)
			assert.Equal(t, hex.EncodeToString(c.want), hex.EncodeToString(got))
		})
	}
}

// TestKDFWithoutRequiredParameters: the parameters spec CardDeriveKey
// requires are enforced before anything is derived.
func TestKDFWithoutRequiredParameters(t *testing.T) {
	f := newFixture(t, ksp.Config{})
	k, peer := rfc5903Key(t, f)
	ctx := context.Background()
	s, err := k.SecretAgreement(ctx, peer)
	require.NoError(t, err)
	defer s.Close()
	seed := make([]byte, kdf.TLSSeedSize)
	for _, c := range []struct {
		name   string
		kdf    string
		params []kdf.Param
	}{
		{"HMAC without a key", kdf.NameHMAC, nil},
		{"TLS_PRF without a seed", kdf.NameTLSPRF, []kdf.Param{{Type: kdf.ParamTLSPRFLabel, Value: []byte("l")}}},
		{"TLS_PRF without a label", kdf.NameTLSPRF, []kdf.Param{{Type: kdf.ParamTLSPRFSeed, Value: seed}}},
		{"TLS_PRF with a short seed", kdf.NameTLSPRF, []kdf.Param{{Type: kdf.ParamTLSPRFLabel, Value: []byte("l")}, {Type: kdf.ParamTLSPRFSeed, Value: seed[:32]}}},
		{"SP800_56A_CONCAT without PartyVInfo", kdf.NameSP80056AConcat, []kdf.Param{{Type: kdf.ParamAlgorithmID, Value: []byte("a")}, {Type: kdf.ParamPartyUInfo, Value: []byte("u")}}},
		{"unknown KDF", "PBKDF2", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := s.DeriveNamed(ctx, c.kdf, c.params)
			assert.ErrorIs(t, err, minidriver.ErrInvalidParameter)
		})
	}
	_, err = s.Derive(kdf.TLSPRF{Seed: seed})
	assert.ErrorIs(t, err, minidriver.ErrInvalidParameter, "a struct is validated too")
	_, err = s.Derive(nil)
	assert.ErrorIs(t, err, minidriver.ErrInvalidParameter)
}

func TestSecretClose(t *testing.T) {
	f := newFixture(t, ksp.Config{})
	k, peer := rfc5903Key(t, f)
	s, err := k.SecretAgreement(context.Background(), peer)
	require.NoError(t, err)
	_, err = s.Derive(kdf.Hash{})
	require.NoError(t, err)
	require.NoError(t, s.Close())
	_, err = s.Derive(kdf.Hash{})
	assert.ErrorIs(t, err, keystore.ErrClosed)
	assert.NoError(t, s.Close(), "closing twice is harmless")
}

func TestPeerOnTheWrongCurve(t *testing.T) {
	f := newFixture(t, ksp.Config{})
	k := f.create(t, "p256", ksp.ECDHP256, nil)
	peer, err := ecdh.P384().GenerateKey(rand.Reader)
	require.NoError(t, err)
	_, err = k.ECDH(peer.PublicKey())
	assert.ErrorIs(t, err, ksp.ErrWrongCurve)
	_, err = k.SecretAgreement(context.Background(), peer.PublicKey())
	assert.ErrorIs(t, err, ksp.ErrWrongCurve)
	x, err := ecdh.X25519().GenerateKey(rand.Reader)
	require.NoError(t, err)
	_, err = k.ECDH(x.PublicKey())
	assert.ErrorIs(t, err, ksp.ErrWrongCurve)
	_, err = k.ECDH(nil)
	assert.ErrorIs(t, err, minidriver.ErrInvalidParameter)
}

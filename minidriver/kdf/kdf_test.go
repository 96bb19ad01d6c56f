package kdf_test

import (
	"bytes"
	"crypto"
	"crypto/ecdh"
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"hash"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/minidriver/kdf"
)

// The reference computations below are written plainly and separately
// from the package: whole messages are built first and hashed in one go.

func newHash(h crypto.Hash) func() hash.Hash {
	switch h {
	case crypto.MD5:
		return md5.New
	case crypto.SHA1:
		return sha1.New
	case crypto.SHA256:
		return sha256.New
	case crypto.SHA384:
		return sha512.New384
	case crypto.SHA512:
		return sha512.New
	}
	panic("test: no hash")
}

func digest(h crypto.Hash, msg []byte) []byte {
	w := newHash(h)()
	w.Write(msg)
	return w.Sum(nil)
}

func mac(h crypto.Hash, key, msg []byte) []byte {
	m := hmac.New(newHash(h), key)
	m.Write(msg)
	return m.Sum(nil)
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// refPHash is P_hash of RFC 5246 §5, computed block by block.
func refPHash(h crypto.Hash, secret, seed []byte, n int) []byte {
	var out []byte
	a := seed
	for len(out) < n {
		a = mac(h, secret, a)
		out = append(out, mac(h, secret, cat(a, seed))...)
	}
	return out[:n]
}

func refConcat(h crypto.Hash, z, otherInfo []byte, n int) []byte {
	var out []byte
	for i := uint32(1); len(out) < n; i++ {
		out = append(out, digest(h, cat(binary.BigEndian.AppendUint32(nil, i), z, otherInfo))...)
	}
	return out[:n]
}

func refCounter(h crypto.Hash, key, label, context []byte, n int) []byte {
	var out []byte
	l := binary.BigEndian.AppendUint32(nil, uint32(n*8))
	for i := uint32(1); len(out) < n; i++ {
		out = append(out, mac(h, key, cat(binary.BigEndian.AppendUint32(nil, i), label, []byte{0}, context, l))...)
	}
	return out[:n]
}

var (
	secretZ = bytes.Repeat([]byte{0x5a, 0x17, 0xc3}, 11) // 33 bytes: odd, like a P-521 x is not
	seed64  = bytes.Repeat([]byte{0x42}, kdf.TLSSeedSize)
)

func TestTLSPRF10KnownAnswer(t *testing.T) {
	// The TLS 1.0/1.1 PRF vector ("PRF Testvector", secret 48 x 0xAB,
	// seed 64 x 0xCD) used by BearSSL's and other test suites; the master
	// secret is its first 48 bytes.
	want := "d3d4d1e349b5d515044666d51de32bab258cb521b6b053463e354832fd976754" +
		"443bcf9a296519bc289abcbc1187e4eb"
	for _, proto := range []uint16{0, kdf.TLS10, kdf.TLS11} {
		k := kdf.TLSPRF{Protocol: proto, Label: "PRF Testvector", Seed: bytes.Repeat([]byte{0xcd}, 64)}
		got, err := k.Derive(bytes.Repeat([]byte{0xab}, 48))
		require.NoError(t, err)
		assert.Equal(t, want, hex.EncodeToString(got), "protocol %#x", proto)
	}
}

func TestDeriveMatchesReference(t *testing.T) {
	pre1, pre2, app := []byte("pre-one"), []byte{0, 1, 2}, []byte("append")
	hmacKey := []byte("hmac key bytes")
	label, context := []byte("label"), []byte("context bytes")
	alg, u, v, pub, priv := []byte{1, 2}, []byte("U"), []byte("party V"), []byte{9}, []byte("priv")
	half := (len(secretZ) + 1) / 2
	tls10 := func(label string) []byte {
		s := cat([]byte(label), seed64)
		a := refPHash(crypto.MD5, secretZ[:half], s, 48)
		b := refPHash(crypto.SHA1, secretZ[len(secretZ)-half:], s, 48)
		for i := range a {
			a[i] ^= b[i]
		}
		return a
	}
	tests := []struct {
		name string
		k    minidriver.KDF
		want []byte
	}{
		{"HASH default SHA1", kdf.Hash{}, digest(crypto.SHA1, secretZ)},
		{"HASH SHA256 prepend append", kdf.Hash{Hash: crypto.SHA256, Prepend: [][]byte{pre1, pre2}, Append: [][]byte{app}},
			digest(crypto.SHA256, cat(pre1, pre2, secretZ, app))},
		{"HASH SHA384", kdf.Hash{Hash: crypto.SHA384, Append: [][]byte{app}}, digest(crypto.SHA384, cat(secretZ, app))},
		{"HASH SHA512", kdf.Hash{Hash: crypto.SHA512, Prepend: [][]byte{pre1}}, digest(crypto.SHA512, cat(pre1, secretZ))},
		{"HASH MD5", kdf.Hash{Hash: crypto.MD5}, digest(crypto.MD5, secretZ)},
		{"HMAC key", kdf.HMAC{Hash: crypto.SHA256, Key: hmacKey, Prepend: [][]byte{pre1}, Append: [][]byte{app}},
			mac(crypto.SHA256, hmacKey, cat(pre1, secretZ, app))},
		{"HMAC default SHA1", kdf.HMAC{Key: hmacKey}, mac(crypto.SHA1, hmacKey, secretZ)},
		{"HMAC secret as key", kdf.HMAC{Hash: crypto.SHA384, UseSecretAsKey: true, Append: [][]byte{app}},
			mac(crypto.SHA384, secretZ, cat(secretZ, app))},
		{"TLS_PRF 1.0", kdf.TLSPRF{Label: "master secret", Seed: seed64}, tls10("master secret")},
		{"TLS_PRF 1.1", kdf.TLSPRF{Protocol: kdf.TLS11, Label: "master secret", Seed: seed64}, tls10("master secret")},
		{"TLS_PRF 1.2 SHA256", kdf.TLSPRF{Protocol: kdf.TLS12, Label: "master secret", Seed: seed64},
			refPHash(crypto.SHA256, secretZ, cat([]byte("master secret"), seed64), 48)},
		{"TLS_PRF 1.2 SHA384", kdf.TLSPRF{Protocol: kdf.TLS12, Hash: crypto.SHA384, Label: "extended master secret", Seed: seed64},
			refPHash(crypto.SHA384, secretZ, cat([]byte("extended master secret"), seed64), 48)},
		{"SP800_56A default length", kdf.SP80056AConcat{AlgorithmID: alg, PartyUInfo: u, PartyVInfo: v},
			refConcat(crypto.SHA1, secretZ, cat(alg, u, v), 20)},
		{"SP800_56A SHA256 70 bytes", kdf.SP80056AConcat{Hash: crypto.SHA256, AlgorithmID: alg, PartyUInfo: u, PartyVInfo: v,
			SuppPubInfo: pub, SuppPrivInfo: priv, Length: 70}, refConcat(crypto.SHA256, secretZ, cat(alg, u, v, pub, priv), 70)},
		{"SP800_56A SHA512 16 bytes", kdf.SP80056AConcat{Hash: crypto.SHA512, AlgorithmID: alg, PartyUInfo: u, PartyVInfo: v, Length: 16},
			refConcat(crypto.SHA512, secretZ, cat(alg, u, v), 16)},
		{"SP800_108 SHA256 32", kdf.SP800108CTRHMAC{Hash: crypto.SHA256, Label: label, Context: context, Length: 32},
			refCounter(crypto.SHA256, secretZ, label, context, 32)},
		{"SP800_108 SHA384 100", kdf.SP800108CTRHMAC{Hash: crypto.SHA384, Label: label, Context: context, Length: 100},
			refCounter(crypto.SHA384, secretZ, label, context, 100)},
		{"SP800_108 default", kdf.SP800108CTRHMAC{Label: label}, refCounter(crypto.SHA1, secretZ, label, nil, 20)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.k.Derive(secretZ)
			require.NoError(t, err)
			assert.Equal(t, hex.EncodeToString(tt.want), hex.EncodeToString(got))
		})
	}
}

func TestDeriveRejectsBadParameters(t *testing.T) {
	tests := []struct {
		name string
		k    minidriver.KDF
	}{
		{"HASH unknown hash", kdf.Hash{Hash: crypto.SHA3_256}},
		{"HASH SHA224", kdf.Hash{Hash: crypto.SHA224}},
		{"HMAC no key", kdf.HMAC{Hash: crypto.SHA256}},
		{"HMAC empty key", kdf.HMAC{Key: []byte{}}},
		{"HMAC key and secret as key", kdf.HMAC{Key: []byte("k"), UseSecretAsKey: true}},
		{"TLS_PRF short seed", kdf.TLSPRF{Label: "l", Seed: seed64[:63]}},
		{"TLS_PRF long seed", kdf.TLSPRF{Label: "l", Seed: append(seed64, 0)}},
		{"TLS_PRF no label", kdf.TLSPRF{Seed: seed64}},
		{"TLS_PRF protocol", kdf.TLSPRF{Protocol: 0x0304, Label: "l", Seed: seed64}},
		{"TLS_PRF SSL3", kdf.TLSPRF{Protocol: 0x0300, Label: "l", Seed: seed64}},
		{"TLS_PRF 1.2 SHA1", kdf.TLSPRF{Protocol: kdf.TLS12, Hash: crypto.SHA1, Label: "l", Seed: seed64}},
		{"TLS_PRF 1.0 with hash", kdf.TLSPRF{Hash: crypto.SHA256, Label: "l", Seed: seed64}},
		{"SP800_56A no algorithm ID", kdf.SP80056AConcat{PartyUInfo: []byte{1}, PartyVInfo: []byte{2}}},
		{"SP800_56A no party U", kdf.SP80056AConcat{AlgorithmID: []byte{1}, PartyVInfo: []byte{2}}},
		{"SP800_56A no party V", kdf.SP80056AConcat{AlgorithmID: []byte{1}, PartyUInfo: []byte{2}}},
		{"SP800_56A negative length", kdf.SP80056AConcat{AlgorithmID: []byte{1}, PartyUInfo: []byte{2}, PartyVInfo: []byte{3}, Length: -1}},
		{"SP800_56A huge length", kdf.SP80056AConcat{AlgorithmID: []byte{1}, PartyUInfo: []byte{2}, PartyVInfo: []byte{3}, Length: kdf.MaxLength + 1}},
		{"SP800_108 huge length", kdf.SP800108CTRHMAC{Length: kdf.MaxLength + 1}},
		{"SP800_108 MD4", kdf.SP800108CTRHMAC{Hash: crypto.MD4}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := tt.k.Derive(secretZ)
			assert.ErrorIs(t, err, minidriver.ErrInvalidParameter)
			assert.Nil(t, out)
		})
	}
}

func TestDeriveDoesNotModifyInputs(t *testing.T) {
	z := bytes.Clone(secretZ)
	s := bytes.Clone(seed64)
	_, err := kdf.TLSPRF{Protocol: kdf.TLS12, Label: "l", Seed: s}.Derive(z)
	require.NoError(t, err)
	assert.Equal(t, secretZ, z)
	assert.Equal(t, seed64, s)
}

// TestSP80056AConcatKnownAnswer is the Concat KDF example of RFC 7518
// Appendix C (ECDH-ES in JOSE): Z from Alice's ephemeral P-256 key and
// Bob's public key, AlgorithmID, PartyUInfo and PartyVInfo as 32-bit
// length-prefixed strings, SuppPubInfo the key length in bits, SHA-256,
// 16 bytes of output.
func TestSP80056AConcatKnownAnswer(t *testing.T) {
	b64 := func(s string) []byte {
		b, err := base64.RawURLEncoding.DecodeString(s)
		require.NoError(t, err)
		return b
	}
	alice, err := ecdh.P256().NewPrivateKey(b64("0_NxaRPUMQoAJt50Gz8YiTr8gRTwyEaCumd-MToTmIo"))
	require.NoError(t, err)
	bob, err := ecdh.P256().NewPublicKey(cat([]byte{4}, b64("weNJy2HscCSM6AEDTDg04biOvhFhyyWvOHQfeF_PxMQ"), b64("e8lnCO-AlStT-NJVX-crhB7QRYhiix03illJOVAOyck")))
	require.NoError(t, err)
	z, err := alice.ECDH(bob)
	require.NoError(t, err)
	assert.Equal(t, []byte{158, 86, 217, 29, 129, 113, 53, 211, 114, 131, 66, 131, 191, 132, 38, 156,
		251, 49, 110, 163, 218, 128, 106, 72, 246, 218, 167, 121, 140, 254, 144, 196}, z, "Z of RFC 7518 Appendix C")

	lp := func(s string) []byte { return cat(binary.BigEndian.AppendUint32(nil, uint32(len(s))), []byte(s)) }
	k := kdf.SP80056AConcat{Hash: crypto.SHA256, AlgorithmID: lp("A128GCM"), PartyUInfo: lp("Alice"), PartyVInfo: lp("Bob"),
		SuppPubInfo: binary.BigEndian.AppendUint32(nil, 128), Length: 16}
	got, err := k.Derive(z)
	require.NoError(t, err)
	assert.Equal(t, "VqqN6vgjbSBcIijNcacQGg", base64.RawURLEncoding.EncodeToString(got))
}

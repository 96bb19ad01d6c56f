package kdf

import (
	"crypto"
	"encoding/hex"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	require.NoError(t, err)
	return b
}

// TestPHashKnownAnswers checks P_hash against the TLS 1.2 PRF vectors
// published on the IETF TLS working group list (msg03416), which
// implementations such as BearSSL use: PRF(secret, "test label", seed).
func TestPHashKnownAnswers(t *testing.T) {
	tests := []struct {
		name         string
		hash         crypto.Hash
		secret, seed string
		want         string
	}{
		{"SHA256", crypto.SHA256, "9bbe436ba940f017b17652849a71db35", "a0ba9f936cda311827a6f796ffd5198c",
			"e3f229ba727be17b8d122620557cd453c2aab21d07c3d495329b52d4e61edb5a" +
				"6b301791e90d35c9c9a46b4e14baf9af0fa022f7077def17abfd3797c0564bab" +
				"4fbc91666e9def9b97fce34f796789baa48082d122ee42c5a72e5a5110fff701" +
				"87347b66"},
		{"SHA384", crypto.SHA384, "b80b733d6ceefcdc71566ea48e5567df", "cd665cf6a8447dd6ff8b27555edb7465",
			"7b0c18e9ced410ed1804f2cfa34a336a1c14dffb4900bb5fd7942107e81c83cd" +
				"e9ca0faa60be9fe34f82b1233c9146a0e534cb400fed2700884f9dc236f80edd" +
				"8bfa961144c9e8d792eca722a7b32fc3d416d473ebc2c5fd4abfdad05d918425" +
				"9b5bf8cd4d90fa0d31e2dec479e4f1a26066f2eea9a69236a3e52655c9e9aee6" +
				"91c8f3a26854308d5eaa3be85e0990703d73e56f"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := unhex(t, tt.want)
			seed := append([]byte("test label"), unhex(t, tt.seed)...)
			got := make([]byte, len(want))
			pHash(got, tt.hash, unhex(t, tt.secret), seed)
			assert.Equal(t, hex.EncodeToString(want), hex.EncodeToString(got))
		})
	}
}

// TestCounterModeKnownAnswer checks the SP 800-108 counter-mode core
// against NIST CAVP KBKDF (CAVS 14.4, KDFCTR_gen.rsp)
// [PRF=HMAC_SHA256] [CTRLOCATION=BEFORE_FIXED] [RLEN=32_BITS] COUNT=0,
// where the fixed input data is an opaque string.
func TestCounterModeKnownAnswer(t *testing.T) {
	ki := unhex(t, "dd1d91b7d90b2bd3138533ce92b272fbf8a369316aefe242e659cc0ae238afe0")
	fixed := unhex(t, "01322b96b30acd197979444e468e1c5c6859bf1b1cf951b7e725303e237e46b8"+
		"64a145fab25e517b08f8683d0315bb2911d80a0e8aba17f3b413faac")
	got := make([]byte, 128/8)
	counterMode(got, crypto.SHA256, ki, fixed)
	assert.Equal(t, "10621342bfb0fd40046c0e29f2cfdbf0", hex.EncodeToString(got))
}

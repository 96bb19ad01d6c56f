package kdf_test

import (
	"bytes"
	"crypto"
	"encoding/binary"
	"fmt"
	"testing"
	"unicode/utf16"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/minidriver/kdf"
)

func hashParam(t testing.TB, h crypto.Hash) kdf.Param {
	p, err := kdf.HashParam(h)
	require.NoError(t, err)
	return p
}

func utf16le(s string) []byte {
	var b []byte
	for _, u := range utf16.Encode([]rune(s)) {
		b = binary.LittleEndian.AppendUint16(b, u)
	}
	return b
}

func p(t kdf.ParamType, v []byte) kdf.Param { return kdf.Param{Type: t, Value: v} }

func TestParse(t *testing.T) {
	seed := bytes.Repeat([]byte{7}, 64)
	tests := []struct {
		name   string
		kdf    string
		params []kdf.Param
		opts   kdf.Options
		want   minidriver.KDF
	}{
		{"HASH no parameters", kdf.NameHash, nil, kdf.Options{}, kdf.Hash{}},
		{"HASH prepends and appends in order", kdf.NameHash, []kdf.Param{
			p(kdf.ParamSecretAppend, []byte("a1")), hashParam(t, crypto.SHA256), p(kdf.ParamSecretPrepend, []byte("p1")),
			p(kdf.ParamSecretAppend, []byte("a2")), p(kdf.ParamSecretPrepend, []byte("p2")),
		}, kdf.Options{}, kdf.Hash{Hash: crypto.SHA256, Prepend: [][]byte{[]byte("p1"), []byte("p2")}, Append: [][]byte{[]byte("a1"), []byte("a2")}}},
		{"HASH name without NUL, other case", kdf.NameHash, []kdf.Param{p(kdf.ParamHashAlgorithm, utf16le("sha384"))}, kdf.Options{}, kdf.Hash{Hash: crypto.SHA384}},
		{"HASH MD5", kdf.NameHash, []kdf.Param{hashParam(t, crypto.MD5)}, kdf.Options{}, kdf.Hash{Hash: crypto.MD5}},
		{"HMAC key", kdf.NameHMAC, []kdf.Param{hashParam(t, crypto.SHA512), p(kdf.ParamHMACKey, []byte("key"))}, kdf.Options{},
			kdf.HMAC{Hash: crypto.SHA512, Key: []byte("key")}},
		{"HMAC secret as key", kdf.NameHMAC, nil, kdf.Options{UseSecretAsHMACKey: true}, kdf.HMAC{UseSecretAsKey: true}},
		{"TLS_PRF default protocol", kdf.NameTLSPRF, []kdf.Param{p(kdf.ParamTLSPRFLabel, []byte("master secret")), p(kdf.ParamTLSPRFSeed, seed)},
			kdf.Options{}, kdf.TLSPRF{Protocol: kdf.TLS10, Label: "master secret", Seed: seed}},
		{"TLS_PRF label with terminator", kdf.NameTLSPRF, []kdf.Param{p(kdf.ParamTLSPRFLabel, []byte("master secret\x00")), p(kdf.ParamTLSPRFSeed, seed), kdf.ProtocolParam(kdf.TLS11)},
			kdf.Options{}, kdf.TLSPRF{Protocol: kdf.TLS11, Label: "master secret", Seed: seed}},
		{"TLS_PRF 1.2 SHA384", kdf.NameTLSPRF, []kdf.Param{kdf.ProtocolParam(kdf.TLS12), hashParam(t, crypto.SHA384), p(kdf.ParamTLSPRFLabel, []byte("l")), p(kdf.ParamTLSPRFSeed, seed)},
			kdf.Options{Length: 99}, kdf.TLSPRF{Protocol: kdf.TLS12, Hash: crypto.SHA384, Label: "l", Seed: seed}},
		{"SP800_56A", kdf.NameSP80056AConcat, []kdf.Param{
			p(kdf.ParamAlgorithmID, []byte{1}), p(kdf.ParamPartyUInfo, []byte{2}), p(kdf.ParamPartyVInfo, []byte{3}),
			p(kdf.ParamSuppPubInfo, []byte{4}), p(kdf.ParamSuppPrivInfo, []byte{5}), hashParam(t, crypto.SHA256),
		}, kdf.Options{Length: 40}, kdf.SP80056AConcat{Hash: crypto.SHA256, AlgorithmID: []byte{1}, PartyUInfo: []byte{2}, PartyVInfo: []byte{3},
			SuppPubInfo: []byte{4}, SuppPrivInfo: []byte{5}, Length: 40}},
		{"SP800_108", kdf.NameSP800108CTRHMAC, []kdf.Param{hashParam(t, crypto.SHA256), p(kdf.ParamLabel, []byte("L")), p(kdf.ParamContext, []byte{})},
			kdf.Options{Length: 16}, kdf.SP800108CTRHMAC{Hash: crypto.SHA256, Label: []byte("L"), Context: []byte{}, Length: 16}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := kdf.ParseOptions(tt.kdf, tt.params, tt.opts)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
			if tt.opts == (kdf.Options{}) {
				got2, err := kdf.Parse(tt.kdf, tt.params)
				require.NoError(t, err)
				assert.Equal(t, got, got2)
			}
		})
	}
}

func TestParseCopiesValues(t *testing.T) {
	v := []byte("prepend")
	k, err := kdf.Parse(kdf.NameHash, []kdf.Param{p(kdf.ParamSecretPrepend, v)})
	require.NoError(t, err)
	v[0] = 'X'
	assert.Equal(t, kdf.Hash{Prepend: [][]byte{[]byte("prepend")}}, k)
}

func TestParseRejects(t *testing.T) {
	seed := bytes.Repeat([]byte{7}, 64)
	label := p(kdf.ParamTLSPRFLabel, []byte("l"))
	seedP := p(kdf.ParamTLSPRFSeed, seed)
	u, v, a := p(kdf.ParamPartyUInfo, []byte{1}), p(kdf.ParamPartyVInfo, []byte{2}), p(kdf.ParamAlgorithmID, []byte{3})
	many := make([]kdf.Param, kdf.MaxParams+1)
	for i := range many {
		many[i] = p(kdf.ParamSecretPrepend, nil)
	}
	tests := []struct {
		name   string
		kdf    string
		params []kdf.Param
		opts   kdf.Options
	}{
		{"unknown KDF", "CAPI_KDF", nil, kdf.Options{}},
		{"lower-case KDF name", "hash", nil, kdf.Options{}},
		{"empty KDF name", "", nil, kdf.Options{}},
		{"unknown parameter type", kdf.NameHash, []kdf.Param{p(0x99, nil)}, kdf.Options{}},
		{"HMAC key with HASH", kdf.NameHash, []kdf.Param{p(kdf.ParamHMACKey, []byte("k"))}, kdf.Options{}},
		{"secret handle", kdf.NameHash, []kdf.Param{p(kdf.ParamSecretHandle, []byte{1, 0, 0, 0})}, kdf.Options{}},
		{"salt", kdf.NameHMAC, []kdf.Param{p(kdf.ParamSalt, []byte{1})}, kdf.Options{}},
		{"repeated hash", kdf.NameHash, []kdf.Param{hashParam(t, crypto.SHA1), hashParam(t, crypto.SHA256)}, kdf.Options{}},
		{"unknown hash name", kdf.NameHash, []kdf.Param{p(kdf.ParamHashAlgorithm, utf16le("SHA3-256\x00"))}, kdf.Options{}},
		{"ANSI hash name", kdf.NameHash, []kdf.Param{p(kdf.ParamHashAlgorithm, []byte("SHA256"))}, kdf.Options{}},
		{"odd-length hash name", kdf.NameHash, []kdf.Param{p(kdf.ParamHashAlgorithm, []byte{'S', 0, 'H'})}, kdf.Options{}},
		{"empty hash name", kdf.NameHash, []kdf.Param{p(kdf.ParamHashAlgorithm, nil)}, kdf.Options{}},
		{"too many parameters", kdf.NameHash, many, kdf.Options{}},
		{"oversized parameter", kdf.NameHash, []kdf.Param{p(kdf.ParamSecretAppend, make([]byte, kdf.MaxParamSize+1))}, kdf.Options{}},
		{"HMAC without key", kdf.NameHMAC, nil, kdf.Options{}},
		{"HMAC key and flag", kdf.NameHMAC, []kdf.Param{p(kdf.ParamHMACKey, []byte("k"))}, kdf.Options{UseSecretAsHMACKey: true}},
		{"flag with HASH", kdf.NameHash, nil, kdf.Options{UseSecretAsHMACKey: true}},
		{"TLS_PRF without label", kdf.NameTLSPRF, []kdf.Param{seedP}, kdf.Options{}},
		{"TLS_PRF without seed", kdf.NameTLSPRF, []kdf.Param{label}, kdf.Options{}},
		{"TLS_PRF short seed", kdf.NameTLSPRF, []kdf.Param{label, p(kdf.ParamTLSPRFSeed, seed[:32])}, kdf.Options{}},
		{"TLS_PRF protocol WORD", kdf.NameTLSPRF, []kdf.Param{label, seedP, p(kdf.ParamTLSPRFProtocol, []byte{3, 3})}, kdf.Options{}},
		{"TLS_PRF protocol 1.3", kdf.NameTLSPRF, []kdf.Param{label, seedP, kdf.ProtocolParam(0x0304)}, kdf.Options{}},
		{"TLS_PRF protocol 0", kdf.NameTLSPRF, []kdf.Param{label, seedP, kdf.ProtocolParam(0)}, kdf.Options{}},
		{"TLS_PRF protocol high bits", kdf.NameTLSPRF, []kdf.Param{label, seedP, p(kdf.ParamTLSPRFProtocol, []byte{3, 3, 1, 0})}, kdf.Options{}},
		{"TLS_PRF 1.2 with SHA512", kdf.NameTLSPRF, []kdf.Param{label, seedP, kdf.ProtocolParam(kdf.TLS12), hashParam(t, crypto.SHA512)}, kdf.Options{}},
		{"TLS_PRF 1.0 with a hash", kdf.NameTLSPRF, []kdf.Param{label, seedP, hashParam(t, crypto.SHA256)}, kdf.Options{}},
		{"TLS_PRF prepend", kdf.NameTLSPRF, []kdf.Param{label, seedP, p(kdf.ParamSecretPrepend, nil)}, kdf.Options{}},
		{"SP800_56A without algorithm ID", kdf.NameSP80056AConcat, []kdf.Param{u, v}, kdf.Options{}},
		{"SP800_56A without party U", kdf.NameSP80056AConcat, []kdf.Param{a, v}, kdf.Options{}},
		{"SP800_56A without party V", kdf.NameSP80056AConcat, []kdf.Param{a, u}, kdf.Options{}},
		{"SP800_56A empty party V", kdf.NameSP80056AConcat, []kdf.Param{a, u, p(kdf.ParamPartyVInfo, nil)}, kdf.Options{}},
		{"SP800_56A negative length", kdf.NameSP80056AConcat, []kdf.Param{a, u, v}, kdf.Options{Length: -5}},
		{"SP800_108 without hash", kdf.NameSP800108CTRHMAC, []kdf.Param{p(kdf.ParamLabel, nil), p(kdf.ParamContext, nil)}, kdf.Options{}},
		{"SP800_108 without context", kdf.NameSP800108CTRHMAC, []kdf.Param{hashParam(t, crypto.SHA256), p(kdf.ParamLabel, nil)}, kdf.Options{}},
		{"SP800_108 without label", kdf.NameSP800108CTRHMAC, []kdf.Param{hashParam(t, crypto.SHA256), p(kdf.ParamContext, nil)}, kdf.Options{}},
		{"SP800_108 huge length", kdf.NameSP800108CTRHMAC, []kdf.Param{hashParam(t, crypto.SHA256), p(kdf.ParamLabel, nil), p(kdf.ParamContext, nil)}, kdf.Options{Length: kdf.MaxLength + 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := kdf.ParseOptions(tt.kdf, tt.params, tt.opts)
			assert.ErrorIs(t, err, minidriver.ErrInvalidParameter)
			assert.Equal(t, uint32(0x80100004), minidriver.SCardCode(err))
			assert.Nil(t, k)
		})
	}
}

func TestHashParamRoundTrip(t *testing.T) {
	for _, h := range []crypto.Hash{crypto.SHA1, crypto.SHA256, crypto.SHA384, crypto.SHA512, crypto.MD5} {
		prm := hashParam(t, h)
		assert.Equal(t, kdf.ParamHashAlgorithm, prm.Type)
		got, err := kdf.ParseHashName(prm.Value)
		require.NoError(t, err)
		assert.Equal(t, h, got)
	}
	_, err := kdf.HashParam(crypto.SHA224)
	assert.ErrorIs(t, err, minidriver.ErrInvalidParameter)
}

// FuzzParse feeds arbitrary parameter lists to ParseOptions: it must
// never panic, must fail only with ErrInvalidParameter, and whatever it
// accepts must derive output of the KDF's size.
func FuzzParse(f *testing.F) {
	sha256Name := utf16le("SHA256\x00")
	enc := func(name byte, ps ...kdf.Param) []byte {
		b := []byte{name, 0}
		for _, p := range ps {
			b = append(b, byte(p.Type), byte(len(p.Value)))
			b = append(b, p.Value...)
		}
		return b
	}
	f.Add(enc(0))
	f.Add(enc(0, p(kdf.ParamHashAlgorithm, sha256Name), p(kdf.ParamSecretPrepend, []byte("x"))))
	f.Add(enc(1, p(kdf.ParamHMACKey, []byte("key"))))
	f.Add(enc(2, p(kdf.ParamTLSPRFLabel, []byte("master secret")), p(kdf.ParamTLSPRFSeed, bytes.Repeat([]byte{1}, 64)), kdf.ProtocolParam(kdf.TLS12)))
	f.Add(enc(3, p(kdf.ParamAlgorithmID, []byte{1}), p(kdf.ParamPartyUInfo, []byte{2}), p(kdf.ParamPartyVInfo, []byte{3})))
	f.Add(enc(4, p(kdf.ParamHashAlgorithm, sha256Name), p(kdf.ParamLabel, []byte{1}), p(kdf.ParamContext, []byte{2})))
	f.Add([]byte{5, 0xFF, 0x10, 0})
	names := []string{kdf.NameHash, kdf.NameHMAC, kdf.NameTLSPRF, kdf.NameSP80056AConcat, kdf.NameSP800108CTRHMAC, "BOGUS"}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 2 {
			return
		}
		name := names[int(data[0])%len(names)]
		opts := kdf.Options{UseSecretAsHMACKey: data[1]&1 != 0, Length: int(data[1] >> 1)}
		var list []kdf.Param
		for rest := data[2:]; len(rest) >= 2; {
			n := min(int(rest[1]), len(rest)-2)
			list = append(list, kdf.Param{Type: kdf.ParamType(rest[0]), Value: rest[2 : 2+n]})
			rest = rest[2+n:]
		}
		k, err := kdf.ParseOptions(name, list, opts)
		if err != nil {
			if !assert.ErrorIs(t, err, minidriver.ErrInvalidParameter) {
				t.FailNow()
			}
			return
		}
		out, err := k.Derive([]byte("shared secret Z"))
		require.NoError(t, err)
		switch k := k.(type) {
		case kdf.TLSPRF:
			assert.Len(t, out, kdf.TLSMasterSecretSize)
		case kdf.SP80056AConcat, kdf.SP800108CTRHMAC:
			if opts.Length > 0 {
				assert.Len(t, out, opts.Length)
			}
		default:
			assert.NotEmpty(t, out, fmt.Sprintf("%T", k))
		}
	})
}

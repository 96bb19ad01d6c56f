package bertlv_test

import (
	"bytes"
	"encoding/hex"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cardmod/cardmod/internal/bertlv"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	require.NoError(t, err)
	return b
}

func TestParse(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		tag   uint32
		value string
		rest  string
	}{
		{"short form", "530301020304", 0x53, "010203", "04"},
		{"empty value", "8000", 0x80, "", ""},
		{"tag 00 is a tag", "0000", 0x00, "", ""},
		{"two-byte tag", "7F49020102", 0x7F49, "0102", ""},
		{"three-byte tag", "5FC10201AA", 0x5FC102, "AA", ""},
		{"three-byte tag with high bits", "5FFF1000", 0x5FFF10, "", ""},
		{"one length byte", "5381020102", 0x53, "0102", ""},
		{"long form not minimal", "538100", 0x53, "", ""},
		{"two length bytes", "70820001AA", 0x70, "AA", ""},
		{"three length bytes", "5FFF1083000001AABB", 0x5FFF10, "AA", "BB"},
		{"long form zero", "53830000008888", 0x53, "", "8888"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tag, v, rest, err := bertlv.Parse(unhex(t, tc.in))
			require.NoError(t, err)
			assert.Equal(t, tc.tag, tag)
			assert.Equal(t, unhex(t, tc.value), append([]byte{}, v...))
			assert.Equal(t, unhex(t, tc.rest), append([]byte{}, rest...))
		})
	}
}

func TestParseRefuses(t *testing.T) {
	tests := []struct {
		name string
		in   string
	}{
		{"empty", ""},
		{"one byte", "53"},
		{"tag without length", "7F49"},
		{"tag of four bytes", "5FFFFF1000"},
		{"tag cut short", "5F80"},
		{"indefinite length", "308000"},
		{"four length bytes", "538400000001AA"},
		{"length field cut", "538201"},
		{"value past the end", "530301"},
		{"long value past the end", "5382010000"},
		{"huge length", "5383FFFFFF00"},
		{"length 7F without value", "537F"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, _, err := bertlv.Parse(unhex(t, tc.in))
			require.Error(t, err)
			assert.ErrorIs(t, err, bertlv.ErrMalformed)
		})
	}
}

func TestParseValueDoesNotGrowIntoRest(t *testing.T) {
	in := unhex(t, "5301AA5401BB")
	_, v, _, err := bertlv.Parse(in)
	require.NoError(t, err)
	_ = append(v, 0xFF)
	assert.Equal(t, unhex(t, "5301AA5401BB"), in)
}

func TestParseAll(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []bertlv.TLV
	}{
		{"empty", "", nil},
		{"only zeros", "0000", nil},
		{"one", "5301AA", []bertlv.TLV{{Tag: 0x53, Value: []byte{0xAA}}}},
		{"duplicates kept in order", "8001018001023400", []bertlv.TLV{
			{Tag: 0x80, Value: []byte{1}}, {Tag: 0x80, Value: []byte{2}}, {Tag: 0x34, Value: []byte{}},
		}},
		{"trailing zero padding", "3001AA000000", []bertlv.TLV{{Tag: 0x30, Value: []byte{0xAA}}}},
		{"00 and FF padding before, between and after objects", "00FF3001AAFF00FF3101BB00", []bertlv.TLV{
			{Tag: 0x30, Value: []byte{0xAA}}, {Tag: 0x31, Value: []byte{0xBB}},
		}},
		{"only padding", "00FFFF00", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := bertlv.ParseAll(unhex(t, tc.in))
			require.NoError(t, err)
			require.Len(t, got, len(tc.want))
			for i := range got {
				assert.Equal(t, tc.want[i].Tag, got[i].Tag)
				assert.Equal(t, tc.want[i].Value, append([]byte{}, got[i].Value...))
			}
		})
	}
}

func TestParseAllRefuses(t *testing.T) {
	many := bytes.Repeat([]byte{0x80, 0x00}, bertlv.MaxElements+1)
	tests := []struct {
		name string
		in   []byte
	}{
		{"truncated last object", unhex(t, "5301AA5402BB")},
		{"one trailing byte", unhex(t, "5301AA01")},
		{"too many elements", many},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := bertlv.ParseAll(tc.in)
			assert.ErrorIs(t, err, bertlv.ErrMalformed)
		})
	}
}

func TestParseAllBound(t *testing.T) {
	exact := bytes.Repeat([]byte{0x80, 0x00}, bertlv.MaxElements)
	got, err := bertlv.ParseAll(append(exact, 0, 0))
	require.NoError(t, err)
	assert.Len(t, got, bertlv.MaxElements)
}

func TestFind(t *testing.T) {
	seq := unhex(t, "8101AA8201BB8101CC7F490286010000")
	tests := []struct {
		name  string
		in    []byte
		tag   uint32
		value []byte
		ok    bool
	}{
		{"first occurrence", seq, 0x81, []byte{0xAA}, true},
		{"second tag", seq, 0x82, []byte{0xBB}, true},
		{"two-byte tag", seq, 0x7F49, []byte{0x86, 0x01}, true},
		{"absent", seq, 0x86, nil, false},
		{"nested objects are not searched", seq, 0x86, nil, false},
		{"malformed sequence", unhex(t, "8101AA8205"), 0x81, nil, false},
		{"empty", nil, 0x81, nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, ok := bertlv.Find(tc.in, tc.tag)
			assert.Equal(t, tc.ok, ok)
			if tc.ok {
				assert.Equal(t, tc.value, append([]byte{}, v...))
			}
		})
	}
}

func TestSingle(t *testing.T) {
	v, err := bertlv.Single(unhex(t, "7C028100"), 0x7C)
	require.NoError(t, err)
	assert.Equal(t, unhex(t, "8100"), v)

	tests := []struct {
		name string
		in   string
	}{
		{"other tag", "7D028100"},
		{"bytes after", "7C02810000"},
		{"malformed", "7C05"},
		{"empty", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := bertlv.Single(unhex(t, tc.in), 0x7C)
			assert.ErrorIs(t, err, bertlv.ErrMalformed)
		})
	}
}

func TestEncode(t *testing.T) {
	tests := []struct {
		name string
		tag  uint32
		n    int
		want string // tag and length bytes
	}{
		{"tag 00", 0x00, 0, "0000"},
		{"short", 0x53, 3, "5303"},
		{"short max", 0x53, 0x7F, "537F"},
		{"81", 0x70, 0x80, "708180"},
		{"81 max", 0x70, 0xFF, "7081FF"},
		{"82", 0x7F49, 0x100, "7F49820100"},
		{"82 max", 0x5FC102, 0xFFFF, "5FC10282FFFF"},
		{"83", 0x5FFF10, 0x10000, "5FFF1083010000"},
		{"four-byte tag", 0x12345678, 1, "1234567801"},
		{"four length bytes", 0x53, 0x1000000, "538401000000"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := bytes.Repeat([]byte{0xA5}, tc.n)
			got := bertlv.Encode(tc.tag, v)
			head := unhex(t, tc.want)
			require.Len(t, got, len(head)+tc.n)
			assert.Equal(t, head, got[:len(head)])
			assert.Equal(t, v, got[len(head):])
		})
	}
}

func TestAppend(t *testing.T) {
	b := bertlv.Append([]byte{0x5C, 0x03}, 0x5FC102, nil)
	b = bertlv.Append(b, 0x80, []byte{1, 2})
	assert.Equal(t, unhex(t, "5C035FC1020080020102"), b)
	assert.Equal(t, unhex(t, "5FC102"), bertlv.AppendTag(nil, 0x5FC102))
	assert.Equal(t, unhex(t, "00"), bertlv.AppendTag(nil, 0))
}

func TestRoundTrip(t *testing.T) {
	for _, n := range []int{0, 1, 0x7F, 0x80, 0xFF, 0x100, 0xFFFF, 0x10000} {
		for _, tag := range []uint32{0x01, 0x53, 0x7F49, 0x5FC102, 0x5FFF10} {
			v := bytes.Repeat([]byte{byte(n)}, n)
			enc := bertlv.Encode(tag, v)
			got, val, rest, err := bertlv.Parse(enc)
			require.NoError(t, err)
			assert.Equal(t, tag, got)
			assert.Equal(t, v, val)
			assert.Empty(t, rest)
		}
	}
}

package tlv

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// h decodes hex written with spaces.
func h(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(err)
	}
	return b
}

func TestParse(t *testing.T) {
	long := bytes.Repeat([]byte{0xAB}, 0x100)
	cases := []struct {
		name  string
		in    []byte
		tag   uint32
		value []byte
		rest  []byte
		err   error
	}{
		{name: "one-byte tag", in: h("53 02 01 02"), tag: 0x53, value: h("01 02")},
		{name: "zero length", in: h("FE 00"), tag: 0xFE, value: []byte{}},
		{name: "tag 00", in: h("00 00"), tag: 0x00, value: []byte{}},
		{name: "rest kept", in: h("80 01 11 81 00 FF"), tag: 0x80, value: h("11"), rest: h("81 00 FF")},
		{name: "two-byte tag", in: h("7F 49 01 86"), tag: 0x7F49, value: h("86")},
		{name: "two-byte tag below 31", in: h("1F 05 00"), tag: 0x1F05, value: []byte{}},
		{name: "three-byte tag", in: h("5F C1 05 01 00"), tag: 0x5FC105, value: h("00")},
		{name: "three-byte tag, leading 80", in: h("DF 80 01 00"), tag: 0xDF8001, value: []byte{}},
		{name: "short form 7F", in: append(h("04 7F"), long[:0x7F]...), tag: 0x04, value: long[:0x7F]},
		{name: "long form 81", in: append(h("04 81 80"), long[:0x80]...), tag: 0x04, value: long[:0x80]},
		{name: "long form 82", in: append(h("04 82 01 00"), long...), tag: 0x04, value: long},
		{name: "long form 83", in: append(h("04 83 00 01 00"), long...), tag: 0x04, value: long},
		{name: "non-minimal 81", in: h("04 81 01 AA"), tag: 0x04, value: h("AA")},
		{name: "non-minimal 83 zero", in: h("04 83 00 00 00 09"), tag: 0x04, value: []byte{}, rest: h("09")},

		{name: "empty", in: nil, err: ErrTruncated},
		{name: "tag only", in: h("53"), err: ErrTruncated},
		{name: "multi-byte tag cut", in: h("5F"), err: ErrTruncated},
		{name: "second tag byte announces more", in: h("5F 81"), err: ErrTruncated},
		{name: "three-byte tag without length", in: h("5F C1 05"), err: ErrTruncated},
		{name: "four-byte tag", in: h("5F 81 81 01 00"), err: ErrTagTooLong},
		{name: "indefinite length", in: h("30 80 00 00"), err: ErrLengthForm},
		{name: "four length bytes", in: h("04 84 00 00 00 01 AA"), err: ErrLengthForm},
		{name: "long length cut", in: h("04 82 01"), err: ErrTruncated},
		{name: "long length missing", in: h("04 81"), err: ErrTruncated},
		{name: "value cut", in: h("53 03 01 02"), err: ErrTruncated},
		{name: "huge length", in: h("04 83 FF FF FF 00"), err: ErrTruncated},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			obj, rest, err := Parse(tc.in)
			if tc.err != nil {
				require.ErrorIs(t, err, tc.err)
				assert.Equal(t, Object{}, obj)
				assert.Nil(t, rest)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.tag, obj.Tag)
			assert.Equal(t, tc.value, obj.Value)
			assert.Equal(t, tc.in[:len(tc.in)-len(tc.rest)], obj.Raw)
			assert.Equal(t, len(tc.rest), len(rest))
			assert.True(t, bytes.Equal(tc.rest, rest))
		})
	}
}

func TestParseAliasesInput(t *testing.T) {
	in := h("80 02 01 02 81 00")
	obj, rest, err := Parse(in)
	require.NoError(t, err)
	in[2] = 0x55
	assert.Equal(t, h("55 02"), obj.Value, "Value aliases the input")
	assert.Equal(t, h("80 02 55 02"), obj.Raw, "Raw aliases the input")
	assert.Equal(t, h("81 00"), rest)
	// Appending to a parsed value must not overwrite what follows it.
	_ = append(obj.Value, 0xEE)
	_ = append(obj.Raw, 0xEE)
	assert.Equal(t, h("81 00"), rest)
}

func TestParseAll(t *testing.T) {
	cases := []struct {
		name string
		in   []byte
		tags []uint32
		err  error
	}{
		{name: "empty", in: nil},
		{name: "one", in: h("80 01 0A"), tags: []uint32{0x80}},
		{name: "several", in: h("80 01 0A 5F C1 02 00 7F 49 02 86 00"), tags: []uint32{0x80, 0x5FC102, 0x7F49}},
		{name: "duplicate tags kept", in: h("80 00 80 00"), tags: []uint32{0x80, 0x80}},
		{name: "zero bytes parse as tag 00", in: h("80 00 00 00"), tags: []uint32{0x80, 0x00}},
		{name: "trailing 00", in: h("80 01 0A 00"), err: ErrTruncated},
		{name: "trailing FF", in: h("80 01 0A FF"), err: ErrTruncated},
		{name: "bad second", in: h("80 01 0A 81 05 01"), err: ErrTruncated},
		{name: "bad length form", in: h("80 00 81 80"), err: ErrLengthForm},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			list, err := ParseAll(tc.in)
			if tc.err != nil {
				require.ErrorIs(t, err, tc.err)
				assert.Nil(t, list)
				return
			}
			require.NoError(t, err)
			var tags []uint32
			for _, o := range list {
				tags = append(tags, o.Tag)
			}
			assert.Equal(t, tc.tags, tags)
		})
	}
}

func TestParseAllMax(t *testing.T) {
	objects := func(n int) []byte { return bytes.Repeat(h("80 00"), n) }
	cases := []struct {
		name  string
		in    []byte
		limit int
		n     int
		err   error
	}{
		{name: "empty, limit 0", in: nil, limit: 0},
		{name: "empty, negative limit", in: nil, limit: -1},
		{name: "one, negative limit", in: objects(1), limit: -1, err: ErrTooManyObjects},
		{name: "one, limit 0", in: objects(1), limit: 0, err: ErrTooManyObjects},
		{name: "at the limit", in: objects(256), limit: 256, n: 256},
		{name: "over the limit", in: objects(257), limit: 256, err: ErrTooManyObjects},
		{name: "malformed within the limit", in: h("80 02 00"), limit: 4, err: ErrTruncated},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			list, err := ParseAllMax(tc.in, tc.limit)
			if tc.err != nil {
				require.ErrorIs(t, err, tc.err)
				assert.Nil(t, list)
				return
			}
			require.NoError(t, err)
			assert.Len(t, list, tc.n)
		})
	}
	all, err := ParseAll(objects(1000))
	require.NoError(t, err)
	assert.Len(t, all, 1000, "ParseAll has no limit")
}

func TestParseSingle(t *testing.T) {
	cases := []struct {
		name  string
		in    []byte
		tag   uint32
		value []byte
		err   error
	}{
		{name: "match", in: h("7C 04 82 00 81 00"), tag: 0x7C, value: h("82 00 81 00")},
		{name: "empty value", in: h("5C 00"), tag: 0x5C, value: []byte{}},
		{name: "wrong tag", in: h("7D 00"), tag: 0x7C, err: ErrUnexpectedTag},
		{name: "trailing bytes", in: h("5C 01 7E 00"), tag: 0x5C, err: ErrTrailingData},
		{name: "malformed", in: h("5C 02 7E"), tag: 0x5C, err: ErrTruncated},
		{name: "empty input", in: nil, tag: 0x5C, err: ErrTruncated},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v, err := ParseSingle(tc.in, tc.tag)
			if tc.err != nil {
				require.ErrorIs(t, err, tc.err)
				assert.Nil(t, v)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.value, v)
		})
	}
}

func TestFind(t *testing.T) {
	list, err := ParseAll(h("80 01 01 84 01 02 80 01 03"))
	require.NoError(t, err)
	cases := []struct {
		tag   uint32
		found bool
		value []byte
	}{
		{tag: 0x80, found: true, value: h("01")}, // the first of two
		{tag: 0x84, found: true, value: h("02")},
		{tag: 0x83, found: false},
	}
	for _, tc := range cases {
		o, found := Find(list, tc.tag)
		assert.Equal(t, tc.found, found, "tag %X", tc.tag)
		assert.Equal(t, tc.value, o.Value, "tag %X", tc.tag)
	}
	_, found := Find(nil, 0x80)
	assert.False(t, found)
}

func TestValidTag(t *testing.T) {
	cases := []struct {
		tag  uint32
		want bool
	}{
		{0x00, true},
		{0x53, true},
		{0xFE, true},
		{0xFF, false},      // FF announces a second byte
		{0x1F, false},      // announces a second byte
		{0x5F, false},      // likewise
		{0x4142, false},    // 41 is a whole tag
		{0x5F2F, true},     // Discovery object's PIN usage policy
		{0x7F49, true},     // public key template
		{0x1F05, true},     // a low number in the long form
		{0x5F81, false},    // 81 announces a third byte
		{0x5FC105, true},   // PIV certificate object
		{0xDF8101, true},   // three bytes, middle one continued
		{0x5F0101, false},  // 01 ends the tag at two bytes
		{0x5FC181, false},  // would need a fourth byte
		{0x415F01, false},  // 41 is a whole tag
		{0x1000000, false}, // beyond three bytes
		{0xFFFFFFFF, false},
	}
	for _, tc := range cases {
		assert.Equal(t, tc.want, ValidTag(tc.tag), "tag %X", tc.tag)
	}
}

func TestEncode(t *testing.T) {
	cases := []struct {
		name string
		tag  uint32
		n    int
		head []byte
	}{
		{name: "empty", tag: 0x53, n: 0, head: h("53 00")},
		{name: "tag 00", tag: 0x00, n: 1, head: h("00 01")},
		{name: "short max", tag: 0x53, n: 0x7F, head: h("53 7F")},
		{name: "81 min", tag: 0x53, n: 0x80, head: h("53 81 80")},
		{name: "81 max", tag: 0x53, n: 0xFF, head: h("53 81 FF")},
		{name: "82 min", tag: 0x53, n: 0x100, head: h("53 82 01 00")},
		{name: "82 max", tag: 0x53, n: 0xFFFF, head: h("53 82 FF FF")},
		{name: "83", tag: 0x53, n: 0x10000, head: h("53 83 01 00 00")},
		{name: "two-byte tag", tag: 0x7F49, n: 2, head: h("7F 49 02")},
		{name: "three-byte tag", tag: 0x5FC105, n: 3, head: h("5F C1 05 03")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			value := bytes.Repeat([]byte{0x5A}, tc.n)
			got := Encode(tc.tag, value)
			require.Len(t, got, len(tc.head)+tc.n)
			assert.Equal(t, tc.head, got[:len(tc.head)])
			assert.True(t, bytes.Equal(value, got[len(tc.head):]))
			obj, rest, err := Parse(got)
			require.NoError(t, err)
			assert.Equal(t, tc.tag, obj.Tag)
			assert.Equal(t, tc.n, len(obj.Value))
			assert.Empty(t, rest)
		})
	}
}

func TestEncodeNested(t *testing.T) {
	got := Encode(0x7C, Join(Encode(0x82, nil), Encode(0x81, h("01 02"))))
	assert.Equal(t, h("7C 06 82 00 81 02 01 02"), got)
}

func TestJoin(t *testing.T) {
	cases := []struct {
		name  string
		parts [][]byte
		want  []byte
	}{
		{name: "none", parts: nil, want: []byte{}},
		{name: "empty parts", parts: [][]byte{nil, {}}, want: []byte{}},
		{name: "several", parts: [][]byte{h("01"), nil, h("02 03")}, want: h("01 02 03")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := Join(tc.parts...)
			assert.NotNil(t, got)
			assert.Equal(t, tc.want, got)
		})
	}
	a := h("01 02")
	got := Join(a)
	got[0] = 0xFF
	assert.Equal(t, h("01 02"), a, "Join copies")
}

func TestErrorsArePrefixed(t *testing.T) {
	for _, err := range []error{ErrTruncated, ErrTagTooLong, ErrLengthForm, ErrTrailingData, ErrUnexpectedTag, ErrTooManyObjects} {
		assert.True(t, strings.HasPrefix(err.Error(), "tlv: "), err.Error())
	}
}

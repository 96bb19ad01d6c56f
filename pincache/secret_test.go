package pincache

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const testPIN = "271828"

func TestSecretRedaction(t *testing.T) {
	s := NewSecret([]byte(testPIN))
	type holder struct {
		Name string
		PIN  *Secret
		Val  Secret
	}
	h := holder{Name: "x", PIN: s, Val: *NewSecret([]byte(testPIN))}
	cases := []struct {
		name string
		got  string
	}{
		{"String", s.String()},
		{"GoString", s.GoString()},
		{"%v", fmt.Sprintf("%v", s)},
		{"%+v", fmt.Sprintf("%+v", s)},
		{"%#v", fmt.Sprintf("%#v", s)},
		{"%s", fmt.Sprintf("%s", s)},
		{"%q", fmt.Sprintf("%q", s)},
		{"%x", fmt.Sprintf("%x", s)},
		{"%X", fmt.Sprintf("%X", s)},
		{"%d", fmt.Sprintf("%d", s)},
		{"value %v", fmt.Sprintf("%v", *s)},
		{"value %#v", fmt.Sprintf("%#v", *s)},
		{"Sprint", fmt.Sprint(s)},
		{"struct %+v", fmt.Sprintf("%+v", h)},
		{"struct %#v", fmt.Sprintf("%#v", h)},
		{"error wrap", fmt.Errorf("failed with %v", s).Error()},
	}
	js, err := json.Marshal(h)
	require.NoError(t, err)
	cases = append(cases, struct {
		name string
		got  string
	}{"json", string(js)})
	var logBuf bytes.Buffer
	slog.New(slog.NewTextHandler(&logBuf, nil)).Info("pin", "pin", s, "holder", h)
	cases = append(cases, struct {
		name string
		got  string
	}{"slog", logBuf.String()})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assert.NotContains(t, tc.got, testPIN)
			assert.NotContains(t, tc.got, fmt.Sprintf("%x", testPIN))
			assert.Contains(t, tc.got, "[REDACTED]")
		})
	}
}

func TestSecretWipe(t *testing.T) {
	src := []byte(testPIN)
	s := NewSecret(src)
	buf := s.Bytes()
	require.Equal(t, testPIN, string(buf))
	src[0] = 'X'
	assert.Equal(t, testPIN, string(s.Bytes()), "NewSecret copies")
	assert.Equal(t, len(testPIN), s.Len())
	assert.False(t, s.Wiped())

	s.Wipe()
	assert.True(t, s.Wiped())
	assert.Nil(t, s.Bytes())
	assert.Zero(t, s.Len())
	assert.Equal(t, make([]byte, len(testPIN)), buf, "buffer zeroed")
	s.Wipe() // twice is fine

	var nilSecret *Secret
	assert.True(t, nilSecret.Wiped())
	assert.Nil(t, nilSecret.Bytes())
	assert.Nil(t, nilSecret.Clone())
	nilSecret.Wipe()
}

func TestSecretClone(t *testing.T) {
	s := NewSecret([]byte(testPIN))
	c := s.Clone()
	require.True(t, s.Equal(c))
	s.Wipe()
	assert.Equal(t, testPIN, string(c.Bytes()), "clone is independent")
	assert.True(t, s.Clone().Wiped())
}

func TestSecretEqual(t *testing.T) {
	wiped := NewSecret([]byte(testPIN))
	wiped.Wipe()
	cases := []struct {
		name string
		a, b *Secret
		want bool
	}{
		{"same", NewSecret([]byte("1234")), NewSecret([]byte("1234")), true},
		{"different", NewSecret([]byte("1234")), NewSecret([]byte("1235")), false},
		{"prefix", NewSecret([]byte("1234")), NewSecret([]byte("12345")), false},
		{"nil", NewSecret([]byte("1234")), nil, false},
		{"both nil", nil, nil, false},
		{"wiped", wiped, wiped, false},
		{"empty", NewSecret(nil), NewSecret([]byte{}), true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, tc.a.Equal(tc.b))
			assert.Equal(t, tc.want, tc.b.Equal(tc.a))
		})
	}
}

package main

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// FuzzAssuanAnswer feeds arbitrary pinentry output to the Assuan client:
// no panic, bounded PIN, and an error or a PIN, never both.
func FuzzAssuanAnswer(f *testing.F) {
	for _, seed := range []string{
		"OK\n", "OK Pleased to meet you\n", "D 123456\nOK\n", "D 12%25%0A\nOK\n", "S X\n# c\nD a\nD b\nOK\n",
		"ERR 83886179 Operation cancelled <Pinentry>\n", "ERR x\n", "D %\nOK\n", "INQUIRE X\nOK\n",
		"D " + strings.Repeat("9", 300) + "\nOK\n", strings.Repeat("x", 2000), "",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		c := &assuanConn{w: io.Discard, r: bytes.NewReader(in), buf: make([]byte, assuanLineMax+2)}
		s, err := c.answer(nil, maxPINLen)
		if err != nil {
			assert.Nil(t, s)
			return
		}
		if s != nil {
			assert.LessOrEqual(t, s.Len(), maxPINLen)
			s.Wipe()
		}
	})
}

// FuzzPercentEscape: what percentEscape writes has no control
// characters and decodes back to the input.
func FuzzPercentEscape(f *testing.F) {
	for _, seed := range []string{"", "PIN:", "100%", "a\nb\r", "\x00\x7f%%"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e := percentEscape(s)
		for i := 0; i < len(e); i++ {
			require.False(t, e[i] < 0x20 || e[i] == 0x7F, "control byte in %q", e)
		}
		dec, err := percentDecode([]byte(e))
		require.NoError(t, err)
		assert.Equal(t, s, string(dec))
	})
}

// FuzzParseSubject: no panic; what parses has only the attributes given.
func FuzzParseSubject(f *testing.F) {
	for _, seed := range []string{"CN=Alice", "CN=Alice,O=Example,OU=x,C=DE,L=y,ST=z", `CN=a\,b`, "cn = x", "", ",", "X=1", `\`} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := parseSubject(s)
		if err == nil && utf8.ValidString(s) {
			assert.NotEmpty(t, n.String())
		}
	})
}

// FuzzMetadataTries: GET METADATA answers from a card; no panic, and
// tries within what one byte says.
func FuzzMetadataTries(f *testing.F) {
	for _, seed := range [][]byte{
		{0x01, 0x01, 0xFF, 0x05, 0x01, 0x01, 0x06, 0x02, 0x03, 0x03},
		{0x06, 0x02, 0x05, 0x00}, {0x06, 0x01, 0x03}, {0x06}, {}, {0x01, 0xFF, 0x00},
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		tr, err := parseMetadataTries(b)
		if err != nil {
			assert.Nil(t, tr)
			return
		}
		assert.True(t, tr.Left >= 0 && tr.Left <= 255 && tr.Max <= 255)
		assert.Equal(t, tr.Left == 0, tr.Blocked)
	})
}

// FuzzTraceRedaction: a redacted command or answer never shows its data
// bytes (a marker byte sequence in the data never reaches the line).
func FuzzTraceRedaction(f *testing.F) {
	f.Add([]byte{0x00, 0x20, 0x00, 0x80, 0x08}, []byte("\xA5\xA5\xA5\xA5\xA5\xA5\xA5\xA5"))
	f.Add([]byte{0x00, 0xDB, 0x3F, 0xFF, 0x00, 0x00}, []byte("\xA5\xA5\xA5\xA5"))
	f.Fuzz(func(t *testing.T, head, data []byte) {
		if len(head) < 4 || len(data) == 0 || len(data) > 255 {
			return
		}
		for i := range data {
			data[i] = 0xA5
		}
		apdu := append(append(append([]byte{}, head[:4]...), byte(len(data))), data...)
		line := formatCommand(apdu, true)
		require.True(t, strings.HasPrefix(line, spaced(head[:4])))
		assert.NotContains(t, line[len(spaced(head[:4])):], "A5", "data shown: %q", line)
		rsp := append(append([]byte{}, data...), 0x90, 0x00)
		assert.NotContains(t, formatResponse(rsp, true), "A5")
	})
}

package scrm

import (
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// atrTestHex decodes hex with optional spaces; it fails the test on bad
// input.
func atrTestHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	require.NoError(t, err, "test ATR %q", s)
	return b
}

// Real answers to reset used across the ATR tests and as fuzz seeds.
const (
	atrYubiKey5NFC  = "3B FD 13 00 00 81 31 FE 15 80 73 C0 21 C0 57 59 75 62 69 4B 65 79 40"
	atrYubiKey4     = "3B F8 13 00 00 81 31 FE 15 59 75 62 69 6B 65 79 34 D4"
	atrCACPIV       = "3B DB 96 00 80 1F 03 00 31 C0 64 B0 F3 10 00 07 90 00 80" // DoD CAC / PIV, Oberthur ID-One
	atrT0Only       = "3B 02 14 50"
	atrPCSCDLoose   = "3B 80 80 01 01 01" // accepted by pcscd (docs/testing.md)
	atrContactless  = "3B 80 80 01 01"    // ISO 14443 type B, no historical bytes
	atrInverse      = "3F 65 25 00 2B 09 62 90 00"
	atrCategory00   = "3B 7F 18 00 00 00 31 C0 73 9E 01 0B 64 52 D9 05 00 82 90 00"
	atrContactExtLe = "3B 8E 80 01 00 51 00 63 1F 6D 01 73 9F 20 C0 C0 90 00 12"
	atrYubiKeyNEO   = "3B 8C 80 01 59 75 62 69 6B 65 79 4E 45 4F 72 33 58"
)

// atrSeeds lists every ATR of the table tests, for the fuzz targets.
var atrSeeds = []string{
	atrYubiKey5NFC, atrYubiKey4, atrCACPIV, atrT0Only, atrPCSCDLoose,
	atrContactless, atrInverse, atrCategory00, atrContactExtLe, atrYubiKeyNEO,
	"3B 00", "3B 80 80 01", "3B F0 11", "3B 05 01 02", "3C 00", "3B",
}

func TestParseATRReal(t *testing.T) {
	tests := []struct {
		name       string
		atr        string
		groups     []InterfaceGroup
		hist       string
		protocols  []int
		supported  Protocol
		needsTCK   bool
		hasTCK     bool
		tckValid   bool
		trailing   string
		inverse    bool
		historical int
	}{
		{
			name: "YubiKey 5 NFC", atr: atrYubiKey5NFC,
			groups: []InterfaceGroup{
				{TA: 0x13, TB: 0x00, TC: 0x00, TD: 0x81, HasTA: true, HasTB: true, HasTC: true, HasTD: true},
				{TD: 0x31, HasTD: true},
				{TA: 0xFE, TB: 0x15, HasTA: true, HasTB: true},
			},
			hist:      "80 73 C0 21 C0 57 59 75 62 69 4B 65 79",
			protocols: []int{1}, supported: ProtocolT1,
			needsTCK: true, hasTCK: true, tckValid: true,
		},
		{
			name: "YubiKey 4", atr: atrYubiKey4,
			groups: []InterfaceGroup{
				{TA: 0x13, TB: 0x00, TC: 0x00, TD: 0x81, HasTA: true, HasTB: true, HasTC: true, HasTD: true},
				{TD: 0x31, HasTD: true},
				{TA: 0xFE, TB: 0x15, HasTA: true, HasTB: true},
			},
			hist:      "59 75 62 69 6B 65 79 34",
			protocols: []int{1}, supported: ProtocolT1,
			needsTCK: true, hasTCK: true, tckValid: true,
		},
		{
			name: "CAC/PIV T=0 with global bytes (T=15)", atr: atrCACPIV,
			groups: []InterfaceGroup{
				{TA: 0x96, TC: 0x00, TD: 0x80, HasTA: true, HasTC: true, HasTD: true},
				{TD: 0x1F, HasTD: true},
				{TA: 0x03, HasTA: true},
			},
			hist:      "00 31 C0 64 B0 F3 10 00 07 90 00",
			protocols: []int{0}, supported: ProtocolT0,
			needsTCK: true, hasTCK: true, tckValid: true,
		},
		{
			name: "T=0 only, no interface bytes", atr: atrT0Only,
			hist:      "14 50",
			protocols: []int{0}, supported: ProtocolT0,
		},
		{
			name: "pcscd-accepted 3B 80 80 01 01 01", atr: atrPCSCDLoose,
			groups: []InterfaceGroup{
				{TD: 0x80, HasTD: true},
				{TD: 0x01, HasTD: true},
			},
			protocols: []int{0, 1}, supported: ProtocolT0 | ProtocolT1,
			needsTCK: true, hasTCK: true, tckValid: true, trailing: "01",
		},
		{
			name: "contactless pseudo-ATR", atr: atrContactless,
			groups: []InterfaceGroup{
				{TD: 0x80, HasTD: true},
				{TD: 0x01, HasTD: true},
			},
			protocols: []int{0, 1}, supported: ProtocolT0 | ProtocolT1,
			needsTCK: true, hasTCK: true, tckValid: true,
		},
		{
			name: "missing TCK is accepted", atr: "3B 80 80 01",
			groups: []InterfaceGroup{
				{TD: 0x80, HasTD: true},
				{TD: 0x01, HasTD: true},
			},
			protocols: []int{0, 1}, supported: ProtocolT0 | ProtocolT1,
			needsTCK: true,
		},
		{
			name: "inverse convention", atr: atrInverse, inverse: true,
			groups: []InterfaceGroup{
				{TB: 0x25, TC: 0x00, HasTB: true, HasTC: true},
			},
			hist:      "2B 09 62 90 00",
			protocols: []int{0}, supported: ProtocolT0,
		},
		{
			name: "shortest ATR", atr: "3B 00",
			protocols: []int{0}, supported: ProtocolT0,
		},
		{
			name: "T=0 only with a trailing byte", atr: "3B 02 14 50 11",
			hist:      "14 50",
			protocols: []int{0}, supported: ProtocolT0, trailing: "11",
		},
		{
			name: "wrong TCK is reported, not fatal", atr: "3B FD 13 00 00 81 31 FE 15 80 73 C0 21 C0 57 59 75 62 69 4B 65 79 41",
			groups: []InterfaceGroup{
				{TA: 0x13, TB: 0x00, TC: 0x00, TD: 0x81, HasTA: true, HasTB: true, HasTC: true, HasTD: true},
				{TD: 0x31, HasTD: true},
				{TA: 0xFE, TB: 0x15, HasTA: true, HasTB: true},
			},
			hist:      "80 73 C0 21 C0 57 59 75 62 69 4B 65 79",
			protocols: []int{1}, supported: ProtocolT1,
			needsTCK: true, hasTCK: true, tckValid: false,
		},
		{
			name: "T=1 then T=0 keeps TD order", atr: "3B 80 81 10 00 11",
			groups: []InterfaceGroup{
				{TD: 0x81, HasTD: true},
				{TD: 0x10, HasTD: true},
				{TA: 0x00, HasTA: true},
			},
			protocols: []int{1, 0}, supported: ProtocolT0 | ProtocolT1,
			needsTCK: true, hasTCK: true, tckValid: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			raw := atrTestHex(t, tc.atr)
			a, err := ParseATR(raw)
			require.NoError(t, err)
			require.NotNil(t, a)
			assert.Equal(t, raw, a.Raw)
			assert.Equal(t, raw, a.Bytes())
			assert.Equal(t, raw[0], a.TS)
			assert.Equal(t, raw[1], a.T0)
			assert.Equal(t, tc.inverse, a.InverseConvention())
			assert.Equal(t, tc.groups, a.Interface)
			assert.Equal(t, tc.hist, atrHex(a.Historical))
			assert.Len(t, a.Historical, int(raw[1]&0x0F))
			assert.Equal(t, tc.protocols, a.Protocols())
			assert.Equal(t, tc.supported, a.SupportedProtocols())
			assert.Equal(t, tc.needsTCK, a.NeedsTCK())
			assert.Equal(t, tc.hasTCK, a.HasTCK)
			assert.Equal(t, tc.tckValid, a.TCKValid)
			if tc.hasTCK {
				pos := len(raw) - 1 - len(a.Trailing)
				assert.Equal(t, raw[pos], a.TCK)
			}
			assert.Equal(t, tc.trailing, atrHex(a.Trailing))
			assert.Equal(t, tc.atr, a.String())
		})
	}
}

func TestParseATRCopiesInput(t *testing.T) {
	raw := atrTestHex(t, atrYubiKey5NFC)
	a, err := ParseATR(raw)
	require.NoError(t, err)
	for i := range raw {
		raw[i] = 0
	}
	assert.Equal(t, atrYubiKey5NFC, a.String())
	assert.Equal(t, byte(0x80), a.Historical[0])
}

func TestParseATRMalformed(t *testing.T) {
	tests := []struct {
		name   string
		atr    []byte
		reason string
		offset int
	}{
		{"empty", nil, "empty", -1},
		{"empty non-nil", []byte{}, "empty", -1},
		{"bad TS", []byte{0x3C, 0x00}, "TS 3C", 0},
		{"raw inverse TS byte", []byte{0x03, 0x00}, "TS 03", 0},
		{"T0 missing", []byte{0x3B}, "T0 missing", 1},
		{"TB1 missing", []byte{0x3B, 0xF0, 0x11}, "TB1 missing", 3},
		{"TD1 missing", []byte{0x3B, 0x80}, "TD1 missing", 2},
		{"TA2 missing", []byte{0x3B, 0x80, 0x11}, "TA2 missing", 3},
		{"TD2 missing after TC2", []byte{0x3B, 0x80, 0xC1, 0x00}, "TD2 missing", 4},
		{"K larger than the rest", []byte{0x3B, 0x05, 0x01, 0x02}, "historical bytes truncated", 2},
		{"K with nothing left", []byte{0x3B, 0x6D, 0x00, 0x00}, "T0 announces 13, 0 left", 4},
		{"too long", append([]byte{0x3B, 0x0F}, make([]byte, 32)...), "34 bytes long", -1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, err := ParseATR(tc.atr)
			require.Error(t, err)
			assert.Nil(t, a)
			assert.ErrorIs(t, err, ErrInvalidATR)
			var ae *ATRError
			require.True(t, errors.As(err, &ae), "error %v is not an *ATRError", err)
			assert.Contains(t, ae.Reason, tc.reason)
			assert.Equal(t, tc.offset, ae.Offset)
			assert.True(t, strings.HasPrefix(err.Error(), "scrm: invalid ATR: "), err.Error())
		})
	}
}

func TestParseATRMaxLength(t *testing.T) {
	// 33 bytes: TS, T0 with K = 15, TD1..: enough interface bytes to fill up.
	raw := []byte{0x3B, 0x8F, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01}
	raw = append(raw, make([]byte, 15)...)
	raw = append(raw, 0) // TCK placeholder
	var x byte
	for _, c := range raw[1 : len(raw)-1] {
		x ^= c
	}
	raw[len(raw)-1] = x
	raw = append(raw, 0xAA) // one trailing byte brings it to 33
	require.Len(t, raw, MaxATRLen)
	a, err := ParseATR(raw)
	require.NoError(t, err)
	assert.Len(t, a.Interface, 14)
	assert.True(t, a.TCKValid)
	assert.Equal(t, []byte{0xAA}, a.Trailing)
	assert.Equal(t, []int{0, 1}, a.Protocols())
	assert.Equal(t, raw, a.Bytes())
}

func TestATRNilReceiver(t *testing.T) {
	var a *ATR
	assert.Nil(t, a.Bytes())
	assert.Equal(t, "<nil>", a.String())
	assert.False(t, a.NeedsTCK())
	assert.False(t, a.InverseConvention())
	assert.Equal(t, []int{0}, a.Protocols())
	_, ok := a.Capabilities()
	assert.False(t, ok)
}

func TestInterfaceGroupProtocol(t *testing.T) {
	_, ok := InterfaceGroup{TA: 0x11, HasTA: true}.Protocol()
	assert.False(t, ok)
	p, ok := InterfaceGroup{TD: 0x31, HasTD: true}.Protocol()
	assert.True(t, ok)
	assert.Equal(t, 1, p)
	p, ok = InterfaceGroup{TD: 0x1F, HasTD: true}.Protocol()
	assert.True(t, ok)
	assert.Equal(t, 15, p)
}

func TestATRCapabilities(t *testing.T) {
	tests := []struct {
		name string
		atr  string
		ok   bool
		want Capabilities
	}{
		{
			name: "YubiKey 5 NFC: chaining and extended length", atr: atrYubiKey5NFC, ok: true,
			want: Capabilities{
				Raw: []byte{0xC0, 0x21, 0xC0}, SelectionMethods: 0xC0, DataCoding: 0x21,
				CommandChaining: true, ExtendedLength: true, LogicalChannels: 1,
			},
		},
		{
			name: "category 00 with status indicator last", atr: atrCategory00, ok: true,
			want: Capabilities{
				Raw: []byte{0x9E, 0x01, 0x0B}, SelectionMethods: 0x9E, DataCoding: 0x01,
				ChannelsByIFD: true, LogicalChannels: 4,
			},
		},
		{
			name: "contactless card with extended Lc/Le", atr: atrContactExtLe, ok: true,
			want: Capabilities{
				Raw: []byte{0x9F, 0x20, 0xC0}, SelectionMethods: 0x9F, DataCoding: 0x20,
				CommandChaining: true, ExtendedLength: true, LogicalChannels: 1,
			},
		},
		{
			name: "one-byte capabilities object", atr: "3B 03 80 71 DF", ok: true,
			want: Capabilities{Raw: []byte{0xDF}, SelectionMethods: 0xDF},
		},
		{
			name: "channels by card and IFD, eight or more", atr: "3B 05 80 73 00 00 1F", ok: true,
			want: Capabilities{
				Raw: []byte{0x00, 0x00, 0x1F}, ChannelsByCard: true, ChannelsByIFD: true,
				LogicalChannels: 8,
			},
		},
		{
			name: "extended length information bit", atr: "3B 05 80 73 00 00 60", ok: true,
			want: Capabilities{
				Raw: []byte{0x00, 0x00, 0x60}, ExtendedLength: true, ExtendedLengthInfo: true,
				LogicalChannels: 1,
			},
		},
		{
			name: "status indicator object after capabilities", atr: "3B 08 80 73 00 00 90 82 90 00", ok: true,
			want: Capabilities{
				Raw: []byte{0x00, 0x00, 0x90}, CommandChaining: true, ChannelsByCard: true,
				LogicalChannels: 1,
			},
		},
		{name: "CAC: category 00 without capabilities", atr: atrCACPIV},
		{name: "YubiKey 4: proprietary historical bytes", atr: atrYubiKey4},
		{name: "YubiKey NEO: proprietary historical bytes", atr: atrYubiKeyNEO},
		{name: "no historical bytes", atr: atrContactless},
		{name: "DIR data reference", atr: "3B 02 10 01"},
		{name: "category 00 too short for the status", atr: "3B 03 00 90 00"},
		{name: "object longer than the rest", atr: "3B 03 80 73 C0"},
		{name: "capabilities object of length 0", atr: "3B 02 80 70"},
		{name: "capabilities object of length 4", atr: "3B 06 80 74 00 00 00 00"},
		{name: "malformed after the capabilities object", atr: "3B 06 80 73 00 00 C0 5F"},
		{name: "category 00 object runs into the status", atr: "3B 07 00 73 00 00 00 90 00"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, err := ParseATR(atrTestHex(t, tc.atr))
			require.NoError(t, err)
			c, ok := a.Capabilities()
			assert.Equal(t, tc.ok, ok)
			assert.Equal(t, tc.want, c)
		})
	}
}

func TestATRMaskMatch(t *testing.T) {
	yk5 := atrTestHex(t, atrYubiKey5NFC)
	ffMask := func(n int) []byte {
		m := make([]byte, n)
		for i := range m {
			m[i] = 0xFF
		}
		return m
	}
	// YubiKey ATRs differ in TA1, the historical bytes and TCK: mask them.
	ykMask := ffMask(len(yk5))
	ykMask[2] = 0x00
	ykMask[len(ykMask)-1] = 0x00
	other := append([]byte(nil), yk5...)
	other[2] = 0x18
	other[len(other)-1] ^= 0x0B

	tests := []struct {
		name string
		m    ATRMask
		atr  []byte
		want bool
	}{
		{"equal, full mask", ATRMask{ATR: yk5, Mask: ffMask(len(yk5))}, yk5, true},
		{"differences masked out", ATRMask{ATR: yk5, Mask: ykMask}, other, true},
		{"difference not masked", ATRMask{ATR: yk5, Mask: ffMask(len(yk5))}, other, false},
		{"entry bits outside the mask ignored", ATRMask{ATR: []byte{0x3B, 0xFF}, Mask: []byte{0xFF, 0x0F}}, []byte{0x3B, 0x0F}, true},
		{"partial mask still checks its bits", ATRMask{ATR: []byte{0x3B, 0x0F}, Mask: []byte{0xFF, 0x0F}}, []byte{0x3B, 0xFE}, false},
		{"zero mask matches any ATR of that length", ATRMask{ATR: []byte{1, 2, 3}, Mask: []byte{0, 0, 0}}, []byte{0x3B, 0x00, 0x77}, true},
		{"ATR shorter", ATRMask{ATR: yk5, Mask: ykMask}, yk5[:len(yk5)-1], false},
		{"ATR longer", ATRMask{ATR: yk5, Mask: ykMask}, append(append([]byte(nil), yk5...), 0), false},
		{"mask shorter than entry", ATRMask{ATR: []byte{0x3B, 0x00}, Mask: []byte{0xFF}}, []byte{0x3B, 0x00}, false},
		{"mask longer than entry", ATRMask{ATR: []byte{0x3B}, Mask: []byte{0xFF, 0xFF}}, []byte{0x3B}, false},
		{"empty entry", ATRMask{}, nil, false},
		{"empty entry, empty ATR", ATRMask{ATR: []byte{}, Mask: []byte{}}, []byte{}, false},
		{"entry too long", ATRMask{ATR: make([]byte, 37), Mask: make([]byte, 37)}, make([]byte, 37), false},
		{"longest entry", ATRMask{ATR: make([]byte, 36), Mask: ffMask(36)}, make([]byte, 36), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, tc.m.Match(tc.atr))
		})
	}
}

func TestParseATRMask(t *testing.T) {
	tests := []struct {
		name, atr, mask string
		want            ATRMask
	}{
		{"spaces", "3B 02 14 50", "FF FF FF 00", ATRMask{ATR: []byte{0x3B, 0x02, 0x14, 0x50}, Mask: []byte{0xFF, 0xFF, 0xFF, 0x00}}},
		{"colons, lower case", "3b:02:14:50", "ff:ff:00:00", ATRMask{ATR: []byte{0x3B, 0x02, 0x14, 0x50}, Mask: []byte{0xFF, 0xFF, 0x00, 0x00}}},
		{"no separators", "3B021450", "FFFFFFFF", ATRMask{ATR: []byte{0x3B, 0x02, 0x14, 0x50}, Mask: []byte{0xFF, 0xFF, 0xFF, 0xFF}}},
		{"empty mask means exact", " 3B 00 ", "", ATRMask{ATR: []byte{0x3B, 0x00}, Mask: []byte{0xFF, 0xFF}}},
		{"tabs and newlines", "3B\t00\n", "FF\r\nF0", ATRMask{ATR: []byte{0x3B, 0x00}, Mask: []byte{0xFF, 0xF0}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := ParseATRMask(tc.atr, tc.mask)
			require.NoError(t, err)
			assert.Equal(t, tc.want, m)
			assert.True(t, m.Valid())
			assert.True(t, m.Match(tc.want.ATR))
		})
	}

	bad := []struct{ name, atr, mask string }{
		{"empty ATR", "", ""},
		{"blank ATR", "  : ", "FF"},
		{"odd digits", "3B 0", "FF FF"},
		{"not hex", "3B ZZ", "FF FF"},
		{"mask not hex", "3B 00", "FF GG"},
		{"length mismatch", "3B 00", "FF"},
		{"too long", strings.Repeat("00", 37), ""},
		{"text too long", strings.Repeat(" ", 200) + "3B", ""},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			m, err := ParseATRMask(tc.atr, tc.mask)
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrInvalidParameter)
			assert.True(t, strings.HasPrefix(err.Error(), "scrm: "), err.Error())
			assert.Equal(t, ATRMask{}, m)
		})
	}
}

func TestATRMaskString(t *testing.T) {
	m, err := ParseATRMask("3b021450", "ffffff00")
	require.NoError(t, err)
	assert.Equal(t, "3B 02 14 50/FF FF FF 00", m.String())
}

func TestATRErrorMessage(t *testing.T) {
	assert.Equal(t, "scrm: invalid ATR: empty", (&ATRError{Reason: "empty", Offset: -1}).Error())
	assert.Equal(t, "scrm: invalid ATR: TD1 missing (at byte 2)", (&ATRError{Reason: "TD1 missing", Offset: 2}).Error())
}

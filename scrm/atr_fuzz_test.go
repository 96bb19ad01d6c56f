package scrm

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// FuzzParseATR checks that ParseATR never panics, that every error is an
// *ATRError wrapping ErrInvalidATR, and that a parsed ATR re-encodes to its
// input and parses again to the same value.
func FuzzParseATR(f *testing.F) {
	for _, s := range atrSeeds {
		f.Add(atrTestHex(f, s))
	}
	f.Add([]byte{})
	f.Add(make([]byte, MaxATRLen+1))
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := ParseATR(b)
		if err != nil {
			require.Nil(t, a)
			require.ErrorIs(t, err, ErrInvalidATR)
			var ae *ATRError
			require.True(t, errors.As(err, &ae))
			require.Less(t, ae.Offset, len(b)+1)
			return
		}
		require.NotNil(t, a)
		require.Equal(t, b, a.Raw)
		enc := a.Bytes()
		require.Equal(t, b, enc)
		a2, err := ParseATR(enc)
		require.NoError(t, err)
		require.Equal(t, a, a2)

		require.Len(t, a.Historical, int(a.T0&0x0F))
		require.LessOrEqual(t, len(a.Raw), MaxATRLen)
		require.NotEmpty(t, a.Protocols())
		if a.HasTCK {
			require.True(t, a.NeedsTCK())
		}
		if a.TCKValid {
			require.True(t, a.HasTCK)
		}
		if c, ok := a.Capabilities(); ok {
			require.GreaterOrEqual(t, len(c.Raw), 1)
			require.LessOrEqual(t, len(c.Raw), 3)
			require.GreaterOrEqual(t, c.LogicalChannels, 0)
			require.LessOrEqual(t, c.LogicalChannels, 8)
		}
		m, err := ParseATRMask(a.String(), "")
		require.NoError(t, err)
		require.True(t, m.Match(b))
	})
}

// FuzzParseATRMask checks that ParseATRMask never panics, that its errors
// wrap ErrInvalidParameter, and that a parsed mask matches its own ATR and
// survives a round trip through String.
func FuzzParseATRMask(f *testing.F) {
	for _, s := range atrSeeds {
		f.Add(s, "")
		f.Add(s, strings.Repeat("FF ", len(atrTestHex(f, s))))
	}
	f.Add("3b:02:14:50", "ff:ff:ff:00")
	f.Add("3B021450", "FFFF")
	f.Add("3B 0", "F")
	f.Add("", "")
	f.Fuzz(func(t *testing.T, atrHexText, maskHexText string) {
		m, err := ParseATRMask(atrHexText, maskHexText)
		if err != nil {
			require.ErrorIs(t, err, ErrInvalidParameter)
			require.Equal(t, ATRMask{}, m)
			return
		}
		require.True(t, m.Valid())
		require.True(t, m.Match(m.ATR))
		atrPart, maskPart, ok := strings.Cut(m.String(), "/")
		require.True(t, ok)
		m2, err := ParseATRMask(atrPart, maskPart)
		require.NoError(t, err)
		require.Equal(t, m, m2)
	})
}

package pincache

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/cardmod/cardmod/minidriver"
)

// FuzzQuestion feeds untrusted card names and context strings to
// Request.Question: the text stays valid UTF-8, bounded, and free of
// control characters that could drive a terminal.
func FuzzQuestion(f *testing.F) {
	f.Add("Yubico YubiKey OTP+FIDO+CCID 00 00", "sign in", uint32(1), 3, false)
	f.Add("Evil\x1b]0;title\x07card", "x\r\ny", uint32(6), -1, true)
	f.Add("\xff\xfe\xfd", "", uint32(99), 0, false)
	f.Add(strings.Repeat("é", 300), strings.Repeat("\u202e", 200), uint32(4), 1, true)
	f.Fuzz(func(t *testing.T, name, context string, purpose uint32, attempts int, retry bool) {
		r := Request{
			PIN:          minidriver.RoleUser,
			Info:         minidriver.PINInfo{Purpose: minidriver.PINPurpose(purpose)},
			CardName:     name,
			Context:      context,
			AttemptsLeft: attempts,
			Retry:        retry,
		}
		q := r.Question()
		if !utf8.ValidString(q) {
			t.Fatalf("invalid UTF-8: %q", q)
		}
		for _, c := range q {
			if !unicode.IsPrint(c) {
				t.Fatalf("unprintable %U in %q", c, q)
			}
		}
		if n := utf8.RuneCountInString(q); n > 2*maxShown+200 {
			t.Fatalf("question of %d runes", n)
		}
	})
}

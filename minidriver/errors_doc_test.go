package minidriver_test

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cardmod/cardmod/cardfs"
	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/scrm"
)

var updateDocs = flag.Bool("update-docs", false, "rewrite the generated part of docs/errors.md")

type namedErr struct {
	name string
	err  error
}

// The sentinels the table speaks of. TestErrorsDoc checks, by parsing the
// packages' errors.go, that no exported error of theirs is missing here.
var (
	scrmStatusSentinels = []namedErr{
		{"ErrNotFound", scrm.ErrNotFound}, {"ErrSecurityStatus", scrm.ErrSecurityStatus},
		{"ErrWrongPIN", scrm.ErrWrongPIN}, {"ErrBlocked", scrm.ErrBlocked},
		{"ErrWrongLength", scrm.ErrWrongLength}, {"ErrUnsupported", scrm.ErrUnsupported},
		{"ErrWrongData", scrm.ErrWrongData}, {"ErrWrongParameters", scrm.ErrWrongParameters},
		{"ErrConditionsNotSatisfied", scrm.ErrConditionsNotSatisfied}, {"ErrNoSpace", scrm.ErrNoSpace},
		{"ErrExists", scrm.ErrExists}, {"ErrCardError", scrm.ErrCardError},
	}
	// The PC/SC codes that minidriver sentinels are.
	scrmCodes = []namedErr{
		{"ErrUnsupportedFeature", scrm.ErrUnsupportedFeature}, {"ErrInvalidParameter", scrm.ErrInvalidParameter},
		{"ErrInsufficientBuffer", scrm.ErrInsufficientBuffer}, {"ErrCommDataLost", scrm.ErrCommDataLost},
		{"ErrUnexpected", scrm.ErrUnexpected},
	}
	// scrm's errors that are neither status words nor PC/SC codes.
	scrmOther = []namedErr{
		{"ErrMalformedResponse", scrm.ErrMalformedResponse}, {"ErrInvalidCommand", scrm.ErrInvalidCommand},
		{"ErrTxDone", scrm.ErrTxDone}, {"ErrClosed", scrm.ErrClosed}, {"ErrNoCGO", scrm.ErrNoCGO},
		{"ErrTooManyRounds", scrm.ErrTooManyRounds},
	}
	minidriverSentinels = []namedErr{
		{"ErrUnsupported", minidriver.ErrUnsupported}, {"ErrInvalidParameter", minidriver.ErrInvalidParameter},
		{"ErrWrongPIN", minidriver.ErrWrongPIN}, {"ErrPINBlocked", minidriver.ErrPINBlocked},
		{"ErrSecurityViolation", minidriver.ErrSecurityViolation}, {"ErrNoKeyContainer", minidriver.ErrNoKeyContainer},
		{"ErrFileNotFound", minidriver.ErrFileNotFound}, {"ErrDirNotFound", minidriver.ErrDirNotFound},
		{"ErrFileExists", minidriver.ErrFileExists}, {"ErrDirNotEmpty", minidriver.ErrDirNotEmpty},
		{"ErrNoSpace", minidriver.ErrNoSpace}, {"ErrCommDataLost", minidriver.ErrCommDataLost},
		{"ErrReadOnly", minidriver.ErrReadOnly}, {"ErrUnknownCard", minidriver.ErrUnknownCard},
		{"ErrInsufficientBuffer", minidriver.ErrInsufficientBuffer}, {"ErrUnexpected", minidriver.ErrUnexpected},
		{"ErrNotInitialized", minidriver.ErrNotInitialized},
	}
	cardfsSentinels = []namedErr{
		{"ErrFormat", cardfs.ErrFormat}, {"ErrAccessDenied", cardfs.ErrAccessDenied},
		{"ErrFileNotFound", cardfs.ErrFileNotFound}, {"ErrDirNotFound", cardfs.ErrDirNotFound},
		{"ErrFileExists", cardfs.ErrFileExists}, {"ErrDirNotEmpty", cardfs.ErrDirNotEmpty},
		{"ErrNoSpace", cardfs.ErrNoSpace}, {"ErrInvalidName", cardfs.ErrInvalidName},
		{"ErrInvalidParameter", cardfs.ErrInvalidParameter}, {"ErrContainerExists", cardfs.ErrContainerExists},
		{"ErrNoContainer", cardfs.ErrNoContainer}, {"ErrTooManyContainers", cardfs.ErrTooManyContainers},
		{"ErrCardCreated", cardfs.ErrCardCreated},
	}
)

// scardNames names the codes SCardCode returns (minidriver specification,
// winscard.h and winerror.h).
var scardNames = map[uint32]string{
	0x8010001F: "SCARD_E_UNEXPECTED",
	0x80100022: "SCARD_E_UNSUPPORTED_FEATURE",
	0x80100004: "SCARD_E_INVALID_PARAMETER",
	0x8010006B: "SCARD_W_WRONG_CHV",
	0x8010006C: "SCARD_W_CHV_BLOCKED",
	0x8010006A: "SCARD_W_SECURITY_VIOLATION",
	0x80100030: "SCARD_E_NO_KEY_CONTAINER",
	0x80100024: "SCARD_E_FILE_NOT_FOUND",
	0x80100023: "SCARD_E_DIR_NOT_FOUND",
	0x00000050: "ERROR_FILE_EXISTS",
	0x00000091: "ERROR_DIR_NOT_EMPTY",
	0x80100028: "SCARD_E_WRITE_TOO_MANY",
	0x8010002F: "SCARD_E_COMM_DATA_LOST",
	0x80100034: "SCARD_E_READ_ONLY_CARD",
	0x8010000D: "SCARD_E_UNKNOWN_CARD",
	0x80100008: "SCARD_E_INSUFFICIENT_BUFFER",
}

func scardName(t *testing.T, code uint32) string {
	n, ok := scardNames[code]
	require.True(t, ok, "SCardCode returned 0x%08X, which has no name in scardNames", code)
	return fmt.Sprintf("`%s` (0x%08X)", n, code)
}

// matching lists, in table order, the names of the sentinels err matches.
func matching(err error, pkg string, set []namedErr) string {
	var out []string
	for _, s := range set {
		if errors.Is(err, s.err) {
			out = append(out, "`"+pkg+"."+s.name+"`")
		}
	}
	if len(out) == 0 {
		return "—"
	}
	return strings.Join(out, ", ")
}

// sameAs lists the other packages' sentinels that are the same value as err.
func sameAs(err error, sets map[string][]namedErr, skip string) string {
	var out []string
	for _, pkg := range []string{"scrm", "cardfs", "minidriver"} {
		if pkg == skip {
			continue
		}
		for _, s := range sets[pkg] {
			if s.err == err {
				out = append(out, "`"+pkg+"."+s.name+"`")
			}
		}
	}
	if len(out) == 0 {
		return "—"
	}
	return strings.Join(out, ", ")
}

// swRanges writes a set of status words compactly: 6Cxx for a whole SW1,
// 63Cx for a whole nibble, else each word.
func swRanges(sws []uint16) string {
	in := map[uint16]bool{}
	for _, sw := range sws {
		in[sw] = true
	}
	var out []string
	for sw1 := 0x60; sw1 <= 0x6F; sw1++ {
		base := uint16(sw1) << 8
		all := true
		for i := range uint16(256) {
			all = all && in[base|i]
		}
		if all {
			out = append(out, fmt.Sprintf("`%02Xxx`", sw1))
			continue
		}
		for hi := uint16(0); hi < 256; hi += 16 {
			nib := true
			for lo := range uint16(16) {
				nib = nib && in[base|hi|lo]
			}
			if nib {
				out = append(out, fmt.Sprintf("`%02X%Xx`", sw1, hi>>4))
				continue
			}
			for lo := range uint16(16) {
				if in[base|hi|lo] {
					out = append(out, fmt.Sprintf("`%04X`", base|hi|lo))
				}
			}
		}
	}
	return strings.Join(out, ", ")
}

// errorsTable renders the generated part of docs/errors.md from the real
// mappings: (*scrm.StatusError).Is, errors.Is on the re-exported values and
// minidriver.SCardCode.
func errorsTable(t *testing.T) string {
	var b strings.Builder
	type row struct{ scrm, md, fs, code string }
	var order []row
	sws := map[row][]uint16{}
	for sw := 0x6000; sw <= 0x6FFF; sw++ {
		if sw>>8 == 0x61 { // bytes remaining: scrm fetches them, never an error
			continue
		}
		se := &scrm.StatusError{SW1: byte(sw >> 8), SW2: byte(sw)}
		r := row{
			scrm: matching(se, "scrm", scrmStatusSentinels),
			md:   matching(se, "minidriver", minidriverSentinels),
			fs:   matching(se, "cardfs", cardfsSentinels),
			code: scardName(t, minidriver.SCardCode(se)),
		}
		if _, ok := sws[r]; !ok {
			order = append(order, r)
		}
		sws[r] = append(sws[r], uint16(sw))
	}
	b.WriteString("### Status words\n\n")
	b.WriteString("| Status word | scrm | minidriver | cardfs | `SCardCode` |\n|---|---|---|---|---|\n")
	var other []row
	for _, r := range order {
		if r.scrm == "—" {
			other = append(other, r)
			continue
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", swRanges(sws[r]), r.scrm, r.md, r.fs, r.code)
	}
	for _, r := range other {
		what := "any other `6xxx` (but `61xx`)"
		if len(other) > 1 {
			what = swRanges(sws[r])
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", what, r.scrm, r.md, r.fs, r.code)
	}

	sets := map[string][]namedErr{"scrm": scrmStatusSentinels, "cardfs": cardfsSentinels, "minidriver": minidriverSentinels}
	sets["scrm"] = append(slices.Clip(sets["scrm"]), scrmCodes...)
	b.WriteString("\n### minidriver errors\n\n")
	b.WriteString("| minidriver | is the value | `SCardCode` |\n|---|---|---|\n")
	for _, s := range minidriverSentinels {
		fmt.Fprintf(&b, "| `minidriver.%s` | %s | %s |\n", s.name, sameAs(s.err, sets, "minidriver"), scardName(t, minidriver.SCardCode(s.err)))
	}
	b.WriteString("\n### cardfs errors\n\n")
	b.WriteString("| cardfs | matches | `SCardCode` |\n|---|---|---|\n")
	for _, s := range cardfsSentinels {
		var m []string
		for _, pkg := range []string{"scrm", "minidriver"} {
			for _, o := range sets[pkg] {
				if errors.Is(s.err, o.err) {
					m = append(m, "`"+pkg+"."+o.name+"`")
				}
			}
		}
		ms := strings.Join(m, ", ")
		if ms == "" {
			ms = "—"
		}
		fmt.Fprintf(&b, "| `cardfs.%s` | %s | %s |\n", s.name, ms, scardName(t, minidriver.SCardCode(s.err)))
	}
	return b.String()
}

// exportedErrVars returns the exported package-level vars of a Go file whose
// name starts with Err.
func exportedErrVars(t *testing.T, path string) []string {
	f, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
	require.NoError(t, err)
	var names []string
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.VAR {
			continue
		}
		for _, s := range g.Specs {
			for _, n := range s.(*ast.ValueSpec).Names {
				if n.IsExported() && strings.HasPrefix(n.Name, "Err") {
					names = append(names, n.Name)
				}
			}
		}
	}
	return names
}

const (
	docsErrors = "../docs/errors.md"
	genBegin   = "<!-- Generated by TestErrorsDoc (minidriver/errors_doc_test.go): go test ./minidriver -run TestErrorsDoc -update-docs -->\n"
	genEnd     = "<!-- End of generated part. -->\n"
)

// TestErrorsDoc keeps docs/errors.md true to the code: its tables are what
// the mapping functions do, and every sentinel of scrm, cardfs and
// minidriver is in them.
func TestErrorsDoc(t *testing.T) {
	names := func(s ...[]namedErr) []string {
		var out []string
		for _, l := range s {
			for _, e := range l {
				out = append(out, e.name)
			}
		}
		slices.Sort(out)
		return out
	}
	for _, c := range []struct {
		file string
		want []string
	}{
		{"../scrm/errors.go", names(scrmStatusSentinels, scrmOther)},
		{"errors.go", names(minidriverSentinels)},
		{"../cardfs/errors.go", names(cardfsSentinels)},
	} {
		got := exportedErrVars(t, c.file)
		slices.Sort(got)
		assert.Equal(t, c.want, got, "%s: the sentinels docs/errors.md describes", c.file)
	}

	gen := errorsTable(t)
	doc, err := os.ReadFile(docsErrors)
	require.NoError(t, err)
	s := string(doc)
	i, j := strings.Index(s, genBegin), strings.Index(s, genEnd)
	require.True(t, i >= 0 && j > i, "docs/errors.md keeps the generated part between its two markers")
	if *updateDocs {
		s = s[:i+len(genBegin)] + "\n" + gen + "\n" + s[j:]
		require.NoError(t, os.WriteFile(docsErrors, []byte(s), 0o644))
		return
	}
	assert.Equal(t, gen, strings.TrimSpace(s[i+len(genBegin):j])+"\n",
		"docs/errors.md is out of date: go test ./minidriver -run TestErrorsDoc -update-docs")
}

// One sentinel per meaning: the names minidriver re-exports are scrm's
// values, so errors.Is matches either name, whichever layer produced the
// error.
func TestSentinelsShared(t *testing.T) {
	for _, c := range []struct {
		name   string
		md, sc error
	}{
		{"WrongPIN", minidriver.ErrWrongPIN, scrm.ErrWrongPIN},
		{"PINBlocked", minidriver.ErrPINBlocked, scrm.ErrBlocked},
		{"Unsupported", minidriver.ErrUnsupported, scrm.ErrUnsupported},
		{"UnsupportedFeature", minidriver.ErrUnsupported, scrm.ErrUnsupportedFeature},
		{"SecurityViolation", minidriver.ErrSecurityViolation, scrm.ErrSecurityStatus},
		{"NoSpace", minidriver.ErrNoSpace, scrm.ErrNoSpace},
		{"NoSpace/cardfs", cardfs.ErrNoSpace, scrm.ErrNoSpace},
		{"InvalidParameter", minidriver.ErrInvalidParameter, scrm.ErrInvalidParameter},
		{"InvalidParameter/cardfs", cardfs.ErrInvalidParameter, scrm.ErrInvalidParameter},
		{"CommDataLost", minidriver.ErrCommDataLost, scrm.ErrCommDataLost},
		{"InsufficientBuffer", minidriver.ErrInsufficientBuffer, scrm.ErrInsufficientBuffer},
		{"Unexpected", minidriver.ErrUnexpected, scrm.ErrUnexpected},
	} {
		t.Run(c.name, func(t *testing.T) {
			assert.ErrorIs(t, fmt.Errorf("x: %w", c.md), c.sc)
			assert.ErrorIs(t, fmt.Errorf("x: %w", c.sc), c.md)
		})
	}
	// A card's status word reaches the contract's meaning unwrapped.
	assert.ErrorIs(t, &scrm.StatusError{SW1: 0x63, SW2: 0xC2}, minidriver.ErrWrongPIN)
	assert.ErrorIs(t, &scrm.StatusError{SW1: 0x6D, SW2: 0x00}, minidriver.ErrUnsupported)
	assert.ErrorIs(t, &scrm.StatusError{SW1: 0x6A, SW2: 0x84}, cardfs.ErrNoSpace)
	// A PIN error for a wrong PIN is not a blocked one.
	assert.NotErrorIs(t, &minidriver.PINError{AttemptsLeft: 2, Err: &scrm.StatusError{SW1: 0x63, SW2: 0xC2}}, minidriver.ErrPINBlocked)
	// cardfs.ErrAccessDenied is a case of the security status meaning.
	assert.ErrorIs(t, cardfs.ErrAccessDenied, minidriver.ErrSecurityViolation)
}

// TestNoMissingSpecFile keeps the module's comments and docs from citing
// the team's design notes on the specification, a file that is not in the
// repository:
// references name the Microsoft specification's sections instead (see the
// package doc).
func TestNoMissingSpecFile(t *testing.T) {
	bareSection := regexp.MustCompile(`(spec|the|\() ?` + "§" + `\d`)
	var bad []string
	err := filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && strings.HasPrefix(d.Name(), ".") && path != ".." {
			return filepath.SkipDir
		}
		if ext := filepath.Ext(path); d.IsDir() || (ext != ".go" && ext != ".md") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		// A section sign right after "spec", "the" or "(" is one of the
		// notes' numbers: the standards cited by number (RFC 8017 §9.2,
		// ISO/IEC 7816-4 §5.1.3, SP 800-73-4 Part 1 §2.4.3) name their
		// document first.
		if bytes.Contains(b, []byte("minidriver-"+"spec")) || bareSection.Match(b) {
			bad = append(bad, path)
		}
		return nil
	})
	require.NoError(t, err)
	assert.Empty(t, bad, "files citing the design notes (not in the repository) instead of the specification")
}

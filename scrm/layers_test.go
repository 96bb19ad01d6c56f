package scrm_test

import (
	"bufio"
	"bytes"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const module = "github.com/cardmod/cardmod/"

// A layer rule: no package matching from may depend, directly or through
// other packages, on a package matching to.
type layerRule struct {
	name     string
	from, to func(pkg string) bool
}

func under(prefix string) func(string) bool {
	return func(p string) bool { return p == prefix || strings.HasPrefix(p, prefix+"/") }
}

// plugin reports whether pkg is a card plug-in: a package under minidriver
// other than the contract, its helpers (kdf, and the plug-ins' own leaves
// under minidriver/internal) and its test kit, or the plug-in template.
func plugin(pkg string) bool {
	switch {
	case pkg == "minidriver", under("minidriver/kdf")(pkg), under("minidriver/internal")(pkg),
		under("minidriver/minidrivertest")(pkg):
		return false
	}
	return under("minidriver")(pkg) || under("examples/plugin")(pkg)
}

var layerRules = []layerRule{
	{"scrm does not know the simulators", under("scrm"), under("cardsim")},
	{"the common part does not know the plug-ins", commonPart, plugin},
}

// testKits are the packages that only tests import: the provider test kit
// and the pcscd test bed beside what they test (as net/http/httptest
// beside net/http), and the fault matrix, a package that exists for its
// test (docs/design.md says why it stays under internal). No production
// package may import them.
var testKits = []string{"csptest", "internal/faultmatrix", "scrm/pcsc/pcscdtest"}

// commonPart reports whether pkg is part of the providers' common code: a
// package under internal other than a test kit.
func commonPart(pkg string) bool { return under("internal")(pkg) && !slices.Contains(testKits, pkg) }

// testOnly are the packages under internal that no production package
// imports and that may stay there: the fault matrix, which has no API
// (docs/design.md). Any other such package is a test kit under internal:
// it belongs beside what it tests, where its users find it.
var testOnly = []string{"internal/faultmatrix"}

// knownArrows are the imports that break a rule today, each to be removed by
// the change that ends it. The test fails when a rule is broken by an import
// not listed here, and when a listed import is gone (delete it here then).
var knownArrows = [][2]string{}

// TestImportLayers draws the module's import graph (production code, no
// tests) with go list and checks the layer rules on it.
func TestImportLayers(t *testing.T) {
	gobin, err := exec.LookPath("go")
	require.NoError(t, err, "the go command draws the import graph")
	cmd := exec.Command(gobin, "list", "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`, module+"...")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "go list: %s", stderr.String())

	imports := map[string][]string{} // module-relative path -> module-relative imports
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 || !strings.HasPrefix(f[0], module) {
			continue
		}
		pkg := strings.TrimPrefix(f[0], module)
		imports[pkg] = nil
		for _, imp := range f[1:] {
			if strings.HasPrefix(imp, module) {
				imports[pkg] = append(imports[pkg], strings.TrimPrefix(imp, module))
			}
		}
	}
	require.NoError(t, sc.Err())
	require.Contains(t, imports, "scrm", "go list saw the module")
	require.Contains(t, imports, "scrm/virtual")

	known := func(from, to string) bool { return slices.Contains(knownArrows, [2]string{from, to}) }
	for _, a := range knownArrows {
		assert.Contains(t, imports[a[0]], a[1], "known arrow %s -> %s is gone: delete it from knownArrows", a[0], a[1])
	}
	for pkg, imps := range imports {
		for _, imp := range imps {
			if slices.Contains(testKits, imp) && !slices.Contains(testKits, pkg) {
				t.Errorf("test kit %s is imported by production package %s", imp, pkg)
			}
		}
	}
	imported := map[string]bool{}
	for _, imps := range imports {
		for _, imp := range imps {
			imported[imp] = true
		}
	}
	for pkg := range imports {
		if under("internal")(pkg) && !imported[pkg] && !slices.Contains(testOnly, pkg) {
			t.Errorf("%s is under internal and no production package imports it: a test kit lives beside what it tests", pkg)
		}
	}
	for _, r := range layerRules {
		for pkg := range imports {
			if !r.from(pkg) {
				continue
			}
			if path := forbiddenPath(imports, pkg, r.to, known); path != nil {
				t.Errorf("%s: %s", r.name, strings.Join(path, " -> "))
			}
		}
	}
}

// forbiddenPath returns the shortest import path from start to a package
// that bad matches, not taking the known arrows, or nil.
func forbiddenPath(imports map[string][]string, start string, bad func(string) bool, known func(from, to string) bool) []string {
	prev := map[string]string{start: ""}
	queue := []string{start}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, q := range imports[p] {
			if _, seen := prev[q]; seen || known(p, q) {
				continue
			}
			prev[q] = p
			if bad(q) {
				path := []string{q}
				for at := p; at != ""; at = prev[at] {
					path = append([]string{at}, path...)
				}
				return path
			}
			queue = append(queue, q)
		}
	}
	return nil
}

package main

import (
	"archive/zip"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cardmod/cardmod/scrm/pcsc/pcscdtest"
)

// modulePath is the path users `go install` from.
const modulePath = "github.com/cardmod/cardmod"

// TestGoInstallLatest runs the README's install commands as a fresh
// machine does:
//
//	go install github.com/cardmod/cardmod/cmd/cardmod@latest
//	CGO_ENABLED=0 go install github.com/cardmod/cardmod/examples/quickstart@latest
//
// The module proxy is not reachable from the test bed, so the test serves
// this tree as the module's newest version from a file-system proxy (the
// GOPROXY protocol, https://go.dev/ref/mod#goproxy-protocol: @v/list,
// @latest, .info, .mod, .zip), with the dependencies from the module
// cache's download directory, which is in that same format. go install
// then does what it does with proxy.golang.org: it resolves @latest,
// downloads the module zip into an empty GOPATH, refuses a go.mod with
// replace or exclude directives, checks the dependencies against the
// module's go.sum and builds without the module's own go.work or build
// tags. The binaries must be static (CGO_ENABLED=0 as the README says)
// and must run: the installed cardmod provisions and lists a simulated
// card, the installed quickstart does its whole job.
func TestGoInstallLatest(t *testing.T) {
	gotool, err := exec.LookPath("go")
	require.NoError(t, err, "the go command installs the module")
	root, err := filepath.Abs(filepath.Join("..", ".."))
	require.NoError(t, err)
	require.FileExists(t, filepath.Join(root, "go.mod"))

	tmp := t.TempDir()
	proxy := filepath.Join(tmp, "proxy")
	version := serveModule(t, root, proxy)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	modcache, err := exec.CommandContext(ctx, gotool, "env", "GOMODCACHE").Output()
	require.NoError(t, err)
	deps := filepath.Join(strings.TrimSpace(string(modcache)), "cache", "download")

	gopath := filepath.Join(tmp, "gopath")
	gobin := filepath.Join(tmp, "bin")
	work := filepath.Join(tmp, "elsewhere") // outside any module, as after a fresh login
	require.NoError(t, os.MkdirAll(work, 0o755))
	install := exec.CommandContext(ctx, gotool, "install",
		modulePath+"/cmd/cardmod@latest", modulePath+"/examples/quickstart@latest")
	install.Dir = work
	install.Env = append(cleanGoEnv(os.Environ()),
		"GOPROXY=file://"+filepath.ToSlash(proxy)+",file://"+filepath.ToSlash(deps),
		"GOSUMDB=off", // this version is not in the checksum database; the dependencies are checked against the module's go.sum
		"GOPATH="+gopath,
		"GOMODCACHE="+filepath.Join(gopath, "pkg", "mod"),
		"GOBIN="+gobin,
		"GOFLAGS=-modcacherw", // so that the test can remove its module cache
		"GOTOOLCHAIN=local",
		"CGO_ENABLED=0",
	)
	out, err := install.CombinedOutput()
	require.NoError(t, err, "go install ...@latest (%s):\n%s", version, out)

	for _, name := range []string{"cardmod", "quickstart"} {
		pcscdtest.AssertStatic(t, filepath.Join(gobin, name))
	}

	// The installed command, on a new simulated card.
	sim := filepath.Join(tmp, "card.json")
	run := func(stdin string, args ...string) []byte {
		t.Helper()
		cmd := exec.CommandContext(ctx, filepath.Join(gobin, "cardmod"), append([]string{"-sim", sim}, args...)...)
		cmd.Dir = work
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.Output()
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		require.NoError(t, err, "cardmod %s: %s%s", strings.Join(args, " "), out, stderr)
		return out
	}
	run("123456\n", "-pin-stdin", "generate", "-alg", "p256", "installed")
	var l listing
	require.NoError(t, json.Unmarshal(run("", "list", "-json"), &l))
	require.Len(t, l.Readers, 1)
	require.NotNil(t, l.Readers[0].Card)
	assert.Equal(t, "PIV", l.Readers[0].Card.Plugin)
	assert.Len(t, l.Readers[0].Card.Containers, 1)

	// The installed quickstart: the README's main job.
	qs := exec.CommandContext(ctx, filepath.Join(gobin, "quickstart"))
	qs.Dir = work
	out, err = qs.CombinedOutput()
	require.NoError(t, err, "quickstart:\n%s", out)
}

// cleanGoEnv drops from env the settings of the go command that would
// make the install differ from a fresh machine's (the test bed sets
// GOPROXY=off and GOFLAGS; a developer may have GOWORK or GOPRIVATE).
func cleanGoEnv(env []string) []string {
	drop := map[string]bool{
		"GOPROXY": true, "GOSUMDB": true, "GONOSUMDB": true, "GONOSUMCHECK": true,
		"GOPRIVATE": true, "GONOPROXY": true, "GOINSECURE": true, "GOFLAGS": true,
		"GOPATH": true, "GOMODCACHE": true, "GOBIN": true, "GOWORK": true,
		"GOTOOLCHAIN": true, "CGO_ENABLED": true, "GOENV": true,
	}
	var kept []string
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if !drop[k] {
			kept = append(kept, kv)
		}
	}
	return append(kept, "GOENV=off") // no go env -w settings of the machine's user
}

// serveModule writes the module in root as its newest version into a
// file-system module proxy at dir, and returns the version: a
// pseudo-version from the checkout's last commit, as proxy.golang.org
// serves an untagged repository.
func serveModule(t *testing.T, root, dir string) string {
	t.Helper()
	version := pseudoVersion(t, root)
	vdir := filepath.Join(dir, filepath.FromSlash(modulePath), "@v")
	require.NoError(t, os.MkdirAll(vdir, 0o755))

	gomod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	require.NoError(t, err)
	info := fmt.Sprintf(`{"Version":%q,"Time":%q}`, version, time.Now().UTC().Format(time.RFC3339))
	for name, data := range map[string][]byte{
		"list":            nil, // no release versions: @latest is asked
		version + ".info": []byte(info),
		version + ".mod":  gomod,
		"../@latest":      []byte(info),
	} {
		require.NoError(t, os.WriteFile(filepath.Join(vdir, filepath.FromSlash(name)), data, 0o644))
	}

	f, err := os.Create(filepath.Join(vdir, version+".zip"))
	require.NoError(t, err)
	zw := zip.NewWriter(f)
	for _, rel := range moduleFiles(t, root) {
		data, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(rel)))
		require.NoError(t, err)
		w, err := zw.Create(modulePath + "@" + version + "/" + rel)
		require.NoError(t, err)
		_, err = w.Write(data)
		require.NoError(t, err)
	}
	require.NoError(t, zw.Close())
	require.NoError(t, f.Close())
	return version
}

// pseudoVersion is v0.0.0-TIME-COMMIT of root's HEAD
// (https://go.dev/ref/mod#pseudo-versions); a tree that is not a git
// checkout gets the current time and a zero commit.
func pseudoVersion(t *testing.T, root string) string {
	t.Helper()
	out, err := exec.Command("git", "-C", root, "log", "-1", "--format=%ct %H").Output()
	if ct, hash, ok := strings.Cut(strings.TrimSpace(string(out)), " "); err == nil && ok && len(hash) >= 12 {
		sec, err := strconv.ParseInt(ct, 10, 64)
		require.NoError(t, err)
		return "v0.0.0-" + time.Unix(sec, 0).UTC().Format("20060102150405") + "-" + hash[:12]
	}
	return "v0.0.0-" + time.Now().UTC().Format("20060102150405") + "-000000000000"
}

// moduleFiles lists the files of the module in root as a module zip holds
// them (https://go.dev/ref/mod#zip-files): the files git knows of (tracked,
// or new and not ignored), without nested modules, without files that are
// gone from the work tree and without anything that is not a regular file.
func moduleFiles(t *testing.T, root string) []string {
	t.Helper()
	out, err := exec.Command("git", "-C", root, "ls-files", "-z", "--cached", "--others", "--exclude-standard").Output()
	require.NoError(t, err, "git lists the module's files")
	var all []string
	nested := map[string]bool{}
	for _, rel := range strings.Split(string(out), "\x00") {
		if rel == "" {
			continue
		}
		all = append(all, rel)
		if d, f := path.Split(rel); f == "go.mod" && d != "" {
			nested[strings.TrimSuffix(d, "/")] = true
		}
	}
	var files []string
	for _, rel := range all {
		inNested := false
		for d := path.Dir(rel); d != "." && d != "/"; d = path.Dir(d) {
			if nested[d] {
				inNested = true
				break
			}
		}
		if inNested {
			continue
		}
		fi, err := os.Lstat(filepath.Join(root, filepath.FromSlash(rel)))
		if err != nil || !fi.Mode().IsRegular() {
			continue
		}
		files = append(files, rel)
	}
	require.NotEmpty(t, files)
	return files
}

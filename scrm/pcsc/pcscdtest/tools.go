package pcscdtest

import (
	"bytes"
	"context"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// ToolTimeout bounds one run of an external tool by RunTool.
const ToolTimeout = 2 * time.Minute

// OpenSCConf writes an OpenSC configuration for the reference tools into
// a temporary directory of t and returns its path, for OPENSC_CONF. OpenSC
// sees only the readers given, the test's own: the configuration lists every other
// vpcd reader of the test bed in ignored_readers (opensc.conf(5)), because
// OpenSC connects to the card in every reader it sees (its PKCS #11 module
// does so at C_Initialize, whatever slot the tool names), and such a
// connection, its transactions and its card resets disturb the tests of
// other packages using those readers at the same time. It also raises
// max_virtual_slots from OpenSC's default 16 to 128.
func OpenSCConf(t testing.TB, readers ...string) string {
	t.Helper()
	if len(readers) == 0 {
		t.Fatal("pcscdtest: OpenSCConf needs the test's readers")
	}
	slots, err := Slots()
	if err != nil {
		t.Fatalf("pcscdtest: %v", err)
	}
	var ignored []string
	for _, s := range slots {
		if !slices.Contains(readers, s.Name) {
			ignored = append(ignored, strconv.Quote(s.Name))
		}
	}
	conf := "app default {\n"
	if len(ignored) > 0 {
		conf += "\tignored_readers = " + strings.Join(ignored, ", ") + ";\n"
	}
	conf += "\tframework pkcs15 {\n\t}\n}\n" +
		"app opensc-pkcs11 {\n\tpkcs11 {\n\t\tmax_virtual_slots = 128;\n\t}\n}\n"
	file := filepath.Join(t.TempDir(), "opensc.conf")
	if err := os.WriteFile(file, []byte(conf), 0o600); err != nil {
		t.Fatalf("pcscdtest: %v", err)
	}
	return file
}

// RunTool runs an external program as the interoperability tests do:
// with stdin closed (a prompt reads EOF instead of waiting), a time limit
// of ToolTimeout, OPENSC_CONF set to conf when it is not empty, and the
// combined output returned.
func RunTool(t testing.TB, conf, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), ToolTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = os.Environ()
	if conf != "" {
		cmd.Env = append(cmd.Env, "OPENSC_CONF="+conf)
	}
	cmd.Stdin = nil
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	err := cmd.Run()
	return out.String(), err
}

// StaticBinary builds the main package pkg (relative to the test's
// directory, usually ".") the way a static binary is built, CGO_ENABLED=0
// and no pkg-config to find libpcsclite with, into a temporary directory of
// t, checks that the ELF needs no program interpreter and no shared library,
// and returns its path.
func StaticBinary(t testing.TB, pkg string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "static-binary")
	gotool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("pcscdtest: the go command builds the binary under test: %v", err)
	}
	build := exec.Command(gotool, "build", "-o", bin, pkg)
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "PKG_CONFIG=/bin/false")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("pcscdtest: static build of %s: %v\n%s", pkg, err, out)
	}
	AssertStatic(t, bin)
	return bin
}

// AssertStatic checks that the ELF file bin needs no program interpreter
// and no shared library: a static binary, which runs on a machine without
// libc or libpcsclite.
func AssertStatic(t testing.TB, bin string) {
	t.Helper()
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatalf("pcscdtest: %v", err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("pcscdtest: %s has a program interpreter: not a static binary", bin)
		}
	}
	libs, err := f.ImportedLibraries()
	if err != nil {
		t.Fatalf("pcscdtest: %v", err)
	}
	if len(libs) > 0 {
		t.Errorf("pcscdtest: %s links shared libraries %q: not a static binary", bin, libs)
	}
}

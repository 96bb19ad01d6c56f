package pcscdtest

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// ToolTimeout bounds one run of an external tool by RunTool.
const ToolTimeout = 2 * time.Minute

// OpenSCConf writes an OpenSC configuration for the reference tools into
// a temporary directory of t and returns its path, for OPENSC_CONF.
//
// OpenSC's PKCS #11 module has 16 virtual slots by default
// (max_virtual_slots) and gives a card up to four (slots_per_card): with
// the cards of other packages' tests in the other vpcd readers at the
// same time, the slots run out before the test's reader, and
// `pkcs11-tool --slot-description <reader>` fails with `No slot named
// "..." found`. The configuration raises the limit to 128, enough for
// every reader scripts/test.sh declares.
func OpenSCConf(t testing.TB) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "opensc.conf")
	conf := "app default {\n\tframework pkcs15 {\n\t}\n}\n" +
		"app opensc-pkcs11 {\n\tpkcs11 {\n\t\tmax_virtual_slots = 128;\n\t}\n}\n"
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

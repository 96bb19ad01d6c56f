//go:build linux

package main

import (
	"context"
	"os/exec"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	simpiv "github.com/cardmod/cardmod/cardsim/piv"
	"github.com/cardmod/cardmod/scrm/pcsc/pcscdtest"
)

// TestStaticBinaryPCSCD builds the quickstart the way a static binary is
// built (CGO_ENABLED=0, and no pkg-config to find libpcsclite with), checks
// that the binary needs no dynamic loader and no shared library, and runs
// it with -pcscd against the test bed's pcscd: the pure-Go PC/SC client
// does the whole job.
func TestStaticBinaryPCSCD(t *testing.T) {
	env := pcscdtest.Require(t)
	bin := pcscdtest.StaticBinary(t, ".")

	sim, err := simpiv.New(simpiv.Config{})
	require.NoError(t, err)
	reader := env.Insert(t, sim)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// PCSCLITE_CSOCK_NAME (set by scripts/test.sh) leads it to the
	// private pcscd, as it leads libpcsclite.
	out, err := exec.CommandContext(ctx, bin, "-pcscd", "-reader", reader).CombinedOutput()
	require.NoError(t, err, "%s", out)
	for _, want := range wantInReport {
		assert.Contains(t, string(out), want)
	}
	assert.Contains(t, string(out), reader)
}

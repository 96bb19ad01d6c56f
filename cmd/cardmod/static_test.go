package main

import (
	"context"
	"encoding/json"
	"os/exec"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cardmod/cardmod/internal/simfile"
	"github.com/cardmod/cardmod/scrm/pcsc/pcscdtest"
)

// TestStaticBinaryPCSCD: `cardmod` builds without cgo (CGO_ENABLED=0 and no
// pkg-config, as `CGO_ENABLED=0 go install .../cmd/cardmod` does) into a
// static binary (no program interpreter, no shared library), which lists
// a card through pcscd with cardmod's own client of pcscd's protocol.
func TestStaticBinaryPCSCD(t *testing.T) {
	env := pcscdtest.Require(t)
	bin := pcscdtest.StaticBinary(t, ".")

	opened, err := simfile.Open(provisioned(t), simfile.Options{})
	require.NoError(t, err)
	reader := env.Insert(t, opened.Card)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// PCSCLITE_CSOCK_NAME (set by scripts/test.sh) leads it to the bed's
	// pcscd.
	out, err := exec.CommandContext(ctx, bin, "-reader", reader, "list", "-json").Output()
	require.NoError(t, err, "%s", out)
	var l listing
	require.NoError(t, json.Unmarshal(out, &l), "%s", out)
	require.Len(t, l.Readers, 1)
	require.NotNil(t, l.Readers[0].Card)
	assert.Equal(t, "PIV", l.Readers[0].Card.Plugin)
	assert.Len(t, l.Readers[0].Card.Containers, 3)
}

package main

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	simpiv "github.com/cardmod/cardmod/cardsim/piv"
	"github.com/cardmod/cardmod/scrm/pcsc/pcscdtest"
)

var wantInReport = []string{"quickstart-ecc", "quickstart-rsa", "cardmod quickstart P-256", "cardmod quickstart RSA-2048", "RSA-PSS", "decrypt on the card", "verifies with it: true"}

// TestRun keeps the README's main job working.
func TestRun(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, run(context.Background(), &out, false, ""))
	for _, want := range append(wantInReport, "all done") {
		assert.Contains(t, out.String(), want)
	}
}

// TestRunPCSCD does the same job on a simulated card served to pcscd.
func TestRunPCSCD(t *testing.T) {
	env := pcscdtest.Require(t)
	sim, err := simpiv.New(simpiv.Config{})
	require.NoError(t, err)
	reader := env.Insert(t, sim)
	var out bytes.Buffer
	require.NoError(t, run(context.Background(), &out, true, reader))
	for _, want := range wantInReport {
		assert.Contains(t, out.String(), want)
	}
	assert.Contains(t, out.String(), reader)
}

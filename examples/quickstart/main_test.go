package main

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRun keeps the README's main job working.
func TestRun(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, run(context.Background(), &out, false))
	for _, want := range []string{"quickstart-ecc", "quickstart-rsa", "cardmod quickstart P-256", "cardmod quickstart RSA-2048", "RSA-PSS", "all done"} {
		assert.Contains(t, out.String(), want)
	}
}

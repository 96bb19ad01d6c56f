package main

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestRun keeps the README's main job working.
func TestRun(t *testing.T) {
	require.NoError(t, run(context.Background()))
}

package minidriver_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/cardmod/cardmod/minidriver"
)

func TestAdminResponders(t *testing.T) {
	ctx := context.Background()
	answer := func(plugin, resp string) minidriver.AdminResponder {
		return func(_ context.Context, ch minidriver.AdminChallenge) ([]byte, error) {
			if ch.Plugin != plugin {
				return nil, fmt.Errorf("not mine: %w", minidriver.ErrNoAdminKey)
			}
			return []byte(resp), nil
		}
	}
	boom := errors.New("hardware module offline")
	failing := func(context.Context, minidriver.AdminChallenge) ([]byte, error) { return nil, boom }
	r := minidriver.AdminResponders(nil, answer("PIV", "piv"), answer("GIDS", "gids"), failing, answer("X", "x"))
	for _, tc := range []struct {
		plugin, want string
		err          error
	}{
		{"PIV", "piv", nil},
		{"GIDS", "gids", nil},
		{"X", "", boom}, // a responder's own failure ends the search
	} {
		got, err := r(ctx, minidriver.AdminChallenge{Plugin: tc.plugin})
		if tc.err != nil {
			assert.ErrorIs(t, err, tc.err, tc.plugin)
			continue
		}
		assert.NoError(t, err, tc.plugin)
		assert.Equal(t, tc.want, string(got))
	}
	_, err := minidriver.AdminResponders(answer("PIV", "piv"))(ctx, minidriver.AdminChallenge{Plugin: "GIDS", Reader: "R"})
	assert.ErrorIs(t, err, minidriver.ErrNoAdminKey)
	assert.Contains(t, err.Error(), `GIDS card in "R"`)
}

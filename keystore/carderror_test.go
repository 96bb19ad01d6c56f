package keystore_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cardmod/cardmod/keystore"
	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/scrm"
)

func TestCardErrors(t *testing.T) {
	blank := &keystore.CardError{Reader: "R1", Err: minidriver.ErrFileNotFound}
	cert := &keystore.CardError{Reader: "R2", Container: "c", KeySpec: minidriver.ECDSAP256, Err: minidriver.ErrCommDataLost}
	for _, tc := range []struct {
		err  error
		want string
	}{
		{blank, `card in "R1": ` + minidriver.ErrFileNotFound.Error()},
		{cert, `card in "R2", container "c" (AT_ECDSA_P256 certificate): ` + minidriver.ErrCommDataLost.Error()},
		{keystore.CardErrors{blank}, blank.Error()},
		{keystore.CardErrors{blank, cert}, "2 unreadable: " + blank.Error() + "; " + cert.Error()},
	} {
		assert.Equal(t, tc.want, tc.err.Error())
	}
	var err error = keystore.CardErrors{blank, cert}
	assert.ErrorIs(t, err, minidriver.ErrFileNotFound)
	assert.ErrorIs(t, err, minidriver.ErrCommDataLost)
	assert.False(t, errors.Is(err, scrm.ErrRemovedCard))
	var one *keystore.CardError
	require.ErrorAs(t, err, &one)
	assert.Same(t, blank, one)
	assert.NoError(t, keystore.CardErrors(nil).Err())
	assert.Error(t, keystore.CardErrors{blank}.Err())
}

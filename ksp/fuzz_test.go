package ksp_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/cardmod/cardmod/ksp"
)

func FuzzParseName(f *testing.F) {
	for _, s := range []string{``, `key`, `\\.\Reader\key`, `\\.\Reader\`, `\\.\Reader`, `\\.\\`, `a\b`, "\x00", `\\.\R\b\c`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		reader, key, err := ksp.ParseName(name)
		if err != nil {
			assert.ErrorIs(t, err, ksp.ErrBadName)
			return
		}
		assert.NotContains(t, key, `\`)
		assert.NotContains(t, reader, `\`)
		if reader != "" {
			assert.True(t, strings.HasPrefix(name, `\\.\`+reader))
		} else {
			assert.Equal(t, name, key)
		}
	})
}

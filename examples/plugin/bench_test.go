package plugin_test

import (
	"context"
	"crypto/sha256"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cardmod/cardmod/cardfs"
	"github.com/cardmod/cardmod/examples/plugin"
	"github.com/cardmod/cardmod/examples/plugin/token"
	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/minidriver/minidrivertest"
	"github.com/cardmod/cardmod/scrm"
)

// openToken returns an initialized token with a key in container 0,
// opened through the plug-in.
func openToken(b *testing.B) (*scrm.Card, minidriver.Card) {
	sc := newTokenTB(b)
	md, _, err := minidriver.NewRegistry(plugin.Plugin{}).Open(b.Context(), sc, minidriver.Env{})
	require.NoError(b, err)
	tx, err := sc.Begin(b.Context())
	require.NoError(b, err)
	require.NoError(b, md.Resume(b.Context(), tx))
	_, err = md.Authenticate(b.Context(), tx, minidriver.RoleUser, []byte(token.DefaultPIN), 0)
	require.NoError(b, err)
	require.NoError(b, minidriver.CreateContainer(b.Context(), md, tx, minidriver.CreateContainerRequest{KeySpec: minidriver.ECDSAP256}))
	require.NoError(b, tx.End(scrm.ResetCard))
	return sc, md
}

// The transaction around an operation costs SELECT (Resume; the file store
// is read again only when another context wrote it) and VERIFY; a signature
// is one APDU more, a file write one PUT DATA of the whole store.
func BenchmarkSign(b *testing.B) {
	sc, md := openToken(b)
	digest := sha256.Sum256([]byte("benchmark"))
	minidrivertest.Measure(b, sc, md, minidriver.RoleUser, []byte(token.DefaultPIN), func(ctx context.Context, tx *scrm.Tx) error {
		_, err := md.SignData(ctx, tx, minidriver.SignRequest{KeySpec: minidriver.ECDSAP256, Digest: digest[:]})
		return err
	})
}

func BenchmarkReadCertificateMap(b *testing.B) {
	sc, md := openToken(b)
	minidrivertest.Measure(b, sc, md, 0, nil, func(ctx context.Context, tx *scrm.Tx) error {
		_, err := md.ReadFile(ctx, tx, cardfs.MSCPDir, cardfs.ContainerMapFile)
		return err
	})
}

func BenchmarkWriteCardCF(b *testing.B) {
	sc, md := openToken(b)
	cf := cardfs.CardCF{}
	minidrivertest.Measure(b, sc, md, minidriver.RoleUser, []byte(token.DefaultPIN), func(ctx context.Context, tx *scrm.Tx) error {
		cf.BumpFiles()
		return minidriver.WriteFile(ctx, md, tx, cardfs.RootDir, cardfs.CardCFFile, cf.Marshal())
	})
}

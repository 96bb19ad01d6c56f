package basecsp_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cardmod/cardmod/basecsp"
	"github.com/cardmod/cardmod/cardfs"
	simgids "github.com/cardmod/cardmod/cardsim/gids"
	simpiv "github.com/cardmod/cardmod/cardsim/piv"
	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/scrm/virtual"
)

// TestListingReportsUnreadableCard puts a PIV card and a blank GIDS card
// (no master file: it cannot be opened) in two readers, in both orders:
// every listing returns what the PIV card holds and reports the GIDS
// card, by reader, as a CardError.
func TestListingReportsUnreadableCard(t *testing.T) {
	for _, tc := range []struct{ name, pivReader, gidsReader string }{
		{"PIV first", "Reader A", "Reader B"},
		{"GIDS first", "Reader B", "Reader A"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			sim, err := simpiv.New(simpiv.Config{})
			require.NoError(t, err)
			blank, err := simgids.New(simgids.Config{})
			require.NoError(t, err)
			b := virtual.NewBackend()
			b.AddReader(tc.pivReader).Insert(sim)
			b.AddReader(tc.gidsReader).Insert(blank)
			p, err := basecsp.Open(basecsp.Config{Backend: b, Prompt: newPrompt(simpiv.DefaultPIN),
				AdminResponse: basecsp.PIVManagementKey(simpiv.DefaultManagementKey)})
			require.NoError(t, err)
			t.Cleanup(func() { _ = p.Close() })

			// Without a reader, the container goes to the card that can
			// be read.
			ct, err := p.CreateContainer(ctx, "one", minidriver.ECDSAP256, 0, nil)
			require.NoError(t, err)
			require.Equal(t, tc.pivReader, ct.Reader())
			k, err := ct.Key(minidriver.ECDSAP256)
			require.NoError(t, err)
			require.NoError(t, k.SetCertificate(ctx, selfSigned(t, k, "one")))

			checkGIDS := func(t *testing.T, err error) {
				t.Helper()
				var ce basecsp.CardErrors
				require.ErrorAs(t, err, &ce, "%v", err)
				require.Len(t, ce, 1)
				assert.Equal(t, tc.gidsReader, ce[0].Reader)
				assert.Empty(t, ce[0].Container, "the whole card failed")
				assert.ErrorIs(t, ce[0].Err, minidriver.ErrNotInitialized, "a blank card: InitializeCard can initialize it")
				assert.ErrorIs(t, ce[0].Err, cardfs.ErrFileNotFound)
				assert.ErrorIs(t, err, cardfs.ErrFileNotFound, "the causes are in the error's tree")
				var one *basecsp.CardError
				require.ErrorAs(t, err, &one)
				assert.Equal(t, tc.gidsReader, one.Reader)
				assert.Contains(t, err.Error(), tc.gidsReader)
			}

			cards, err := p.Cards(ctx)
			checkGIDS(t, err)
			require.Len(t, cards, 1)
			assert.Equal(t, tc.pivReader, cards[0].Reader())

			list, err := p.Containers(ctx)
			checkGIDS(t, err)
			require.Len(t, list, 1)
			assert.Equal(t, "one", list[0].Name)
			assert.Equal(t, tc.pivReader, list[0].Reader)

			certs, err := p.Certificates(ctx)
			checkGIDS(t, err)
			require.Len(t, certs, 1)
			assert.Equal(t, "one", certs[0].Container)

			// Opening by name still finds the container on the good card.
			got, err := p.Container(ctx, "one")
			require.NoError(t, err)
			assert.Equal(t, tc.pivReader, got.Reader())
		})
	}
}

// TestCertificatesReportCorruptCertificate corrupts one of two
// certificate objects of a card: the store lists the good certificate and
// reports the bad one, by container and key spec.
func TestCertificatesReportCorruptCertificate(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, basecsp.Config{})
	good := f.create(t, "good", minidriver.ECDSAP256, nil)
	bad := f.create(t, "bad", minidriver.ECDSAP256, nil)
	goodCert := selfSigned(t, good, "good")
	badCert := selfSigned(t, bad, "bad")
	require.NoError(t, good.SetCertificate(ctx, goodCert))
	require.NoError(t, bad.SetCertificate(ctx, badCert))

	// Break the DER inside the PIV object holding the bad certificate.
	var state bytes.Buffer
	require.NoError(t, f.sim.Save(&state))
	var doc map[string]any
	require.NoError(t, json.Unmarshal(state.Bytes(), &doc))
	broken := 0
	for _, o := range doc["objects"].([]any) {
		obj := o.(map[string]any)
		data, err := decodeB64(obj["data"].(string))
		require.NoError(t, err)
		if i := bytes.Index(data, badCert.Raw); i >= 0 {
			data[i+4] ^= 0xFF // inside the certificate's outer SEQUENCE
			obj["data"] = data
			broken++
		}
	}
	require.Equal(t, 1, broken, "the bad certificate is stored uncompressed in one object")
	out, err := json.Marshal(doc)
	require.NoError(t, err)
	sim, err := simpiv.Load(bytes.NewReader(out), simpiv.Config{})
	require.NoError(t, err)
	b := virtual.NewBackend()
	b.AddReader(readerName).Insert(sim)
	p, err := basecsp.Open(basecsp.Config{Backend: b, Prompt: newPrompt(simpiv.DefaultPIN)})
	require.NoError(t, err)
	t.Cleanup(func() { _ = p.Close() })

	certs, err := p.Certificates(ctx)
	require.Len(t, certs, 1, "the good certificate is listed: %v", err)
	assert.Equal(t, goodCert.Raw, certs[0].Certificate.Raw)
	var ce basecsp.CardErrors
	require.ErrorAs(t, err, &ce, "%v", err)
	require.Len(t, ce, 1)
	assert.Equal(t, readerName, ce[0].Reader)
	assert.Equal(t, "bad", ce[0].Container)
	assert.Equal(t, minidriver.ECDSAP256, ce[0].KeySpec)
	assert.Equal(t, certs[0].CardID, ce[0].CardID)
	assert.ErrorIs(t, err, minidriver.ErrCommDataLost)
	assert.False(t, errors.Is(err, basecsp.ErrNoCertificate))
}

func decodeB64(s string) ([]byte, error) { return base64.StdEncoding.DecodeString(s) }

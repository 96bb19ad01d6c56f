package basecsp_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cardmod/cardmod/basecsp"
	simpiv "github.com/cardmod/cardmod/cardsim/piv"
	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/minidriver/piv"
	"github.com/cardmod/cardmod/scrm/virtual"
)

// TestProvidersOnPIVProfiles runs the provider's listing, key generation
// and signing on every simulated PIV profile, each in a new provider (a
// new process) after the create: a key made by the provider is listed
// and signs on every writable profile; on the issued card the issuer's
// keys are listed and sign, and a create is refused as read-only.
func TestProvidersOnPIVProfiles(t *testing.T) {
	ctx := context.Background()
	for i, p := range simpiv.Profiles() {
		t.Run(p.Name, func(t *testing.T) {
			sim, err := simpiv.New(simpiv.Config{Profile: p, Serial: 54000000 + uint32(i)})
			require.NoError(t, err)
			b := virtual.NewBackend()
			b.AddReader(readerName).Insert(sim)
			open := func() *basecsp.Provider {
				pr, err := basecsp.Open(basecsp.Config{Backend: b, Prompt: newPrompt(simpiv.DefaultPIN),
					AdminResponse: piv.ManagementKey(simpiv.DefaultManagementKey)})
				require.NoError(t, err)
				t.Cleanup(func() { _ = pr.Close() })
				return pr
			}
			name := `\\.\` + readerName + `\profile key`
			if p.Issued {
				_, err := open().CreateContainer(ctx, name, minidriver.ECDSAP256, 0, nil)
				require.ErrorIs(t, err, minidriver.ErrReadOnly)
			} else {
				_, err := open().CreateContainer(ctx, name, minidriver.ECDSAP256, 0, nil)
				require.NoError(t, err)
			}
			pr := open()
			list, err := pr.Containers(ctx)
			require.NoError(t, err)
			if p.Issued {
				assert.Len(t, list, 6, "9A, 9C, 9D, 9E, 82, 83")
			} else {
				require.Len(t, list, 1)
				if p.VendorObjects {
					assert.Equal(t, "profile key", list[0].Name)
				} else {
					// No room for the container map: another process sees
					// the slot's derived name (docs/piv-mapping.md).
					assert.NotEqual(t, "profile key", list[0].Name)
				}
			}
			ct, err := pr.Container(ctx, `\\.\`+readerName+`\`+list[0].Name)
			require.NoError(t, err)
			k, err := ct.Key(minidriver.ECDSAP256)
			require.NoError(t, err)
			digest := sha256.Sum256([]byte("profile " + p.Name))
			sig, err := k.Sign(rand.Reader, digest[:], crypto.SHA256)
			require.NoError(t, err)
			assert.True(t, ecdsa.VerifyASN1(k.Public().(*ecdsa.PublicKey), digest[:], sig))
		})
	}
}

package basecsp_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cardmod/cardmod/basecsp"
	simgids "github.com/cardmod/cardmod/cardsim/gids"
	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/scrm/pcsc/pcscdtest"
)

// opensc-pkcs11.so as Debian's opensc-pkcs11 package installs it.
const openscPKCS11 = "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so"

// TestFailedCreateInvisibleToOpenSC is issue 15's item 4 through pcscd: on
// GIDS cards with RSA only (one that lists its algorithms, one that says
// nothing and refuses the EC key with 6A81 when asked), a failed ECDH
// P-256 create leaves nothing that OpenSC's pkcs11-tool -O lists: the same
// objects before and after.
func TestFailedCreateInvisibleToOpenSC(t *testing.T) {
	env := pcscdtest.Require(t)
	_, err := exec.LookPath("pkcs11-tool")
	require.NoError(t, err, "pkcs11-tool is needed (scripts/test.sh installs it)")
	for _, prof := range []simgids.Profile{simgids.ProfileRSA(), simgids.ProfileRSAQuiet()} {
		t.Run(prof.Name, func(t *testing.T) {
			sim, err := simgids.New(simgids.Config{Initialized: true, Profile: prof})
			require.NoError(t, err)
			reader := env.Insert(t, sim)
			conf := pcscdtest.OpenSCConf(t, reader)
			objects := func() string {
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				cmd := exec.CommandContext(ctx, "pkcs11-tool", "--module", openscPKCS11, "--slot-description", reader, "--login", "--pin", simgids.DefaultPIN, "-O")
				cmd.Env = append(os.Environ(), "OPENSC_CONF="+conf)
				var out bytes.Buffer
				cmd.Stdout, cmd.Stderr = &out, &out
				require.NoError(t, cmd.Run(), "pkcs11-tool -O:\n%s", out.String())
				// The slot line names the reader and a profile object's
				// number is a handle of the run: keep the objects only.
				var keep []string
				for _, l := range strings.Split(out.String(), "\n") {
					if !strings.HasPrefix(l, "Using slot") && !strings.HasPrefix(l, "Profile object") {
						keep = append(keep, l)
					}
				}
				return strings.Join(keep, "\n")
			}
			p, err := basecsp.Open(basecsp.Config{Backend: env.Isolated(t), Prompt: newPrompt(simgids.DefaultPIN)})
			require.NoError(t, err)
			defer p.Close()
			ctx := context.Background()
			_, err = p.CreateContainer(ctx, `\\.\`+reader+`\rsa`, minidriver.KeyExchange, 1024, nil)
			require.NoError(t, err)
			before := objects()
			require.Contains(t, before, "Private Key Object; RSA")
			require.Contains(t, before, "Public Key Object; RSA 1024 bits")
			_, err = p.CreateContainer(ctx, `\\.\`+reader+`\ec`, minidriver.ECDHP256, 0, nil)
			require.ErrorIs(t, err, minidriver.ErrUnsupported)
			assert.Equal(t, before, objects(), "OpenSC lists nothing new")
		})
	}
}

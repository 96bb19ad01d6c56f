package piv_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cardmod/cardmod/cardsim"
	simpiv "github.com/cardmod/cardmod/cardsim/piv"
	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/minidriver/piv"
	"github.com/cardmod/cardmod/scrm"
)

// hx decodes hex with spaces.
func hx(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	require.NoError(t, err)
	return b
}

// selectLog keeps the command APDUs a card receives and, when answer is
// set, answers a SELECT of the bare RID A0 00 00 03 08 with it in place of
// the card (the card's own selection is left as it was).
type selectLog struct {
	cardsim.Card
	mu     sync.Mutex
	apdus  [][]byte
	answer []byte
}

func (s *selectLog) Transmit(apdu []byte) []byte {
	s.mu.Lock()
	s.apdus = append(s.apdus, append([]byte(nil), apdu...))
	answer := s.answer
	s.mu.Unlock()
	if answer != nil && bytes.Equal(apdu, ridSelect) {
		return append([]byte(nil), answer...)
	}
	return s.Card.Transmit(apdu)
}

// since returns the APDUs received from the n-th on.
func (s *selectLog) since(n int) [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([][]byte(nil), s.apdus[n:]...)
}

func (s *selectLog) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.apdus)
}

// ridSelect is the SELECT of the PIV application by NIST's RID, without
// Le, as libykpiv and piv-go send it; fullSelect is the one every PIV card
// is opened with (the AID right-truncated to the PIX version, Le 00).
var (
	ridSelect  = []byte{0x00, 0xA4, 0x04, 0x00, 0x05, 0xA0, 0x00, 0x00, 0x03, 0x08}
	fullSelect = []byte{0x00, 0xA4, 0x04, 0x00, 0x09, 0xA0, 0x00, 0x00, 0x03, 0x08, 0x00, 0x00, 0x10, 0x00, 0x00}
)

// resumeAPDUs runs Resume in a new transaction and returns the APDUs it
// sent and its bytes sent/received.
func resumeAPDUs(t *testing.T, e *env, log *selectLog) ([][]byte, scrm.Stats) {
	t.Helper()
	ctx := context.Background()
	tx, err := e.card.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = tx.End(scrm.LeaveCard) }()
	n, before := log.count(), e.card.Stats()
	require.NoError(t, e.md.Resume(ctx, tx))
	return log.since(n), e.card.Stats().Sub(before)
}

// TestResumeSelectsYubiKeyByRID: on a YubiKey provisioned by another
// application (no file store to probe), Resume's SELECT is the RID alone
// without Le, 10 bytes, answered by the YubiKey's 19-byte template (21
// with the status word); Open still sends the SELECT every PIV card
// takes.
func TestResumeSelectsYubiKeyByRID(t *testing.T) {
	log := &selectLog{Card: newSim(t, simpiv.Config{})}
	e := newEnv(t, log, piv.Plugin{})
	require.NotEmpty(t, log.since(0))
	assert.Equal(t, fullSelect, log.since(0)[0], "Open's SELECT")
	got, st := resumeAPDUs(t, e, log)
	assert.Equal(t, [][]byte{ridSelect}, got)
	assert.Equal(t, scrm.Stats{APDUs: 1, BytesSent: 10, BytesReceived: 21}, st)
	// The application is selected: the PIN can follow.
	e.run(t, func(ctx context.Context, tx *scrm.Tx) { userPIN(t, ctx, e.md, tx) })
}

// TestResumeSelectsOtherCardsByAID: a PIV card that is not a YubiKey by
// its ATR (a YubiKey behind another ATR, a standard card, an applet
// answering GET VERSION) is selected in Resume as in Open.
func TestResumeSelectsOtherCardsByAID(t *testing.T) {
	for name, card := range map[string]cardsim.Card{
		"generic":    genericPIV{newSim(t, simpiv.Config{})},
		"piv-issued": newSim(t, simpiv.Config{Profile: simpiv.ProfileIssued()}),
		"piv-applet": newSim(t, simpiv.Config{Profile: simpiv.ProfileApplet()}),
	} {
		t.Run(name, func(t *testing.T) {
			log := &selectLog{Card: card}
			e := newEnv(t, log, piv.Plugin{})
			got, _ := resumeAPDUs(t, e, log)
			require.NotEmpty(t, got)
			assert.Equal(t, fullSelect, got[0])
			for _, a := range got {
				assert.NotEqual(t, ridSelect, a)
			}
		})
	}
}

// TestResumeRIDAnswerMustProvePIV: the RID's SELECT counts only when its
// answer is 9000 with an application property template naming the PIV
// application (4F: the PIX, or the whole AID); any other answer is
// followed by the SELECT every PIV card takes.
func TestResumeRIDAnswerMustProvePIV(t *testing.T) {
	for _, tc := range []struct {
		name   string
		answer string
		kept   bool
	}{
		{"YubiKey template", "61 11 4F 06 00 00 10 00 01 00 79 07 4F 05 A0 00 00 03 08 90 00", true},
		{"whole AID in 4F", "61 0D 4F 0B A0 00 00 03 08 00 00 10 00 01 00 90 00", true},
		{"PIX version only", "61 06 4F 04 00 00 10 00 90 00", true},
		{"no data", "90 00", false},
		{"another PIX", "61 11 4F 06 00 00 20 00 01 00 79 07 4F 05 A0 00 00 03 08 90 00", false},
		{"another RID", "61 0D 4F 0B A0 00 00 05 27 00 00 10 00 01 00 90 00", false},
		{"PIX too short", "61 05 4F 03 00 00 10 90 00", false},
		{"no 4F", "61 07 79 05 4F 03 A0 00 00 90 00", false},
		{"not a template", "6F 06 4F 04 00 00 10 00 90 00", false},
		{"trailing bytes", "61 06 4F 04 00 00 10 00 00 90 00", false},
		{"truncated", "61 11 4F 06 00 00 90 00", false},
		{"not found", "6A 82", false},
		{"no application", "6D 00", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			log := &selectLog{Card: newSim(t, simpiv.Config{})}
			e := newEnv(t, log, piv.Plugin{})
			log.mu.Lock()
			log.answer = hx(t, tc.answer)
			log.mu.Unlock()
			got, _ := resumeAPDUs(t, e, log)
			if tc.kept {
				assert.Equal(t, [][]byte{ridSelect}, got)
			} else {
				assert.Equal(t, [][]byte{ridSelect, fullSelect}, got)
			}
		})
	}
}

// TestGeneralAuthenticateShortWhereItFits: on a YubiKey (extended lengths
// on), GENERAL AUTHENTICATE with a P-256 key is a short APDU with Le 00,
// its answer always under 256 bytes; with an RSA-2048 key, whose answer
// is 264 bytes, it asks for the card's largest (extended Le). Both
// signatures verify.
func TestGeneralAuthenticateShortWhereItFits(t *testing.T) {
	log := &selectLog{Card: newSim(t, simpiv.Config{})}
	e := newEnv(t, log, piv.Plugin{})
	key := testRSAKey(t)
	e.run(t, func(ctx context.Context, tx *scrm.Tx) {
		admin(t, ctx, e.md, tx, simpiv.DefaultManagementKey)
		require.NoError(t, minidriver.CreateContainer(ctx, e.md, tx, minidriver.CreateContainerRequest{Index: 0, KeySpec: minidriver.KeyExchange, Key: key}))
		require.NoError(t, minidriver.CreateContainer(ctx, e.md, tx, minidriver.CreateContainerRequest{Index: 3, KeySpec: minidriver.ECDSAP256}))
	})
	digest := sha256.Sum256([]byte("lengths"))
	// gaAPDUs returns the GENERAL AUTHENTICATE APDUs f sends.
	gaAPDUs := func(f func()) [][]byte {
		n := log.count()
		f()
		var out [][]byte
		for _, a := range log.since(n) {
			if len(a) > 4 && a[1] == 0x87 {
				out = append(out, a)
			}
		}
		return out
	}
	e.run(t, func(ctx context.Context, tx *scrm.Tx) {
		userPIN(t, ctx, e.md, tx)
		var sig []byte
		ga := gaAPDUs(func() {
			var err error
			sig, err = e.md.SignData(ctx, tx, minidriver.SignRequest{Container: 3, Digest: digest[:]})
			require.NoError(t, err)
		})
		require.Len(t, ga, 1)
		a := ga[0]
		assert.NotZero(t, a[4], "P-256: a short Lc")
		assert.Equal(t, len(a), 5+int(a[4])+1, "P-256: Lc, data and a one-byte Le")
		assert.Zero(t, a[len(a)-1], "P-256: Le 00")
		info, err := e.md.ContainerInfo(ctx, tx, 3)
		require.NoError(t, err)
		assert.True(t, verifyECDSA(info.Signature, digest[:], sig), "P-256 signature")

		ga = gaAPDUs(func() {
			sig, err = e.md.SignData(ctx, tx, minidriver.SignRequest{Container: 0, KeySpec: minidriver.KeyExchange, Digest: digest[:], Padding: minidriver.PaddingPKCS1, Hash: crypto.SHA256})
			require.NoError(t, err)
		})
		require.NotEmpty(t, ga)
		last := ga[len(ga)-1]
		assert.Zero(t, last[4], "RSA-2048: an extended APDU")
		assert.Equal(t, []byte{0x00, 0x00}, last[len(last)-2:], "RSA-2048: extended Le 0000")
		assert.NoError(t, rsa.VerifyPKCS1v15(&key.PublicKey, crypto.SHA256, digest[:], sig), "RSA-2048 signature")
	})
}

package minidriver_test

import (
	"context"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cardmod/cardmod/cardfs"
	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/scrm"
	"github.com/cardmod/cardmod/scrm/scrmtest"
	"github.com/cardmod/cardmod/scrm/virtual"
)

// fakePlugin matches by ATR or by a probe answer.
type fakePlugin struct {
	name   string
	atrs   []scrm.ATRMask
	probe  bool
	err    error
	probed int
}

func (p *fakePlugin) Name() string         { return p.name }
func (p *fakePlugin) ATRs() []scrm.ATRMask { return p.atrs }
func (p *fakePlugin) Probe(ctx context.Context, tx *scrm.Tx) (bool, error) {
	p.probed++
	return p.probe, p.err
}
func (p *fakePlugin) Open(ctx context.Context, tx *scrm.Tx, env minidriver.Env) (minidriver.Card, error) {
	return nil, errors.New("not a real plug-in")
}

func connectTestCard(t *testing.T) *scrm.Card {
	b := virtual.NewBackend()
	b.AddReader("R").Insert(scrmtest.NewTestCard())
	c, err := scrm.NewContext(b).Connect(context.Background(), "R", nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close(scrm.LeaveCard) })
	return c
}

func TestRegistryMatch(t *testing.T) {
	exact := scrm.ATRMask{ATR: scrmtest.TestATR, Mask: bytesOf(0xFF, len(scrmtest.TestATR))}
	other := scrm.ATRMask{ATR: []byte{0x3B, 0x00}, Mask: []byte{0xFF, 0xFF}}
	tests := []struct {
		name    string
		plugins []*fakePlugin
		want    string
		byATR   bool
		wantErr error
	}{
		{"ATR wins before any probe", []*fakePlugin{{name: "prober", probe: true}, {name: "atr", atrs: []scrm.ATRMask{exact}}}, "atr", true, nil},
		{"probe in order", []*fakePlugin{{name: "no", atrs: []scrm.ATRMask{other}}, {name: "first", probe: true}, {name: "second", probe: true}}, "first", false, nil},
		{"probe error skips the plug-in", []*fakePlugin{{name: "broken", err: scrm.ErrWrongData}, {name: "ok", probe: true}}, "ok", false, nil},
		{"nobody", []*fakePlugin{{name: "a"}, {name: "b"}}, "", false, minidriver.ErrUnknownCard},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			card := connectTestCard(t)
			var ps []minidriver.Plugin
			for _, p := range tc.plugins {
				ps = append(ps, p)
			}
			reg := minidriver.NewRegistry(ps...)
			tx, err := card.Begin(context.Background())
			require.NoError(t, err)
			defer tx.End(scrm.LeaveCard)
			m, err := reg.Match(context.Background(), tx)
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
				for _, p := range tc.plugins {
					assert.Contains(t, err.Error(), p.name, "the error names what was tried")
				}
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, m.Plugin.Name())
			assert.Equal(t, tc.byATR, m.ByATR)
			assert.NotEmpty(t, m.Reason)
		})
	}
}

func TestRegistryOpenReportsPluginError(t *testing.T) {
	card := connectTestCard(t)
	reg := minidriver.NewRegistry(&fakePlugin{name: "x", probe: true})
	_, m, err := reg.Open(context.Background(), card, minidriver.Env{})
	require.Error(t, err)
	assert.Equal(t, "x", m.Plugin.Name())
	// The transaction was ended: the card is free again.
	tx, err := card.Begin(context.Background())
	require.NoError(t, err)
	require.NoError(t, tx.End(scrm.LeaveCard))
}

func bytesOf(b byte, n int) []byte {
	out := make([]byte, n)
	for i := range out {
		out[i] = b
	}
	return out
}

func TestSCardCode(t *testing.T) {
	tests := []struct {
		err  error
		want uint32
	}{
		{nil, 0},
		{&minidriver.PINError{AttemptsLeft: 2}, 0x8010006B},
		{&minidriver.PINError{Blocked: true}, 0x8010006C},
		{fmt.Errorf("x: %w", minidriver.ErrUnsupported), 0x80100022},
		{cardfs.ErrAccessDenied, 0x8010006A},
		{minidriver.ErrFileNotFound, 0x80100024},
		{cardfs.ErrFileNotFound, 0x80100024},
		{fmt.Errorf("y: %w", scrm.ErrRemovedCard), 0x80100069},
		{errors.New("what"), 0x8010001F},
	}
	for _, tc := range tests {
		assert.Equal(t, tc.want, minidriver.SCardCode(tc.err), "%v", tc.err)
	}
}

func TestPINError(t *testing.T) {
	e := &minidriver.PINError{PIN: minidriver.RoleUser, AttemptsLeft: 2, Err: scrm.ErrWrongPIN}
	assert.ErrorIs(t, e, minidriver.ErrWrongPIN)
	assert.NotErrorIs(t, e, minidriver.ErrPINBlocked)
	assert.ErrorIs(t, e, scrm.ErrWrongPIN, "the card's error stays in the chain")
	assert.Equal(t, "minidriver: wrong user PIN, 2 attempts left", e.Error(), "the PIN is named, not numbered")
	b := &minidriver.PINError{PIN: minidriver.RoleUser, Blocked: true}
	assert.ErrorIs(t, b, minidriver.ErrPINBlocked)
	assert.Equal(t, "minidriver: user PIN blocked", b.Error())

	names := []struct {
		e    *minidriver.PINError
		want string
	}{
		{&minidriver.PINError{PIN: minidriver.RoleAdmin, AttemptsLeft: -1}, "minidriver: wrong admin PIN"},
		{&minidriver.PINError{PIN: 3, Name: "PUK", AttemptsLeft: 0, Blocked: true}, "minidriver: PUK blocked"},
		{&minidriver.PINError{PIN: 2, Name: "management key", AttemptsLeft: -1}, "minidriver: wrong management key"},
		{&minidriver.PINError{PIN: 5, AttemptsLeft: 1}, "minidriver: wrong PIN 5, 1 attempts left"},
	}
	for _, tc := range names {
		assert.Equal(t, tc.want, tc.e.Error())
	}
}

func TestAgreements(t *testing.T) {
	var a minidriver.Agreements
	secret := []byte{1, 2, 3}
	idx, err := a.Put(secret)
	require.NoError(t, err)
	out, err := a.Derive(idx, kdfFunc(func(s []byte) ([]byte, error) { return append([]byte(nil), s...), nil }))
	require.NoError(t, err)
	assert.Equal(t, []byte{1, 2, 3}, out)
	require.NoError(t, a.Destroy(idx))
	assert.Equal(t, []byte{0, 0, 0}, secret, "destroyed secrets are wiped")
	_, err = a.Derive(idx, nil)
	assert.ErrorIs(t, err, minidriver.ErrInvalidParameter)
	assert.ErrorIs(t, a.Destroy(idx), minidriver.ErrInvalidParameter)

	for i := range minidriver.MaxAgreements {
		_, err := a.Put([]byte{byte(i)})
		require.NoError(t, err)
	}
	_, err = a.Put([]byte{9})
	assert.ErrorIs(t, err, minidriver.ErrNoSpace)
	a.DestroyAll()
	_, err = a.Put([]byte{9})
	assert.NoError(t, err)
}

type kdfFunc func([]byte) ([]byte, error)

func (f kdfFunc) Derive(s []byte) ([]byte, error) { return f(s) }

func TestKeySpec(t *testing.T) {
	assert.True(t, minidriver.ECDSAP384.InSignatureSlot())
	assert.False(t, minidriver.ECDHP256.InSignatureSlot())
	assert.Equal(t, cardfs.KeySpecSignature, minidriver.Signature.Slot())
	assert.Equal(t, cardfs.KeySpecKeyExchange, minidriver.ECDHP521.Slot())
	assert.Equal(t, 521, minidriver.ECDHP521.CurveBits())
	assert.False(t, minidriver.KeySpec(9).Valid())
	assert.Equal(t, []minidriver.PinID{1, 2}, minidriver.NewPinSet(minidriver.RoleUser, minidriver.RoleAdmin, 9).IDs())
}

func TestKeySpecCurve(t *testing.T) {
	for _, c := range []struct {
		spec  minidriver.KeySpec
		curve ecdh.Curve
	}{
		{minidriver.ECDSAP256, ecdh.P256()}, {minidriver.ECDHP256, ecdh.P256()},
		{minidriver.ECDSAP384, ecdh.P384()}, {minidriver.ECDHP384, ecdh.P384()},
		{minidriver.ECDSAP521, ecdh.P521()}, {minidriver.ECDHP521, ecdh.P521()},
		{minidriver.KeyExchange, nil}, {minidriver.Signature, nil}, {0, nil}, {9, nil},
	} {
		assert.Equal(t, c.curve, c.spec.Curve(), "%v", c.spec)
	}
}

// TestPublicKeyBits: a public key's size is its RSA modulus or its curve,
// and 0 for what a card does not hold.
func TestPublicKeyBits(t *testing.T) {
	rk, err := rsa.GenerateKey(rand.Reader, 1024)
	require.NoError(t, err)
	for _, tc := range []struct {
		name string
		pub  crypto.PublicKey
		want int
	}{
		{"RSA-1024", &rk.PublicKey, 1024},
		{"RSA without a modulus", &rsa.PublicKey{}, 0},
		{"ECDSA P-256", ecdsaPublic(t, elliptic.P256()), 256},
		{"ECDSA P-384", ecdsaPublic(t, elliptic.P384()), 384},
		{"ECDSA P-521", ecdsaPublic(t, elliptic.P521()), 521},
		{"ECDSA without a curve", &ecdsa.PublicKey{}, 0},
		{"ECDH P-256", ecdhPublic(t, ecdh.P256()), 256},
		{"ECDH P-384", ecdhPublic(t, ecdh.P384()), 384},
		{"ECDH P-521", ecdhPublic(t, ecdh.P521()), 521},
		{"X25519", ecdhPublic(t, ecdh.X25519()), 0},
		{"nil", nil, 0},
		{"Ed25519", ed25519.PublicKey(make([]byte, ed25519.PublicKeySize)), 0},
	} {
		assert.Equal(t, tc.want, minidriver.PublicKeyBits(tc.pub), tc.name)
	}
}

func ecdsaPublic(t *testing.T, c elliptic.Curve) *ecdsa.PublicKey {
	k, err := ecdsa.GenerateKey(c, rand.Reader)
	require.NoError(t, err)
	return &k.PublicKey
}

func ecdhPublic(t *testing.T, c ecdh.Curve) *ecdh.PublicKey {
	k, err := c.GenerateKey(rand.Reader)
	require.NoError(t, err)
	return k.PublicKey()
}

// TestSpecOfSize: a container map record's key size gives the key's spec
// in its slot (ECC curves by size, ECDSA signing and ECDH exchanging,
// RSA otherwise), and every spec comes back from its own slot and size.
func TestSpecOfSize(t *testing.T) {
	for _, tc := range []struct {
		kind cardfs.KeySpec
		bits uint16
		want minidriver.KeySpec
	}{
		{cardfs.KeySpecSignature, 0, 0},
		{cardfs.KeySpecKeyExchange, 0, 0},
		{cardfs.KeySpecSignature, 256, minidriver.ECDSAP256},
		{cardfs.KeySpecSignature, 384, minidriver.ECDSAP384},
		{cardfs.KeySpecSignature, 521, minidriver.ECDSAP521},
		{cardfs.KeySpecKeyExchange, 256, minidriver.ECDHP256},
		{cardfs.KeySpecKeyExchange, 384, minidriver.ECDHP384},
		{cardfs.KeySpecKeyExchange, 521, minidriver.ECDHP521},
		{cardfs.KeySpecSignature, 2048, minidriver.Signature},
		{cardfs.KeySpecKeyExchange, 1024, minidriver.KeyExchange},
		{cardfs.KeySpecKeyExchange, 4096, minidriver.KeyExchange},
	} {
		got := minidriver.SpecOfSize(tc.kind, tc.bits)
		assert.Equal(t, tc.want, got, "%v %d bits", tc.kind, tc.bits)
		if got != 0 {
			assert.Equal(t, tc.kind, got.Slot(), "%v: its own slot", got)
		}
	}
	for s := minidriver.KeyExchange; s.Valid(); s++ {
		bits := uint16(s.CurveBits())
		if bits == 0 {
			bits = 2048
		}
		assert.Equal(t, s, minidriver.SpecOfSize(s.Slot(), bits), "%v", s)
	}
}

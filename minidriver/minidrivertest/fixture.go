package minidrivertest

import (
	"context"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
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
)

// suite carries the Harness through the tests.
type suite struct {
	h Harness
}

// fixture is one card opened through the plug-in.
type fixture struct {
	t     *testing.T
	s     *suite
	sc    *scrm.Card
	card  minidriver.Card
	props minidriver.CardProperties
}

// open connects to a fresh card and opens it with the plug-in, in a
// transaction of its own, as the engine does.
func (s *suite) open(t *testing.T) *fixture {
	t.Helper()
	sc := s.h.NewCard(t)
	require.NotNil(t, sc, "Harness.NewCard returned no card")
	return s.openOn(t, sc)
}

// openOn opens the card of connection sc with the plug-in.
func (s *suite) openOn(t *testing.T, sc *scrm.Card) *fixture {
	t.Helper()
	ctx := t.Context()
	tx, err := sc.Begin(ctx)
	require.NoError(t, err, "begin transaction")
	card, err := s.h.Plugin.Open(ctx, tx, s.h.Env)
	endErr := tx.End(scrm.LeaveCard)
	require.NoError(t, err, "Plugin.Open")
	require.NotNil(t, card, "Plugin.Open returned no card")
	require.NoError(t, endErr, "end transaction")
	t.Cleanup(func() { assert.NoError(t, card.Close(), "Close") })
	f := &fixture{t: t, s: s, sc: sc, card: card}
	f.do(func(ctx context.Context, tx *scrm.Tx) {
		f.props, err = card.Properties(ctx, tx)
		require.NoError(t, err, "Properties")
	})
	return f
}

// with returns f bound to test t, for use in a subtest of the test that
// opened it.
func (f *fixture) with(t *testing.T) *fixture {
	g := *f
	g.t = t
	return &g
}

// begin starts a transaction as the engine does: Begin, then Resume.
func (f *fixture) begin() *scrm.Tx {
	f.t.Helper()
	ctx := f.t.Context()
	tx, err := f.sc.Begin(ctx)
	require.NoError(f.t, err, "begin transaction")
	if err := f.card.Resume(ctx, tx); err != nil {
		_ = tx.End(scrm.ResetCard)
		require.NoError(f.t, err, "Resume")
	}
	return tx
}

// end ends a transaction as the engine does: it logs every PIN out and leaves
// the card, or resets it when Deauthenticate fails (spec
// CardDeauthenticateEx).
func (f *fixture) end(tx *scrm.Tx) {
	f.t.Helper()
	d := scrm.LeaveCard
	if err := f.card.Deauthenticate(f.t.Context(), tx, minidriver.PinSet(0xFF)); err != nil {
		d = scrm.ResetCard
	}
	require.NoError(f.t, tx.End(d), "end transaction")
}

// logout logs set out as the engine does: Deauthenticate, or, when that fails
// (spec CardDeauthenticateEx), ending the transaction with a card reset and
// beginning the next. It returns the transaction to go on with.
func (f *fixture) logout(tx *scrm.Tx, set minidriver.PinSet) *scrm.Tx {
	f.t.Helper()
	err := f.card.Deauthenticate(f.t.Context(), tx, set)
	if err == nil {
		return tx
	}
	f.t.Logf("Deauthenticate failed, so the transaction ends with a card reset: %v", err)
	require.NoError(f.t, tx.End(scrm.ResetCard), "end transaction with a reset")
	return f.begin()
}

// do runs fn in one transaction.
func (f *fixture) do(fn func(ctx context.Context, tx *scrm.Tx)) {
	f.t.Helper()
	tx := f.begin()
	defer f.end(tx)
	fn(f.t.Context(), tx)
}

// secret returns the harness's secret for PIN id.
func (f *fixture) secret(id minidriver.PinID) []byte {
	f.t.Helper()
	pin, ok := f.s.h.PINs[id]
	if !ok {
		f.t.Fatalf("minidrivertest: Harness.PINs has no secret for PIN %d", id)
	}
	return pin
}

// login authenticates PIN id with the harness's secret: the PIN, the
// admin challenge response, or nothing for an external or empty PIN.
func (f *fixture) login(ctx context.Context, tx *scrm.Tx, id minidriver.PinID) {
	f.t.Helper()
	info, err := f.card.PINInfo(ctx, tx, id)
	require.NoError(f.t, err, "PINInfo(%d)", id)
	switch info.Type {
	case minidriver.EmptyPIN:
		return
	case minidriver.ExternalPIN:
		_, err = f.card.Authenticate(ctx, tx, id, nil, minidriver.Silent)
	case minidriver.ChallengeResponsePIN:
		if f.s.h.AdminResponse == nil {
			f.t.Fatalf("minidrivertest: PIN %d is challenge-response and Harness.AdminResponse is nil", id)
		}
		var ch []byte
		ch, err = minidriver.Challenge(ctx, f.card, tx, id)
		require.NoError(f.t, err, "Challenge(%d)", id)
		_, err = f.card.Authenticate(ctx, tx, id, f.s.h.AdminResponse(ch), 0)
	default:
		_, err = f.card.Authenticate(ctx, tx, id, f.secret(id), 0)
	}
	require.NoError(f.t, err, "Authenticate(%d)", id)
}

// loginWrite logs in the PINs the card needs for writes
// (Harness.WriteAuth).
func (f *fixture) loginWrite(ctx context.Context, tx *scrm.Tx) {
	f.t.Helper()
	for _, id := range f.s.writeAuth().IDs() {
		f.login(ctx, tx, id)
	}
}

// writeAuth returns Harness.WriteAuth or its default, ROLE_USER.
func (s *suite) writeAuth() minidriver.PinSet {
	if s.h.WriteAuth == 0 {
		return minidriver.NewPinSet(minidriver.RoleUser)
	}
	return s.h.WriteAuth
}

// loginFor authenticates the PIN protecting container idx.
func (f *fixture) loginFor(ctx context.Context, tx *scrm.Tx, idx int) {
	f.t.Helper()
	id, err := f.card.ContainerPIN(ctx, tx, idx)
	require.NoError(f.t, err, "ContainerPIN(%d)", idx)
	f.login(ctx, tx, id)
}

// needsPIN reports whether container idx needs a login for private-key
// operations (its PIN is not empty).
func (f *fixture) needsPIN(ctx context.Context, tx *scrm.Tx, idx int) bool {
	f.t.Helper()
	id, err := f.card.ContainerPIN(ctx, tx, idx)
	require.NoError(f.t, err, "ContainerPIN(%d)", idx)
	if id == minidriver.RoleEveryone {
		return false
	}
	info, err := f.card.PINInfo(ctx, tx, id)
	require.NoError(f.t, err, "PINInfo(%d)", id)
	return info.Type != minidriver.EmptyPIN
}

// provision puts key k on the card (unless it is Present) and returns its
// public key as ContainerInfo reports it.
func (f *fixture) provision(k Key) crypto.PublicKey {
	f.t.Helper()
	h := f.s.h
	switch {
	case k.Present:
	case h.Features.Generate:
		f.do(func(ctx context.Context, tx *scrm.Tx) {
			f.loginWrite(ctx, tx)
			err := f.create(ctx, tx, minidriver.CreateContainerRequest{Index: k.Container, KeySpec: k.Spec, Bits: k.Bits})
			require.NoError(f.t, err, "CreateContainer(%d, %s, generate)", k.Container, k.Spec)
		})
	case h.Features.Import:
		priv := newKey(f.t, k)
		f.do(func(ctx context.Context, tx *scrm.Tx) {
			f.loginWrite(ctx, tx)
			err := f.create(ctx, tx, minidriver.CreateContainerRequest{Index: k.Container, KeySpec: k.Spec, Key: priv})
			require.NoError(f.t, err, "CreateContainer(%d, %s, import)", k.Container, k.Spec)
		})
	default:
		f.t.Skip("harness: the card neither generates nor imports keys and the key is not present")
	}
	var pub crypto.PublicKey
	f.do(func(ctx context.Context, tx *scrm.Tx) {
		info, err := f.card.ContainerInfo(ctx, tx, k.Container)
		require.NoError(f.t, err, "ContainerInfo(%d)", k.Container)
		pub = info.Key(k.Spec)
		checkPublic(f.t, k, pub)
		if k.Spec.InSignatureSlot() {
			assert.Equal(f.t, k.Spec, info.SignatureSpec, "ContainerInfo.SignatureSpec")
		} else {
			assert.Equal(f.t, k.Spec, info.KeyExchangeSpec, "ContainerInfo.KeyExchangeSpec")
		}
	})
	return pub
}

// checkPublic checks that pub is a public key of k's kind and size.
func checkPublic(t *testing.T, k Key, pub crypto.PublicKey) {
	t.Helper()
	switch {
	case k.Spec.IsRSA():
		rk, ok := pub.(*rsa.PublicKey)
		require.True(t, ok, "%s key is %T, want *rsa.PublicKey", k.Spec, pub)
		if k.Bits > 0 {
			assert.Equal(t, k.Bits, rk.N.BitLen(), "RSA modulus size")
		}
	case k.Spec.IsECDSA():
		ek, ok := pub.(*ecdsa.PublicKey)
		require.True(t, ok, "%s key is %T, want *ecdsa.PublicKey", k.Spec, pub)
		assert.Equal(t, k.Spec.CurveBits(), ek.Curve.Params().BitSize, "curve size")
	case k.Spec.IsECDH():
		ek, ok := pub.(*ecdh.PublicKey)
		require.True(t, ok, "%s key is %T, want *ecdh.PublicKey", k.Spec, pub)
		assert.Equal(t, k.Spec.Curve(), ek.Curve(), "curve")
	default:
		t.Fatalf("minidrivertest: Harness.Keys has key spec %s", k.Spec)
	}
}

// newKey generates a software key of k's kind for import.
func newKey(t *testing.T, k Key) crypto.PrivateKey {
	t.Helper()
	var (
		priv crypto.PrivateKey
		err  error
	)
	switch {
	case k.Spec.IsRSA():
		bits := k.Bits
		if bits == 0 {
			bits = 2048
		}
		priv, err = rsa.GenerateKey(rand.Reader, bits)
	case k.Spec.IsECDSA():
		priv, err = ecdsa.GenerateKey(ellipticCurve(k.Spec), rand.Reader)
	case k.Spec.IsECDH():
		priv, err = k.Spec.Curve().GenerateKey(rand.Reader)
	default:
		err = fmt.Errorf("key spec %s", k.Spec)
	}
	require.NoError(t, err, "generate a software key")
	return priv
}

func ellipticCurve(s minidriver.KeySpec) elliptic.Curve {
	switch s.CurveBits() {
	case 256:
		return elliptic.P256()
	case 384:
		return elliptic.P384()
	case 521:
		return elliptic.P521()
	}
	return nil
}

// keys returns the Harness keys matching pred.
func (s *suite) keys(pred func(Key) bool) []Key {
	var ks []Key
	for _, k := range s.h.Keys {
		if pred(k) {
			ks = append(ks, k)
		}
	}
	return ks
}

// keyName names a key's subtest.
func keyName(k Key) string {
	if k.Spec.IsRSA() && k.Bits > 0 {
		return fmt.Sprintf("%d-%s-%d", k.Container, k.Spec, k.Bits)
	}
	return fmt.Sprintf("%d-%s", k.Container, k.Spec)
}

// emptyContainer returns a container index that holds no key on a fresh
// card: the first Harness key that is not Present, else one past the
// card's container table.
func (f *fixture) emptyContainer() int {
	for _, k := range f.s.h.Keys {
		if !k.Present {
			return k.Container
		}
	}
	if f.props.MaxContainers > 0 && f.props.MaxContainers < cardfs.MaxContainers {
		return f.props.MaxContainers
	}
	return cardfs.MaxContainers - 1
}

// isDenied reports whether err says an authentication is missing.
func isDenied(err error) bool {
	return errors.Is(err, minidriver.ErrSecurityViolation) || errors.Is(err, cardfs.ErrAccessDenied)
}

// otherPIN returns a PIN of the same length as pin, all digits, that
// differs from it in every position: k = 1 gives a wrong PIN, k = 2 a new
// one.
func otherPIN(pin []byte, k byte) []byte {
	out := make([]byte, len(pin))
	for i, b := range pin {
		if b >= '0' && b <= '9' {
			out[i] = '0' + (b-'0'+k)%10
		} else {
			out[i] = '0' + k
		}
	}
	return out
}

// pinError returns err as a *minidriver.PINError, failing the test if it
// is not one.
func pinError(t *testing.T, err error) *minidriver.PINError {
	t.Helper()
	var pe *minidriver.PINError
	require.ErrorAs(t, err, &pe, "want a *minidriver.PINError")
	return pe
}

// invalidParameter is SCARD_E_INVALID_PARAMETER, which both
// minidriver.ErrInvalidParameter and the cardfs name and parameter errors
// stand for.
const invalidParameter uint32 = 0x80100004

// create makes a container as the engine does (docs/design.md): on a card
// with a writable file system it bumps cardcf and writes the container's
// map record first, then creates the key, then records the key's size.
// The caller has logged in.
func (f *fixture) create(ctx context.Context, tx *scrm.Tx, req minidriver.CreateContainerRequest) error {
	f.t.Helper()
	if !f.s.h.Features.WriteFiles {
		return minidriver.CreateContainer(ctx, f.card, tx, req)
	}
	f.updateMap(ctx, tx, req.Index, func(m *cardfs.ContainerMap, i int) {
		if rec, ok := m.Record(i); ok && rec.Valid() {
			return
		}
		var one cardfs.ContainerMap
		_, err := one.Add(cardfs.ContainerMapRecord{Name: fmt.Sprintf("minidrivertest-container-%03d", i)}, 1)
		require.NoError(f.t, err)
		f.spliceRecord(m, i, one.Marshal())
	})
	if err := minidriver.CreateContainer(ctx, f.card, tx, req); err != nil {
		return err
	}
	info, err := f.card.ContainerInfo(ctx, tx, req.Index)
	require.NoError(f.t, err, "ContainerInfo after create")
	f.updateMap(ctx, tx, req.Index, func(m *cardfs.ContainerMap, i int) {
		require.NoError(f.t, m.SetKeySizes(i, uint16(minidriver.PublicKeyBits(info.Signature)), uint16(minidriver.PublicKeyBits(info.KeyExchange))))
	})
	return nil
}

// remove deletes a container as the engine does: the key, then its map
// record. The caller has logged in.
func (f *fixture) remove(ctx context.Context, tx *scrm.Tx, idx int) error {
	f.t.Helper()
	if err := minidriver.DeleteContainer(ctx, f.card, tx, idx); err != nil {
		return err
	}
	if f.s.h.Features.WriteFiles {
		f.updateMap(ctx, tx, idx, func(m *cardfs.ContainerMap, i int) {
			if rec, ok := m.Record(i); ok && rec.Valid() {
				require.NoError(f.t, m.Delete(i))
			}
		})
	}
	return nil
}

// updateMap changes record idx of the container map as the engine does:
// cardcf's container counter is bumped and written before the map.
func (f *fixture) updateMap(ctx context.Context, tx *scrm.Tx, idx int, change func(m *cardfs.ContainerMap, i int)) {
	f.t.Helper()
	b, err := f.card.ReadFile(ctx, tx, cardfs.MSCPDir, cardfs.ContainerMapFile)
	require.NoError(f.t, err, "read cmapfile")
	m, err := cardfs.ParseContainerMap(b)
	require.NoError(f.t, err, "parse cmapfile")
	change(m, idx)
	cfb, err := f.card.ReadFile(ctx, tx, cardfs.RootDir, cardfs.CardCFFile)
	require.NoError(f.t, err, "read cardcf")
	cf, err := cardfs.ParseCardCF(cfb)
	require.NoError(f.t, err, "parse cardcf")
	cf.BumpContainers()
	cf.BumpFiles()
	require.NoError(f.t, minidriver.WriteFile(ctx, f.card, tx, cardfs.RootDir, cardfs.CardCFFile, cf.Marshal()), "write cardcf")
	require.NoError(f.t, minidriver.WriteFile(ctx, f.card, tx, cardfs.MSCPDir, cardfs.ContainerMapFile, m.Marshal()), "write cmapfile")
}

// spliceRecord puts the 86-byte record rec at index i of m, growing the
// map with free records as needed.
func (f *fixture) spliceRecord(m *cardfs.ContainerMap, i int, rec []byte) {
	f.t.Helper()
	b := m.Marshal()
	if need := (i + 1) * cardfs.ContainerMapRecordSize; len(b) < need {
		b = append(b, make([]byte, need-len(b))...)
	}
	copy(b[i*cardfs.ContainerMapRecordSize:], rec)
	n, err := cardfs.ParseContainerMap(b)
	require.NoError(f.t, err, "container map with record %d", i)
	*m = *n
}

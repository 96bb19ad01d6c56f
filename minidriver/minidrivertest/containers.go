package minidrivertest

import (
	"context"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/rsa"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cardmod/cardmod/cardfs"
	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/scrm"
)

// testContainers checks the container life cycle of every Harness key:
// empty, created by generation and by import, its PIN, deleted.
func (s *suite) testContainers(t *testing.T) {
	t.Run("NoKeyContainer", func(t *testing.T) {
		f := s.open(t)
		f.do(func(ctx context.Context, tx *scrm.Tx) {
			_, err := f.card.ContainerInfo(ctx, tx, f.emptyContainer())
			assert.ErrorIs(t, err, minidriver.ErrNoKeyContainer, "ContainerInfo of an empty container")
			for _, idx := range []int{-1, 256, 1 << 20} {
				_, err := f.card.ContainerInfo(ctx, tx, idx)
				assert.True(t, errorIsAny(err, minidriver.ErrNoKeyContainer, minidriver.ErrInvalidParameter), "ContainerInfo(%d): %v", idx, err)
			}
		})
	})
	t.Run("Present", func(t *testing.T) {
		ks := s.keys(func(k Key) bool { return k.Present })
		if len(ks) == 0 {
			t.Skip("harness: no key is present on a fresh card")
		}
		for _, k := range ks {
			t.Run(keyName(k), func(t *testing.T) {
				f := s.open(t)
				f.provision(k)
				f.checkContainerPIN(k)
				f.checkFinder()
				f.checkScanner()
			})
		}
	})
	for _, mode := range []struct {
		name    string
		enabled bool
	}{{"Generate", s.h.Features.Generate}, {"Import", s.h.Features.Import}} {
		t.Run(mode.name, func(t *testing.T) {
			if !mode.enabled {
				t.Skipf("harness: the card does not %s keys", mode.name)
			}
			ks := s.keys(func(k Key) bool { return !k.Present })
			if len(ks) == 0 {
				t.Skip("harness: every key is present on a fresh card")
			}
			for _, k := range ks {
				t.Run(keyName(k), func(t *testing.T) { s.testLifeCycle(t, k, mode.name == "Import") })
			}
		})
	}
}

// testLifeCycle creates k, checks it, replaces it and deletes it.
func (s *suite) testLifeCycle(t *testing.T, k Key, imp bool) {
	f := s.open(t)
	_, ok := f.card.(minidriver.ContainerManager)
	require.True(t, ok, "Features.Generate/Import but the card is not a minidriver.ContainerManager")
	req := minidriver.CreateContainerRequest{Index: k.Container, KeySpec: k.Spec, Bits: k.Bits}
	var priv crypto.PrivateKey
	if imp {
		priv = newKey(t, k)
		req.Key = priv
	}
	f.do(func(ctx context.Context, tx *scrm.Tx) {
		err := minidriver.CreateContainer(ctx, f.card, tx, req)
		assert.ErrorIs(t, err, minidriver.ErrSecurityViolation, "create without authentication")
		_, err = f.card.ContainerInfo(ctx, tx, k.Container)
		assert.ErrorIs(t, err, minidriver.ErrNoKeyContainer, "container after a refused create")
		f.loginWrite(ctx, tx)
		bad := req
		bad.KeySpec = 0
		err = minidriver.CreateContainer(ctx, f.card, tx, bad)
		assert.ErrorIs(t, err, minidriver.ErrInvalidParameter, "create with key spec 0")
		require.NoError(t, f.create(ctx, tx, req), "create")
	})
	var first crypto.PublicKey
	f.do(func(ctx context.Context, tx *scrm.Tx) {
		info, err := f.card.ContainerInfo(ctx, tx, k.Container)
		require.NoError(t, err, "ContainerInfo after create")
		first = info.Key(k.Spec)
		checkPublic(t, k, first)
		if priv != nil {
			assert.True(t, publicOf(priv).(interface{ Equal(crypto.PublicKey) bool }).Equal(first), "imported key's public key")
		}
		other := info.KeyExchange
		if !k.Spec.InSignatureSlot() {
			other = info.Signature
		}
		assert.Nil(t, other, "the other slot of a container with one key")
	})
	f.checkContainerPIN(k)
	f.checkFinder()
	f.checkScanner()
	g := s.openOn(t, f.sc)
	g.do(func(ctx context.Context, tx *scrm.Tx) {
		info, err := g.card.ContainerInfo(ctx, tx, k.Container)
		require.NoError(t, err, "ContainerInfo from another context")
		assert.True(t, first.(interface{ Equal(crypto.PublicKey) bool }).Equal(info.Key(k.Spec)), "public key seen by another context")
	})
	if !imp {
		f.do(func(ctx context.Context, tx *scrm.Tx) {
			f.loginWrite(ctx, tx)
			require.NoError(t, f.create(ctx, tx, req), "generate over an existing key")
			info, err := f.card.ContainerInfo(ctx, tx, k.Container)
			require.NoError(t, err)
			assert.False(t, first.(interface{ Equal(crypto.PublicKey) bool }).Equal(info.Key(k.Spec)), "a new key replaces the old one")
		})
	}
	if s.h.Features.KeepsKeys {
		f.do(func(ctx context.Context, tx *scrm.Tx) {
			f.loginWrite(ctx, tx)
			err := minidriver.DeleteContainer(ctx, f.card, tx, k.Container)
			assert.ErrorIs(t, err, minidriver.ErrUnsupported, "delete on a card that keeps its keys")
			_, err = f.card.ContainerInfo(ctx, tx, k.Container)
			assert.NoError(t, err, "the key is still there after a refused delete")
		})
		return
	}
	f.do(func(ctx context.Context, tx *scrm.Tx) {
		err := minidriver.DeleteContainer(ctx, f.card, tx, k.Container)
		assert.ErrorIs(t, err, minidriver.ErrSecurityViolation, "delete without authentication")
		f.loginWrite(ctx, tx)
		require.NoError(t, f.remove(ctx, tx, k.Container), "delete")
		_, err = f.card.ContainerInfo(ctx, tx, k.Container)
		assert.ErrorIs(t, err, minidriver.ErrNoKeyContainer, "ContainerInfo after delete")
		err = minidriver.DeleteContainer(ctx, f.card, tx, k.Container)
		assert.ErrorIs(t, err, minidriver.ErrNoKeyContainer, "delete twice")
	})
}

// checkFinder checks, on a card that is a minidriver.ContainerFinder, that
// FindContainer answers what mscp/cmapfile says: the record of every valid
// container by its name, the default container's for "", and
// ErrNoKeyContainer for a name the card does not have.
func (f *fixture) checkFinder() {
	if _, ok := f.card.(minidriver.ContainerFinder); !ok {
		return
	}
	f.do(func(ctx context.Context, tx *scrm.Tx) {
		b, err := f.card.ReadFile(ctx, tx, cardfs.MSCPDir, cardfs.ContainerMapFile)
		require.NoError(f.t, err, "read cmapfile")
		m, err := cardfs.ParseContainerMap(b)
		require.NoError(f.t, err, "parse cmapfile")
		for _, want := range m.ValidRecords() {
			got, err := minidriver.FindContainer(ctx, f.card, tx, want.Name)
			if assert.NoError(f.t, err, "FindContainer(%q)", want.Name) {
				assert.Equal(f.t, want, got, "FindContainer(%q) against cmapfile", want.Name)
			}
		}
		if def, ok := m.Default(); ok {
			got, err := minidriver.FindContainer(ctx, f.card, tx, "")
			if assert.NoError(f.t, err, "FindContainer of the default") {
				assert.Equal(f.t, def, got, "the default container against cmapfile")
			}
		}
		_, err = minidriver.FindContainer(ctx, f.card, tx, "no such container here")
		assert.ErrorIs(f.t, err, minidriver.ErrNoKeyContainer, "FindContainer of an unknown name")
	})
}

// checkScanner checks, on a card that is a minidriver.CertificateScanner
// and does not answer ErrUnsupported, that ScanCertificates gives a valid
// record for each valid container of mscp/cmapfile that has a
// certificate file, with cmapfile's index and name, and for no other; and
// that each scanned record gives a key size in the field of a slot kind
// whose certificate file the container has.
func (f *fixture) checkScanner() {
	if _, ok := f.card.(minidriver.CertificateScanner); !ok {
		return
	}
	f.do(func(ctx context.Context, tx *scrm.Tx) {
		scan, err := minidriver.ScanCertificates(ctx, f.card, tx)
		if errors.Is(err, minidriver.ErrUnsupported) {
			return
		}
		require.NoError(f.t, err, "ScanCertificates")
		b, err := f.card.ReadFile(ctx, tx, cardfs.MSCPDir, cardfs.ContainerMapFile)
		require.NoError(f.t, err, "read cmapfile")
		m, err := cardfs.ParseContainerMap(b)
		require.NoError(f.t, err, "parse cmapfile")
		hasCert := func(idx int, kind cardfs.KeySpec) bool {
			names, err := cardfs.CertFileNames(idx, kind)
			require.NoError(f.t, err)
			for _, name := range names {
				if b, err := f.card.ReadFile(ctx, tx, cardfs.MSCPDir, name); err == nil && len(b) > 0 {
					return true
				}
			}
			return false
		}
		want := map[int]string{}
		for _, r := range m.ValidRecords() {
			if hasCert(r.Index, cardfs.KeySpecSignature) || hasCert(r.Index, cardfs.KeySpecKeyExchange) {
				want[r.Index] = r.Name
			}
		}
		got := map[int]string{}
		for _, r := range scan.ValidRecords() {
			got[r.Index] = r.Name
			assert.True(f.t, (r.SigKeySizeBits != 0 && hasCert(r.Index, cardfs.KeySpecSignature)) ||
				(r.KeyExchangeKeySizeBits != 0 && hasCert(r.Index, cardfs.KeySpecKeyExchange)),
				"scanned container %d: a key size where it has a certificate", r.Index)
		}
		assert.Equal(f.t, want, got, "the containers with a certificate, against cmapfile")
	})
}

// checkContainerPIN checks that the PIN protecting k's container exists.
func (f *fixture) checkContainerPIN(k Key) {
	f.do(func(ctx context.Context, tx *scrm.Tx) {
		id, err := f.card.ContainerPIN(ctx, tx, k.Container)
		require.NoError(f.t, err, "ContainerPIN(%d)", k.Container)
		assert.True(f.t, id == minidriver.RoleEveryone || f.props.PINs.Has(id), "container %d protected by unlisted PIN %d", k.Container, id)
		if id != minidriver.RoleEveryone {
			info, err := f.card.PINInfo(ctx, tx, id)
			require.NoError(f.t, err)
			assert.NotEqual(f.t, minidriver.UnblockOnlyPIN, info.Purpose, "container %d protected by an unblock-only PIN", k.Container)
		}
	})
}

// publicOf returns the public key of a software private key.
func publicOf(priv crypto.PrivateKey) crypto.PublicKey {
	switch k := priv.(type) {
	case *rsa.PrivateKey:
		return &k.PublicKey
	case *ecdsa.PrivateKey:
		return &k.PublicKey
	case *ecdh.PrivateKey:
		return k.PublicKey()
	}
	return nil
}

// errorIsAny reports whether err matches one of targets.
func errorIsAny(err error, targets ...error) bool {
	for _, t := range targets {
		if err != nil && errors.Is(err, t) {
			return true
		}
	}
	return false
}

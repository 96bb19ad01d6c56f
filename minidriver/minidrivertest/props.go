package minidrivertest

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cardmod/cardmod/cardfs"
	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/scrm"
)

// testRegistry checks that a Registry holding the plug-in takes its card.
func (s *suite) testRegistry(t *testing.T) {
	require.NotEmpty(t, s.h.Plugin.Name(), "Plugin.Name")
	sc := s.h.NewCard(t)
	tx, err := sc.Begin(t.Context())
	require.NoError(t, err)
	defer func() { assert.NoError(t, tx.End(scrm.LeaveCard)) }()
	m, err := minidriver.NewRegistry(s.h.Plugin).Match(t.Context(), tx)
	require.NoError(t, err, "Registry.Match")
	assert.Equal(t, s.h.Plugin.Name(), m.Plugin.Name(), "the plug-in that took the card")
	assert.NotEmpty(t, m.Reason, "Match.Reason")
	if !m.ByATR {
		ok, err := s.h.Plugin.Probe(t.Context(), tx)
		require.NoError(t, err, "Probe")
		assert.True(t, ok, "Probe after a probe match")
	}
}

// testOpen checks opening, resuming and closing.
func (s *suite) testOpen(t *testing.T) {
	t.Run("ResumeEveryTransaction", func(t *testing.T) {
		f := s.open(t)
		for range 3 {
			f.do(func(ctx context.Context, tx *scrm.Tx) {
				_, err := f.card.ReadFile(ctx, tx, cardfs.RootDir, cardfs.CardIDFile)
				require.NoError(t, err)
			})
		}
	})
	t.Run("TwoContextsOnOneCard", func(t *testing.T) {
		f := s.open(t)
		g := s.openOn(t, f.sc)
		assert.Equal(t, f.props.GUID, g.props.GUID, "GUID seen by two contexts")
	})
	t.Run("CloseWithoutCard", func(t *testing.T) {
		// CardDeleteContext may run after the card is gone.
		sc := s.h.NewCard(t)
		tx, err := sc.Begin(t.Context())
		require.NoError(t, err)
		card, err := s.h.Plugin.Open(t.Context(), tx, s.h.Env)
		require.NoError(t, tx.End(scrm.LeaveCard))
		require.NoError(t, err, "Plugin.Open")
		require.NoError(t, sc.Close(scrm.LeaveCard))
		assert.NoError(t, card.Close(), "Close without the card")
	})
	t.Run("Capabilities", func(t *testing.T) {
		f := s.open(t)
		c := f.card.Capabilities()
		assert.Equal(t, s.h.Features.Generate, c.KeyGen, "Capabilities.KeyGen against Features.Generate")
		assert.Equal(t, c, f.card.Capabilities(), "Capabilities is stable")
		if f.props.ReadOnly {
			assert.False(t, c.KeyGen, "read-only card with KeyGen")
		}
	})
}

// testProperties checks the card properties against the file system.
func (s *suite) testProperties(t *testing.T) {
	f := s.open(t)
	p := f.props
	var cardid []byte
	f.do(func(ctx context.Context, tx *scrm.Tx) {
		var err error
		cardid, err = f.card.ReadFile(ctx, tx, cardfs.RootDir, cardfs.CardIDFile)
		require.NoError(t, err, "read cardid")
		again, err := f.card.Properties(ctx, tx)
		require.NoError(t, err)
		assert.Equal(t, p, again, "Properties twice in one transaction")
	})
	t.Run("GUIDIsCardID", func(t *testing.T) {
		assert.Equal(t, cardid, p.GUID[:], "CP_CARD_GUID is the cardid file")
		assert.NotEqual(t, [16]byte{}, p.GUID, "GUID all zero")
	})
	t.Run("GUIDStableAcrossOpens", func(t *testing.T) {
		g := s.openOn(t, f.sc)
		assert.Equal(t, p.GUID, g.props.GUID)
		g.do(func(ctx context.Context, tx *scrm.Tx) {
			q, err := g.card.Properties(ctx, tx)
			require.NoError(t, err)
			assert.Equal(t, p.GUID, q.GUID)
		})
	})
	t.Run("GUIDDiffersBetweenCards", func(t *testing.T) {
		g := s.open(t)
		assert.NotEqual(t, p.GUID, g.props.GUID, "two fresh cards with one card ID")
	})
	t.Run("PINsListed", func(t *testing.T) {
		assert.True(t, p.PINs.Has(minidriver.RoleUser), "CP_CARD_LIST_PINS %#x lacks ROLE_USER", p.PINs)
		for id := range s.h.PINs {
			assert.True(t, p.PINs.Has(id), "Harness PIN %d not listed in %#x", id, p.PINs)
		}
	})
	t.Run("CacheMode", func(t *testing.T) {
		assert.Contains(t, []minidriver.CacheMode{minidriver.CacheGlobal, minidriver.CacheSessionOnly, minidriver.CacheNone}, p.CacheMode)
		if p.ReadOnly {
			assert.False(t, p.SupportsX509Enrollment, "read-only card supports enrollment")
		}
	})
	t.Run("ReadOnlyAgainstFeatures", func(t *testing.T) {
		if p.ReadOnly {
			assert.False(t, s.h.Features.WriteFiles, "read-only card with Features.WriteFiles")
			assert.False(t, s.h.Features.Generate || s.h.Features.Import, "read-only card creating keys")
		}
		if s.h.Features.Import {
			assert.True(t, p.KeyImport, "CP_KEY_IMPORT_SUPPORT against Features.Import")
		}
	})
	t.Run("MaxContainers", func(t *testing.T) {
		assert.True(t, p.MaxContainers >= 1 && p.MaxContainers <= cardfs.MaxContainers, "MaxContainers %d", p.MaxContainers)
		for _, k := range s.h.Keys {
			assert.Less(t, k.Container, p.MaxContainers, "Harness key container beyond MaxContainers")
		}
	})
}

// testPINInfo checks PIN_INFO of every listed PIN and the errors for the
// others.
func (s *suite) testPINInfo(t *testing.T) {
	f := s.open(t)
	f.do(func(ctx context.Context, tx *scrm.Tx) {
		for id := minidriver.PinID(0); id < minidriver.MaxPins; id++ {
			info, err := f.card.PINInfo(ctx, tx, id)
			if !f.props.PINs.Has(id) {
				assert.ErrorIs(t, err, minidriver.ErrInvalidParameter, "PINInfo of unlisted PIN %d", id)
				continue
			}
			require.NoError(t, err, "PINInfo(%d)", id)
			assert.NoError(t, info.Validate(), "PIN %d info", id)
			for _, other := range append(info.ChangePermission.IDs(), info.UnblockPermission.IDs()...) {
				assert.True(t, f.props.PINs.Has(other), "PIN %d names unlisted PIN %d in its permissions", id, other)
			}
			if _, ok := s.h.PINs[id]; ok {
				assert.Equal(t, minidriver.AlphanumericPIN, info.Type, "Harness gives a secret for PIN %d, which is not alphanumeric", id)
			}
		}
		user, err := f.card.PINInfo(ctx, tx, minidriver.RoleUser)
		require.NoError(t, err)
		assert.NotEqual(t, minidriver.UnblockOnlyPIN, user.Purpose, "user PIN is unblock-only")
		for _, id := range []minidriver.PinID{minidriver.MaxPins, 0xFF} {
			_, err := f.card.PINInfo(ctx, tx, id)
			assert.ErrorIs(t, err, minidriver.ErrInvalidParameter, "PINInfo(%d)", id)
		}
	})
}

// testKeySizes checks CardQueryKeySizes for every key spec.
func (s *suite) testKeySizes(t *testing.T) {
	f := s.open(t)
	f.do(func(ctx context.Context, tx *scrm.Tx) {
		for spec := minidriver.KeyExchange; spec <= minidriver.ECDHP521; spec++ {
			ks, err := f.card.KeySizes(ctx, tx, spec)
			if err != nil {
				assert.ErrorIs(t, err, minidriver.ErrUnsupported, "KeySizes(%s)", spec)
				continue
			}
			assert.True(t, ks.Min > 0 && ks.Min <= ks.Default && ks.Default <= ks.Max, "%s sizes %+v", spec, ks)
			assert.True(t, ks.Supports(ks.Default), "%s default size not supported: %+v", spec, ks)
			if bits := spec.CurveBits(); bits > 0 {
				assert.Equal(t, minidriver.KeySizes{Min: bits, Default: bits, Max: bits, Increment: 1}, ks, "%s sizes", spec)
			}
		}
		for _, spec := range []minidriver.KeySpec{0, minidriver.ECDHP521 + 1, 0xFFFF} {
			_, err := f.card.KeySizes(ctx, tx, spec)
			assert.ErrorIs(t, err, minidriver.ErrInvalidParameter, "KeySizes(%d)", spec)
		}
		for _, k := range s.h.Keys {
			ks, err := f.card.KeySizes(ctx, tx, k.Spec)
			if assert.NoError(t, err, "KeySizes of Harness key %s", k.Spec) && k.Spec.IsRSA() && k.Bits > 0 {
				assert.True(t, ks.Supports(k.Bits), "%s: %d bits not in %+v", k.Spec, k.Bits, ks)
			}
		}
	})
}

// testFreeSpace checks CardQueryFreeSpace.
func (s *suite) testFreeSpace(t *testing.T) {
	f := s.open(t)
	f.do(func(ctx context.Context, tx *scrm.Tx) {
		fs, err := f.card.FreeSpace(ctx, tx)
		require.NoError(t, err)
		for name, v := range map[string]int{"BytesAvailable": fs.BytesAvailable, "ContainersAvailable": fs.ContainersAvailable, "MaxContainers": fs.MaxContainers} {
			assert.True(t, v >= 0 || v == minidriver.Unknown, "%s = %d", name, v)
		}
		if fs.MaxContainers != minidriver.Unknown && fs.ContainersAvailable != minidriver.Unknown {
			assert.LessOrEqual(t, fs.ContainersAvailable, fs.MaxContainers)
		}
		if f.props.ReadOnly {
			assert.Equal(t, 0, fs.BytesAvailable, "read-only card: bytes available")
			assert.Equal(t, 0, fs.ContainersAvailable, "read-only card: containers available")
		}
	})
}

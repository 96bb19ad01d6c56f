package pcsclite_test

import (
	"context"
	"encoding/binary"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cardmod/cardmod/scrm"
	"github.com/cardmod/cardmod/scrm/pcsc/internal/fakepcscd"
	"github.com/cardmod/cardmod/scrm/pcsc/internal/pcsclite"
)

var testATR = []byte{0x3B, 0x80, 0x80, 0x01, 0x01}

func tctx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func establish(t *testing.T, s *fakepcscd.Server, offer pcsclite.Version) *pcsclite.Context {
	t.Helper()
	c, err := pcsclite.Establish(tctx(t), pcsclite.Config{SocketPath: s.Path(), Offer: offer})
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Release() })
	return c
}

// TestHandshake runs every handshake against a fake pcscd of each version
// and refusal rule: what the client offers, in order, and what it ends up
// speaking.
func TestHandshake(t *testing.T) {
	v := func(minor int32) pcsclite.Version { return pcsclite.Version{Major: 4, Minor: minor} }
	tests := []struct {
		name   string
		server fakepcscd.Config
		offer  pcsclite.Version
		offers []pcsclite.Version
		want   pcsclite.Version
		err    bool
	}{
		{"1.9.9 strict 4.4, default offer", fakepcscd.Config{Version: v(4)}, pcsclite.Version{}, []pcsclite.Version{v(5), v(4)}, v(4), false},
		{"1.9.9 strict 4.4, offer 4.6", fakepcscd.Config{Version: v(4)}, v(6), []pcsclite.Version{v(6), v(4)}, v(4), false},
		{"1.9.9 strict 4.4, offer 4.4", fakepcscd.Config{Version: v(4)}, v(4), []pcsclite.Version{v(4)}, v(4), false},
		{"2.3 strict 4.5, default offer", fakepcscd.Config{Version: v(5)}, pcsclite.Version{}, []pcsclite.Version{v(5)}, v(5), false},
		{"2.3 strict 4.5, offer 4.4", fakepcscd.Config{Version: v(5)}, v(4), []pcsclite.Version{v(4), v(5)}, v(5), false},
		{"2.3 strict 4.5, offer 4.6", fakepcscd.Config{Version: v(5)}, v(6), []pcsclite.Version{v(6), v(5)}, v(5), false},
		{"2.4.1 tolerant 4.5, offer 4.6", fakepcscd.Config{Version: v(5), Policy: fakepcscd.Tolerant}, v(6), []pcsclite.Version{v(6)}, v(5), false},
		{"2.4.1 tolerant 4.5, offer 4.4", fakepcscd.Config{Version: v(5), Policy: fakepcscd.Tolerant}, v(4), []pcsclite.Version{v(4)}, v(4), false},
		{"2.5 up to 4.6, default offer", fakepcscd.Config{Version: v(6), Policy: fakepcscd.UpTo}, pcsclite.Version{}, []pcsclite.Version{v(5)}, v(5), false},
		{"2.5 up to 4.6, offer 4.6", fakepcscd.Config{Version: v(6), Policy: fakepcscd.UpTo}, v(6), []pcsclite.Version{v(6)}, v(6), false},
		{"hypothetical strict 4.6", fakepcscd.Config{Version: v(6)}, pcsclite.Version{}, []pcsclite.Version{v(5), v(6)}, v(6), false},
		{"1.8.23 strict 4.3", fakepcscd.Config{Version: v(3)}, pcsclite.Version{}, []pcsclite.Version{v(5)}, pcsclite.Version{}, true},
		{"future strict 4.7", fakepcscd.Config{Version: v(7)}, pcsclite.Version{}, []pcsclite.Version{v(5)}, pcsclite.Version{}, true},
		{"future major 5", fakepcscd.Config{Version: pcsclite.Version{Major: 5, Minor: 0}}, v(4), []pcsclite.Version{v(4)}, pcsclite.Version{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := fakepcscd.Start(t, tt.server)
			s.AddReader("R 00 00")
			c, err := pcsclite.Establish(tctx(t), pcsclite.Config{SocketPath: s.Path(), Offer: tt.offer})
			assert.Equal(t, tt.offers, s.Offers())
			if tt.err {
				var ve *pcsclite.VersionError
				require.ErrorAs(t, err, &ve)
				assert.ErrorIs(t, err, scrm.ErrServiceStopped)
				assert.Equal(t, tt.server.Version, ve.Server)
				return
			}
			require.NoError(t, err)
			defer c.Release()
			assert.Equal(t, tt.want, c.Version())
			// The agreed version is spoken: the reader-state array has
			// the version's layout.
			names, err := c.ListReaders()
			require.NoError(t, err)
			assert.Equal(t, []string{"R 00 00"}, names)
		})
	}
}

func TestNoService(t *testing.T) {
	_, err := pcsclite.Establish(tctx(t), pcsclite.Config{SocketPath: t.TempDir() + "/none"})
	assert.ErrorIs(t, err, scrm.ErrNoService)
	t.Setenv(pcsclite.EnvSocket, t.TempDir()+"/env")
	_, err = pcsclite.Establish(tctx(t), pcsclite.Config{})
	assert.ErrorIs(t, err, scrm.ErrNoService)
	assert.Contains(t, err.Error(), "/env", "PCSCLITE_CSOCK_NAME is where the client looks")
}

func allVersions(t *testing.T, f func(t *testing.T, s *fakepcscd.Server, c *pcsclite.Context)) {
	for _, v := range []pcsclite.Version{pcsclite.Version44, pcsclite.Version45, pcsclite.Version46} {
		t.Run(v.String(), func(t *testing.T) {
			s := fakepcscd.Start(t, fakepcscd.Config{Version: v})
			s.AddReader("R 00 00")
			s.AddReader("R 01 00")
			c := establish(t, s, v)
			require.Equal(t, v, c.Version())
			f(t, s, c)
		})
	}
}

func TestCardCalls(t *testing.T) {
	allVersions(t, func(t *testing.T, s *fakepcscd.Server, c *pcsclite.Context) {
		ctx := tctx(t)
		_, err := c.Connect("R 00 00", 2, pcsclite.ProtocolAny)
		require.ErrorIs(t, err, scrm.ErrNoSmartcard)
		_, err = c.Connect("nope", 2, pcsclite.ProtocolAny)
		require.ErrorIs(t, err, scrm.ErrUnknownReader)
		_, err = c.Connect(strings.Repeat("x", 128), 2, pcsclite.ProtocolAny)
		require.ErrorIs(t, err, scrm.ErrInvalidValue)

		s.Insert("R 00 00", testATR)
		k, err := c.Connect("R 00 00", 2, pcsclite.ProtocolAny)
		require.NoError(t, err)
		assert.Equal(t, pcsclite.ProtocolT1, k.ActiveProtocol())
		rsp, err := k.Transmit(ctx, []byte{0, 1, 2, 3})
		require.NoError(t, err)
		assert.Equal(t, []byte{0, 1, 2, 3, 0x90, 0x00}, rsp)
		big := make([]byte, 65535)
		rsp, err = k.Transmit(ctx, big)
		require.NoError(t, err)
		assert.Len(t, rsp, 65537)
		_, err = k.Transmit(ctx, make([]byte, pcsclite.MaxBufferSizeExtended+1))
		assert.ErrorIs(t, err, scrm.ErrInsufficientBuffer)

		st, err := k.Status(ctx)
		require.NoError(t, err)
		assert.Equal(t, "R 00 00", st.Reader)
		assert.Equal(t, testATR, st.ATR)
		assert.Equal(t, pcsclite.ProtocolT1, st.Protocol)

		feats, err := k.Control(fakepcscd.IoctlFeatures, nil)
		require.NoError(t, err)
		assert.Len(t, feats, 12)
		_, err = k.Control(0x42000001, []byte{1})
		assert.ErrorIs(t, err, scrm.ErrUnsupportedFeature, "0x8010001F is pcsc-lite's unsupported feature")
		atr, err := k.GetAttrib(0x00090303)
		require.NoError(t, err)
		assert.Equal(t, testATR, atr)
		assert.ErrorIs(t, k.SetAttrib(0x00090303, []byte{1}), scrm.ErrUnsupportedFeature)

		// Another connection's transaction: BeginTransaction polls until
		// ctx ends, or until the transaction ends.
		o := establish(t, s, c.Version())
		ko, err := o.Connect("R 00 00", 2, pcsclite.ProtocolAny)
		require.NoError(t, err)
		require.NoError(t, ko.BeginTransaction(ctx))
		short, cancel := context.WithTimeout(ctx, 250*time.Millisecond)
		err = k.BeginTransaction(short)
		cancel()
		assert.ErrorIs(t, err, scrm.ErrCancelled)
		go func() {
			time.Sleep(150 * time.Millisecond)
			_ = ko.EndTransaction(0)
		}()
		require.NoError(t, k.BeginTransaction(ctx))
		require.NoError(t, k.Reconnect(ctx, 2, pcsclite.ProtocolAny, 1))
		require.NoError(t, k.EndTransaction(0))
		require.NoError(t, k.Disconnect(0))
		assert.ErrorIs(t, k.Disconnect(0), scrm.ErrInvalidHandle)

		s.Remove("R 00 00")
		_, err = ko.Transmit(ctx, []byte{0, 0, 0, 0})
		assert.ErrorIs(t, err, scrm.ErrRemovedCard)
	})
}

func TestStatusChange(t *testing.T) {
	allVersions(t, func(t *testing.T, s *fakepcscd.Server, c *pcsclite.Context) {
		ctx := tctx(t)
		rs := []scrm.ReaderState{{Reader: "R 00 00"}, {Reader: scrm.PnPNotification}}
		require.NoError(t, c.GetStatusChange(ctx, rs, -1))
		assert.True(t, rs[0].Event.Has(scrm.StateEmpty|scrm.StateChanged), "%#x", rs[0].Event)
		assert.Zero(t, s.Waiting(), "unregistered after returning")

		// An insertion ends a wait; the ATR and the counter come with it.
		rs = rs[:1]
		rs[0].Update()
		done := make(chan error, 1)
		go func() { done <- c.GetStatusChange(ctx, rs, -1) }()
		require.Eventually(t, func() bool { return s.Waiting() == 1 }, 5*time.Second, time.Millisecond)
		s.Insert("R 00 00", testATR)
		require.NoError(t, <-done)
		assert.True(t, rs[0].Event.Has(scrm.StatePresent|scrm.StateChanged), "%#x", rs[0].Event)
		assert.Equal(t, testATR, rs[0].ATR)
		assert.Equal(t, 1, rs[0].EventCount())

		// A timeout, then a cancellation through SCARD_CANCEL.
		rs[0].Update()
		err := c.GetStatusChange(ctx, rs, 50*time.Millisecond)
		assert.ErrorIs(t, err, scrm.ErrTimeout)
		assert.Zero(t, s.Waiting())
		cctx, cancel := context.WithCancel(ctx)
		go func() { done <- c.GetStatusChange(cctx, rs, -1) }()
		require.Eventually(t, func() bool { return s.Waiting() == 1 }, 5*time.Second, time.Millisecond)
		cancel()
		err = <-done
		assert.ErrorIs(t, err, scrm.ErrCancelled)
		assert.ErrorIs(t, err, context.Canceled)
		// Cancel from another goroutine, as SCardCancel.
		go func() { done <- c.GetStatusChange(ctx, rs, -1) }()
		require.Eventually(t, func() bool { return s.Waiting() == 1 }, 5*time.Second, time.Millisecond)
		require.NoError(t, c.Cancel(ctx))
		assert.ErrorIs(t, <-done, scrm.ErrCancelled)

		// Reader arrival: the PnP entry changes (it does not return at
		// once even when unaware, as in pcsc-lite).
		pnp := []scrm.ReaderState{{Reader: scrm.PnPNotification}}
		assert.ErrorIs(t, c.GetStatusChange(ctx, pnp, 50*time.Millisecond), scrm.ErrTimeout)
		go func() { done <- c.GetStatusChange(ctx, pnp, -1) }()
		require.Eventually(t, func() bool { return s.Waiting() == 1 }, 5*time.Second, time.Millisecond)
		s.AddReader("R 02 00")
		require.NoError(t, <-done)
		assert.True(t, pnp[0].Event.Has(scrm.StateChanged))
		if c.Version() != pcsclite.Version44 {
			assert.Equal(t, 3, pnp[0].EventCount(), "reader events counted by pcscd (4.5 on)")
		}
		names, err := c.ListReaders()
		require.NoError(t, err)
		assert.Equal(t, []string{"R 00 00", "R 01 00", "R 02 00"}, names)

		err = c.GetStatusChange(ctx, []scrm.ReaderState{{Reader: "gone"}}, -1)
		assert.ErrorIs(t, err, scrm.ErrUnknownReader)
		assert.Zero(t, s.Waiting())
		// The reader goes away while waited on.
		rs[0].Update()
		go func() { done <- c.GetStatusChange(ctx, rs, -1) }()
		require.Eventually(t, func() bool { return s.Waiting() == 1 }, 5*time.Second, time.Millisecond)
		s.RemoveReader("R 00 00")
		require.NoError(t, <-done)
		assert.Equal(t, scrm.StateUnknown|scrm.StateUnavailable|scrm.StateChanged, rs[0].Event)
	})
}

// TestServerDies: a pcscd that dies during a call gives a clear error, the
// context stays unusable (no hang), and a context made once pcscd is back
// works.
func TestServerDies(t *testing.T) {
	for _, cmd := range []uint32{0x09 /* transmit */, 0x13 /* wait */, 0x12 /* list */} {
		s := fakepcscd.Start(t, fakepcscd.Config{})
		s.AddReader("R 00 00")
		s.Insert("R 00 00", testATR)
		c := establish(t, s, pcsclite.Version{})
		k, err := c.Connect("R 00 00", 2, pcsclite.ProtocolAny)
		require.NoError(t, err)
		s.SetHook(cmd, fakepcscd.Hook{Kill: true})
		switch cmd {
		case 0x09:
			_, err = k.Transmit(tctx(t), []byte{0, 0, 0, 0})
		case 0x13:
			err = c.GetStatusChange(tctx(t), []scrm.ReaderState{{Reader: "R 00 00"}}, -1)
		default:
			_, err = c.ListReaders()
		}
		var ce *pcsclite.ConnError
		require.ErrorAs(t, err, &ce, "command %#x", cmd)
		assert.ErrorIs(t, err, scrm.ErrCommError)
		assert.Contains(t, err.Error(), "connection to pcscd lost")
		_, err = c.ListReaders()
		assert.ErrorIs(t, err, scrm.ErrCommError, "the context stays broken")
		_, err = k.Transmit(tctx(t), []byte{0, 0, 0, 0})
		assert.ErrorIs(t, err, scrm.ErrCommError)
		assert.NoError(t, c.Release(), "releasing a broken context just closes it")

		// pcscd is gone, then back.
		_, err = pcsclite.Establish(tctx(t), pcsclite.Config{SocketPath: s.Path()})
		assert.ErrorIs(t, err, scrm.ErrNoService)
		s.SetHook(cmd, fakepcscd.Hook{Raw: nil})
		s.Restart()
		s.SetHook(cmd, fakepcscd.Hook{})
	}
}

// TestHostileServer: answers that break the protocol give a
// *ProtocolError and close the context; nothing is allocated from an
// announced length before it is checked.
func TestHostileServer(t *testing.T) {
	le := func(vals ...uint32) []byte { // host order, as pcscd writes
		var b []byte
		for _, v := range vals {
			b = binary.NativeEndian.AppendUint32(b, v)
		}
		return b
	}
	badName := make([]byte, 16*184)
	for i := range 128 {
		badName[i] = 'x' // no NUL
	}
	badATR := make([]byte, 16*184)
	copy(badATR, "R\x00")
	copy(badATR[176:], le(34))
	tests := []struct {
		name string
		cmd  uint32
		raw  []byte
		call func(c *pcsclite.Context, k *pcsclite.Card) error
	}{
		{"huge transmit answer", 0x09, append(make([]byte, 24), le(pcsclite.MaxBufferSizeExtended+1, 0)...),
			func(c *pcsclite.Context, k *pcsclite.Card) error {
				_, err := k.Transmit(context.Background(), []byte{1, 2, 3, 4})
				return err
			}},
		{"huge control answer", 0x0A, append(make([]byte, 16), le(0xFFFFFFFF, 0)...),
			func(c *pcsclite.Context, k *pcsclite.Card) error { _, err := k.Control(1, nil); return err }},
		{"huge attribute", 0x0F, append(make([]byte, 272), le(265, 0)...),
			func(c *pcsclite.Context, k *pcsclite.Card) error { _, err := k.GetAttrib(1); return err }},
		{"reader name without NUL", 0x12, badName,
			func(c *pcsclite.Context, k *pcsclite.Card) error { _, err := c.ListReaders(); return err }},
		{"ATR longer than 33", 0x12, badATR,
			func(c *pcsclite.Context, k *pcsclite.Card) error { _, err := c.ListReaders(); return err }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := fakepcscd.Start(t, fakepcscd.Config{})
			s.AddReader("R 00 00")
			s.Insert("R 00 00", testATR)
			c := establish(t, s, pcsclite.Version{})
			k, err := c.Connect("R 00 00", 2, pcsclite.ProtocolAny)
			require.NoError(t, err)
			s.SetHook(tt.cmd, fakepcscd.Hook{Raw: tt.raw})
			err = tt.call(c, k)
			var pe *pcsclite.ProtocolError
			require.ErrorAs(t, err, &pe)
			assert.ErrorIs(t, err, scrm.ErrCommError)
			_, err = c.ListReaders()
			assert.Error(t, err, "the stream is not trusted any more")
		})
	}
}

// TestEstablishCancelled: a context cancelled during the handshake is
// reported as a cancellation (or a timeout), not as a missing pcscd.
func TestEstablishCancelled(t *testing.T) {
	s := fakepcscd.Start(t, fakepcscd.Config{})
	s.SetHook(0x11, fakepcscd.Hook{Raw: []byte{}}) // pcscd never answers the version
	ctx, cancel := context.WithCancel(tctx(t))
	go func() { time.Sleep(50 * time.Millisecond); cancel() }()
	_, err := pcsclite.Establish(ctx, pcsclite.Config{SocketPath: s.Path()})
	assert.ErrorIs(t, err, scrm.ErrCancelled)
	assert.ErrorIs(t, err, context.Canceled)

	dctx, dcancel := context.WithTimeout(tctx(t), 50*time.Millisecond)
	defer dcancel()
	_, err = pcsclite.Establish(dctx, pcsclite.Config{SocketPath: s.Path()})
	assert.ErrorIs(t, err, scrm.ErrTimeout)

	_, err = pcsclite.Establish(tctx(t), pcsclite.Config{SocketPath: s.Path(), HandshakeTimeout: 50 * time.Millisecond})
	assert.ErrorIs(t, err, scrm.ErrNoService, "a pcscd that does not answer")
	assert.Contains(t, err.Error(), "did not answer")
}

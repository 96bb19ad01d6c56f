package pcsclite_test

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/cardmod/cardmod/scrm"
	"github.com/cardmod/cardmod/scrm/pcsc/internal/pcsclite"
)

// transcript builds a well-formed stream of pcscd answers (host order) for
// the calls FuzzClient makes, so that the fuzzer starts from messages that
// get deep into the client.
type transcript []byte

func (t transcript) u32(vs ...uint32) transcript {
	for _, v := range vs {
		t = binary.NativeEndian.AppendUint32(t, v)
	}
	return t
}

func (t transcript) states(minor int32, names ...string) transcript {
	n := 16
	if minor >= 6 {
		n = len(names)
		t = t.u32(uint32(n))
	}
	for i := range n {
		e := make([]byte, 184)
		if i < len(names) {
			copy(e, names[i])
			binary.NativeEndian.PutUint32(e[128:], 1)      // event counter
			binary.NativeEndian.PutUint32(e[132:], 0x0034) // present, powered, negotiable
			copy(e[140:], []byte{0x3B, 0x00})
			binary.NativeEndian.PutUint32(e[176:], 2)
			binary.NativeEndian.PutUint32(e[180:], 2)
		}
		t = append(t, e...)
	}
	return t
}

func seed(minor int32) []byte {
	t := transcript(nil).u32(4, uint32(minor), 0) // version accepted
	t = t.u32(2, 0x1234, 0)                       // established
	if minor >= 6 {
		t = t.u32(1) // GET_READERS_STATE_SIZE, then the array
		t = append(t, transcript(nil).states(5, "R")[:184]...)
	} else {
		t = t.states(minor, "R") // list readers
	}
	if minor >= 5 {
		t = t.u32(7, 0) // reader events
	}
	t = t.states(minor, "R") // wait: registered, snapshot
	t = t.u32(0, 0)          // answer to STOP
	conn := make([]byte, 152)
	binary.NativeEndian.PutUint32(conn[140:], 0x77)
	binary.NativeEndian.PutUint32(conn[144:], 2)
	t = append(t, conn...)                         // connected
	t = t.u32(0x77, 2, 8, 4, 2, 8, 4, 0)           // transmit answer
	t = append(t, 0xCA, 0xFE, 0x90, 0x00)          // its data
	t = t.u32(0x77, 0x42000D48, 0, 65548, 6, 0)    // control answer
	t = append(t, 0x12, 4, 0x42, 0x33, 0x00, 0x12) // its data
	ga := make([]byte, 280)
	binary.NativeEndian.PutUint32(ga[272:], 2)
	t = append(t, ga...) // attribute
	t = t.u32(0x77, 0)   // status rv
	if minor >= 6 {
		t = t.u32(1)
		t = append(t, transcript(nil).states(5, "R")[:184]...)
	} else {
		t = t.states(minor, "R")
	}
	t = t.u32(0x1234, 0) // released
	return t
}

// FuzzClient feeds hostile pcscd answers to the client: whatever pcscd
// sends, every call returns (no hang, no panic), and what it returns obeys
// the protocol's bounds.
func FuzzClient(f *testing.F) {
	for _, minor := range []int32{4, 5, 6} {
		s := seed(minor)
		f.Add(int8(minor), s)
		f.Add(int8(minor), s[:len(s)/2])
	}
	f.Add(int8(4), []byte{4, 0, 0, 0, 4, 0, 0, 0, 0x1E, 0, 0x10, 0x80}) // refused naming 4.4
	f.Fuzz(func(t *testing.T, minor int8, data []byte) {
		if minor < 4 || minor > 6 {
			return
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			exercise(t, minor, data)
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("the client hung on % X", data)
		}
	})
}

func exercise(t *testing.T, minor int8, data []byte) {
	{
		cli, srv := net.Pipe()
		defer cli.Close()
		go func() { _, _ = io.Copy(io.Discard, srv) }()
		go func() {
			_, _ = srv.Write(data)
			_ = srv.Close()
		}()
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		c, err := pcsclite.EstablishConn(ctx, cli, pcsclite.Config{Offer: pcsclite.Version{Major: 4, Minor: int32(minor)}})
		if err != nil {
			return
		}
		if names, err := c.ListReaders(); err == nil {
			for _, n := range names {
				if n == "" || len(n) >= pcsclite.MaxReaderName || strings.IndexByte(n, 0) >= 0 {
					t.Fatalf("reader name %q", n)
				}
			}
		}
		rs := []scrm.ReaderState{{Reader: "R"}, {Reader: scrm.PnPNotification}}
		if err := c.GetStatusChange(ctx, rs, 20*time.Millisecond); err == nil && len(rs[0].ATR) > pcsclite.MaxATRSize {
			t.Fatalf("ATR of %d bytes", len(rs[0].ATR))
		}
		k, err := c.Connect("R", 2, pcsclite.ProtocolAny)
		if err == nil {
			if rsp, err := k.Transmit(ctx, []byte{0, 0xA4, 0, 0}); err == nil && len(rsp) > pcsclite.MaxBufferSizeExtended {
				t.Fatalf("answer of %d bytes", len(rsp))
			}
			_, _ = k.Control(0x42000D48, nil)
			if v, err := k.GetAttrib(0x00090303); err == nil && len(v) > pcsclite.MaxBufferSize {
				t.Fatalf("attribute of %d bytes", len(v))
			}
			if st, err := k.Status(ctx); err == nil && len(st.ATR) > pcsclite.MaxATRSize {
				t.Fatalf("status ATR of %d bytes", len(st.ATR))
			}
		}
		_ = c.Release()
	}
}

package vpcd

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// echoCard answers every command with its data and 9000, and counts resets.
type echoCard struct {
	mu     sync.Mutex
	atr    []byte
	resets int
	short  bool // answer with a single byte (broken card)
}

func (c *echoCard) ATR() []byte { return c.atr }

func (c *echoCard) Reset() {
	c.mu.Lock()
	c.resets++
	c.mu.Unlock()
}

func (c *echoCard) Transmit(apdu []byte) []byte {
	if c.short {
		return []byte{0x90}
	}
	if len(apdu) > 5 {
		return append(append([]byte(nil), apdu[5:]...), 0x90, 0x00)
	}
	return []byte{0x90, 0x00}
}

func (c *echoCard) resetCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.resets
}

var testATR = []byte{0x3B, 0x80, 0x80, 0x01, 0x01}

func frame(b ...byte) []byte {
	return append(binary.BigEndian.AppendUint16(nil, uint16(len(b))), b...)
}

// fakeVPCD plays vpcd's side: it listens and the card connects.
type fakeVPCD struct {
	ln    net.Listener
	conns chan net.Conn
}

func newFakeVPCD(t *testing.T) *fakeVPCD {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	f := &fakeVPCD{ln: ln, conns: make(chan net.Conn, 4)}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				close(f.conns)
				return
			}
			f.conns <- c
		}
	}()
	t.Cleanup(func() { _ = ln.Close() })
	return f
}

func (f *fakeVPCD) accept(t *testing.T) net.Conn {
	t.Helper()
	select {
	case c := <-f.conns:
		require.NotNil(t, c)
		t.Cleanup(func() { _ = c.Close() })
		require.NoError(t, c.SetDeadline(time.Now().Add(10*time.Second)))
		return c
	case <-time.After(10 * time.Second):
		t.Fatal("the card did not connect")
		return nil
	}
}

func readFrame(t *testing.T, c net.Conn) []byte {
	t.Helper()
	buf := make([]byte, 2+MaxMessage)
	msg, err := readMessage(c, buf)
	require.NoError(t, err)
	return append([]byte(nil), msg...)
}

func testConfig(f *fakeVPCD, onDisc func(error)) *Config {
	return &Config{Addr: f.ln.Addr().String(), MinBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond, OnDisconnect: onDisc}
}

func TestSessionControlAndAPDU(t *testing.T) {
	f := newFakeVPCD(t)
	card := &echoCard{atr: testATR}
	srv := Start(card, testConfig(f, nil))
	defer srv.Remove()
	c := f.accept(t)

	_, err := c.Write(frame(ctrlGetATR))
	require.NoError(t, err)
	assert.Equal(t, testATR, readFrame(t, c))

	// Power on, reset and power off are not answered; power on and reset
	// reset the card. The APDU after them proves they were consumed.
	_, err = c.Write(append(append(frame(ctrlPowerOn), frame(ctrlReset)...), frame(ctrlPowerOff)...))
	require.NoError(t, err)
	_, err = c.Write(frame(0x00, 0x01, 0x00, 0x00, 0x02, 0xAA, 0xBB))
	require.NoError(t, err)
	assert.Equal(t, []byte{0xAA, 0xBB, 0x90, 0x00}, readFrame(t, c))
	assert.Equal(t, 2, card.resetCount())

	// A 4-byte case 1 command.
	_, err = c.Write(frame(0x00, 0xA4, 0x04, 0x00))
	require.NoError(t, err)
	assert.Equal(t, []byte{0x90, 0x00}, readFrame(t, c))

	require.NoError(t, srv.Remove())
	// Removal closes the connection.
	_, err = readMessage(c, make([]byte, 2+MaxMessage))
	assert.ErrorIs(t, err, io.EOF)
}

func TestLargeAPDU(t *testing.T) {
	f := newFakeVPCD(t)
	srv := Start(&echoCard{atr: testATR}, testConfig(f, nil))
	defer srv.Remove()
	c := f.accept(t)
	data := bytes.Repeat([]byte{0x5A}, 65000)
	cmd := append([]byte{0x00, 0x01, 0x00, 0x00, 0x00, byte(len(data) >> 8), byte(len(data))}, data...)
	// The echo card answers everything after the 5th byte.
	_, err := c.Write(frame(cmd...))
	require.NoError(t, err)
	got := readFrame(t, c)
	assert.Equal(t, len(cmd)-5+2, len(got))
}

func TestMalformedInputDisconnectsAndReconnects(t *testing.T) {
	tests := []struct {
		name string
		send []byte
		want error
	}{
		{"unknown control byte", frame(0x07), ErrProtocol},
		{"empty message", frame(), ErrProtocol},
		{"truncated message", []byte{0x00, 0x10, 0x00, 0xA4}, ErrProtocol},
		{"truncated length", []byte{0x00}, ErrProtocol},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeVPCD(t)
			errs := make(chan error, 16)
			srv := Start(&echoCard{atr: testATR}, testConfig(f, func(err error) { errs <- err }))
			defer srv.Remove()
			c := f.accept(t)
			_, err := c.Write(tt.send)
			require.NoError(t, err)
			if tt.name == "truncated message" || tt.name == "truncated length" {
				require.NoError(t, c.(*net.TCPConn).CloseWrite())
			}
			select {
			case err := <-errs:
				assert.ErrorIs(t, err, tt.want)
			case <-time.After(10 * time.Second):
				t.Fatal("no disconnect reported")
			}
			// The card closed its side...
			_, err = readMessage(c, make([]byte, 2+MaxMessage))
			assert.Error(t, err)
			// ...and comes back.
			c2 := f.accept(t)
			_, err = c2.Write(frame(ctrlGetATR))
			require.NoError(t, err)
			assert.Equal(t, testATR, readFrame(t, c2))
		})
	}
}

func TestBrokenCardAnswer(t *testing.T) {
	f := newFakeVPCD(t)
	errs := make(chan error, 16)
	srv := Start(&echoCard{atr: testATR, short: true}, testConfig(f, func(err error) { errs <- err }))
	defer srv.Remove()
	c := f.accept(t)
	_, err := c.Write(frame(0x00, 0xA4, 0x04, 0x00))
	require.NoError(t, err)
	select {
	case err := <-errs:
		assert.ErrorIs(t, err, ErrCardAnswer)
	case <-time.After(10 * time.Second):
		t.Fatal("no disconnect reported")
	}
}

func TestReconnectsAfterVPCDCloses(t *testing.T) {
	f := newFakeVPCD(t)
	errs := make(chan error, 16)
	srv := Start(&echoCard{atr: testATR}, testConfig(f, func(err error) { errs <- err }))
	defer srv.Remove()
	c := f.accept(t)
	require.NoError(t, c.Close())
	select {
	case err := <-errs:
		assert.ErrorIs(t, err, io.EOF)
	case <-time.After(10 * time.Second):
		t.Fatal("no disconnect reported")
	}
	c2 := f.accept(t)
	_, err := c2.Write(frame(ctrlGetATR))
	require.NoError(t, err)
	assert.Equal(t, testATR, readFrame(t, c2))
}

func TestServeRetriesUntilVPCDListens(t *testing.T) {
	// Reserve a port, close it, and start listening only after the card
	// has failed to connect at least once.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())

	dialFailed := make(chan struct{})
	var once sync.Once
	cfg := &Config{Addr: addr, MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond,
		OnDisconnect: func(err error) {
			if err != nil {
				once.Do(func() { close(dialFailed) })
			}
		}}
	srv := Start(&echoCard{atr: testATR}, cfg)
	defer srv.Remove()
	<-dialFailed
	ln, err = net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("port %s was taken meanwhile: %v", addr, err)
	}
	defer ln.Close()
	require.NoError(t, ln.(*net.TCPListener).SetDeadline(time.Now().Add(10*time.Second)))
	c, err := ln.Accept()
	require.NoError(t, err)
	defer c.Close()
	_, err = c.Write(frame(ctrlGetATR))
	require.NoError(t, err)
	assert.Equal(t, testATR, readFrame(t, c))
}

func TestServeStopsWithContext(t *testing.T) {
	f := newFakeVPCD(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, &echoCard{atr: testATR}, testConfig(f, nil)) }()
	c := f.accept(t)
	cancel()
	assert.NoError(t, <-done)
	_, err := readMessage(c, make([]byte, 2+MaxMessage))
	assert.ErrorIs(t, err, io.EOF)
}

func TestServeRejectsBadSetup(t *testing.T) {
	ctx := context.Background()
	err := Serve(ctx, &echoCard{}, nil)
	assert.ErrorIs(t, err, ErrCardAnswer)
	err = Serve(ctx, &echoCard{atr: make([]byte, 34)}, nil)
	assert.ErrorIs(t, err, ErrCardAnswer)
	err = Serve(ctx, &echoCard{atr: testATR}, &Config{Addr: "no-port"})
	assert.Error(t, err)
	err = Serve(ctx, &echoCard{atr: testATR}, &Config{Addr: "127.0.0.1:99999"})
	assert.Error(t, err)
	srv := Start(&echoCard{}, nil)
	<-srv.Done()
	assert.ErrorIs(t, srv.Remove(), ErrCardAnswer)
}

func TestReaderName(t *testing.T) {
	tests := []struct {
		port int
		name string
		ok   bool
	}{
		{35963, "Virtual PCD 00 00", true},
		{35964, "Virtual PCD 00 01", true},
		{35965, "", false},
	}
	for _, tt := range tests {
		name, ok := ReaderName(tt.port)
		assert.Equal(t, tt.name, name)
		assert.Equal(t, tt.ok, ok)
	}
	assert.Equal(t, "Virtual PCD 35965 00 01", SlotReaderName("Virtual PCD 35965", 1))
}

func TestReadMessage(t *testing.T) {
	buf := make([]byte, 2+MaxMessage)
	_, err := readMessage(bytes.NewReader(nil), buf)
	assert.ErrorIs(t, err, io.EOF)
	msg, err := readMessage(bytes.NewReader([]byte{0, 2, 0xAB, 0xCD, 0xFF}), buf)
	require.NoError(t, err)
	assert.Equal(t, []byte{0xAB, 0xCD}, msg)
	_, err = readMessage(bytes.NewReader([]byte{0, 3, 1}), buf)
	assert.ErrorIs(t, err, ErrProtocol)
	assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
	_, err = readMessage(bytes.NewReader([]byte{0, 3, 1}), make([]byte, 10))
	assert.Error(t, err)
	_, err = readMessage(errReader{}, buf)
	assert.Error(t, err)
	assert.False(t, errors.Is(err, io.EOF))
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("boom") }

// FuzzReadMessage checks that the framing reader never panics, never returns
// more than the prefix announces and consumes exactly prefix plus message.
func FuzzReadMessage(f *testing.F) {
	f.Add([]byte{0x00, 0x01, 0x04})
	f.Add([]byte{0x00, 0x05, 0x00, 0xA4, 0x04, 0x00, 0x00})
	f.Add([]byte{0xFF, 0xFF, 0x00})
	f.Add([]byte{0x00})
	f.Add([]byte{0x00, 0x00, 0x00, 0x01, 0x02})
	f.Fuzz(func(t *testing.T, in []byte) {
		r := bytes.NewReader(in)
		buf := make([]byte, 2+MaxMessage)
		consumed := 0
		for {
			msg, err := readMessage(r, buf)
			if err != nil {
				return
			}
			n := int(binary.BigEndian.Uint16(in[consumed:]))
			if len(msg) != n {
				t.Fatalf("message of %d bytes, prefix says %d", len(msg), n)
			}
			if !bytes.Equal(msg, in[consumed+2:consumed+2+n]) {
				t.Fatal("message differs from input")
			}
			consumed += 2 + n
			if int(r.Size())-r.Len() != consumed {
				t.Fatalf("consumed %d, reader at %d", consumed, int(r.Size())-r.Len())
			}
		}
	})
}

// FuzzSession runs a whole session over arbitrary input from vpcd: it must
// end with an error (io.EOF at the latest), never panic, and every answer it
// writes must be well framed.
func FuzzSession(f *testing.F) {
	f.Add(frame(ctrlGetATR))
	f.Add(append(frame(ctrlPowerOn), frame(0x00, 0xA4, 0x04, 0x00, 0x01, 0xAA)...))
	f.Add(frame(0x09))
	f.Add([]byte{0x00, 0x09, 0x01})
	f.Fuzz(func(t *testing.T, in []byte) {
		var out bytes.Buffer
		s := session{card: &echoCard{atr: testATR}, rw: struct {
			io.Reader
			io.Writer
		}{bytes.NewReader(in), &out}}
		if err := s.run(); err == nil {
			t.Fatal("session ended without error")
		}
		buf := make([]byte, 2+MaxMessage)
		r := bytes.NewReader(out.Bytes())
		for r.Len() > 0 {
			if _, err := readMessage(r, buf); err != nil {
				t.Fatalf("badly framed answer: %v", err)
			}
		}
	})
}

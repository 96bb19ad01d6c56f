package pcsclite

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"sync"
	"time"

	"github.com/cardmod/cardmod/scrm"
)

// EnvSocket is the environment variable naming pcscd's socket, read by
// libpcsclite too (winscard_msg.c, getSocketName).
const EnvSocket = "PCSCLITE_CSOCK_NAME"

// DefaultSocketPath returns where pcscd listens when EnvSocket is unset:
// pcsc-lite's default ipcdir, /run/pcscd on Linux and /var/run/pcscd on
// the BSDs (their ports keep the historical directory).
func DefaultSocketPath() string {
	if runtime.GOOS == "linux" {
		return "/run/pcscd/pcscd.comm"
	}
	return "/var/run/pcscd/pcscd.comm"
}

// DefaultOffer is the protocol version offered first when Config.Offer is
// zero. It is 4.5: pcscd 2.3.0 to 2.4.0 accept only 4.5, 2.4.1 accepts any
// 4.x from 4.4, 2.5.x accepts 4.4 to 4.6, and pcscd 1.8.24 to 2.2.x (4.4)
// refuse it naming 4.4, which the client then retries with. Version 4.6 is
// spoken when offered (Config.Offer) or when a server refuses 4.5 naming
// 4.6. See docs/pcsc-protocol.md.
var DefaultOffer = Version45

// Config configures Establish. The zero value is the default everywhere.
type Config struct {
	// SocketPath is pcscd's socket. Empty: $PCSCLITE_CSOCK_NAME, else
	// DefaultSocketPath().
	SocketPath string
	// Offer is the protocol version offered first. Zero: DefaultOffer.
	Offer Version
	// HandshakeTimeout bounds the version exchange and SCardEstablishContext
	// when ctx has no earlier deadline. Zero: 30 seconds.
	HandshakeTimeout time.Duration
}

func (cfg Config) socketPath() string {
	if cfg.SocketPath != "" {
		return cfg.SocketPath
	}
	if p := os.Getenv(EnvSocket); p != "" {
		return p
	}
	return DefaultSocketPath()
}

// lockPollRate is PCSCLITE_LOCK_POLL_RATE (pcscd.h.in): how long the client
// waits before asking again when pcscd answers SCARD_E_SHARING_VIOLATION
// because another connection holds a transaction.
const lockPollRate = 100 * time.Millisecond

// cancelRetry is how often a cancelled wait sends SCARD_CANCEL again: pcscd
// ignores a cancel that arrives before the wait is registered.
const cancelRetry = 10 * time.Millisecond

// Context is one SCARDCONTEXT: a connection to pcscd of its own, as
// libpcsclite opens one socket per context. Calls on a Context are
// serialised; Cancel may be called from any goroutine.
type Context struct {
	path    string
	version Version
	handle  uint32 // hContext

	mu   sync.Mutex
	conn net.Conn
	err  error // sticky: the connection broke or was closed
	wbuf []byte
	rbuf [getsetSize]byte
	raw  []byte
}

// Establish connects to pcscd, agrees on a protocol version and
// establishes a context (SCardEstablishContext). Without pcscd it fails
// with an error wrapping scrm.ErrNoService; with a pcscd speaking no
// version this client knows, with a *VersionError.
func Establish(ctx context.Context, cfg Config) (*Context, error) {
	path := cfg.socketPath()
	conn, err := dial(ctx, path)
	if err != nil {
		return nil, err
	}
	return establishOn(ctx, conn, path, cfg)
}

// establishOn runs the handshake and SCardEstablishContext on conn, a
// connection to pcscd at path (path is dialled again by Cancel).
func establishOn(ctx context.Context, conn net.Conn, path string, cfg Config) (*Context, error) {
	c := &Context{path: path, conn: conn}
	bound := cfg.HandshakeTimeout
	if bound <= 0 {
		bound = 30 * time.Second
	}
	hctx, cancel := context.WithTimeout(ctx, bound)
	defer cancel()
	stop := c.interruptOn(hctx)
	err := c.handshake(cfg.Offer)
	if err == nil {
		err = c.establish()
	}
	if !stop() || hctx.Err() != nil {
		switch {
		case errors.Is(ctx.Err(), context.DeadlineExceeded):
			// The caller's deadline, not a mute pcscd.
			err = fmt.Errorf("pcsclite: establish context: %w (%w)", scrm.ErrTimeout, ctx.Err())
		case ctx.Err() != nil:
			err = fmt.Errorf("pcsclite: establish context: %w (%w)", scrm.ErrCancelled, ctx.Err())
		default:
			if err == nil {
				err = hctx.Err()
			}
			err = fmt.Errorf("pcsclite: establish context at %s: pcscd did not answer: %w (%w)", path, scrm.ErrNoService, err)
		}
	}
	var ce *ConnError
	if errors.As(err, &ce) && !errors.Is(err, scrm.ErrNoService) {
		// pcscd closed the connection during the handshake: it is going
		// away (or refused us), which is no service.
		err = fmt.Errorf("pcsclite: establish context at %s: %w (%w)", path, scrm.ErrNoService, err)
	}
	if err != nil {
		c.close()
		return nil, err
	}
	_ = conn.SetDeadline(time.Time{})
	return c, nil
}

// Bounds of dial's wait while pcscd's listen queue is full.
const (
	busyRetryMin = time.Millisecond
	busyRetryMax = 50 * time.Millisecond
	busyWaitMax  = 30 * time.Second
)

// dial connects to pcscd's socket at path. pcscd listens with a backlog of
// one (listen(commonSocket, 1) in pcsc-lite's winscard_msg_srv.c), so
// clients that connect at the same moment overflow it. pcsc-lite's own
// client connects with a blocking connect(2), which the kernel holds until
// the queue has room; Go's connect is non-blocking and fails with EAGAIN
// instead. dial therefore tries again, with backoff from busyRetryMin to
// busyRetryMax, while the queue is full, until ctx is done or busyWaitMax
// has passed.
func dial(ctx context.Context, path string) (net.Conn, error) {
	var d net.Dialer
	wait := busyRetryMin
	giveUp := time.Now().Add(busyWaitMax)
	for {
		conn, err := d.DialContext(ctx, "unix", path)
		if err == nil {
			return conn, nil
		}
		if !queueFull(err) || ctx.Err() != nil || time.Now().After(giveUp) {
			return nil, fmt.Errorf("pcsclite: connect to pcscd at %s: %w (%w)", path, scrm.ErrNoService, err)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("pcsclite: connect to pcscd at %s: %w (%w; %w)", path, scrm.ErrNoService, err, ctx.Err())
		case <-t.C:
		}
		wait = min(2*wait, busyRetryMax)
	}
}

// interruptOn makes the socket's pending and future I/O fail once ctx is
// done. stop reports whether it had not fired.
func (c *Context) interruptOn(ctx context.Context) (stop func() bool) {
	conn := c.conn
	return context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
}

// handshake exchanges CMD_VERSION (SCardEstablishContextTH in
// winscard_clnt.c). pcscd answers with its own version; pcscd before 2.4.1
// refuses any other with SCARD_E_SERVICE_STOPPED, so a refusal naming a
// version this client speaks is retried once with that version, on the
// same connection as pcsc-lite 2.4.1's client does. A success naming an
// older version (pcscd 2.4.1 accepts newer clients) means that version.
func (c *Context) handshake(offer Version) error {
	if offer == (Version{}) {
		offer = DefaultOffer
	}
	if !offer.supported() {
		return fmt.Errorf("pcsclite: version %v offered: %w", offer, scrm.ErrInvalidValue)
	}
	for try := 0; ; try++ {
		var body [versionSize]byte
		ne.PutUint32(body[0:], uint32(offer.Major))
		ne.PutUint32(body[4:], uint32(offer.Minor))
		reply := c.rbuf[:versionSize]
		if err := c.roundTrip("version", cmdVersion, body[:], nil, reply); err != nil {
			return err
		}
		server := Version{int32(ne.Uint32(reply[0:])), int32(ne.Uint32(reply[4:]))}
		rv := ne.Uint32(reply[8:])
		switch {
		case rv == rvSuccess && server.supported() && !offer.less(server):
			c.version = server
			return nil
		case rv == rvSuccess && server.supported():
			// A server newer than the offer that accepted it speaks the
			// offer (pcscd 2.4.1 and later keep older clients working).
			c.version = offer
			return nil
		case rv == rvServiceStopped && server.supported() && server != offer && try == 0:
			offer = server
			continue
		case rv != rvSuccess && rv != rvServiceStopped:
			return fmt.Errorf("pcsclite: version %v refused: %w", offer, codeOf(rv))
		}
		return &VersionError{Server: server, Offered: offer}
	}
}

func (c *Context) establish() error {
	var body [establishSize]byte
	ne.PutUint32(body[0:], 2) // SCARD_SCOPE_SYSTEM; pcscd ignores the scope
	reply := c.rbuf[:establishSize]
	if err := c.roundTrip("establish context", cmdEstablishContext, body[:], nil, reply); err != nil {
		return err
	}
	if err := codeOf(ne.Uint32(reply[8:])); err != nil {
		return fmt.Errorf("pcsclite: establish context: %w", err)
	}
	c.handle = ne.Uint32(reply[4:])
	return nil
}

// Version returns the protocol version agreed with pcscd.
func (c *Context) Version() Version { return c.version }

// Handle returns the SCARDCONTEXT value pcscd gave the context.
func (c *Context) Handle() uint32 { return c.handle }

// Release releases the context (SCardReleaseContext) and closes its
// connection. pcscd disconnects the context's cards, leaving them. A
// broken context is just closed; a released one gives an error wrapping
// scrm.ErrInvalidHandle.
func (c *Context) Release() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == errReleased {
		return fmt.Errorf("pcsclite: release context: %w", scrm.ErrInvalidHandle)
	}
	if c.err != nil {
		c.close()
		return nil
	}
	var body [releaseSize]byte
	ne.PutUint32(body[0:], c.handle)
	reply := c.rbuf[:releaseSize]
	err := c.roundTrip("release context", cmdReleaseContext, body[:], nil, reply)
	if err == nil {
		if err = codeOf(ne.Uint32(reply[4:])); err != nil {
			err = fmt.Errorf("pcsclite: release context: %w", err)
		}
	}
	c.err = errReleased
	c.close()
	return err
}

// errReleased is the sticky error of a released context.
var errReleased = errors.New("pcsclite: context released")

// close closes the connection; later calls fail. c.mu is held or c is not
// shared yet.
func (c *Context) close() {
	if c.err == nil {
		c.err = errReleased
	}
	if c.conn != nil {
		_ = c.conn.Close()
	}
}

// fail records that the connection broke (or carried a malformed message)
// and closes it: the stream cannot be trusted any more.
func (c *Context) fail(err error) error {
	if c.err == nil {
		c.err = err
	}
	if c.conn != nil {
		_ = c.conn.Close()
	}
	return err
}

// usable returns nil while c works, else why it does not.
func (c *Context) usable(op string) error {
	switch c.err {
	case nil:
		return nil
	case errReleased:
		return fmt.Errorf("pcsclite: %s: context released: %w", op, scrm.ErrInvalidHandle)
	}
	return fmt.Errorf("pcsclite: %s: context unusable after an earlier failure: %w", op, c.err)
}

// send writes one message: the header, body and extra (a command's data)
// in one write. The copy of extra, which may carry a PIN, is wiped.
func (c *Context) send(op string, cmd uint32, body, extra []byte) error {
	n := headerSize + len(body) + len(extra)
	if cap(c.wbuf) < n {
		c.wbuf = make([]byte, n, max(n, 512))
	}
	b := c.wbuf[:n]
	ne.PutUint32(b[0:], uint32(len(body)))
	ne.PutUint32(b[4:], cmd)
	copy(b[headerSize:], body)
	copy(b[headerSize+len(body):], extra)
	_, err := c.conn.Write(b)
	clear(b)
	if err != nil {
		return c.fail(&ConnError{Op: op, Err: err})
	}
	return nil
}

// recv reads exactly len(b) bytes.
func (c *Context) recv(op string, b []byte) error {
	if _, err := io.ReadFull(c.conn, b); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			err = fmt.Errorf("pcscd closed the connection: %w", err)
		}
		return c.fail(&ConnError{Op: op, Err: err})
	}
	return nil
}

func (c *Context) roundTrip(op string, cmd uint32, body, extra, reply []byte) error {
	if err := c.send(op, cmd, body, extra); err != nil {
		return err
	}
	return c.recv(op, reply)
}

func (c *Context) protocolError(op, detail string) error {
	return c.fail(&ProtocolError{Op: op, Detail: detail})
}

// readerStates sends cmd (CMD_GET_READERS_STATE or
// CMD_WAIT_READER_STATE_CHANGE) and reads the reader-state array that
// answers it. Protocols 4.4 and 4.5 send the fixed array of
// PCSCLITE_MAX_READERS_CONTEXTS entries. In 4.6 a snapshot is
// CMD_GET_READERS_STATE_SIZE (a 32-bit entry count) then
// CMD_GET_READERS_STATE_ARRAY (that many entries), and the answer to
// CMD_WAIT_READER_STATE_CHANGE is a count followed by that many entries.
func (c *Context) readerStates(op string, cmd uint32) ([]readerState, error) {
	if c.version.less(Version46) {
		if err := c.send(op, cmd, nil, nil); err != nil {
			return nil, err
		}
		return c.readStateArray(op, MaxReadersContexts)
	}
	if cmd == cmdGetReadersState {
		if err := c.send(op, cmdGetReadersStateSize, nil, nil); err != nil {
			return nil, err
		}
		n, err := c.readStateCount(op)
		if err != nil {
			return nil, err
		}
		if err := c.send(op, cmdGetReadersStateArray, nil, nil); err != nil {
			return nil, err
		}
		return c.readStateArray(op, n)
	}
	if err := c.send(op, cmd, nil, nil); err != nil {
		return nil, err
	}
	n, err := c.readStateCount(op)
	if err != nil {
		return nil, err
	}
	return c.readStateArray(op, n)
}

// readStateCount reads a 4.6 reader-state count, at most MaxReaders46.
func (c *Context) readStateCount(op string) (int, error) {
	var cnt [4]byte
	if err := c.recv(op, cnt[:]); err != nil {
		return 0, err
	}
	v := ne.Uint32(cnt[:])
	if v > MaxReaders46 {
		return 0, c.protocolError(op, fmt.Sprintf("%d reader states announced (at most %d)", v, MaxReaders46))
	}
	return int(v), nil
}

// readStateArray reads n READER_STATE entries.
func (c *Context) readStateArray(op string, n int) ([]readerState, error) {
	size := n * readerStateSize
	if cap(c.raw) < size {
		c.raw = make([]byte, size)
	}
	raw := c.raw[:size]
	if err := c.recv(op, raw); err != nil {
		return nil, err
	}
	states, err := decodeReaderStates(op, raw, make([]readerState, 0, n))
	if err != nil {
		return nil, c.fail(err)
	}
	return states, nil
}

// snapshot is readerStates for CMD_GET_READERS_STATE under c.mu.
func (c *Context) snapshot(op string) ([]readerState, error) {
	return c.readerStates(op, cmdGetReadersState)
}

// ListReaders returns the names of the readers pcscd knows, in the order of
// its reader-state array (SCardListReaders builds the list from that array
// too). With none it returns an error wrapping scrm.ErrNoReadersAvailable.
func (c *Context) ListReaders() ([]string, error) {
	const op = "list readers"
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.usable(op); err != nil {
		return nil, err
	}
	states, err := c.snapshot(op)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, s := range states {
		if s.name != "" {
			names = append(names, s.name)
		}
	}
	if len(names) == 0 {
		return []string{}, fmt.Errorf("pcsclite: %s: %w", op, scrm.ErrNoReadersAvailable)
	}
	return names, nil
}

// readerEvents asks for pcscd's count of reader arrivals and removals
// (CMD_GET_READER_EVENTS, protocol 4.5 on). ok is false before 4.5.
func (c *Context) readerEvents(op string) (n uint32, ok bool, err error) {
	if c.version.less(Version45) {
		return 0, false, nil
	}
	reply := c.rbuf[:readerEventsLen]
	if err := c.roundTrip(op, cmdGetReaderEvents, nil, nil, reply); err != nil {
		return 0, false, err
	}
	if rv := ne.Uint32(reply[4:]); rv != rvSuccess {
		return 0, false, nil
	}
	return ne.Uint32(reply[0:]), true, nil
}

// Cancel cancels a GetStatusChange in progress on c the way SCardCancel
// does: on a connection of its own it sends SCARD_CANCEL with c's handle,
// and pcscd signals the waiting connection. A cancel that reaches pcscd
// before the wait is registered is ignored by pcscd.
func (c *Context) Cancel(ctx context.Context) error {
	return cancelContext(ctx, c.path, c.handle)
}

func cancelContext(ctx context.Context, path string, handle uint32) error {
	conn, err := dial(ctx, path)
	if err != nil {
		return err
	}
	defer conn.Close()
	k := &Context{path: path, conn: conn}
	stop := k.interruptOn(ctx)
	defer stop()
	var body [cancelSize]byte
	ne.PutUint32(body[0:], handle)
	reply := k.rbuf[:cancelSize]
	if err := k.roundTrip("cancel", cmdCancel, body[:], nil, reply); err != nil {
		return err
	}
	if err := codeOf(ne.Uint32(reply[4:])); err != nil {
		return fmt.Errorf("pcsclite: cancel: %w", err)
	}
	return nil
}

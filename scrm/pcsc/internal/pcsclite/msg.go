package pcsclite

import (
	"encoding/binary"
	"fmt"

	"github.com/cardmod/cardmod/scrm"
)

// Commands of the client/server protocol (enum pcsc_msg_commands,
// winscard_msg.h). SCARD_LIST_READERS, SCARD_GET_STATUS_CHANGE and
// SCARD_CANCEL_TRANSACTION exist in the enumeration but are not used by
// the client since pcsc-lite 1.6: listing readers and waiting for changes
// are built on the reader-state commands.
const (
	cmdEstablishContext     uint32 = 0x01
	cmdReleaseContext       uint32 = 0x02
	cmdConnect              uint32 = 0x04
	cmdReconnect            uint32 = 0x05
	cmdDisconnect           uint32 = 0x06
	cmdBeginTransaction     uint32 = 0x07
	cmdEndTransaction       uint32 = 0x08
	cmdTransmit             uint32 = 0x09
	cmdControl              uint32 = 0x0A
	cmdStatus               uint32 = 0x0B
	cmdCancel               uint32 = 0x0D
	cmdGetAttrib            uint32 = 0x0F
	cmdSetAttrib            uint32 = 0x10
	cmdVersion              uint32 = 0x11
	cmdGetReadersState      uint32 = 0x12
	cmdWaitReaderState      uint32 = 0x13
	cmdStopWaitReaderState  uint32 = 0x14
	cmdGetReaderEvents      uint32 = 0x15 // protocol 4.5 on
	cmdGetReadersStateSize  uint32 = 0x16 // protocol 4.6 on
	cmdGetReadersStateArray uint32 = 0x17 // protocol 4.6 on
)

// Sizes and limits of pcsc-lite (pcsclite.h.in, readerfactory.h,
// eventhandler.h).
const (
	// MaxReaderName is MAX_READERNAME: the reader name field, NUL included.
	MaxReaderName = 128
	// MaxATRSize is MAX_ATR_SIZE.
	MaxATRSize = 33
	// MaxReadersContexts is PCSCLITE_MAX_READERS_CONTEXTS: the length of
	// the fixed reader-state array of protocols 4.4 and 4.5.
	MaxReadersContexts = 16
	// MaxReaders46 bounds the variable reader-state array of protocol
	// 4.6: pcsc-lite 2.5 numbers a reader's slots 00 to FF, so a larger
	// count from the server is treated as hostile.
	MaxReaders46 = 256
	// MaxBufferSize is MAX_BUFFER_SIZE, the attribute buffer.
	MaxBufferSize = 264
	// MaxBufferSizeExtended is MAX_BUFFER_SIZE_EXTENDED: the largest
	// APDU or control message (4 + 3 + 65536 + 3 + 2 bytes).
	MaxBufferSizeExtended = 4 + 3 + (1 << 16) + 3 + 2

	headerSize      = 8                              // struct rxHeader
	versionSize     = 12                             // struct version_struct
	establishSize   = 12                             // struct establish_struct
	releaseSize     = 8                              // struct release_struct
	connectSize     = 4 + MaxReaderName + 5*4        // struct connect_struct
	reconnectSize   = 24                             // struct reconnect_struct
	disconnectSize  = 12                             // struct disconnect_struct (and end_struct)
	beginSize       = 8                              // struct begin_struct
	cancelSize      = 8                              // struct cancel_struct
	statusSize      = 8                              // struct status_struct
	transmitSize    = 32                             // struct transmit_struct
	controlSize     = 24                             // struct control_struct
	getsetSize      = 4 + 4 + MaxBufferSize + 4 + 4  // struct getset_struct
	waitSize        = 8                              // struct wait_reader_state_change
	readerEventsLen = 8                              // struct get_reader_events
	readerStateSize = MaxReaderName + 3*4 + 36 + 2*4 // READER_STATE, with 3 bytes of padding after the ATR
	stateArraySize  = MaxReadersContexts * readerStateSize
	ioRequestSize   = 8 // SCARD_IO_REQUEST
)

// Reader states in READER_STATE.readerState and SCardStatus (pcsclite.h.in).
const (
	cardUnknown   uint32 = 0x0001 // SCARD_UNKNOWN
	cardAbsent    uint32 = 0x0002 // SCARD_ABSENT
	cardPresent   uint32 = 0x0004 // SCARD_PRESENT
	cardSwallowed uint32 = 0x0008 // SCARD_SWALLOWED
)

// READER_STATE.readerSharing values (readerfactory.h).
const (
	sharingExclusive int32 = -1 // PCSCLITE_SHARING_EXCLUSIVE_CONTEXT
	sharingNone      int32 = 0  // PCSCLITE_SHARING_NO_CONTEXT
	sharingLast      int32 = 1  // PCSCLITE_SHARING_LAST_CONTEXT
)

// Result codes the client handles itself.
const (
	rvSuccess          uint32 = 0
	rvCancelled               = uint32(scrm.ErrCancelled)
	rvSharingViolation        = uint32(scrm.ErrSharingViolation)
	rvServiceStopped          = uint32(scrm.ErrServiceStopped)
	rvInsufficientBuf         = uint32(scrm.ErrInsufficientBuffer)
	rvTimeout                 = uint32(scrm.ErrTimeout)
)

// The protocol is spoken in the host's byte order: pcsc-lite sends its C
// structs as they lie in memory, and client and server run on one machine.
var ne = binary.NativeEndian

// codeOf turns a pcsc-lite result into an error wrapping the scrm.Code of
// the same value. 0x8010001F is SCARD_E_UNSUPPORTED_FEATURE in pcsc-lite
// (pcsclite.h.in: "SCARD_E_UNEXPECTED ... is never returned by
// pcsc-lite"), so it becomes scrm.ErrUnsupportedFeature.
func codeOf(rv uint32) error {
	if rv == rvSuccess {
		return nil
	}
	if rv == 0x8010001F {
		return scrm.ErrUnsupportedFeature
	}
	return scrm.Code(rv)
}

// ProtocolError reports a message from pcscd that breaks the protocol: a
// length or count out of bounds, a reader name without its NUL, an ATR
// longer than MAX_ATR_SIZE. The connection it came on is closed, since the
// stream can no longer be trusted. It wraps scrm.ErrCommError.
type ProtocolError struct {
	Op     string // the call, e.g. "transmit"
	Detail string // what was wrong
}

func (e *ProtocolError) Error() string {
	return fmt.Sprintf("pcsclite: %s: malformed message from pcscd: %s", e.Op, e.Detail)
}

// Unwrap returns scrm.ErrCommError.
func (e *ProtocolError) Unwrap() error { return scrm.ErrCommError }

// ConnError reports that the connection to pcscd broke during a call:
// pcscd exited, restarted or closed the socket. The context it happened on
// is unusable; a new one (after pcscd is back) works. It wraps
// scrm.ErrCommError and the I/O error.
type ConnError struct {
	Op  string
	Err error
}

func (e *ConnError) Error() string {
	return fmt.Sprintf("pcsclite: %s: connection to pcscd lost: %v", e.Op, e.Err)
}

// Unwrap returns scrm.ErrCommError and the I/O error.
func (e *ConnError) Unwrap() []error { return []error{scrm.ErrCommError, e.Err} }

// VersionError reports a pcscd whose protocol version this client does not
// speak. It wraps scrm.ErrServiceStopped, the code pcscd itself answers a
// version it refuses with.
type VersionError struct {
	Server  Version // what pcscd said it speaks
	Offered Version // what the client offered last
}

func (e *VersionError) Error() string {
	return fmt.Sprintf("pcsclite: pcscd speaks protocol %v, this client %v to %v (offered %v)", e.Server, MinVersion, MaxVersion, e.Offered)
}

// Unwrap returns scrm.ErrServiceStopped.
func (e *VersionError) Unwrap() error { return scrm.ErrServiceStopped }

// readerState is one decoded READER_STATE (eventhandler.h).
type readerState struct {
	name         string
	eventCounter uint32
	state        uint32 // SCARD_* card state bits
	sharing      int32  // PCSCLITE_SHARING_*
	atr          []byte
	protocol     uint32
}

// decodeReaderStates decodes count READER_STATE entries from b, which
// holds exactly count*readerStateSize bytes. Entries with an empty name
// are unused slots and kept (their position carries no meaning, but the
// count does for the PnP notification).
func decodeReaderStates(op string, b []byte, dst []readerState) ([]readerState, error) {
	dst = dst[:0]
	for off := 0; off+readerStateSize <= len(b); off += readerStateSize {
		e := b[off : off+readerStateSize]
		rs, err := decodeReaderState(op, e)
		if err != nil {
			return nil, err
		}
		dst = append(dst, rs)
	}
	return dst, nil
}

func decodeReaderState(op string, e []byte) (readerState, error) {
	name := e[:MaxReaderName]
	n := indexNUL(name)
	if n < 0 {
		return readerState{}, &ProtocolError{op, "reader name without NUL"}
	}
	p := MaxReaderName
	rs := readerState{name: string(name[:n])}
	rs.eventCounter = ne.Uint32(e[p:])
	rs.state = ne.Uint32(e[p+4:])
	rs.sharing = int32(ne.Uint32(e[p+8:]))
	atr := e[p+12 : p+12+MaxATRSize]
	atrLen := ne.Uint32(e[p+12+36:])
	rs.protocol = ne.Uint32(e[p+12+36+4:])
	if rs.name == "" {
		return rs, nil
	}
	if atrLen > MaxATRSize {
		return readerState{}, &ProtocolError{op, fmt.Sprintf("ATR length %d for reader %q", atrLen, rs.name)}
	}
	if atrLen > 0 {
		rs.atr = append([]byte(nil), atr[:atrLen]...)
	}
	return rs, nil
}

func indexNUL(b []byte) int {
	for i, c := range b {
		if c == 0 {
			return i
		}
	}
	return -1
}

// putReaderName writes name into a MAX_READERNAME field, NUL padded.
func putReaderName(dst []byte, name string) {
	n := copy(dst[:MaxReaderName-1], name)
	clear(dst[n:MaxReaderName])
}

// Version is a protocol version of pcsc-lite's client/server protocol
// (PROTOCOL_VERSION_MAJOR, PROTOCOL_VERSION_MINOR in winscard_msg.h).
type Version struct {
	Major, Minor int32
}

func (v Version) String() string { return fmt.Sprintf("%d.%d", v.Major, v.Minor) }

func (v Version) less(w Version) bool {
	return v.Major < w.Major || v.Major == w.Major && v.Minor < w.Minor
}

// The protocol versions this client speaks.
var (
	// Version44 is spoken by pcsc-lite 1.8.24 to 2.2.x (Debian 12's 1.9.9).
	Version44 = Version{4, 4}
	// Version45 is spoken by pcsc-lite 2.3.0 to 2.4.x (Debian 13's
	// 2.3.3): it adds CMD_GET_READER_EVENTS.
	Version45 = Version{4, 5}
	// Version46 is spoken by pcsc-lite 2.5.0 on: a reader-state array of
	// variable length (CMD_GET_READERS_STATE_SIZE, _ARRAY).
	Version46 = Version{4, 6}

	// MinVersion and MaxVersion bound what this client speaks.
	MinVersion = Version44
	MaxVersion = Version46
)

func (v Version) supported() bool {
	return !v.less(MinVersion) && !MaxVersion.less(v)
}

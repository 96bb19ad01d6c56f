package scrm

import (
	"context"
	"strconv"
)

// Backend is one PC/SC implementation: the real resource manager
// (package scrm/pcsc) or in-process virtual readers (package scrm/virtual).
// It is deliberately small; everything above the raw exchange (APDU rules,
// transactions with locking, tracing, reset recovery) lives in this package
// and is written once for all backends.
//
// Errors returned by a backend wrap the [Code] values of this package
// (for example [ErrRemovedCard], [ErrResetCard], [ErrNoSmartcard]) so that
// callers can test them with errors.Is whatever the backend.
//
// A Backend must be safe for concurrent use. GetStatusChange must make the
// cancellation of ctx reach the blocking call (SCardCancel for PC/SC) and
// return only after the blocking call has returned: no goroutine may be left
// running on a live handle.
type Backend interface {
	// ListReaders returns the names of the attached readers. With no reader
	// attached it returns an empty list and an error wrapping
	// ErrNoReadersAvailable.
	ListReaders(ctx context.Context) ([]string, error)

	// GetStatusChange blocks until the state of at least one reader in states
	// differs from its Current state, then fills in Event and ATR of every
	// entry (see SCardGetStatusChange). It returns an error wrapping
	// ErrCancelled when ctx is done and ErrTimeout when ctx's deadline
	// passes. The pseudo-reader [PnPNotification] reports reader arrival and
	// removal.
	GetStatusChange(ctx context.Context, states []ReaderState) error

	// Connect connects to the card in reader.
	Connect(ctx context.Context, reader string, share ShareMode, proto Protocol) (Conn, error)

	// Release frees the backend. Blocked calls return ErrCancelled.
	Release() error
}

// Conn is one backend connection to a card (an SCARDHANDLE). A Conn is used
// by one goroutine at a time: the Card above it serialises access.
type Conn interface {
	// Transmit sends one APDU exactly as given and returns the card's answer
	// including SW1 SW2. cmd is at least 4 bytes long (the Card checks).
	// The returned slice belongs to the caller.
	Transmit(ctx context.Context, cmd []byte) ([]byte, error)
	// BeginTransaction waits until no other connection holds a transaction
	// on the card, then starts one.
	BeginTransaction(ctx context.Context) error
	// EndTransaction ends the transaction, doing d to the card.
	EndTransaction(d Disposition) error
	// Reconnect re-establishes the connection after a reset (or to change
	// the share mode), doing init to the card first.
	Reconnect(share ShareMode, proto Protocol, init Disposition) error
	// Status reports the reader name, card state, active protocol and ATR.
	Status() (ConnStatus, error)
	// Disconnect closes the connection, doing d to the card.
	Disconnect(d Disposition) error
}

// ConnStatus is what SCardStatus reports about a connection.
type ConnStatus struct {
	Reader   string
	State    CardState
	Protocol Protocol
	ATR      []byte
}

// ShareMode says whether other connections may use the card at the same
// time. The zero value is ShareShared, the default everywhere in cardmod.
type ShareMode int

const (
	// ShareShared lets other applications connect to the card too; they are
	// kept out only for the length of a transaction.
	ShareShared ShareMode = iota
	// ShareExclusive keeps every other connection out until Disconnect.
	ShareExclusive
	// ShareDirect connects to the reader without a card (for reader control).
	ShareDirect
)

func (m ShareMode) String() string {
	switch m {
	case ShareShared:
		return "shared"
	case ShareExclusive:
		return "exclusive"
	case ShareDirect:
		return "direct"
	}
	return "ShareMode(" + strconv.Itoa(int(m)) + ")"
}

// Protocol is a set of transmission protocols. The zero value, ProtocolAny,
// means T=0 or T=1, whichever the card and reader agree on.
type Protocol uint32

const (
	// ProtocolAny asks for T=0 or T=1.
	ProtocolAny Protocol = 0
	// ProtocolT0 is the character-oriented protocol T=0.
	ProtocolT0 Protocol = 0x1
	// ProtocolT1 is the block-oriented protocol T=1.
	ProtocolT1 Protocol = 0x2
)

func (p Protocol) String() string {
	switch p {
	case ProtocolAny:
		return "any"
	case ProtocolT0:
		return "T=0"
	case ProtocolT1:
		return "T=1"
	case ProtocolT0 | ProtocolT1:
		return "T=0|T=1"
	}
	return "Protocol(" + strconv.Itoa(int(p)) + ")"
}

// Disposition is what to do to the card when a transaction or a connection
// ends. The zero value, LeaveCard, leaves it as it is.
type Disposition int

const (
	// LeaveCard leaves the card as it is.
	LeaveCard Disposition = iota
	// ResetCard warm-resets the card: every connection loses its security
	// state and sees ErrResetCard once.
	ResetCard
	// UnpowerCard powers the card down (cold reset).
	UnpowerCard
	// EjectCard ejects the card where the reader can.
	EjectCard
)

func (d Disposition) String() string {
	switch d {
	case LeaveCard:
		return "leave"
	case ResetCard:
		return "reset"
	case UnpowerCard:
		return "unpower"
	case EjectCard:
		return "eject"
	}
	return "Disposition(" + strconv.Itoa(int(d)) + ")"
}

// CardState is the state of a card as SCardStatus reports it, normalised to
// the pcsc-lite bit flags.
type CardState uint32

// Card states (pcsc-lite SCARD_ABSENT ... SCARD_SPECIFIC).
const (
	CardStateUnknown    CardState = 0x0001
	CardStateAbsent     CardState = 0x0002
	CardStatePresent    CardState = 0x0004
	CardStateSwallowed  CardState = 0x0008
	CardStatePowered    CardState = 0x0010
	CardStateNegotiable CardState = 0x0020
	CardStateSpecific   CardState = 0x0040
)

// PnPNotification is the pseudo-reader name whose state changes when a reader
// is attached or detached.
const PnPNotification = `\\?PnP?\Notification`

// StateFlag is a reader state as SCardGetStatusChange reports it
// (SCARD_STATE_*). The high 16 bits of an event state count the card
// insertions and removals seen in the reader; see ReaderState.EventCount.
type StateFlag uint32

// Reader state flags.
const (
	StateUnaware     StateFlag = 0x0000
	StateIgnore      StateFlag = 0x0001
	StateChanged     StateFlag = 0x0002
	StateUnknown     StateFlag = 0x0004
	StateUnavailable StateFlag = 0x0008
	StateEmpty       StateFlag = 0x0010
	StatePresent     StateFlag = 0x0020
	StateATRMatch    StateFlag = 0x0040
	StateExclusive   StateFlag = 0x0080
	StateInUse       StateFlag = 0x0100
	StateMute        StateFlag = 0x0200
	StateUnpowered   StateFlag = 0x0400
)

// Has reports whether all bits of f are set in s.
func (s StateFlag) Has(f StateFlag) bool { return s&f == f }

// ReaderState is one entry of a status-change wait: the caller says what it
// believes (Current); the backend answers what is (Event, ATR).
type ReaderState struct {
	// Reader is the reader name, or PnPNotification.
	Reader string
	// Current is the state the caller believes the reader is in. StateUnaware
	// makes the wait return at once with the actual state. For
	// PnPNotification the state is the number of readers, in the high 16
	// bits: the wait returns when the number differs from Current's, so
	// StateUnaware stands for no readers (with none, the wait blocks until
	// one is attached), as in pcsc-lite.
	Current StateFlag
	// Event is the actual state, with StateChanged set when it differs from
	// Current. Its high 16 bits count insertions and removals.
	Event StateFlag
	// ATR is the card's answer to reset when a card is present.
	ATR []byte
}

// EventCount returns the reader's count of card insertions and removals,
// carried in the high 16 bits of Event. A change in the count between two
// waits reveals a removal and re-insertion that the caller did not see.
func (r *ReaderState) EventCount() int { return int(r.Event >> 16) }

// Update makes the observed state the believed one, for the next wait.
func (r *ReaderState) Update() { r.Current = r.Event &^ StateChanged }

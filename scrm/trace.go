package scrm

import "sync/atomic"

// Tracer sees every exchange with a card, after the fact. Secrets never
// reach it: the data of commands that carry PINs, keys or management-key
// cryptograms, and the answers that carry decrypted or agreed secrets, are
// replaced by zero bytes of the same length before TraceAPDU is called (see
// Redacts).
//
// TraceAPDU is called with the card's lock held, from the goroutine doing
// the exchange: it must be quick and must not call back into the Card. The
// event and its slices are valid only during the call.
type Tracer interface {
	TraceAPDU(e *TraceEvent)
}

// TracerFunc adapts a function to the Tracer interface.
type TracerFunc func(e *TraceEvent)

// TraceAPDU calls f(e).
func (f TracerFunc) TraceAPDU(e *TraceEvent) { f(e) }

// TraceEvent is one exchange as a Tracer sees it.
type TraceEvent struct {
	// Reader is the name of the reader the card is in.
	Reader string
	// Command is the APDU as sent, with secret data zeroed.
	Command []byte
	// Response is the answer including SW1 SW2, with secret data zeroed; nil
	// when Err is set.
	Response []byte
	// Err is the transport error, if the exchange failed.
	Err error
	// RedactedCommand and RedactedResponse say which side was redacted.
	RedactedCommand, RedactedResponse bool
}

// Stats counts the exchanges of one Card: APDUs sent (including chained
// parts and GET RESPONSE rounds) and bytes each way (including status words).
// Benchmarks report them per operation.
type Stats struct {
	APDUs         uint64
	BytesSent     uint64
	BytesReceived uint64
}

// Sub returns s - t, for measuring one stretch of work.
func (s Stats) Sub(t Stats) Stats {
	return Stats{APDUs: s.APDUs - t.APDUs, BytesSent: s.BytesSent - t.BytesSent, BytesReceived: s.BytesReceived - t.BytesReceived}
}

type statCounters struct {
	apdus, sent, received atomic.Uint64
}

func (c *statCounters) add(sent, received int) {
	c.apdus.Add(1)
	c.sent.Add(uint64(sent))
	c.received.Add(uint64(received))
}

func (c *statCounters) load() Stats {
	return Stats{APDUs: c.apdus.Load(), BytesSent: c.sent.Load(), BytesReceived: c.received.Load()}
}

// Redaction classes of a command.
type redaction uint8

const (
	redactCommand  redaction = 1 << iota // command data is secret
	redactResponse                       // response data is secret
)

// Instructions whose data or answers are secret.
const (
	insVerify              = 0x20
	insVerifyOdd           = 0x21
	insChangeReferenceData = 0x24
	insResetRetryCounter   = 0x2C
	insPerformSecurityOp   = 0x2A
	insGeneralAuthenticate = 0x87
	insGetResponse         = 0xC0
	insYubicoImportKey     = 0xFE
	insYubicoSetMgmtKey    = 0xFF
	pivMgmtKeyRef          = 0x9B
)

// Redacts reports what the tracer of a card is kept from seeing for a
// command with header h: whether its data (PIN, key, management-key
// cryptogram) and whether its answer (a decrypted or agreed secret, a
// management-key challenge) are replaced by zero bytes. The rules:
//
//   - VERIFY, CHANGE REFERENCE DATA, RESET RETRY COUNTER: command data;
//   - GENERAL AUTHENTICATE: the answer always (it carries RSA plaintext or
//     ECDH secrets); the command data too for the PIV management key (9B);
//   - PERFORM SECURITY OPERATION decipher (P1P2 8086, 8084, 8080): the answer;
//   - the YubiKey IMPORT ASYMMETRIC KEY (FE) and SET MANAGEMENT KEY (FF):
//     command data;
//   - whatever ConnectOptions.Sensitive and the card's plug-in
//     (Card.AddRedaction) add, for a card's own key import, administrative
//     commands or secret data objects.
//
// GET RESPONSE rounds continuing a redacted answer are redacted too.
func Redacts(h Header) (command, response bool) {
	r := defaultRedaction(h)
	return r&redactCommand != 0, r&redactResponse != 0
}

func defaultRedaction(h Header) redaction {
	switch h.INS {
	case insVerify, insVerifyOdd, insChangeReferenceData, insResetRetryCounter,
		insYubicoImportKey, insYubicoSetMgmtKey:
		return redactCommand
	case insGeneralAuthenticate:
		if h.P2 == pivMgmtKeyRef {
			return redactCommand | redactResponse
		}
		return redactResponse
	case insPerformSecurityOp:
		if h.P1 == 0x80 {
			return redactResponse
		}
	}
	return 0
}

// redactedCommand returns apdu with its data field zeroed, keeping the header
// and length bytes so that the tracer still sees the shape of the command.
func redactedCommand(apdu []byte) []byte {
	out := append([]byte(nil), apdu...)
	c, err := ParseCommand(apdu)
	if err != nil || len(c.Data) == 0 {
		// Not parseable: hide everything after the header.
		if len(out) > 4 {
			clear(out[4:])
		}
		return out
	}
	start := len(apdu) - len(c.Data)
	if c.Ne > 0 {
		// Le follows the data: one byte short, two extended.
		if len(apdu) > 5+len(c.Data) && apdu[4] == 0 {
			start -= 2
		} else {
			start--
		}
	}
	clear(out[start : start+len(c.Data)])
	return out
}

// redactedResponse returns rsp with its data zeroed and the status word kept.
func redactedResponse(rsp []byte) []byte {
	out := append([]byte(nil), rsp...)
	if len(out) > 2 {
		clear(out[:len(out)-2])
	}
	return out
}

package main

import (
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/cardmod/cardmod/scrm"
)

// traceBackend prints every APDU exchanged through it (-trace). The
// providers open their connections themselves and take no tracer, so the
// trace is taken at the backend, below scrm's own redaction: the rules of
// scrm.Redacts are applied here, plus the ones the plug-ins add on their
// connections, made wider because the plug-in is not known at this level
// (redact rather than leak):
//
//   - PUT DATA (DB, DA): command data always (key import, admin keys and
//     the files the GIDS plug-in marks secret go this way);
//   - GET DATA (CB) of the GIDS DO files A011, A013 and A014 (user- or
//     admin-only files): the answer;
//   - a command chained after a redacted part (CLA bit 10) and GET RESPONSE
//     (C0) after a redacted answer stay redacted.
//
// Redacted bytes are never printed: only their count.
type traceBackend struct {
	scrm.Backend
	w  io.Writer
	mu *sync.Mutex
}

// Connect wraps the connection.
func (b *traceBackend) Connect(ctx context.Context, reader string, share scrm.ShareMode, proto scrm.Protocol) (scrm.Conn, error) {
	c, err := b.Backend.Connect(ctx, reader, share, proto)
	if err != nil {
		return nil, err
	}
	return &traceConn{Conn: c, b: b, reader: reader}, nil
}

type traceConn struct {
	scrm.Conn
	b      *traceBackend
	reader string
	// chainRedacted: the last command was a redacted part of a chain.
	chainRedacted bool
	// rspRedacted: the last answer was redacted and may continue (61xx).
	rspRedacted bool
}

// traceRedacts is the rule above for one command.
func traceRedacts(h scrm.Header) (command, response bool) {
	command, response = scrm.Redacts(h)
	switch h.INS {
	case 0xDB, 0xDA:
		command = true
	case 0xCB:
		fid := uint16(h.P1)<<8 | uint16(h.P2)
		if fid == 0xA011 || fid == 0xA013 || fid == 0xA014 {
			response = true
		}
	}
	return command, response
}

// Transmit sends the APDU and prints both sides.
func (c *traceConn) Transmit(ctx context.Context, cmd []byte) ([]byte, error) {
	var h scrm.Header
	if len(cmd) >= 4 {
		h = scrm.Header{CLA: cmd[0], INS: cmd[1], P1: cmd[2], P2: cmd[3]}
	}
	redCmd, redRsp := traceRedacts(h)
	if c.chainRedacted {
		redCmd = true
	}
	if h.INS == 0xC0 && c.rspRedacted {
		redRsp = true
	}
	cmdLine := formatCommand(cmd, redCmd)
	rsp, err := c.Conn.Transmit(ctx, cmd)
	c.chainRedacted = redCmd && h.CLA&0x10 != 0
	c.rspRedacted = false
	var rspLine string
	if err != nil {
		rspLine = "error: " + oneLine(err.Error())
	} else {
		rspLine = formatResponse(rsp, redRsp)
		if redRsp && len(rsp) >= 2 && rsp[len(rsp)-2] == 0x61 {
			c.rspRedacted = true
		}
	}
	c.b.mu.Lock()
	fmt.Fprintf(c.b.w, "apdu %s > %s\n", c.reader, cmdLine)
	fmt.Fprintf(c.b.w, "apdu %s < %s\n", c.reader, rspLine)
	c.b.mu.Unlock()
	return rsp, err
}

// formatCommand prints a command: header, then the rest, or for a redacted
// command the header and the length only. The command is parsed only for
// the data's place; a command that does not parse is printed by its header
// and length when redacted.
func formatCommand(apdu []byte, redact bool) string {
	if len(apdu) < 4 {
		return spaced(apdu)
	}
	head := spaced(apdu[:4])
	if len(apdu) == 4 {
		return head
	}
	if !redact {
		return head + " " + spaced(apdu[4:])
	}
	c, err := scrm.ParseCommand(apdu)
	if err != nil {
		return fmt.Sprintf("%s [%d bytes redacted]", head, len(apdu)-4)
	}
	if len(c.Data) == 0 {
		return head + " " + spaced(apdu[4:])
	}
	return fmt.Sprintf("%s [%d data bytes redacted] Le=%d", head, len(c.Data), c.Ne)
}

func formatResponse(rsp []byte, redact bool) string {
	if len(rsp) < 2 {
		return spaced(rsp)
	}
	sw := spaced(rsp[len(rsp)-2:])
	data := rsp[:len(rsp)-2]
	switch {
	case len(data) == 0:
		return sw
	case redact:
		return fmt.Sprintf("[%d bytes redacted] %s", len(data), sw)
	}
	return spaced(data) + " " + sw
}

func spaced(b []byte) string {
	s := strings.ToUpper(hex.EncodeToString(b))
	var out strings.Builder
	for i := 0; i < len(s); i += 2 {
		if i > 0 {
			out.WriteByte(' ')
		}
		out.WriteString(s[i : i+2])
	}
	return out.String()
}

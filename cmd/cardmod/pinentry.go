package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"

	"github.com/cardmod/cardmod/pincache"
)

// An Assuan client for pinentry (the protocol of GnuPG's pinentry programs:
// https://www.gnupg.org/documentation/manuals/assuan/, and pinentry's
// commands in pinentry/pinentry.c: SETDESC, SETPROMPT, SETTITLE, SETERROR,
// SETREPEAT, GETPIN, OPTION ttyname=, BYE).
//
// Lines are at most 1000 bytes (ASSUAN_LINELENGTH); data lines ("D ...") are
// percent-escaped (%25, %0D, %0A). Every line read is bounded, the number of
// lines of one answer too, and the buffer the PIN passes through is ours and
// wiped.

// Assuan limits.
const (
	assuanLineMax  = 1000 // bytes of one line, without the newline
	assuanMaxLines = 64   // lines of one answer (status, comments, data)
	maxPINLen      = pincache.DefaultMaxPINLen
)

// errPinentry is the error of a pinentry that misbehaves.
var errPinentry = errors.New("pinentry")

// gpgErrCanceled and gpgErrNotConfirmed are the GPG error codes (low 16 bits
// of an ERR line) of a cancelled dialogue (libgpg-error err-codes.h: 99
// GPG_ERR_CANCELED, 114 GPG_ERR_NOT_CONFIRMED).
const (
	gpgErrCanceled     = 99
	gpgErrNotConfirmed = 114
	gpgErrTimeout      = 62
)

// pinentry runs one pinentry program per question.
type pinentry struct {
	path string
	// ttyname and ttytype are passed with OPTION (the terminal a curses or
	// tty pinentry uses); empty for none.
	ttyname, ttytype string
}

// assuanConn is one conversation with a pinentry process.
type assuanConn struct {
	w   io.Writer
	r   io.Reader
	buf []byte // our read buffer: the PIN passes through it; wiped at close
	n   int    // bytes in buf
}

// readLine returns the next line (without the newline), valid until the
// next call. The line lives in c.buf.
func (c *assuanConn) readLine() ([]byte, error) {
	for {
		if i := indexByte(c.buf[:c.n], '\n'); i >= 0 {
			line := c.buf[:i]
			return line, nil
		}
		if c.n == len(c.buf) {
			return nil, fmt.Errorf("%w: line longer than %d bytes", errPinentry, assuanLineMax)
		}
		m, err := c.r.Read(c.buf[c.n:])
		c.n += m
		if m == 0 && err != nil {
			if errors.Is(err, io.EOF) {
				return nil, fmt.Errorf("%w: ended the conversation", errPinentry)
			}
			return nil, fmt.Errorf("%w: %v", errPinentry, err)
		}
	}
}

// consume drops the line readLine returned (and its newline), wiping it.
func (c *assuanConn) consume(lineLen int) {
	k := lineLen + 1
	copy(c.buf, c.buf[k:c.n])
	clear(c.buf[c.n-k : c.n])
	c.n -= k
}

func indexByte(b []byte, x byte) int {
	for i, v := range b {
		if v == x {
			return i
		}
	}
	return -1
}

// assuanError is an ERR answer.
type assuanError struct {
	code uint32
	text string
}

func (e *assuanError) Error() string {
	return fmt.Sprintf("pinentry: error %d (%s)", e.code, e.text)
}

// Is makes a cancelled or timed-out dialogue match pincache.ErrCancelled.
func (e *assuanError) Is(target error) bool {
	if target != pincache.ErrCancelled {
		return false
	}
	switch e.code & 0xFFFF {
	case gpgErrCanceled, gpgErrNotConfirmed, gpgErrTimeout:
		return true
	}
	return false
}

// answer reads lines up to OK or ERR. Data lines are decoded into data
// (at most maxData bytes; nil data refuses any).
func (c *assuanConn) answer(data *pincache.Secret, maxData int) (*pincache.Secret, error) {
	var got []byte
	defer clear(got)
	for range assuanMaxLines {
		line, err := c.readLine()
		if err != nil {
			return nil, err
		}
		n := len(line)
		switch {
		case string(line) == "OK" || hasPrefix(line, "OK "):
			c.consume(n)
			if got == nil {
				return nil, nil
			}
			return pincache.NewSecret(got), nil
		case hasPrefix(line, "ERR "):
			e := parseAssuanErr(string(line[4:]))
			c.consume(n)
			return nil, e
		case hasPrefix(line, "D "):
			if maxData == 0 {
				c.consume(n)
				return nil, fmt.Errorf("%w: unexpected data", errPinentry)
			}
			dec, derr := percentDecode(line[2:])
			if derr != nil || len(got)+len(dec) > maxData {
				c.consume(n)
				if derr != nil {
					return nil, fmt.Errorf("%w: %v", errPinentry, derr)
				}
				return nil, fmt.Errorf("%w: PIN longer than %d bytes", errPinentry, maxData)
			}
			grown := make([]byte, len(got)+len(dec))
			copy(grown, got)
			copy(grown[len(got):], dec)
			clear(got)
			got = grown
			c.consume(n)
		case string(line) == "S" || hasPrefix(line, "S ") || string(line) == "#" || hasPrefix(line, "# "):
			c.consume(n)
		case hasPrefix(line, "INQUIRE "):
			c.consume(n)
			if err := c.send("END"); err != nil {
				return nil, err
			}
		default:
			c.consume(n)
			return nil, fmt.Errorf("%w: unexpected answer", errPinentry)
		}
	}
	return nil, fmt.Errorf("%w: answer longer than %d lines", errPinentry, assuanMaxLines)
}

func hasPrefix(b []byte, p string) bool { return len(b) >= len(p) && string(b[:len(p)]) == p }

func parseAssuanErr(s string) error {
	code, text, _ := strings.Cut(s, " ")
	n, err := strconv.ParseUint(code, 10, 32)
	if err != nil {
		return fmt.Errorf("%w: malformed ERR line", errPinentry)
	}
	return &assuanError{code: uint32(n), text: sanitize(text, 80)}
}

// percentDecode decodes an Assuan data line in place (its bytes are in
// the connection's buffer) and returns the decoded part.
func percentDecode(b []byte) ([]byte, error) {
	out := b[:0]
	for i := 0; i < len(b); i++ {
		if b[i] != '%' {
			out = append(out, b[i])
			continue
		}
		if i+2 >= len(b) {
			return nil, errors.New("truncated %-escape")
		}
		v, ok := unhex(b[i+1], b[i+2])
		if !ok {
			return nil, errors.New("bad %-escape")
		}
		out = append(out, v)
		i += 2
	}
	return out, nil
}

func unhex(a, b byte) (byte, bool) {
	h := func(c byte) (byte, bool) {
		switch {
		case c >= '0' && c <= '9':
			return c - '0', true
		case c >= 'a' && c <= 'f':
			return c - 'a' + 10, true
		case c >= 'A' && c <= 'F':
			return c - 'A' + 10, true
		}
		return 0, false
	}
	x, ok1 := h(a)
	y, ok2 := h(b)
	return x<<4 | y, ok1 && ok2
}

// percentEscape escapes text for a command argument: %, CR, LF and other
// control characters.
func percentEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '%' || c < 0x20 || c == 0x7F {
			fmt.Fprintf(&b, "%%%02X", c)
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// send writes one command line.
func (c *assuanConn) send(line string) error {
	if len(line) > assuanLineMax {
		line = line[:assuanLineMax]
	}
	if _, err := io.WriteString(c.w, line+"\n"); err != nil {
		return fmt.Errorf("%w: %v", errPinentry, err)
	}
	return nil
}

// command sends line and reads the answer, which carries no data.
func (c *assuanConn) command(line string) error {
	if err := c.send(line); err != nil {
		return err
	}
	_, err := c.answer(nil, 0)
	return err
}

// question is one pinentry dialogue.
type question struct {
	title, desc, prompt string
	errText             string // shown as the error of a previous try
	repeat              string // non-empty: ask twice, this is the second prompt
}

// ask runs the pinentry program for q and returns the PIN typed.
func (p *pinentry) ask(ctx context.Context, q question) (*pincache.Secret, error) {
	cmd := exec.CommandContext(ctx, p.path)
	cmd.Stderr = nil
	cmd.Env = os.Environ()
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("pinentry: %w", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("pinentry: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting pinentry %s: %w", p.path, err)
	}
	c := &assuanConn{w: stdin, r: stdout, buf: make([]byte, assuanLineMax+2)}
	s, err := c.dialogue(p, q)
	clear(c.buf)
	if err == nil {
		_ = c.send("BYE")
	}
	_ = stdin.Close()
	// Drain whatever follows so the process can exit, then reap it.
	_, _ = io.Copy(io.Discard, io.LimitReader(stdout, 1<<16))
	werr := cmd.Wait()
	if err != nil {
		s.Wipe()
		if ctx.Err() != nil {
			return nil, fmt.Errorf("pinentry: %w: %w", pincache.ErrCancelled, ctx.Err())
		}
		return nil, err
	}
	_ = werr // the PIN was given; how the process ended afterwards does not matter
	return s, nil
}

func (c *assuanConn) dialogue(p *pinentry, q question) (*pincache.Secret, error) {
	if _, err := c.answer(nil, 0); err != nil { // the greeting
		return nil, err
	}
	// A pinentry that does not know an option says ERR; that is not fatal
	// (gpg-agent ignores it too).
	var ae *assuanError
	if p.ttyname != "" {
		if err := c.command("OPTION ttyname=" + percentEscape(p.ttyname)); err != nil && !errors.As(err, &ae) {
			return nil, err
		}
	}
	if p.ttytype != "" {
		if err := c.command("OPTION ttytype=" + percentEscape(p.ttytype)); err != nil && !errors.As(err, &ae) {
			return nil, err
		}
	}
	cmds := []string{"SETTITLE " + percentEscape(orDefault(q.title, "cardmod")), "SETDESC " + percentEscape(q.desc), "SETPROMPT " + percentEscape(orDefault(q.prompt, "PIN:"))}
	if q.errText != "" {
		cmds = append(cmds, "SETERROR "+percentEscape(q.errText))
	}
	if q.repeat != "" {
		cmds = append(cmds, "SETREPEAT "+percentEscape(q.repeat), "SETREPEATERROR "+percentEscape("The two entries differ"))
	}
	for _, line := range cmds {
		if err := c.command(line); err != nil {
			return nil, err
		}
	}
	if err := c.send("GETPIN"); err != nil {
		return nil, err
	}
	s, err := c.answer(nil, maxPINLen)
	if err != nil {
		return nil, err
	}
	if s == nil || s.Len() == 0 {
		s.Wipe()
		return nil, fmt.Errorf("pinentry: %w (empty PIN)", pincache.ErrCancelled)
	}
	return s, nil
}

// sanitize keeps printable ASCII of s, at most n bytes, for messages built
// from what a program or card said.
func sanitize(s string, n int) string {
	var b strings.Builder
	for _, r := range s {
		if b.Len() >= n {
			b.WriteString("...")
			break
		}
		if r >= 0x20 && r < 0x7F {
			b.WriteRune(r)
		} else {
			b.WriteByte('?')
		}
	}
	return b.String()
}

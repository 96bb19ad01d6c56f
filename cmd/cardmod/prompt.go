package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"golang.org/x/term"

	"github.com/cardmod/cardmod/pincache"
)

// How PINs are asked for (never from an argument or the environment):
// -pin-stdin reads lines from standard input; -pinentry (or
// $CARDMOD_PINENTRY) runs a pinentry program; otherwise the terminal of
// standard input, with echo off. Without any of them a command that needs
// a PIN fails (exit code 4).
type promptMode int

const (
	promptStdin promptMode = iota + 1
	promptPinentry
	promptTerminal
)

// prompter asks for PINs; it implements pincache.Prompt. Questions are
// serialised.
type prompter struct {
	mode promptMode
	mu   sync.Mutex

	lines *bufio.Reader // promptStdin
	tty   *os.File      // promptTerminal
	out   io.Writer     // promptTerminal: where questions go
	pe    *pinentry     // promptPinentry
	// readPassword reads a line without echo (term.ReadPassword; tests
	// replace it).
	readPassword func(fd int) ([]byte, error)
}

// asker returns the session's prompter, or nil when there is no way to ask.
func (s *session) asker() *prompter {
	if s.prompter != nil {
		return s.prompter
	}
	p := newPrompter(s.g, s.io)
	s.prompter = p
	return p
}

// ttyOf returns the terminal file behind r, if r is one.
func ttyOf(r io.Reader) *os.File {
	f, ok := r.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return nil
	}
	return f
}

func newPrompter(g *globals, io *stdio) *prompter {
	switch {
	case g.pinStdin:
		return &prompter{mode: promptStdin, lines: bufio.NewReaderSize(io.in, maxPINLen+2)}
	case g.pinentry != "" || io.getenv("CARDMOD_PINENTRY") != "":
		path := orDefault(g.pinentry, io.getenv("CARDMOD_PINENTRY"))
		pe := &pinentry{path: path, ttyname: io.getenv("GPG_TTY"), ttytype: io.getenv("TERM")}
		if pe.ttyname == "" {
			if f := ttyOf(io.in); f != nil {
				if name, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", f.Fd())); err == nil {
					pe.ttyname = name
				}
			}
		}
		return &prompter{mode: promptPinentry, pe: pe}
	}
	if f := ttyOf(io.in); f != nil {
		return &prompter{mode: promptTerminal, tty: f, out: io.err, readPassword: term.ReadPassword}
	}
	return nil
}

// PIN implements pincache.Prompt. A retry is refused with stdin (the next
// line is most likely not a better PIN); pinentry and the terminal show the
// error and ask again.
func (p *prompter) PIN(ctx context.Context, r pincache.Request) (*pincache.Secret, error) {
	if p == nil {
		return nil, pincache.ErrSilent
	}
	q := question{desc: r.Question(), prompt: "PIN:"}
	if r.Retry {
		if p.mode == promptStdin {
			return nil, fmt.Errorf("cardmod: not retrying a PIN read from standard input: %w", pincache.ErrCancelled)
		}
		q.errText = "Wrong PIN"
		if r.AttemptsLeft >= 0 {
			q.errText = fmt.Sprintf("Wrong PIN (%d tries left)", r.AttemptsLeft)
		}
	}
	return p.ask(ctx, q)
}

// ask asks one question.
func (p *prompter) ask(ctx context.Context, q question) (*pincache.Secret, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	switch p.mode {
	case promptStdin:
		return p.readLine()
	case promptPinentry:
		return p.pe.ask(ctx, q)
	case promptTerminal:
		s, err := p.readTerminal(q.desc, q.errText)
		if err != nil || q.repeat == "" {
			return s, err
		}
		again, err := p.readTerminal(q.repeat, "")
		if err != nil {
			s.Wipe()
			return nil, err
		}
		defer again.Wipe()
		if !s.Equal(again) {
			s.Wipe()
			return nil, errors.New("the two entries differ")
		}
		return s, nil
	}
	return nil, pincache.ErrSilent
}

// readLine reads one line of standard input as a PIN.
func (p *prompter) readLine() (*pincache.Secret, error) {
	var line []byte
	for {
		frag, err := p.lines.ReadSlice('\n')
		if len(line)+len(frag) > maxPINLen+2 {
			clear(frag)
			clear(line)
			return nil, fmt.Errorf("a PIN line longer than %d bytes on standard input", maxPINLen)
		}
		line = append(line, frag...)
		clear(frag)
		if err == nil {
			break
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if errors.Is(err, io.EOF) && len(line) > 0 {
			break
		}
		clear(line)
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("no PIN on standard input: %w", pincache.ErrCancelled)
		}
		return nil, fmt.Errorf("reading the PIN from standard input: %w", err)
	}
	n := len(line)
	for n > 0 && (line[n-1] == '\n' || line[n-1] == '\r') {
		n--
	}
	defer clear(line)
	if n == 0 {
		return nil, fmt.Errorf("empty PIN line on standard input: %w", pincache.ErrCancelled)
	}
	return pincache.NewSecret(line[:n]), nil
}

// readTerminal shows text and reads a line without echo.
func (p *prompter) readTerminal(text, errText string) (*pincache.Secret, error) {
	if errText != "" {
		fmt.Fprintf(p.out, "%s. ", errText)
	}
	fmt.Fprint(p.out, text)
	line, err := p.readPassword(int(p.tty.Fd()))
	fmt.Fprintln(p.out)
	defer clear(line)
	if err != nil {
		return nil, fmt.Errorf("reading the PIN from the terminal: %w", err)
	}
	if len(line) == 0 {
		return nil, fmt.Errorf("empty PIN: %w", pincache.ErrCancelled)
	}
	if len(line) > maxPINLen {
		return nil, fmt.Errorf("a PIN longer than %d bytes", maxPINLen)
	}
	return pincache.NewSecret(line), nil
}

// askNew asks for a new value of a PIN (twice on a terminal or pinentry).
func (p *prompter) askNew(ctx context.Context, what string) (*pincache.Secret, error) {
	if p == nil {
		return nil, pincache.ErrSilent
	}
	return p.ask(ctx, question{desc: "New " + what + ": ", prompt: "New " + what + ":", repeat: "Repeat the new " + what + ": "})
}

// askOld asks for the present value of a PIN.
func (p *prompter) askOld(ctx context.Context, what string) (*pincache.Secret, error) {
	if p == nil {
		return nil, pincache.ErrSilent
	}
	return p.ask(ctx, question{desc: what + ": ", prompt: what + ":"})
}

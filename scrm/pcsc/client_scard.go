//go:build windows || (cgo && (darwin || cardmod_scard))

package pcsc

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"time"

	"github.com/ebfe/scard"

	"github.com/cardmod/cardmod/scrm"
)

// cancelRetry is how often SCardCancel is repeated until a cancelled wait
// returns (pcsc-lite drops an SCardCancel that arrives before the wait
// blocks).
const cancelRetry = 10 * time.Millisecond

// scardClient is github.com/ebfe/scard: WinSCard, the PCSC framework, or
// libpcsclite through cgo.
type scardClient struct{}

func (scardClient) establish(ctx context.Context) (clientContext, error) {
	c, err := scard.EstablishContext()
	if err != nil {
		return nil, scardErr(err)
	}
	return scardContext{c}, nil
}

// scardErr converts a scard.Error to the scrm.Code of the same meaning;
// other errors pass through.
func scardErr(err error) error {
	var se scard.Error
	if errors.As(err, &se) {
		return codeFor(runtime.GOOS, uint32(se))
	}
	return err
}

type scardContext struct{ c *scard.Context }

func (s scardContext) listReaders() ([]string, error) {
	names, err := s.c.ListReaders()
	return names, scardErr(err)
}

func (s scardContext) getStatusChange(ctx context.Context, states []scrm.ReaderState, timeout time.Duration) error {
	rs := make([]scard.ReaderState, len(states))
	for i := range states {
		// No ATR in: ebfe/scard would panic on one longer than 33 bytes.
		rs[i] = scard.ReaderState{Reader: states[i].Reader, CurrentState: scard.StateFlag(states[i].Current)}
	}
	if timeout < 0 {
		timeout = -1 // INFINITE
	}
	err := waitCancellable(ctx, s.c, func() error { return s.c.GetStatusChange(rs, timeout) })
	if err != nil {
		return scardErr(err)
	}
	for i := range states {
		states[i].Event = scrm.StateFlag(rs[i].EventState)
		states[i].ATR = append([]byte(nil), rs[i].Atr...)
	}
	return nil
}

// waitCancellable runs call (a blocking call on sc) on the calling goroutine
// and, once ctx is done, calls SCardCancel on sc until call returns. It
// returns call's result after the canceller has stopped, so sc is idle when
// it returns.
func waitCancellable(ctx context.Context, sc *scard.Context, call func() error) error {
	returned := make(chan struct{})
	cancellerDone := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		defer close(cancellerDone)
		t := time.NewTicker(cancelRetry)
		defer t.Stop()
		for {
			_ = sc.Cancel()
			select {
			case <-returned:
				return
			case <-t.C:
			}
		}
	})
	err := call()
	close(returned)
	if !stop() {
		// The canceller started: wait until it has let go of sc.
		<-cancellerDone
	}
	return err
}

func (s scardContext) connect(reader string, share, proto uint32) (clientCard, error) {
	card, err := s.c.Connect(reader, scard.ShareMode(share), scard.Protocol(proto))
	if err != nil {
		return nil, scardErr(err)
	}
	return &scardCard{sc: s.c, card: card}, nil
}

func (s scardContext) release() error { return scardErr(s.c.Release()) }

// scardCard is a connection with its own scard.Context.
type scardCard struct {
	sc   *scard.Context
	card *scard.Card
}

func (s *scardCard) activeProtocol() uint32 { return uint32(s.card.ActiveProtocol()) }

func (s *scardCard) transmit(ctx context.Context, cmd []byte) ([]byte, error) {
	switch s.card.ActiveProtocol() {
	case scard.ProtocolT0, scard.ProtocolT1:
	default:
		// ebfe/scard panics on any other protocol.
		return nil, fmt.Errorf("ebfe/scard transmits with T=0 and T=1 only: %w", scrm.ErrProtoMismatch)
	}
	rsp, err := s.card.Transmit(cmd)
	return rsp, scardErr(err)
}

func (s *scardCard) beginTransaction(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() { _ = s.sc.Cancel() })
	err := s.card.BeginTransaction()
	stop()
	return scardErr(err)
}

func (s *scardCard) endTransaction(d uint32) error {
	return scardErr(s.card.EndTransaction(scard.Disposition(d)))
}

func (s *scardCard) reconnect(share, proto, init uint32) error {
	return scardErr(s.card.Reconnect(scard.ShareMode(share), scard.Protocol(proto), scard.Disposition(init)))
}

func (s *scardCard) status() (st scrm.ConnStatus, err error) {
	defer func() {
		// ebfe/scard indexes the reader list it decodes; an empty one from
		// a misbehaving resource manager must not crash the program.
		if r := recover(); r != nil {
			st, err = scrm.ConnStatus{}, fmt.Errorf("malformed answer from the resource manager: %w", scrm.ErrInternal)
		}
	}()
	cs, err := s.card.Status()
	if err != nil {
		return st, scardErr(err)
	}
	return scrm.ConnStatus{
		Reader:   cs.Reader,
		State:    cardStateFor(runtime.GOOS, uint32(cs.State)),
		Protocol: scrm.Protocol(cs.ActiveProtocol),
		ATR:      append([]byte(nil), cs.Atr...),
	}, nil
}

func (s *scardCard) control(code uint32, in []byte) ([]byte, error) {
	out, err := s.card.Control(code, in)
	return out, scardErr(err)
}

func (s *scardCard) getAttrib(id uint32) ([]byte, error) {
	v, err := s.card.GetAttrib(scard.Attrib(id))
	return v, scardErr(err)
}

func (s *scardCard) setAttrib(id uint32, v []byte) error {
	return scardErr(s.card.SetAttrib(scard.Attrib(id), v))
}

func (s *scardCard) disconnect(d uint32) error {
	return scardErr(s.card.Disconnect(scard.Disposition(d)))
}

func (s *scardCard) release() error { return scardErr(s.sc.Release()) }

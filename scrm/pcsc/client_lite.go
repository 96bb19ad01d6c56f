package pcsc

import (
	"context"
	"time"

	"github.com/cardmod/cardmod/scrm"
	"github.com/cardmod/cardmod/scrm/pcsc/internal/pcsclite"
)

// liteClient speaks pcsc-lite's protocol in Go (package pcsclite): no cgo,
// no libpcsclite.
type liteClient struct {
	cfg pcsclite.Config
}

func (l liteClient) establish(ctx context.Context) (clientContext, error) {
	c, err := pcsclite.Establish(ctx, l.cfg)
	if err != nil {
		return nil, err
	}
	return liteContext{c}, nil
}

type liteContext struct{ c *pcsclite.Context }

func (l liteContext) listReaders() ([]string, error) { return l.c.ListReaders() }

func (l liteContext) getStatusChange(ctx context.Context, rs []scrm.ReaderState, timeout time.Duration) error {
	return l.c.GetStatusChange(ctx, rs, timeout)
}

func (l liteContext) connect(reader string, share, proto uint32) (clientCard, error) {
	k, err := l.c.Connect(reader, share, proto)
	if err != nil {
		return nil, err
	}
	return &liteCard{c: l.c, k: k}, nil
}

func (l liteContext) release() error { return l.c.Release() }

// liteCard is a connection with its own pcsclite.Context, released with
// the card.
type liteCard struct {
	c *pcsclite.Context
	k *pcsclite.Card
}

func (l *liteCard) activeProtocol() uint32 { return l.k.ActiveProtocol() }

func (l *liteCard) transmit(ctx context.Context, cmd []byte) ([]byte, error) {
	return l.k.Transmit(ctx, cmd)
}

func (l *liteCard) beginTransaction(ctx context.Context) error { return l.k.BeginTransaction(ctx) }

func (l *liteCard) endTransaction(d uint32) error { return l.k.EndTransaction(d) }

func (l *liteCard) reconnect(share, proto, init uint32) error {
	return l.k.Reconnect(context.Background(), share, proto, init)
}

func (l *liteCard) status() (scrm.ConnStatus, error) {
	st, err := l.k.Status(context.Background())
	if err != nil {
		return scrm.ConnStatus{}, err
	}
	return scrm.ConnStatus{
		Reader:   st.Reader,
		State:    cardStateFor("linux", st.State),
		Protocol: scrm.Protocol(st.Protocol),
		ATR:      append([]byte(nil), st.ATR...),
	}, nil
}

func (l *liteCard) control(code uint32, in []byte) ([]byte, error) { return l.k.Control(code, in) }

func (l *liteCard) getAttrib(id uint32) ([]byte, error) { return l.k.GetAttrib(id) }

func (l *liteCard) setAttrib(id uint32, v []byte) error { return l.k.SetAttrib(id, v) }

func (l *liteCard) disconnect(d uint32) error { return l.k.Disconnect(d) }

func (l *liteCard) release() error { return l.c.Release() }

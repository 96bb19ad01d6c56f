package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/scrm"
)

// The tries left of a card's PIN and PUK. The minidriver contract has no
// property for them (PIN_INFO carries none), so they are asked here, on a
// shared connection of our own, in one transaction, with commands that
// spend no try:
//
//   - PIV: Yubico GET METADATA (00 F7 00 80 and 00 F7 00 81, firmware 5.3;
//     tag 06 = total, remaining; Yubico's "Get metadata" APDU reference and
//     yubico-piv-tool's ykpiv_get_pin_retries); where it is missing, the
//     empty VERIFY of the PIN (SP 800-73-4 part 2, 3.2.1: 63CX with X the
//     tries left, 9000 when already verified); the PUK of such a card is
//     not told.
//   - GIDS: the empty VERIFY of the user PIN (ISO 7816-4 11.5.6, GIDS v2.0
//     9.2.1); GIDS has no PUK (the admin key unblocks).

// tries is what a card says of one PIN's tries.
type tries struct {
	Left     int  `json:"left"`               // -1 when unknown
	Max      int  `json:"max,omitempty"`      // 0 when unknown
	Verified bool `json:"verified,omitempty"` // the card said 9000 to an empty VERIFY
	Blocked  bool `json:"blocked,omitempty"`
}

func (t *tries) String() string {
	if t == nil {
		return "unknown"
	}
	switch {
	case t.Blocked:
		return "blocked"
	case t.Left < 0 && t.Verified:
		return "verified (tries not told)"
	case t.Left < 0:
		return "unknown"
	case t.Max > 0:
		return fmt.Sprintf("%d of %d tries left", t.Left, t.Max)
	}
	return fmt.Sprintf("%d tries left", t.Left)
}

var (
	pivAID  = []byte{0xA0, 0x00, 0x00, 0x03, 0x08}                         // SP 800-73-4 part 1, 2.2 (RID and PIX prefix)
	gidsAID = []byte{0xA0, 0x00, 0x00, 0x03, 0x97, 0x42, 0x54, 0x46, 0x59} // GIDS v2.0, 3.1
)

// pinTries returns the tries of the PIN and PUK (nil when the card has no
// PUK or does not tell) of the card in reader, whose plug-in is plugin.
func pinTries(ctx context.Context, b scrm.Backend, reader, plugin string) (pin, puk *tries, err error) {
	sc := scrm.NewContext(b) // not released: the backend belongs to the session
	card, err := sc.Connect(ctx, reader, nil)
	if err != nil {
		return nil, nil, err
	}
	defer func() { _ = card.Close(scrm.LeaveCard) }()
	tx, err := card.Begin(ctx)
	if err != nil {
		return nil, nil, err
	}
	defer func() { _ = tx.End(scrm.LeaveCard) }()
	switch plugin {
	case "PIV":
		if _, err := tx.Do(ctx, scrm.Command{INS: 0xA4, P1: 0x04, Data: pivAID, Ne: scrm.MaxShortNe}); err != nil {
			return nil, nil, fmt.Errorf("selecting the PIV application: %w", err)
		}
		pin, err = pivMetadataTries(ctx, tx, 0x80)
		if err != nil {
			pin, err = emptyVerify(ctx, tx, 0x80)
			return pin, nil, err
		}
		puk, _ = pivMetadataTries(ctx, tx, 0x81)
		return pin, puk, nil
	case "GIDS":
		if _, err := tx.Do(ctx, scrm.Command{INS: 0xA4, P1: 0x04, Data: gidsAID, Ne: scrm.MaxShortNe}); err != nil {
			return nil, nil, fmt.Errorf("selecting the GIDS application: %w", err)
		}
		pin, err = emptyVerify(ctx, tx, 0x80)
		return pin, nil, err
	}
	return nil, nil, fmt.Errorf("tries of a %s card: %w", plugin, minidriver.ErrUnsupported)
}

// pivMetadataTries reads tag 06 of GET METADATA for ref.
func pivMetadataTries(ctx context.Context, tx *scrm.Tx, ref byte) (*tries, error) {
	rsp, err := tx.Do(ctx, scrm.Command{INS: 0xF7, P2: ref, Ne: scrm.MaxShortNe})
	if err != nil {
		return nil, err
	}
	return parseMetadataTries(rsp.Data)
}

// parseMetadataTries finds tag 06 (total, remaining) in a GET METADATA
// answer: simple one-byte tags and lengths, as the YubiKey sends them.
func parseMetadataTries(b []byte) (*tries, error) {
	for len(b) >= 2 {
		tag, n := b[0], int(b[1])
		if n > 0x7F || len(b) < 2+n {
			break
		}
		if tag == 0x06 && n == 2 {
			t := &tries{Max: int(b[2]), Left: int(b[3])}
			t.Blocked = t.Left == 0
			return t, nil
		}
		b = b[2+n:]
	}
	return nil, fmt.Errorf("GET METADATA: no retries: %w", scrm.ErrMalformedResponse)
}

// emptyVerify asks the tries with a VERIFY without data.
func emptyVerify(ctx context.Context, tx *scrm.Tx, ref byte) (*tries, error) {
	_, err := tx.Do(ctx, scrm.Command{INS: 0x20, P2: ref})
	if err == nil {
		return &tries{Left: -1, Verified: true}, nil
	}
	var se *scrm.StatusError
	if errors.As(err, &se) {
		if n, ok := se.RetriesLeft(); ok {
			return &tries{Left: n, Blocked: n == 0}, nil
		}
	}
	return nil, fmt.Errorf("asking the PIN tries: %w", err)
}

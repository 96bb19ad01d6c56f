package scrm

import (
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// MaxATRLen is the longest answer to reset ISO/IEC 7816-3 allows: TS and at
// most 32 further bytes. ParseATR rejects anything longer.
const MaxATRLen = 33

// MaxATRMaskLen is the longest ATR an [ATRMask] can describe, the size of the
// rgbAtr and rgbMask arrays of the Windows SCARD_ATRMASK structure.
const MaxATRMaskLen = 36

// Initial characters TS of an answer to reset.
const (
	// TSDirect is TS for the direct convention.
	TSDirect byte = 0x3B
	// TSInverse is TS for the inverse convention, as PC/SC readers report it
	// (the reader has already decoded the bytes that follow).
	TSInverse byte = 0x3F
)

// ATRError reports an answer to reset that ParseATR cannot decode. It wraps
// [ErrInvalidATR], so
//
//	errors.Is(err, scrm.ErrInvalidATR)
//
// holds for every error ParseATR returns.
type ATRError struct {
	// Reason says what is wrong, for example "historical bytes truncated".
	Reason string
	// Offset is the index of the byte where the problem was found, or -1
	// when the problem concerns the ATR as a whole.
	Offset int
}

// Error implements error.
func (e *ATRError) Error() string {
	if e.Offset >= 0 {
		return fmt.Sprintf("scrm: invalid ATR: %s (at byte %d)", e.Reason, e.Offset)
	}
	return "scrm: invalid ATR: " + e.Reason
}

// Unwrap returns [ErrInvalidATR].
func (e *ATRError) Unwrap() error { return ErrInvalidATR }

// InterfaceGroup is one group of interface bytes TA_i, TB_i, TC_i, TD_i of an
// answer to reset. Which of them are present is said by the high nibble of
// T0 for group 1 and by the high nibble of TD_(i-1) for group i > 1.
type InterfaceGroup struct {
	// TA, TB, TC and TD are the interface bytes; a byte that is absent is 0.
	TA, TB, TC, TD byte
	// HasTA, HasTB, HasTC and HasTD say which of the bytes are present.
	HasTA, HasTB, HasTC, HasTD bool
}

// Protocol returns the protocol type T that TD indicates (its low nibble).
// ok is false when the group has no TD. T=15 is not a transmission protocol:
// it announces global interface bytes.
func (g InterfaceGroup) Protocol() (t int, ok bool) {
	if !g.HasTD {
		return 0, false
	}
	return int(g.TD & 0x0F), true
}

// ATR is a decoded answer to reset (ISO/IEC 7816-3 §8.2). ParseATR fills it
// in; its slices are its own copies, never views of the caller's buffer.
// An ATR is not modified by its methods, so one value may be read by several
// goroutines at once.
type ATR struct {
	// Raw is the answer to reset exactly as received.
	Raw []byte
	// TS is the initial character: TSDirect or TSInverse.
	TS byte
	// T0 is the format byte: presence of TA1..TD1 in the high nibble, the
	// number K of historical bytes in the low nibble.
	T0 byte
	// Interface holds the interface byte groups in order: Interface[0] is
	// TA1..TD1, Interface[1] is TA2..TD2, and so on. Groups with no byte at
	// all are not listed.
	Interface []InterfaceGroup
	// Historical holds the K historical bytes (ISO/IEC 7816-4 §8.1.1).
	Historical []byte
	// TCK is the check byte and HasTCK says whether it is present. ISO/IEC
	// 7816-3 requires it whenever a protocol other than T=0 is indicated
	// (see NeedsTCK); ParseATR, like pcscd, also accepts an ATR that ends
	// before it. TCK is read only when NeedsTCK is true: after a T=0-only
	// ATR every further byte goes to Trailing.
	TCK    byte
	HasTCK bool
	// TCKValid reports whether the exclusive-or of T0 through TCK is zero.
	// It is false when TCK is absent. A wrong TCK does not make ParseATR
	// fail, because pcscd does not insist on it either; the caller decides.
	TCKValid bool
	// Trailing holds bytes that follow the end of the structure (after TCK,
	// or after the historical bytes when there is no TCK). ISO/IEC 7816-3
	// allows none, but pcscd passes them on (for example the last byte of
	// 3B 80 80 01 01 01), so ParseATR keeps them rather than failing.
	Trailing []byte
}

// ParseATR decodes an answer to reset. It checks the structure (TS, T0, the
// interface byte groups, the K historical bytes) against the length of b and
// never reads outside b. It returns an *[ATRError], which wraps
// [ErrInvalidATR], when b is empty, longer than [MaxATRLen], starts with a TS
// other than 3B or 3F, or is too short for the bytes its format bytes
// announce. A missing or wrong TCK is not an error: see HasTCK and TCKValid.
//
// Some cards in the field send fewer historical bytes than T0 announces
// (about 20 of the 3800 ATRs in pcsc-tools' smartcard_list.txt); ParseATR
// rejects those. Identify cards by matching the raw bytes with [ATRMask],
// which needs no parse, and use ParseATR for what the structure says
// (protocols, capabilities).
func ParseATR(b []byte) (*ATR, error) {
	switch {
	case len(b) == 0:
		return nil, &ATRError{Reason: "empty", Offset: -1}
	case len(b) > MaxATRLen:
		return nil, &ATRError{Reason: fmt.Sprintf("%d bytes long, at most %d allowed", len(b), MaxATRLen), Offset: -1}
	case b[0] != TSDirect && b[0] != TSInverse:
		return nil, &ATRError{Reason: fmt.Sprintf("initial character TS %02X is neither 3B nor 3F", b[0]), Offset: 0}
	case len(b) < 2:
		return nil, &ATRError{Reason: "format byte T0 missing", Offset: 1}
	}
	a := &ATR{Raw: slices.Clone(b), TS: b[0], T0: b[1]}
	i := 2
	// y is the presence nibble of the next group: bit 0 TA, 1 TB, 2 TC,
	// 3 TD. Every group with y != 0 consumes at least one byte, so the loop
	// ends after at most len(b) rounds.
	y := b[1] >> 4
	for n := 1; y != 0; n++ {
		var g InterfaceGroup
		for bit, name := range [4]string{"TA", "TB", "TC", "TD"} {
			if y&(1<<bit) == 0 {
				continue
			}
			if i >= len(b) {
				return nil, &ATRError{Reason: fmt.Sprintf("interface byte %s%d missing", name, n), Offset: i}
			}
			c := b[i]
			i++
			switch bit {
			case 0:
				g.TA, g.HasTA = c, true
			case 1:
				g.TB, g.HasTB = c, true
			case 2:
				g.TC, g.HasTC = c, true
			case 3:
				g.TD, g.HasTD = c, true
			}
		}
		a.Interface = append(a.Interface, g)
		y = 0
		if g.HasTD {
			y = g.TD >> 4
		}
	}
	k := int(b[1] & 0x0F)
	if k > len(b)-i {
		return nil, &ATRError{Reason: fmt.Sprintf("historical bytes truncated: T0 announces %d, %d left", k, len(b)-i), Offset: i}
	}
	a.Historical = slices.Clone(b[i : i+k])
	i += k
	if a.NeedsTCK() && i < len(b) {
		a.TCK, a.HasTCK = b[i], true
		var x byte
		for _, c := range b[1 : i+1] {
			x ^= c
		}
		a.TCKValid = x == 0
		i++
	}
	if i < len(b) {
		a.Trailing = slices.Clone(b[i:])
	}
	return a, nil
}

// Bytes encodes the ATR from its fields: TS, T0, the interface bytes that
// are present, the historical bytes, TCK when present and the trailing
// bytes. For an ATR from ParseATR it equals Raw.
func (a *ATR) Bytes() []byte {
	if a == nil {
		return nil
	}
	out := make([]byte, 0, 2+4*len(a.Interface)+len(a.Historical)+1+len(a.Trailing))
	out = append(out, a.TS, a.T0)
	for _, g := range a.Interface {
		if g.HasTA {
			out = append(out, g.TA)
		}
		if g.HasTB {
			out = append(out, g.TB)
		}
		if g.HasTC {
			out = append(out, g.TC)
		}
		if g.HasTD {
			out = append(out, g.TD)
		}
	}
	out = append(out, a.Historical...)
	if a.HasTCK {
		out = append(out, a.TCK)
	}
	return append(out, a.Trailing...)
}

// String returns the raw ATR in upper-case hex with a space between bytes,
// the way pcsc-tools and the Windows card database print it, for example
// "3B 02 14 50".
func (a *ATR) String() string {
	if a == nil {
		return "<nil>"
	}
	return atrHex(a.Raw)
}

// InverseConvention reports whether TS announces the inverse convention.
func (a *ATR) InverseConvention() bool { return a != nil && a.TS == TSInverse }

// NeedsTCK reports whether ISO/IEC 7816-3 requires a TCK: whether any TD
// indicates a protocol type other than T=0 (T=15 included).
func (a *ATR) NeedsTCK() bool {
	if a == nil {
		return false
	}
	for _, g := range a.Interface {
		if t, ok := g.Protocol(); ok && t != 0 {
			return true
		}
	}
	return false
}

// Protocols lists the protocol types T the card offers, in the order the TD
// bytes first indicate them and without repetition. T=15 (global interface
// bytes) is not a protocol and is left out. Without any TD indicating a
// protocol the card offers only T=0, and Protocols returns [0].
func (a *ATR) Protocols() []int {
	var ps []int
	if a != nil {
		for _, g := range a.Interface {
			if t, ok := g.Protocol(); ok && t != 15 && !slices.Contains(ps, t) {
				ps = append(ps, t)
			}
		}
	}
	if len(ps) == 0 {
		ps = []int{0}
	}
	return ps
}

// SupportedProtocols returns the offered protocols T=0 and T=1 as a
// [Protocol] set, ready for Connect. Other protocol types are left out; the
// result is 0 when the card offers neither.
func (a *ATR) SupportedProtocols() Protocol {
	var p Protocol
	for _, t := range a.Protocols() {
		switch t {
		case 0:
			p |= ProtocolT0
		case 1:
			p |= ProtocolT1
		}
	}
	return p
}

// Categories of the historical bytes (ISO/IEC 7816-4 §8.1.1, the first
// historical byte).
const (
	// HistCategoryStatusLast: COMPACT-TLV data objects, then a mandatory
	// status indicator in the last three bytes.
	HistCategoryStatusLast byte = 0x00
	// HistCategoryDIRReference: the next byte is a DIR data reference.
	HistCategoryDIRReference byte = 0x10
	// HistCategoryCompactTLV: COMPACT-TLV data objects, of which an optional
	// status indicator (tag 8) comes last.
	HistCategoryCompactTLV byte = 0x80
)

// Capabilities is what the card capabilities data object of the historical
// bytes (COMPACT-TLV tag 7, ISO/IEC 7816-4 §8.1.1.2.7) says. Fields that
// come from a software function table the object does not contain are zero.
type Capabilities struct {
	// Raw is the value of the object: the first, second and third software
	// function tables, one to three bytes.
	Raw []byte
	// SelectionMethods is the first software function table (DF selection
	// by full or partial name, by path, by file identifier, implicit; short
	// EF identifier, record number, record identifier).
	SelectionMethods byte
	// DataCoding is the second software function table, the data coding
	// byte (0 when absent).
	DataCoding byte
	// CommandChaining: the card supports command chaining (third table, bit
	// 8).
	CommandChaining bool
	// ExtendedLength: the card supports extended Lc and Le fields (third
	// table, bit 7).
	ExtendedLength bool
	// ExtendedLengthInfo: the card describes its extended length limits in
	// EF.ATR/INFO (third table, bit 6, ISO/IEC 7816-4:2013).
	ExtendedLengthInfo bool
	// ChannelsByCard and ChannelsByIFD: logical channel numbers can be
	// assigned by the card (MANAGE CHANNEL open) or by the interface device
	// (third table, bits 5 and 4). Both false: no logical channels.
	ChannelsByCard, ChannelsByIFD bool
	// LogicalChannels is the maximum number of logical channels, the basic
	// channel included; 8 means eight or more. It is 1 when the card
	// assigns no logical channel numbers at all and 0 when the third table
	// is absent (unknown).
	LogicalChannels int
}

// Capabilities finds the card capabilities object (COMPACT-TLV tag 7,
// length 1 to 3) in the historical bytes and decodes it. ok is false when
// the historical bytes do not use COMPACT-TLV (category other than 00 and
// 80), hold no such object, or are malformed (an object longer than the
// bytes left, a capabilities object of the wrong length).
func (a *ATR) Capabilities() (c Capabilities, ok bool) {
	if a == nil {
		return Capabilities{}, false
	}
	objs, ok := compactTLVObjects(a.Historical)
	if !ok {
		return Capabilities{}, false
	}
	for _, o := range objs {
		if o.tag != 7 {
			continue
		}
		v := o.value
		if len(v) < 1 || len(v) > 3 {
			return Capabilities{}, false
		}
		c.Raw = slices.Clone(v)
		c.SelectionMethods = v[0]
		if len(v) >= 2 {
			c.DataCoding = v[1]
		}
		if len(v) >= 3 {
			t := v[2]
			c.CommandChaining = t&0x80 != 0
			c.ExtendedLength = t&0x40 != 0
			c.ExtendedLengthInfo = t&0x20 != 0
			c.ChannelsByCard = t&0x10 != 0
			c.ChannelsByIFD = t&0x08 != 0
			c.LogicalChannels = 1
			if c.ChannelsByCard || c.ChannelsByIFD {
				c.LogicalChannels = int(t&0x07) + 1
			}
		}
		return c, true
	}
	return Capabilities{}, false
}

// compactTLV is one COMPACT-TLV data object of the historical bytes: a
// header byte with the tag in the high nibble and the length in the low.
type compactTLV struct {
	tag   byte
	value []byte
}

// compactTLVObjects splits historical bytes of category 00 or 80 into their
// COMPACT-TLV objects. For category 00 the last three bytes (the status
// indicator) are not part of the objects. ok is false for other categories
// and for malformed objects. At most 15 objects fit in 15 historical bytes;
// the loop consumes at least one byte per round.
func compactTLVObjects(h []byte) (objs []compactTLV, ok bool) {
	if len(h) == 0 {
		return nil, false
	}
	var body []byte
	switch h[0] {
	case HistCategoryCompactTLV:
		body = h[1:]
	case HistCategoryStatusLast:
		if len(h) < 4 {
			return nil, false
		}
		body = h[1 : len(h)-3]
	default:
		return nil, false
	}
	for len(body) > 0 {
		tag, n := body[0]>>4, int(body[0]&0x0F)
		if n > len(body)-1 {
			return nil, false
		}
		objs = append(objs, compactTLV{tag: tag, value: body[1 : 1+n]})
		body = body[1+n:]
	}
	return objs, true
}

// ATRMask is one entry of a card database: an ATR and a mask of the same
// length, as in the Windows Calais database (values ATR and ATRMask) and
// SCARD_ATRMASK. A card's ATR matches when it has the same length and agrees
// with ATR on every bit the mask sets.
type ATRMask struct {
	// ATR is the reference answer to reset.
	ATR []byte
	// Mask selects the bits that must agree; bits it clears are ignored.
	Mask []byte
}

// Valid reports whether m can match anything: ATR and Mask are non-empty,
// of the same length and no longer than [MaxATRMaskLen].
func (m ATRMask) Valid() bool {
	return len(m.ATR) > 0 && len(m.ATR) <= MaxATRMaskLen && len(m.Mask) == len(m.ATR)
}

// Match reports whether atr matches the entry the way SCardLocateCardsByATR
// does: len(atr) equals the entry's length and, for every i,
// atr[i]&Mask[i] == ATR[i]&Mask[i]. An invalid entry (see Valid) matches
// nothing.
func (m ATRMask) Match(atr []byte) bool {
	if !m.Valid() || len(atr) != len(m.ATR) {
		return false
	}
	for i, c := range atr {
		if c&m.Mask[i] != m.ATR[i]&m.Mask[i] {
			return false
		}
	}
	return true
}

// String returns "ATR/mask" in hex, for example
// "3B 02 14 50/FF FF FF 00".
func (m ATRMask) String() string {
	return atrHex(m.ATR) + "/" + atrHex(m.Mask)
}

// ParseATRMask builds an [ATRMask] from hex text such as "3B 02 14 50",
// "3b:02:14:50" or "3B021450" (spaces, tabs and colons between bytes are
// ignored). An empty maskHex means an exact match: a mask of FF bytes as long
// as the ATR. The error wraps [ErrInvalidParameter] when the text is not hex
// or the lengths are zero, different or above [MaxATRMaskLen].
func ParseATRMask(atrHex, maskHex string) (ATRMask, error) {
	atr, err := atrParseHex(atrHex)
	if err != nil {
		return ATRMask{}, fmt.Errorf("scrm: ATR mask: ATR: %v: %w", err, ErrInvalidParameter)
	}
	var mask []byte
	if strings.TrimSpace(maskHex) == "" {
		mask = make([]byte, len(atr))
		for i := range mask {
			mask[i] = 0xFF
		}
	} else if mask, err = atrParseHex(maskHex); err != nil {
		return ATRMask{}, fmt.Errorf("scrm: ATR mask: mask: %v: %w", err, ErrInvalidParameter)
	}
	switch {
	case len(atr) == 0:
		return ATRMask{}, fmt.Errorf("scrm: ATR mask: empty ATR: %w", ErrInvalidParameter)
	case len(atr) > MaxATRMaskLen:
		return ATRMask{}, fmt.Errorf("scrm: ATR mask: ATR of %d bytes, at most %d allowed: %w", len(atr), MaxATRMaskLen, ErrInvalidParameter)
	case len(mask) != len(atr):
		return ATRMask{}, fmt.Errorf("scrm: ATR mask: mask of %d bytes for an ATR of %d: %w", len(mask), len(atr), ErrInvalidParameter)
	}
	return ATRMask{ATR: atr, Mask: mask}, nil
}

// atrParseHex decodes hex text, ignoring spaces, tabs, newlines and colons.
// The text is bounded (at most four characters per byte of the longest
// mask) before any work is done.
func atrParseHex(s string) ([]byte, error) {
	if len(s) > 4*MaxATRMaskLen {
		return nil, fmt.Errorf("text of %d characters is too long", len(s))
	}
	clean := strings.Map(func(r rune) rune {
		switch r {
		case ' ', '\t', '\n', '\r', ':':
			return -1
		}
		return r
	}, s)
	if len(clean)%2 != 0 {
		return nil, errors.New("odd number of hex digits")
	}
	b, err := hex.DecodeString(clean)
	if err != nil {
		return nil, errors.New("not hex")
	}
	return b, nil
}

// atrHex formats b as upper-case hex bytes separated by spaces.
func atrHex(b []byte) string {
	var sb strings.Builder
	sb.Grow(3 * len(b))
	for i, c := range b {
		if i > 0 {
			sb.WriteByte(' ')
		}
		fmt.Fprintf(&sb, "%02X", c)
	}
	return sb.String()
}

// Package tlv is the BER-TLV codec of the simulated cards (packages
// cardsim/piv and cardsim/gids): the subset of BER that ISO/IEC 7816-4
// section 5.2 uses for interindustry data objects.
//
//   - A tag is one to three bytes. If the low five bits of the first byte
//     are all ones (xx1F), further bytes follow; each one with bit 8 set
//     announces one more. A tag is handled as the number its bytes form,
//     big-endian: 5F C1 05 is 0x5FC105.
//   - A length is definite: one byte 00 to 7F (short form), or 81, 82 or
//     83 followed by one to three bytes (long form). The indefinite form
//     80 and long forms of four or more bytes are rejected. Long forms
//     that a shorter one could express (81 05) are accepted, as both cards
//     have always accepted them; the encoders always write the shortest.
//
// Every input is untrusted. The parsers check each step against the bytes
// available, never read past them, never panic, and report malformed input
// with an error that wraps one of the Err values. A parsed Object aliases
// the input: its Value and Raw are sub-slices of it, not copies.
//
// # Concurrency
//
// The package has no state: every function is pure and safe for concurrent
// use. Parsed objects share memory with their input, so whoever modifies
// the input must not do so while others read the objects.
package tlv

import "errors"

// MaxTagBytes is the longest tag the codec handles, in bytes.
const MaxTagBytes = 3

// MaxLength is the largest value length a definite length of the supported
// forms (up to 83 xx xx xx) can express.
const MaxLength = 0xFFFFFF

// Errors the parsers return (wrapped or as they are; test with errors.Is).
var (
	// ErrTruncated reports input that ends inside a data object: in its
	// tag, its length or its value.
	ErrTruncated = errors.New("tlv: truncated data object")
	// ErrTagTooLong reports a tag of more than MaxTagBytes bytes.
	ErrTagTooLong = errors.New("tlv: tag longer than three bytes")
	// ErrLengthForm reports a length in the indefinite form (80) or in a
	// long form of more than three bytes (84 and above).
	ErrLengthForm = errors.New("tlv: unsupported length form")
	// ErrTrailingData reports bytes left after the one data object that
	// was expected.
	ErrTrailingData = errors.New("tlv: trailing bytes after the data object")
	// ErrUnexpectedTag reports a data object with another tag than the
	// expected one.
	ErrUnexpectedTag = errors.New("tlv: unexpected tag")
	// ErrTooManyObjects reports a sequence of more objects than allowed.
	ErrTooManyObjects = errors.New("tlv: too many data objects")
)

// Object is one parsed data object. Value and Raw alias the parsed input.
type Object struct {
	// Tag is the tag number: its one to three bytes, big-endian.
	Tag uint32
	// Value is the value field (empty, not nil, for a zero length).
	Value []byte
	// Raw is the whole encoding: tag, length and value.
	Raw []byte
}

// Parse reads one data object from the front of b and returns it with the
// bytes that follow it. On malformed input it returns an error (wrapping
// ErrTruncated, ErrTagTooLong or ErrLengthForm) and a zero Object.
func Parse(b []byte) (obj Object, rest []byte, err error) {
	tag, i, err := parseTag(b)
	if err != nil {
		return Object{}, nil, err
	}
	n, i, err := parseLength(b, i)
	if err != nil {
		return Object{}, nil, err
	}
	if n > len(b)-i {
		return Object{}, nil, ErrTruncated
	}
	end := i + n
	return Object{Tag: tag, Value: b[i:end:end], Raw: b[:end:end]}, b[end:], nil
}

// parseTag reads the tag at the front of b and returns its number and the
// index of the byte after it.
func parseTag(b []byte) (tag uint32, next int, err error) {
	if len(b) == 0 {
		return 0, 0, ErrTruncated
	}
	tag = uint32(b[0])
	i := 1
	if b[0]&0x1F != 0x1F {
		return tag, i, nil
	}
	for {
		if i >= len(b) {
			return 0, 0, ErrTruncated
		}
		if i >= MaxTagBytes {
			return 0, 0, ErrTagTooLong
		}
		tag = tag<<8 | uint32(b[i])
		i++
		if b[i-1]&0x80 == 0 {
			return tag, i, nil
		}
	}
}

// parseLength reads the definite length at b[i:] and returns it with the
// index of the first value byte.
func parseLength(b []byte, i int) (n, next int, err error) {
	if i >= len(b) {
		return 0, 0, ErrTruncated
	}
	first := b[i]
	i++
	if first < 0x80 {
		return int(first), i, nil
	}
	k := int(first & 0x7F)
	if k == 0 || k > 3 {
		return 0, 0, ErrLengthForm
	}
	if k > len(b)-i {
		return 0, 0, ErrTruncated
	}
	for _, c := range b[i : i+k] {
		n = n<<8 | int(c)
	}
	return n, i + k, nil
}

// ParseAll parses b as a sequence of data objects that fills it exactly.
// An empty b is an empty sequence. Any malformed object fails the whole
// sequence. The padding bytes 00 and FF of ISO/IEC 7816-4 get no special
// treatment: they are read as tags like any other byte. The input bounds
// the number of objects, as each takes two bytes at least.
func ParseAll(b []byte) ([]Object, error) {
	return parseAll(b, -1)
}

// ParseAllMax is ParseAll for at most limit objects: a longer sequence
// fails with ErrTooManyObjects. A negative limit allows none.
func ParseAllMax(b []byte, limit int) ([]Object, error) {
	return parseAll(b, max(limit, 0))
}

// parseAll parses a sequence of at most limit objects, or of any number
// if limit is negative.
func parseAll(b []byte, limit int) ([]Object, error) {
	var out []Object
	for len(b) > 0 {
		if limit >= 0 && len(out) >= limit {
			return nil, ErrTooManyObjects
		}
		obj, rest, err := Parse(b)
		if err != nil {
			return nil, err
		}
		out = append(out, obj)
		b = rest
	}
	return out, nil
}

// ParseSingle parses b as exactly one data object with the given tag and
// returns its value.
func ParseSingle(b []byte, tag uint32) ([]byte, error) {
	obj, rest, err := Parse(b)
	switch {
	case err != nil:
		return nil, err
	case obj.Tag != tag:
		return nil, ErrUnexpectedTag
	case len(rest) != 0:
		return nil, ErrTrailingData
	}
	return obj.Value, nil
}

// Find returns the first object of list with the given tag.
func Find(list []Object, tag uint32) (Object, bool) {
	for _, o := range list {
		if o.Tag == tag {
			return o, true
		}
	}
	return Object{}, false
}

// ValidTag reports whether tag is the number of a well-formed tag: the
// bytes Encode writes for it parse back as that same tag. 0x5F81 is not
// (81 announces a third byte), nor is 0x1F (a lone first byte of a longer
// tag), nor 0x4142 (41 is a whole tag).
func ValidTag(tag uint32) bool {
	if tag > 0xFFFFFF {
		return false
	}
	var buf [MaxTagBytes + 1]byte
	b := append(appendTag(buf[:0], tag), 0)
	got, _, err := parseTag(b)
	return err == nil && got == tag
}

// Encode returns the encoding of one data object: the tag's bytes (one to
// three: the number without its leading zero bytes), the shortest definite
// length, then value. tag should satisfy ValidTag and len(value) must not
// exceed MaxLength; both cards build far smaller objects.
func Encode(tag uint32, value []byte) []byte {
	out := make([]byte, 0, MaxTagBytes+4+len(value))
	out = appendTag(out, tag)
	out = appendLength(out, len(value))
	return append(out, value...)
}

// appendTag appends the one to three bytes of tag.
func appendTag(b []byte, tag uint32) []byte {
	switch {
	case tag > 0xFFFF:
		return append(b, byte(tag>>16), byte(tag>>8), byte(tag))
	case tag > 0xFF:
		return append(b, byte(tag>>8), byte(tag))
	}
	return append(b, byte(tag))
}

// appendLength appends the shortest definite length for n.
func appendLength(b []byte, n int) []byte {
	switch {
	case n < 0x80:
		return append(b, byte(n))
	case n <= 0xFF:
		return append(b, 0x81, byte(n))
	case n <= 0xFFFF:
		return append(b, 0x82, byte(n>>8), byte(n))
	}
	return append(b, 0x83, byte(n>>16), byte(n>>8), byte(n))
}

// Join concatenates encoded objects (or any byte strings) into a new
// slice; it is never nil.
func Join(parts ...[]byte) []byte {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	out := make([]byte, 0, n)
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

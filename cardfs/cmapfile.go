package cardfs

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// ContainerMapRecordSize is the size of one CONTAINER_MAP_RECORD.
const ContainerMapRecordSize = 86

// Layout of a container map record (spec CONTAINER_MAP_RECORD).
const (
	cmapNameSize  = 80 // WCHAR wszGuid[40]
	cmapFlagsOff  = 80
	cmapResvOff   = 81
	cmapSigOff    = 82
	cmapKeyExOff  = 84
	cmapNameUnits = cmapNameSize / 2
)

// ContainerFlags is bFlags of a container map record.
type ContainerFlags uint8

// Container map record flags. Bits 2 to 7 are reserved; they are kept as
// read.
const (
	ContainerValid   ContainerFlags = 0x01 // CONTAINER_MAP_VALID_CONTAINER
	ContainerDefault ContainerFlags = 0x02 // CONTAINER_MAP_DEFAULT_CONTAINER
)

// ContainerMapRecord is the decoded form of one record of the container
// map.
type ContainerMapRecord struct {
	// Index is the record's position: the container index of every
	// minidriver call and of the certificate file names. Add ignores it.
	Index int
	// Name is the container name, at most 39 UTF-16 code units without
	// a backslash; usually a GUID string.
	Name string
	// Flags holds ContainerValid and ContainerDefault.
	Flags ContainerFlags
	// SigKeySizeBits is the size of the signature key (RSA modulus bits or
	// ECDSA curve size), 0 when there is none.
	SigKeySizeBits uint16
	// KeyExchangeKeySizeBits is the size of the key exchange key (RSA or
	// ECDH), 0 when there is none.
	KeyExchangeKeySizeBits uint16
}

// Valid reports whether the record holds a container.
func (r ContainerMapRecord) Valid() bool { return r.Flags&ContainerValid != 0 }

// Default reports whether the record is the card's default container.
func (r ContainerMapRecord) Default() bool { return r.Flags&ContainerDefault != 0 }

// ContainerMap is the content of mscp/cmapfile: an array of 86-byte
// records whose position is the container index. Deleted records are
// zeroed and reused, never packed away. The map keeps each record's bytes
// as read, so that Marshal reproduces a parsed file exactly; records it
// writes are canonical (name NUL-padded, reserved byte 0).
//
// Container names are stored with their case but compared
// case-insensitively (Unicode upper-casing then lower-casing): Find, Add
// and ParseContainerMap's uniqueness check treat
// "ABC" and "abc" as the same container. The specification does not
// say; matching case-insensitively keeps a card usable whichever way
// another implementation wrote a name.
//
// The zero value is an empty map. A ContainerMap is not safe for
// concurrent mutation.
type ContainerMap struct {
	recs [][ContainerMapRecordSize]byte
}

// ParseContainerMap parses the cmapfile. Its size must be a multiple of 86
// with at most MaxContainers records. A record whose flags lack
// ContainerValid is free, whatever else it holds (its bytes are kept). A
// valid record must hold a NUL-terminated UTF-16LE name of 1 to 39 units
// without a backslash; at most one record is the default, the default must
// be valid, and valid names are unique (case-insensitively).
func ParseContainerMap(b []byte) (*ContainerMap, error) {
	if len(b)%ContainerMapRecordSize != 0 {
		return nil, formatErr(ContainerMapFile, "size "+strconv.Itoa(len(b))+" not a multiple of 86")
	}
	n := len(b) / ContainerMapRecordSize
	if n > MaxContainers {
		return nil, formatErr(ContainerMapFile, strconv.Itoa(n)+" records, over the limit of "+strconv.Itoa(MaxContainers))
	}
	m := &ContainerMap{recs: make([][ContainerMapRecordSize]byte, n)}
	defaults := 0
	names := make(map[string]int, n)
	for i := range m.recs {
		copy(m.recs[i][:], b[i*ContainerMapRecordSize:])
		raw := &m.recs[i]
		flags := ContainerFlags(raw[cmapFlagsOff])
		if flags&ContainerValid == 0 {
			if flags&ContainerDefault != 0 {
				return nil, formatErr(ContainerMapFile, "record "+strconv.Itoa(i)+": default flag without valid flag")
			}
			continue
		}
		name, reason := decodeContainerName(raw[:cmapNameSize])
		if reason != "" {
			return nil, formatErr(ContainerMapFile, "record "+strconv.Itoa(i)+": "+reason)
		}
		if flags&ContainerDefault != 0 {
			defaults++
			if defaults > 1 {
				return nil, formatErr(ContainerMapFile, "record "+strconv.Itoa(i)+": second default container")
			}
		}
		key := foldName(name)
		if j, dup := names[key]; dup {
			return nil, formatErr(ContainerMapFile, "record "+strconv.Itoa(i)+": same name as record "+strconv.Itoa(j))
		}
		names[key] = i
	}
	return m, nil
}

// decodeContainerName decodes a NUL-terminated UTF-16LE name from the 80-byte
// name field. It returns a reason when the name is unusable.
func decodeContainerName(field []byte) (string, string) {
	units := make([]uint16, 0, cmapNameUnits)
	terminated := false
	for i := 0; i < cmapNameUnits; i++ {
		u := binary.LittleEndian.Uint16(field[2*i:])
		if u == 0 {
			terminated = true
			break
		}
		units = append(units, u)
	}
	if !terminated {
		return "", "container name not NUL-terminated"
	}
	if len(units) == 0 {
		return "", "empty container name"
	}
	var sb strings.Builder
	for i := 0; i < len(units); i++ {
		u := units[i]
		switch {
		case utf16.IsSurrogate(rune(u)):
			if u >= 0xDC00 || i+1 >= len(units) {
				return "", "container name is not valid UTF-16"
			}
			r := utf16.DecodeRune(rune(u), rune(units[i+1]))
			if r == utf8.RuneError {
				return "", "container name is not valid UTF-16"
			}
			sb.WriteRune(r)
			i++
		default:
			sb.WriteRune(rune(u))
		}
	}
	name := sb.String()
	if strings.ContainsRune(name, '\\') {
		return "", "container name contains a backslash"
	}
	return name, ""
}

// ValidateContainerName reports whether name may name a container: 1 to 39
// UTF-16 code units of valid UTF-8, without NUL or backslash. The error
// matches ErrInvalidName.
func ValidateContainerName(name string) error {
	if name == "" {
		return fmt.Errorf("%w: empty container name", ErrInvalidName)
	}
	if !utf8.ValidString(name) {
		return fmt.Errorf("%w: container name is not valid UTF-8", ErrInvalidName)
	}
	if strings.ContainsAny(name, "\\\x00") {
		return fmt.Errorf("%w: container name contains a backslash or NUL", ErrInvalidName)
	}
	n := 0
	for _, r := range name {
		n += utf16.RuneLen(r)
	}
	if n > MaxContainerNameLen {
		return fmt.Errorf("%w: container name of %d UTF-16 units, over %d", ErrInvalidName, n, MaxContainerNameLen)
	}
	return nil
}

// foldName is the key under which container names are compared.
func foldName(name string) string {
	// ToLower(ToUpper(x)) maps the case variants of the characters that
	// occur in container names (ASCII GUIDs, Latin names) to one key.
	return strings.ToLower(strings.ToUpper(name))
}

// Marshal returns the cmapfile bytes: Len records of 86 bytes.
func (m *ContainerMap) Marshal() []byte {
	b := make([]byte, 0, len(m.recs)*ContainerMapRecordSize)
	for i := range m.recs {
		b = append(b, m.recs[i][:]...)
	}
	return b
}

// Len returns the number of records, free ones included.
func (m *ContainerMap) Len() int { return len(m.recs) }

// decode returns record i. Records in the map are always decodable when
// valid (ParseContainerMap and Add check them).
func (m *ContainerMap) decode(i int) ContainerMapRecord {
	raw := &m.recs[i]
	r := ContainerMapRecord{
		Index:                  i,
		Flags:                  ContainerFlags(raw[cmapFlagsOff]),
		SigKeySizeBits:         binary.LittleEndian.Uint16(raw[cmapSigOff:]),
		KeyExchangeKeySizeBits: binary.LittleEndian.Uint16(raw[cmapKeyExOff:]),
	}
	if r.Valid() {
		r.Name, _ = decodeContainerName(raw[:cmapNameSize])
	}
	return r
}

// Record returns record i, free or valid. A free record has an empty Name.
func (m *ContainerMap) Record(i int) (ContainerMapRecord, bool) {
	if i < 0 || i >= len(m.recs) {
		return ContainerMapRecord{}, false
	}
	return m.decode(i), true
}

// ValidRecords returns the valid records in index order.
func (m *ContainerMap) ValidRecords() []ContainerMapRecord {
	var out []ContainerMapRecord
	for i := range m.recs {
		if ContainerFlags(m.recs[i][cmapFlagsOff])&ContainerValid != 0 {
			out = append(out, m.decode(i))
		}
	}
	return out
}

// Find returns the valid record named name (compared case-insensitively).
func (m *ContainerMap) Find(name string) (ContainerMapRecord, bool) {
	key := foldName(name)
	for _, r := range m.ValidRecords() {
		if foldName(r.Name) == key {
			return r, true
		}
	}
	return ContainerMapRecord{}, false
}

// Default returns the default container's record.
func (m *ContainerMap) Default() (ContainerMapRecord, bool) {
	for _, r := range m.ValidRecords() {
		if r.Default() {
			return r, true
		}
	}
	return ContainerMapRecord{}, false
}

// Add stores a new valid container in the first free record, or appends a
// record when none is free, and returns its index. rec.Index is ignored;
// rec.Flags may ask for ContainerDefault, which clears the flag on the old
// default; other flag bits are ignored. maxContainers bounds the number
// of records (dwMaxKeyContainers); 0 or a value above MaxContainers means
// MaxContainers. Errors match ErrInvalidName, ErrContainerExists or
// ErrTooManyContainers.
func (m *ContainerMap) Add(rec ContainerMapRecord, maxContainers int) (int, error) {
	if err := ValidateContainerName(rec.Name); err != nil {
		return -1, fmt.Errorf("cardfs: cmapfile: %w", err)
	}
	if _, exists := m.Find(rec.Name); exists {
		return -1, fmt.Errorf("%w: %q", ErrContainerExists, rec.Name)
	}
	if maxContainers <= 0 || maxContainers > MaxContainers {
		maxContainers = MaxContainers
	}
	idx := -1
	for i := range m.recs {
		if i >= maxContainers {
			break
		}
		if ContainerFlags(m.recs[i][cmapFlagsOff])&ContainerValid == 0 {
			idx = i
			break
		}
	}
	if idx < 0 {
		if len(m.recs) >= maxContainers {
			return -1, fmt.Errorf("%w: limit %d", ErrTooManyContainers, maxContainers)
		}
		m.recs = append(m.recs, [ContainerMapRecordSize]byte{})
		idx = len(m.recs) - 1
	}
	if rec.Default() {
		m.clearDefault()
	}
	raw := &m.recs[idx]
	*raw = [ContainerMapRecordSize]byte{}
	units := utf16.Encode([]rune(rec.Name))
	for i, u := range units {
		binary.LittleEndian.PutUint16(raw[2*i:], u)
	}
	raw[cmapFlagsOff] = byte(ContainerValid | rec.Flags&ContainerDefault)
	binary.LittleEndian.PutUint16(raw[cmapSigOff:], rec.SigKeySizeBits)
	binary.LittleEndian.PutUint16(raw[cmapKeyExOff:], rec.KeyExchangeKeySizeBits)
	return idx, nil
}

func (m *ContainerMap) clearDefault() {
	for i := range m.recs {
		m.recs[i][cmapFlagsOff] &^= byte(ContainerDefault)
	}
}

// validIndex returns ErrNoContainer unless record i is valid.
func (m *ContainerMap) validIndex(i int) error {
	if i < 0 || i >= len(m.recs) || ContainerFlags(m.recs[i][cmapFlagsOff])&ContainerValid == 0 {
		return fmt.Errorf("%w: index %d", ErrNoContainer, i)
	}
	return nil
}

// Delete zeroes record i, which must be valid. The record stays in place
// for reuse. When it was the default the map has no default afterwards;
// choosing another is the caller's business.
func (m *ContainerMap) Delete(i int) error {
	if err := m.validIndex(i); err != nil {
		return err
	}
	m.recs[i] = [ContainerMapRecordSize]byte{}
	return nil
}

// SetDefault makes valid record i the default container and clears the
// flag on any other record.
func (m *ContainerMap) SetDefault(i int) error {
	if err := m.validIndex(i); err != nil {
		return err
	}
	m.clearDefault()
	m.recs[i][cmapFlagsOff] |= byte(ContainerDefault)
	return nil
}

// SetKeySizes records the key sizes of valid record i, in bits (0 = no
// key in that slot).
func (m *ContainerMap) SetKeySizes(i int, sigBits, keyExchangeBits uint16) error {
	if err := m.validIndex(i); err != nil {
		return err
	}
	binary.LittleEndian.PutUint16(m.recs[i][cmapSigOff:], sigBits)
	binary.LittleEndian.PutUint16(m.recs[i][cmapKeyExOff:], keyExchangeBits)
	return nil
}

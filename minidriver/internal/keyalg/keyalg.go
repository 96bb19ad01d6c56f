// Package keyalg reads a card's table of asymmetric algorithm identifiers
// both ways. Each card family numbers its algorithms differently (PIV:
// SP 800-78-4 table 6-2 and Yubico's extensions; GIDS: the v2.0
// cryptographic mechanism identifiers), so each plug-in writes its own
// table once, as a Table, and finds an identifier from a key size with the
// methods here instead of a second, reversed table.
//
// Everything here is a pure function and safe for concurrent use.
package keyalg

import "fmt"

// Table is a card family's algorithm table: for an identifier, the key
// size in bits (the modulus for RSA, the field for a curve: 256 for
// P-256), whether the algorithm is elliptic-curve, and whether the plug-in
// knows the identifier at all. A Table must not give one size and kind to
// two identifiers; each plug-in tests its own with Is.
type Table func(id byte) (bits int, ec bool, ok bool)

// RSA returns the identifier of RSA with a modulus of bits, and false
// when the table has none.
func (t Table) RSA(bits int) (byte, bool) { return t.find(bits, false) }

// EC returns the identifier of the elliptic curve of bits, and false when
// the table has none. Callers holding a curve compare it with the curve
// they expect: a size alone does not name a curve outside the table.
func (t Table) EC(bits int) (byte, bool) { return t.find(bits, true) }

// find tries every identifier; tables are small and the callers (key
// generation, import, a certificate's key) run once per card operation.
func (t Table) find(bits int, ec bool) (byte, bool) {
	for id := range 0x100 {
		if b, e, ok := t(byte(id)); ok && e == ec && b == bits {
			return byte(id), true
		}
	}
	return 0, false
}

// Alg is one row of a Table.
type Alg struct {
	ID   byte
	Bits int
	EC   bool
}

// Is reports, as an error naming the first difference, whether t is
// exactly the table want: every row of want read both ways (identifier to
// size and kind, size and kind back to the identifier) and no identifier
// outside it known. Each plug-in's test holds its table to the
// specification's rows with it.
func (t Table) Is(want []Alg) error {
	rows := make(map[byte]Alg, len(want))
	for _, a := range want {
		rows[a.ID] = a
	}
	for id := range 0x100 {
		bits, ec, ok := t(byte(id))
		a, listed := rows[byte(id)]
		switch {
		case ok != listed:
			return fmt.Errorf("keyalg: identifier %02X known %v, listed %v", id, ok, listed)
		case !ok:
			continue
		case bits != a.Bits || ec != a.EC:
			return fmt.Errorf("keyalg: identifier %02X is %d bits (EC %v), want %d (EC %v)", id, bits, ec, a.Bits, a.EC)
		}
		find := t.RSA
		if ec {
			find = t.EC
		}
		if back, ok := find(bits); !ok || back != byte(id) {
			return fmt.Errorf("keyalg: %d bits (EC %v) read back as %02X, want %02X", bits, ec, back, id)
		}
	}
	return nil
}

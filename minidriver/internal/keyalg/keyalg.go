// Package keyalg reads a card's table of asymmetric algorithm identifiers
// both ways. Each card family numbers its algorithms differently (PIV:
// SP 800-78-4 table 6-2 and Yubico's extensions; GIDS: the v2.0
// cryptographic mechanism identifiers), so each plug-in writes its own
// table once, as a Table, and finds an identifier from a key size with the
// methods here instead of a second, reversed table.
//
// Everything here is a pure function and safe for concurrent use.
package keyalg

// Table is a card family's algorithm table: for an identifier, the key
// size in bits (the modulus for RSA, the field for a curve: 256 for
// P-256), whether the algorithm is elliptic-curve, and whether the plug-in
// knows the identifier at all. A Table must not give one size and kind to
// two identifiers; each plug-in tests its own with OneToOne.
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

// OneToOne reports the first identifier that shares its size and kind
// with a smaller one, or ok true when there is none (the condition under
// which RSA and EC read the table back exactly).
func (t Table) OneToOne() (dup byte, ok bool) {
	type key struct {
		bits int
		ec   bool
	}
	seen := make(map[key]bool)
	for id := range 0x100 {
		b, e, known := t(byte(id))
		if !known {
			continue
		}
		if seen[key{b, e}] {
			return byte(id), false
		}
		seen[key{b, e}] = true
	}
	return 0, true
}

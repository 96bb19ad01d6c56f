package gids

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"errors"
	"io"
	"math/big"

	"github.com/cardmod/cardmod/cardsim/internal/tlv"
)

// Cryptographic mechanism identifiers of GIDS v2.0 (table "algorithm
// identifiers"; the values OpenSC's GIDS driver uses). The low nibble of an
// algorithm reference in MSE names the key; the high nibble the padding:
// 00 none (raw), 10 signature with the padding done off card, 40 RSAES
// PKCS#1 v1.5, 50 RSASSA PKCS#1 v1.5 done by the card, 80 RSAES-OAEP.
const (
	AlgRSA1024 byte = 0x06
	AlgRSA2048 byte = 0x07
	AlgRSA3072 byte = 0x08
	AlgRSA4096 byte = 0x09
	AlgECCP256 byte = 0x0C
	AlgECCP384 byte = 0x0D
	AlgECCP521 byte = 0x0E
)

// cardKey is the key of a key file: an RSA or EC private key, or the
// symmetric admin key.
type cardKey struct {
	alg    byte // asymmetric keys: one of the Alg constants
	rsa    *rsa.PrivateKey
	ec     *ecdsa.PrivateKey
	secret []byte       // symmetric keys
	sym    cipher.Block // symmetric keys
}

// newSymmetricKey makes an admin key: 24 bytes are a 3DES key (three
// keys, parity ignored), 16 or 32 bytes an AES key.
func newSymmetricKey(secret []byte) (*cardKey, error) {
	var b cipher.Block
	var err error
	switch len(secret) {
	case 24:
		b, err = des.NewTripleDESCipher(secret)
	case 16, 32:
		b, err = aes.NewCipher(secret)
	default:
		return nil, errors.New("gids: an admin key is 24 bytes (3DES) or 16 or 32 bytes (AES)")
	}
	if err != nil {
		return nil, err
	}
	return &cardKey{secret: append([]byte(nil), secret...), sym: b}, nil
}

// rsaBits maps RSA algorithm identifiers to modulus sizes.
func rsaBits(alg byte) int {
	switch alg {
	case AlgRSA1024:
		return 1024
	case AlgRSA2048:
		return 2048
	case AlgRSA3072:
		return 3072
	case AlgRSA4096:
		return 4096
	}
	return 0
}

// ecCurve maps EC algorithm identifiers to curves.
func ecCurve(alg byte) (elliptic.Curve, ecdh.Curve) {
	switch alg {
	case AlgECCP256:
		return elliptic.P256(), ecdh.P256()
	case AlgECCP384:
		return elliptic.P384(), ecdh.P384()
	case AlgECCP521:
		return elliptic.P521(), ecdh.P521()
	}
	return nil, nil
}

// supports reports whether the key can serve the template and algorithm
// reference of an MSE SET.
func (k *cardKey) supports(tmpl, algRef byte) bool {
	if k.sym != nil || algRef&0x0F != k.alg {
		return false
	}
	pad := algRef & 0xF0
	if k.rsa != nil {
		switch tmpl {
		case 0xB6:
			return pad == 0x10 || pad == 0x50
		case 0xB8:
			return pad == 0x00 || pad == 0x40 || pad == 0x80
		}
		return false
	}
	switch tmpl {
	case 0xB6:
		return pad == 0x00 || pad == 0x10
	case 0xA4, 0xB8:
		return pad == 0x00
	}
	return false
}

// ecdhKey returns the key for ECDH, if it is an EC key.
func (k *cardKey) ecdhKey() (*ecdh.PrivateKey, bool) {
	if k.ec == nil {
		return nil, false
	}
	p, err := k.ec.ECDH()
	return p, err == nil
}

// publicTemplate is the public key as GIDS answers it (ISO/IEC 7816-8
// table 3): 7F49 { 81 modulus, 82 exponent } or 7F49 { 86 point }.
func (k *cardKey) publicTemplate() []byte {
	switch {
	case k.rsa != nil:
		e := big.NewInt(int64(k.rsa.E)).Bytes()
		return tlv.Encode(0x7F49, tlv.Join(tlv.Encode(0x81, k.rsa.N.Bytes()), tlv.Encode(0x82, e)))
	case k.ec != nil:
		p, err := k.ec.ECDH()
		if err != nil {
			return nil
		}
		return tlv.Encode(0x7F49, tlv.Encode(0x86, p.PublicKey().Bytes()))
	}
	return nil
}

// keyFile finds the key file of key reference ref.
func (c *Card) keyFile(ref byte) *file {
	f := c.st.files[0xB000|uint16(ref)]
	if f == nil || f.fdb != fdbKeyFile {
		return nil
	}
	return f
}

// getPublicKey answers GET DATA 3FFF 70 { 84 key reference, A5 { 7F49
// 80 } }. OpenSC sends "A5 03 7F 49 80", whose inside is not well-formed
// BER; the card reads only the key reference, as GidsApplet does.
func (c *Card) getPublicKey(v []byte) reply {
	list, err := tlv.ParseAllMax(v, maxObjects)
	if err != nil {
		return status(swIncorrectData)
	}
	ref, found := tlv.Find(list, 0x84)
	if !found || len(ref.Value) != 1 {
		return status(swIncorrectData)
	}
	f := c.keyFile(ref.Value[0])
	if f == nil || f.key == nil || f.key.sym != nil {
		return status(swRefNotFound)
	}
	if sw := c.checkFile(f, opGetPublic); sw != swOK {
		return status(sw)
	}
	return ok(f.key.publicTemplate())
}

// cmdGenerate answers GENERATE ASYMMETRIC KEY PAIR (00 47 00 00 AC { 80
// algorithm, 83 key reference }) into an existing key file, and answers
// the public key (7F49) when the command has Le.
func (c *Card) cmdGenerate(cmd command) reply {
	if cmd.p1 != 0 || cmd.p2 != 0 {
		return status(swIncorrectP1P2)
	}
	outer, rest, err := tlv.Parse(cmd.data)
	if err != nil || len(rest) != 0 || outer.Tag != 0xAC {
		return status(swIncorrectData)
	}
	list, err := tlv.ParseAllMax(outer.Value, maxObjects)
	if err != nil {
		return status(swIncorrectData)
	}
	alg, okAlg := tlv.Find(list, 0x80)
	ref, okRef := tlv.Find(list, 0x83)
	if !okRef {
		ref, okRef = tlv.Find(list, 0x84)
	}
	if !okAlg || !okRef || len(alg.Value) != 1 || len(ref.Value) != 1 {
		return status(swIncorrectData)
	}
	f := c.keyFile(ref.Value[0])
	if f == nil {
		return status(swRefNotFound)
	}
	if sw := c.checkFile(f, opGenerate); sw != swOK {
		return status(sw)
	}
	a := alg.Value[0]
	if bits := rsaBits(a); bits == 0 {
		if curve, _ := ecCurve(a); curve == nil {
			return status(swFuncNotSupported)
		}
	} else if bits > c.h.maxRSABits {
		return status(swFuncNotSupported)
	}
	if !c.h.prof.supportsAlg(a) {
		return status(swFuncNotSupported)
	}
	if !f.keyAlgAllowed(a) {
		return status(swIncorrectData)
	}
	k, err := generateKey(a, c.h.rand)
	if err != nil {
		return status(swUnknown)
	}
	f.key = k
	return ok(k.publicTemplate())
}

// keyAlgAllowed reports whether the key file's CRTs name algorithm a (in
// the low nibble of one of their references); files without CRTs take any.
func (f *file) keyAlgAllowed(a byte) bool {
	if len(f.crts) == 0 {
		return true
	}
	for _, t := range f.crts {
		if t.alg&0x0F == a {
			return true
		}
	}
	return false
}

// putKey answers PUT DATA 3FFF 70 { 84 key reference, A5 { [83 key type],
// [84 wrapping key reference 00], 87 key value } }: the key value is a
// symmetric key (the admin key: OpenSC's gids-tool sends 87 18 <3DES key>
// followed by 88 03 B0 73 DC, which the card ignores) or an RSA private
// key as the nine INTEGERs of PKCS#1 RSAPrivateKey (OpenSC writes them as
// unsigned big-endian bytes, so a leading bit set is read as positive), or
// an EC private key in SEC 1 form.
func (c *Card) putKey(cmd command) reply {
	outer, rest, err := tlv.Parse(cmd.data)
	if err != nil || len(rest) != 0 || outer.Tag != 0x70 {
		return status(swIncorrectData)
	}
	list, err := tlv.ParseAllMax(outer.Value, maxObjects)
	if err != nil {
		return status(swIncorrectData)
	}
	ref, okRef := tlv.Find(list, 0x84)
	tmpl, okT := tlv.Find(list, 0xA5)
	if !okRef || !okT || len(ref.Value) != 1 {
		return status(swIncorrectData)
	}
	f := c.keyFile(ref.Value[0])
	if f == nil {
		return status(swRefNotFound)
	}
	if sw := c.checkFile(f, opPutKey); sw != swOK {
		return status(sw)
	}
	in, err := tlv.ParseAllMax(tmpl.Value, maxObjects)
	if err != nil {
		return status(swIncorrectData)
	}
	val, found := tlv.Find(in, 0x87)
	if !found {
		val, found = tlv.Find(in, 0xA7)
	}
	if !found {
		return status(swIncorrectData)
	}
	k, err := parseKeyValue(val.Value)
	if err != nil {
		return status(swIncorrectData)
	}
	if k.rsa != nil && k.rsa.N.BitLen() > c.h.maxRSABits {
		return status(swFuncNotSupported)
	}
	if k.sym == nil && !c.h.prof.supportsAlg(k.alg) {
		return status(swFuncNotSupported)
	}
	if k.sym == nil && !f.keyAlgAllowed(k.alg) {
		return status(swIncorrectData)
	}
	f.key = k
	return ok(nil)
}

// parseKeyValue decodes an imported key value.
func parseKeyValue(v []byte) (*cardKey, error) {
	if k, err := parseRSAKey(v); err == nil {
		return k, nil
	}
	if ec, err := x509.ParseECPrivateKey(v); err == nil {
		return ecKey(ec)
	}
	return newSymmetricKey(v)
}

// parseRSAKey reads SEQUENCE { version, n, e, d, p, q, dp, dq, qinv }
// with every INTEGER taken as an unsigned magnitude.
func parseRSAKey(v []byte) (*cardKey, error) {
	seq, rest, err := tlv.Parse(v)
	if err != nil || len(rest) != 0 || seq.Tag != 0x30 {
		return nil, errors.New("gids: not a SEQUENCE")
	}
	ints, err := tlv.ParseAllMax(seq.Value, maxObjects)
	if err != nil || len(ints) != 9 {
		return nil, errors.New("gids: not nine INTEGERs")
	}
	n := make([]*big.Int, 9)
	for i, t := range ints {
		if t.Tag != 0x02 || len(t.Value) == 0 || len(t.Value) > 513 {
			return nil, errors.New("gids: bad INTEGER")
		}
		n[i] = new(big.Int).SetBytes(t.Value)
	}
	if n[0].Sign() != 0 || !n[2].IsInt64() || n[2].Int64() < 3 || n[2].Int64() > 1<<31-1 {
		return nil, errors.New("gids: unsupported version or exponent")
	}
	k := &rsa.PrivateKey{
		PublicKey: rsa.PublicKey{N: n[1], E: int(n[2].Int64())},
		D:         n[3],
		Primes:    []*big.Int{n[4], n[5]},
	}
	return rsaKey(k)
}

// rsaKey checks and wraps an RSA key of a size GIDS knows.
func rsaKey(k *rsa.PrivateKey) (*cardKey, error) {
	var alg byte
	for _, a := range []byte{AlgRSA1024, AlgRSA2048, AlgRSA3072, AlgRSA4096} {
		if k.N.BitLen() == rsaBits(a) {
			alg = a
		}
	}
	if alg == 0 || len(k.Primes) != 2 {
		return nil, errors.New("gids: RSA key of unsupported size")
	}
	if err := k.Validate(); err != nil {
		return nil, err
	}
	k.Precompute()
	return &cardKey{alg: alg, rsa: k}, nil
}

// ecKey wraps an EC key on a curve GIDS knows.
func ecKey(k *ecdsa.PrivateKey) (*cardKey, error) {
	for _, a := range []byte{AlgECCP256, AlgECCP384, AlgECCP521} {
		if curve, _ := ecCurve(a); curve == k.Curve {
			return &cardKey{alg: a, ec: k}, nil
		}
	}
	return nil, errors.New("gids: EC key on an unsupported curve")
}

// generateKey makes a key pair for alg from r. Go's own generators ignore
// their random source since Go 1.26, so the card draws the key material
// from r itself: keys are reproducible under a deterministic Config.Rand.
func generateKey(alg byte, r io.Reader) (*cardKey, error) {
	if bits := rsaBits(alg); bits > 0 {
		for tries := 0; tries < 16; tries++ {
			p, err := drawPrime(r, bits/2)
			if err != nil {
				return nil, err
			}
			q, err := drawPrime(r, bits/2)
			if err != nil {
				return nil, err
			}
			if k, err := rsaFromPrimes(p, q); err == nil && k.N.BitLen() == bits {
				return rsaKey(k)
			}
		}
		return nil, errors.New("gids: random source yields no RSA key")
	}
	curve, ecurve := ecCurve(alg)
	if curve == nil {
		return nil, errors.New("gids: unknown algorithm")
	}
	size := (curve.Params().BitSize + 7) / 8
	buf := make([]byte, size)
	for tries := 0; tries < 64; tries++ {
		if _, err := io.ReadFull(r, buf); err != nil {
			return nil, err
		}
		if extra := size*8 - curve.Params().BitSize; extra > 0 {
			buf[0] &= 0xFF >> extra
		}
		if _, err := ecurve.NewPrivateKey(buf); err != nil {
			continue // zero or not below the order: draw again
		}
		k, err := ecdsa.ParseRawPrivateKey(curve, buf)
		if err != nil {
			return nil, err
		}
		return ecKey(k)
	}
	return nil, errors.New("gids: random source yields no EC scalar")
}

// sieve holds the odd primes below 2000, for trial division of prime
// candidates.
var sieve = func() []int64 {
	var out []int64
	for n := int64(3); n < 2000; n += 2 {
		isPrime := true
		for _, p := range out {
			if p*p > n {
				break
			}
			if n%p == 0 {
				isPrime = false
				break
			}
		}
		if isPrime {
			out = append(out, n)
		}
	}
	return out
}()

// drawPrime draws a random bits-bit prime with its two top bits set (so
// that a product of two has exactly twice the bits) and p-1 prime to
// 65537: a random odd start, then the next candidate passing trial
// division and Miller-Rabin.
func drawPrime(r io.Reader, bits int) (*big.Int, error) {
	buf := make([]byte, (bits+7)/8)
	e := big.NewInt(65537)
	small := new(big.Int)
	rem := new(big.Int)
	for attempt := 0; attempt < 32; attempt++ {
		if _, err := io.ReadFull(r, buf); err != nil {
			return nil, err
		}
		p := new(big.Int).SetBytes(buf)
		for i := p.BitLen() - 1; i >= bits; i-- {
			p.SetBit(p, i, 0)
		}
		p.SetBit(p, bits-1, 1)
		p.SetBit(p, bits-2, 1)
		p.SetBit(p, 0, 1)
	candidates:
		for step := 0; step < 20000; step++ {
			if step > 0 {
				p.Add(p, big.NewInt(2))
			}
			if p.BitLen() != bits {
				break
			}
			for _, sp := range sieve {
				if rem.Mod(p, small.SetInt64(sp)).Sign() == 0 {
					continue candidates
				}
			}
			pm1 := new(big.Int).Sub(p, big.NewInt(1))
			if rem.Mod(pm1, e).Sign() == 0 {
				continue
			}
			if p.ProbablyPrime(20) {
				return p, nil
			}
		}
	}
	return nil, errors.New("gids: no prime found")
}

// rsaFromPrimes builds an RSA key with e = 65537 from two primes.
func rsaFromPrimes(p, q *big.Int) (*rsa.PrivateKey, error) {
	if p.Cmp(q) == 0 {
		return nil, errors.New("gids: equal primes")
	}
	one := big.NewInt(1)
	phi := new(big.Int).Mul(new(big.Int).Sub(p, one), new(big.Int).Sub(q, one))
	d := new(big.Int).ModInverse(big.NewInt(65537), phi)
	if d == nil {
		return nil, errors.New("gids: e not invertible")
	}
	return &rsa.PrivateKey{
		PublicKey: rsa.PublicKey{N: new(big.Int).Mul(p, q), E: 65537},
		D:         d,
		Primes:    []*big.Int{p, q},
	}, nil
}

// rsaPrivate computes in^d mod n on a modulus-sized block with the CRT,
// checking the result with the public exponent before releasing it (the
// fault check cards do).
func rsaPrivate(k *rsa.PrivateKey, in []byte) ([]byte, bool) {
	size := (k.N.BitLen() + 7) / 8
	if len(in) != size || len(k.Primes) != 2 || k.Precomputed.Dp == nil {
		return nil, false
	}
	x := new(big.Int).SetBytes(in)
	if x.Cmp(k.N) >= 0 {
		return nil, false
	}
	p, q := k.Primes[0], k.Primes[1]
	m1 := new(big.Int).Exp(x, k.Precomputed.Dp, p)
	m2 := new(big.Int).Exp(x, k.Precomputed.Dq, q)
	m := m1.Sub(m1, m2)
	m.Mul(m, k.Precomputed.Qinv)
	m.Mod(m, p)
	m.Mul(m, q)
	m.Add(m, m2)
	if new(big.Int).Exp(m, big.NewInt(int64(k.E)), k.N).Cmp(x) != 0 {
		return nil, false
	}
	return m.FillBytes(make([]byte, size)), true
}

// cmdPSO answers PERFORM SECURITY OPERATION: COMPUTE DIGITAL SIGNATURE
// (9E 9A) and DECIPHER (80 86) with the key of the security environment.
func (c *Card) cmdPSO(cmd command) reply {
	switch {
	case cmd.p1 == 0x9E && cmd.p2 == 0x9A:
		return c.sign(cmd.data)
	case cmd.p1 == 0x80 && cmd.p2 == 0x86:
		return c.decipher(cmd.data)
	}
	return status(swIncorrectP1P2)
}

// sign computes a signature. RSA with reference 5x pads the data (a
// DigestInfo, as OpenSC sends it) with PKCS#1 v1.5 type 1; with 1x the
// data is already padded to the modulus size. ECDSA signs the hash given
// and answers r || s, each the size of the curve order (the plain format
// of BSI TR-03111 that the minidriver interface uses too).
func (c *Card) sign(data []byte) reply {
	k, sw := c.envKey(0xB6)
	if sw != swOK {
		return status(sw)
	}
	if len(data) == 0 {
		return status(swWrongLength)
	}
	alg := c.sess.se.alg
	switch {
	case k.rsa != nil:
		size := (k.rsa.N.BitLen() + 7) / 8
		block := data
		if alg&0xF0 == 0x50 {
			if len(data) > size-11 {
				return status(swWrongLength)
			}
			block = make([]byte, size)
			block[1] = 0x01
			for i := 2; i < size-len(data)-1; i++ {
				block[i] = 0xFF
			}
			copy(block[size-len(data):], data)
		} else if len(data) != size {
			return status(swWrongLength)
		}
		sig, okRSA := rsaPrivate(k.rsa, block)
		if !okRSA {
			return status(swIncorrectData)
		}
		return ok(sig)
	case k.ec != nil:
		if len(data) > 64 {
			return status(swWrongLength)
		}
		der, err := ecdsa.SignASN1(c.h.rand, k.ec, data)
		if err != nil {
			return status(swUnknown)
		}
		raw, okSig := rawSignature(der, (k.ec.Curve.Params().BitSize+7)/8)
		if !okSig {
			return status(swUnknown)
		}
		return ok(raw)
	}
	return status(swConditionsNotMet)
}

// rawSignature turns an ASN.1 ECDSA signature into r || s of size bytes
// each.
func rawSignature(der []byte, size int) ([]byte, bool) {
	seq, rest, err := tlv.Parse(der)
	if err != nil || len(rest) != 0 || seq.Tag != 0x30 {
		return nil, false
	}
	ints, err := tlv.ParseAllMax(seq.Value, maxObjects)
	if err != nil || len(ints) != 2 {
		return nil, false
	}
	out := make([]byte, 2*size)
	for i, t := range ints {
		v := new(big.Int).SetBytes(t.Value)
		if t.Tag != 0x02 || (v.BitLen()+7)/8 > size {
			return nil, false
		}
		v.FillBytes(out[i*size : (i+1)*size])
	}
	return out, true
}

// decipher decrypts an RSA cryptogram: a modulus-sized block, optionally
// preceded by the padding indicator 00 (chained or extended for 2048 bits
// and more). Reference 4x removes PKCS#1 v1.5 type 2 padding, 8x OAEP with
// SHA-1 (the Java Card ALG_RSA_PKCS1_OAEP that GidsApplet uses), 0x
// returns the raw block.
func (c *Card) decipher(data []byte) reply {
	k, sw := c.envKey(0xB8)
	if sw != swOK {
		return status(sw)
	}
	if k.rsa == nil {
		return status(swConditionsNotMet)
	}
	size := (k.rsa.N.BitLen() + 7) / 8
	ct := data
	switch len(data) {
	case size:
		// The cryptogram alone: what OpenSC 0.23 sends to a GIDS card
		// (seen in pcscd's log), and all GidsApplet accepts.
	case size + 1:
		// The padding indicator 00 then the cryptogram (ISO/IEC 7816-8).
		if data[0] != 0x00 {
			return status(swIncorrectData)
		}
		ct = data[1:]
	default:
		return status(swWrongLength)
	}
	switch c.sess.se.alg & 0xF0 {
	case 0x80:
		pt, err := rsa.DecryptOAEP(sha1.New(), nil, k.rsa, ct, nil)
		if err != nil {
			return status(swIncorrectData)
		}
		return ok(pt)
	case 0x40:
		em, okRSA := rsaPrivate(k.rsa, ct)
		if !okRSA {
			return status(swIncorrectData)
		}
		pt, okPad := unpadPKCS1Type2(em)
		if !okPad {
			return status(swIncorrectData)
		}
		return ok(pt)
	}
	em, okRSA := rsaPrivate(k.rsa, ct)
	if !okRSA {
		return status(swIncorrectData)
	}
	return ok(em)
}

// unpadPKCS1Type2 removes 00 02 PS 00 with at least 8 padding bytes.
func unpadPKCS1Type2(em []byte) ([]byte, bool) {
	if len(em) < 11 || em[0] != 0x00 || em[1] != 0x02 {
		return nil, false
	}
	for i := 2; i < len(em); i++ {
		if em[i] == 0x00 {
			if i < 10 {
				return nil, false
			}
			return em[i+1:], true
		}
	}
	return nil, false
}

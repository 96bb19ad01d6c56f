package minidrivertest

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/minidriver/kdf"
	"github.com/cardmod/cardmod/scrm"
)

// digestOf returns the hash of msg under h (crypto.MD5SHA1 is MD5 ‖ SHA-1).
func digestOf(h crypto.Hash, msg []byte) []byte {
	if h == crypto.MD5SHA1 {
		return append(digestOf(crypto.MD5, msg), digestOf(crypto.SHA1, msg)...)
	}
	w := h.New()
	w.Write(msg)
	return w.Sum(nil)
}

// signCase is one signature the suite asks for.
type signCase struct {
	name    string
	padding minidriver.Padding
	hash    crypto.Hash
	salt    int
}

func rsaSignCases(bits int) []signCase {
	cs := []signCase{
		{"PKCS1-SHA256", minidriver.PaddingPKCS1, crypto.SHA256, 0},
		{"PKCS1-SHA1", minidriver.PaddingPKCS1, crypto.SHA1, 0},
		{"PKCS1-SHA384", minidriver.PaddingPKCS1, crypto.SHA384, 0},
		{"PKCS1-SHA512", minidriver.PaddingPKCS1, crypto.SHA512, 0},
		{"PKCS1-MD5SHA1", minidriver.PaddingPKCS1, crypto.MD5SHA1, 0},
		{"PKCS1-NoDigestInfo", minidriver.PaddingPKCS1, 0, 0},
		{"PSS-SHA256", minidriver.PaddingPSS, crypto.SHA256, 32},
		{"PSS-SHA256-NoSalt", minidriver.PaddingPSS, crypto.SHA256, 0},
	}
	if bits >= 1024 {
		cs = append(cs, signCase{"PSS-SHA384", minidriver.PaddingPSS, crypto.SHA384, 48})
	}
	return cs
}

// testSign signs with every RSA and ECDSA key and verifies the signatures
// with ContainerInfo's public key.
func (s *suite) testSign(t *testing.T) {
	ks := s.keys(func(k Key) bool { return k.Spec.IsRSA() || k.Spec.IsECDSA() })
	if len(ks) == 0 {
		t.Skip("harness: no signature key")
	}
	for _, k := range ks {
		t.Run(keyName(k), func(t *testing.T) {
			f := s.open(t)
			pub := f.provision(k)
			msg := []byte("signed by the minidriver conformance suite")
			if rk, ok := pub.(*rsa.PublicKey); ok {
				for _, c := range rsaSignCases(rk.N.BitLen()) {
					t.Run(c.name, func(t *testing.T) {
						f := f.with(t)
						var digest []byte
						if c.hash == 0 {
							digest = digestOf(crypto.SHA256, msg) // signed as it is
						} else {
							digest = digestOf(c.hash, msg)
						}
						req := minidriver.SignRequest{Container: k.Container, KeySpec: k.Spec, Digest: digest, Padding: c.padding, Hash: c.hash, SaltLength: c.salt}
						sig := f.sign(req)
						assert.Len(t, sig, (rk.N.BitLen()+7)/8, "RSA signature is modulus-sized")
						var err error
						if c.padding == minidriver.PaddingPSS {
							err = rsa.VerifyPSS(rk, c.hash, digest, sig, &rsa.PSSOptions{SaltLength: c.salt, Hash: c.hash})
						} else {
							err = rsa.VerifyPKCS1v15(rk, c.hash, digest, sig)
						}
						assert.NoError(t, err, "verify")
					})
				}
				t.Run("Raw", func(t *testing.T) {
					f := f.with(t)
					// PaddingNone: the digest is a block the caller padded.
					req := minidriver.SignRequest{Container: k.Container, KeySpec: k.Spec, Digest: digestOf(crypto.SHA256, msg), Padding: minidriver.PaddingPKCS1, Hash: crypto.SHA256}
					block, err := minidriver.PadSignature(req, rk.N.BitLen())
					require.NoError(t, err)
					req.Digest, req.Padding, req.Hash = block, minidriver.PaddingNone, 0
					sig := f.sign(req)
					assert.NoError(t, rsa.VerifyPKCS1v15(rk, crypto.SHA256, digestOf(crypto.SHA256, msg), sig), "verify a raw signature")
				})
				t.Run("WrongDigestSize", func(t *testing.T) {
					f := f.with(t)
					f.do(func(ctx context.Context, tx *scrm.Tx) {
						f.loginFor(ctx, tx, k.Container)
						_, err := f.card.SignData(ctx, tx, minidriver.SignRequest{Container: k.Container, KeySpec: k.Spec, Digest: make([]byte, 20), Padding: minidriver.PaddingPKCS1, Hash: crypto.SHA256})
						assert.ErrorIs(t, err, minidriver.ErrInvalidParameter, "a 20-byte SHA-256 digest")
					})
				})
			} else {
				ek := pub.(*ecdsa.PublicKey)
				for _, h := range []crypto.Hash{crypto.SHA256, crypto.SHA384, crypto.SHA1} {
					t.Run(fmt.Sprint(h), func(t *testing.T) {
						f := f.with(t)
						digest := digestOf(h, msg)
						sig := f.sign(minidriver.SignRequest{Container: k.Container, KeySpec: k.Spec, Digest: digest, Hash: h})
						assert.True(t, ecdsa.VerifyASN1(ek, digest, sig), "verify the ASN.1 ECDSA signature")
					})
				}
			}
			t.Run("Errors", func(t *testing.T) {
				f := f.with(t)
				digest := digestOf(crypto.SHA256, msg)
				req := minidriver.SignRequest{Container: k.Container, KeySpec: k.Spec, Digest: digest, Padding: minidriver.PaddingPKCS1, Hash: crypto.SHA256}
				f.do(func(ctx context.Context, tx *scrm.Tx) {
					if f.needsPIN(ctx, tx, k.Container) {
						_, err := f.card.SignData(ctx, tx, req)
						assert.ErrorIs(t, err, minidriver.ErrSecurityViolation, "sign without the PIN")
					}
					f.loginFor(ctx, tx, k.Container)
					empty := req
					empty.Container = f.emptyContainerBut(k.Container)
					_, err := f.card.SignData(ctx, tx, empty)
					assert.ErrorIs(t, err, minidriver.ErrNoKeyContainer, "sign with an empty container")
					other := req
					other.KeySpec = otherSlotSpec(k.Spec)
					info, err := f.card.ContainerInfo(ctx, tx, k.Container)
					require.NoError(t, err)
					if info.Key(other.KeySpec) == nil {
						_, err = f.card.SignData(ctx, tx, other)
						assert.ErrorIs(t, err, minidriver.ErrNoKeyContainer, "sign with the empty slot (%s)", other.KeySpec)
					}
				})
			})
		})
	}
}

// sign logs in and signs req in one transaction.
func (f *fixture) sign(req minidriver.SignRequest) []byte {
	f.t.Helper()
	var sig []byte
	f.do(func(ctx context.Context, tx *scrm.Tx) {
		f.loginFor(ctx, tx, req.Container)
		var err error
		sig, err = f.card.SignData(ctx, tx, req)
		require.NoError(f.t, err, "SignData")
	})
	return sig
}

// emptyContainerBut returns a container that is empty on a fresh card
// and is not idx.
func (f *fixture) emptyContainerBut(idx int) int {
	for _, k := range f.s.h.Keys {
		if !k.Present && k.Container != idx {
			return k.Container
		}
	}
	if c := f.emptyContainer(); c != idx {
		return c
	}
	return 254
}

// otherSlotSpec returns a key spec of the other slot of a container.
func otherSlotSpec(s minidriver.KeySpec) minidriver.KeySpec {
	switch {
	case s == minidriver.Signature:
		return minidriver.KeyExchange
	case s == minidriver.KeyExchange:
		return minidriver.Signature
	case s.IsECDSA():
		return s + (minidriver.ECDHP256 - minidriver.ECDSAP256)
	}
	return s - (minidriver.ECDHP256 - minidriver.ECDSAP256)
}

// testDecrypt decrypts with every RSA key-exchange key.
func (s *suite) testDecrypt(t *testing.T) {
	ks := s.keys(func(k Key) bool { return k.Spec == minidriver.KeyExchange })
	if len(ks) == 0 {
		t.Skip("harness: no RSA key-exchange key")
	}
	for _, k := range ks {
		t.Run(keyName(k), func(t *testing.T) {
			f := s.open(t)
			_, ok := f.card.(minidriver.Decrypter)
			require.True(t, ok, "a card with RSA key-exchange keys must be a minidriver.Decrypter")
			pub := f.provision(k).(*rsa.PublicKey)
			size := (pub.N.BitLen() + 7) / 8
			msg := []byte("a session key for the suite")
			//lint:ignore SA1019 CAPI key exchange is PKCS #1 v1.5; the card must decrypt it.
			ct, err := rsa.EncryptPKCS1v15(rand.Reader, pub, msg)
			require.NoError(t, err)
			req := minidriver.DecryptRequest{Container: k.Container, KeySpec: k.Spec, Ciphertext: ct, Padding: minidriver.PaddingNone}
			t.Run("Raw", func(t *testing.T) {
				f := f.with(t)
				f.do(func(ctx context.Context, tx *scrm.Tx) {
					f.loginFor(ctx, tx, k.Container)
					block, err := minidriver.RSADecrypt(ctx, f.card, tx, req)
					require.NoError(t, err)
					require.Len(t, block, size, "the padded block is modulus-sized")
					assert.Equal(t, []byte{0, 2}, block[:2], "PKCS #1 type 2 block")
					sep := bytes.IndexByte(block[2:], 0)
					require.GreaterOrEqual(t, sep, 8, "padding string")
					assert.Equal(t, msg, block[2+sep+1:], "plaintext")
				})
			})
			t.Run("PKCS1", func(t *testing.T) {
				f := f.with(t)
				f.do(func(ctx context.Context, tx *scrm.Tx) {
					f.loginFor(ctx, tx, k.Container)
					r := req
					r.Padding = minidriver.PaddingPKCS1
					pt, err := minidriver.RSADecrypt(ctx, f.card, tx, r)
					if errorIsAny(err, minidriver.ErrUnsupported) {
						t.Logf("the card leaves PKCS #1 unpadding to the caller: %v", err)
						return
					}
					require.NoError(t, err)
					assert.Equal(t, msg, pt)
				})
			})
			t.Run("OAEP", func(t *testing.T) {
				f := f.with(t)
				label := []byte("suite label")
				oct, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, pub, msg, label)
				require.NoError(t, err)
				f.do(func(ctx context.Context, tx *scrm.Tx) {
					f.loginFor(ctx, tx, k.Container)
					r := req
					r.Ciphertext, r.Padding, r.OAEPHash, r.Label = oct, minidriver.PaddingOAEP, crypto.SHA256, label
					pt, err := minidriver.RSADecrypt(ctx, f.card, tx, r)
					if errorIsAny(err, minidriver.ErrUnsupported) {
						t.Logf("the card leaves OAEP unpadding to the caller: %v", err)
						return
					}
					require.NoError(t, err)
					assert.Equal(t, msg, pt)
				})
			})
			t.Run("Errors", func(t *testing.T) {
				f := f.with(t)
				f.do(func(ctx context.Context, tx *scrm.Tx) {
					if f.needsPIN(ctx, tx, k.Container) {
						_, err := minidriver.RSADecrypt(ctx, f.card, tx, req)
						assert.ErrorIs(t, err, minidriver.ErrSecurityViolation, "decrypt without the PIN")
					}
					f.loginFor(ctx, tx, k.Container)
					short := req
					short.Ciphertext = ct[1:]
					_, err := minidriver.RSADecrypt(ctx, f.card, tx, short)
					assert.ErrorIs(t, err, minidriver.ErrInsufficientBuffer, "a ciphertext shorter than the modulus")
					empty := req
					empty.Container = f.emptyContainerBut(k.Container)
					_, err = minidriver.RSADecrypt(ctx, f.card, tx, empty)
					assert.ErrorIs(t, err, minidriver.ErrNoKeyContainer, "decrypt with an empty container")
				})
			})
		})
	}
}

// testECDH agrees with every ECDH key and compares the derived keys with
// crypto/ecdh on the peer's side.
func (s *suite) testECDH(t *testing.T) {
	ks := s.keys(func(k Key) bool { return k.Spec.IsECDH() })
	if len(ks) == 0 {
		t.Skip("harness: no ECDH key")
	}
	for _, k := range ks {
		t.Run(keyName(k), func(t *testing.T) {
			f := s.open(t)
			ka, ok := f.card.(minidriver.KeyAgreer)
			require.True(t, ok, "a card with ECDH keys must be a minidriver.KeyAgreer")
			pub := f.provision(k).(*ecdh.PublicKey)
			peer, err := k.Spec.Curve().GenerateKey(rand.Reader)
			require.NoError(t, err)
			z, err := peer.ECDH(pub)
			require.NoError(t, err)
			seed := bytes.Repeat([]byte{0x33}, kdf.TLSSeedSize)
			kdfs := []struct {
				name string
				k    minidriver.KDF
			}{
				{"HASH-SHA256", kdf.Hash{Hash: crypto.SHA256}},
				{"HASH-SHA1-Prepend", kdf.Hash{Prepend: [][]byte{[]byte("pre")}, Append: [][]byte{[]byte("app")}}},
				{"HMAC", kdf.HMAC{Hash: crypto.SHA384, Key: []byte("hmac key")}},
				{"TLS_PRF-1.2", kdf.TLSPRF{Protocol: kdf.TLS12, Label: "master secret", Seed: seed}},
				{"SP800_56A_CONCAT", kdf.SP80056AConcat{Hash: crypto.SHA256, AlgorithmID: []byte("AES"), PartyUInfo: []byte("U"), PartyVInfo: []byte("V"), Length: 32}},
			}
			var idx int
			f.do(func(ctx context.Context, tx *scrm.Tx) {
				if f.needsPIN(ctx, tx, k.Container) {
					_, err := minidriver.Agree(ctx, f.card, tx, k.Container, peer.PublicKey())
					assert.ErrorIs(t, err, minidriver.ErrSecurityViolation, "agree without the PIN")
				}
				f.loginFor(ctx, tx, k.Container)
				idx, err = minidriver.Agree(ctx, f.card, tx, k.Container, peer.PublicKey())
				require.NoError(t, err, "Agree")
				wrong, err := wrongCurve(k.Spec).GenerateKey(rand.Reader)
				require.NoError(t, err)
				_, err = minidriver.Agree(ctx, f.card, tx, k.Container, wrong.PublicKey())
				assert.ErrorIs(t, err, minidriver.ErrInvalidParameter, "a peer key on another curve")
				_, err = minidriver.Agree(ctx, f.card, tx, f.emptyContainerBut(k.Container), peer.PublicKey())
				assert.ErrorIs(t, err, minidriver.ErrNoKeyContainer, "agree with an empty container")
			})
			for _, c := range kdfs {
				t.Run(c.name, func(t *testing.T) {
					got, err := ka.DeriveKey(idx, c.k)
					require.NoError(t, err, "DeriveKey")
					want, err := c.k.Derive(z)
					require.NoError(t, err)
					assert.Equal(t, want, got, "derived on the card's side and on the peer's")
				})
			}
			t.Run("Destroy", func(t *testing.T) {
				require.NoError(t, ka.DestroyAgreement(idx))
				_, err := ka.DeriveKey(idx, kdf.Hash{})
				assert.ErrorIs(t, err, minidriver.ErrInvalidParameter, "derive from a destroyed agreement")
				assert.ErrorIs(t, ka.DestroyAgreement(idx), minidriver.ErrInvalidParameter, "destroy twice")
			})
			t.Run("BadKDF", func(t *testing.T) {
				f := f.with(t)
				var i2 int
				f.do(func(ctx context.Context, tx *scrm.Tx) {
					f.loginFor(ctx, tx, k.Container)
					i2, err = minidriver.Agree(ctx, f.card, tx, k.Container, peer.PublicKey())
					require.NoError(t, err)
				})
				defer func() { assert.NoError(t, ka.DestroyAgreement(i2)) }()
				_, err := ka.DeriveKey(i2, kdf.TLSPRF{Label: "x"})
				assert.ErrorIs(t, err, minidriver.ErrInvalidParameter, "TLS_PRF without a seed")
				_, err = ka.DeriveKey(i2, nil)
				assert.ErrorIs(t, err, minidriver.ErrInvalidParameter, "no KDF")
			})
		})
	}
}

// wrongCurve returns a curve other than spec's.
func wrongCurve(s minidriver.KeySpec) ecdh.Curve {
	if s.CurveBits() == 256 {
		return ecdh.P384()
	}
	return ecdh.P256()
}

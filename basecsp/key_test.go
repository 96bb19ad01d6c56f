package basecsp_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/md5"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cardmod/cardmod/basecsp"
	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/pincache"

	_ "crypto/sha3"
	_ "crypto/sha512"
)

func TestSignECDSA(t *testing.T) {
	f := newFixture(t, basecsp.Config{})
	for _, spec := range []minidriver.KeySpec{minidriver.ECDSAP256, minidriver.ECDSAP384} {
		t.Run(spec.String(), func(t *testing.T) {
			k := f.create(t, spec.String(), spec, nil)
			pub := k.Public().(*ecdsa.PublicKey)
			for _, h := range []crypto.Hash{crypto.SHA256, crypto.SHA384, crypto.SHA512} {
				hh := h.New()
				hh.Write([]byte("message"))
				digest := hh.Sum(nil)
				sig, err := k.Sign(rand.Reader, digest, h)
				require.NoError(t, err)
				assert.True(t, ecdsa.VerifyASN1(pub, digest, sig), h.String())
			}
			_, err := k.Sign(rand.Reader, make([]byte, 20), crypto.SHA256)
			assert.ErrorIs(t, err, minidriver.ErrInvalidParameter, "digest length checked against the hash")
			_, err = k.Decrypt(rand.Reader, make([]byte, 32), nil)
			assert.ErrorIs(t, err, minidriver.ErrInvalidParameter)
		})
	}
}

// rsaFixture is a provider with the shared RSA key imported as
// AT_KEYEXCHANGE.
func rsaFixture(t testing.TB) (*fixture, *basecsp.Key) {
	f := newFixture(t, basecsp.Config{})
	return f, f.create(t, "rsa", minidriver.KeyExchange, rsaKey(t))
}

func TestSignRSAPKCS1v15(t *testing.T) {
	_, k := rsaFixture(t)
	pub := k.Public().(*rsa.PublicKey)
	require.Equal(t, 2048, k.Bits())
	require.True(t, pub.Equal(rsaKey(t).Public()))
	for _, h := range []crypto.Hash{crypto.MD5, crypto.SHA1, crypto.SHA224, crypto.SHA256, crypto.SHA384, crypto.SHA512,
		crypto.SHA512_224, crypto.SHA512_256, crypto.SHA3_256, crypto.SHA3_512} {
		t.Run(h.String(), func(t *testing.T) {
			hh := h.New()
			hh.Write([]byte("message"))
			digest := hh.Sum(nil)
			sig, err := k.Sign(rand.Reader, digest, h)
			require.NoError(t, err)
			assert.NoError(t, rsa.VerifyPKCS1v15(pub, h, digest, sig))
		})
	}
	t.Run("no DigestInfo", func(t *testing.T) {
		data := []byte("raw data signed as it is")
		sig, err := k.Sign(rand.Reader, data, crypto.Hash(0))
		require.NoError(t, err)
		assert.NoError(t, rsa.VerifyPKCS1v15(pub, 0, data, sig))
	})
	t.Run("MD5SHA1", func(t *testing.T) {
		m, s := md5.Sum([]byte("tls10")), sha1.Sum([]byte("tls10"))
		digest := append(m[:], s[:]...)
		sig, err := k.Sign(rand.Reader, digest, crypto.MD5SHA1)
		require.NoError(t, err)
		assert.NoError(t, rsa.VerifyPKCS1v15(pub, crypto.MD5SHA1, digest, sig))
	})
	t.Run("MD4", func(t *testing.T) {
		// crypto/rsa does not verify MD4: check the encoded block.
		digest := bytes.Repeat([]byte{0x4D}, 16)
		sig, err := k.Sign(rand.Reader, digest, crypto.MD4)
		require.NoError(t, err)
		m := new(big.Int).Exp(new(big.Int).SetBytes(sig), big.NewInt(int64(pub.E)), pub.N).FillBytes(make([]byte, 256))
		prefix := []byte{0x30, 0x20, 0x30, 0x0c, 0x06, 0x08, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x02, 0x04, 0x05, 0x00, 0x04, 0x10}
		assert.Equal(t, append(prefix, digest...), m[len(m)-34:])
		assert.Equal(t, []byte{0, 1, 0xFF}, m[:3])
	})
	t.Run("wrong digest length", func(t *testing.T) {
		_, err := k.Sign(rand.Reader, make([]byte, 31), crypto.SHA256)
		assert.ErrorIs(t, err, minidriver.ErrInvalidParameter)
	})
}

func TestSignRSAPSS(t *testing.T) {
	_, k := rsaFixture(t)
	pub := k.Public().(*rsa.PublicKey)
	for _, tc := range []struct {
		name       string
		hash       crypto.Hash
		salt, want int
	}{
		{"auto SHA-256", crypto.SHA256, rsa.PSSSaltLengthAuto, 256 - 32 - 2},
		{"equals hash SHA-256", crypto.SHA256, rsa.PSSSaltLengthEqualsHash, 32},
		{"equals hash SHA-384", crypto.SHA384, rsa.PSSSaltLengthEqualsHash, 48},
		{"explicit 20 SHA-512", crypto.SHA512, 20, 20},
		{"auto SHA-1", crypto.SHA1, rsa.PSSSaltLengthAuto, 256 - 20 - 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hh := tc.hash.New()
			hh.Write([]byte("message"))
			digest := hh.Sum(nil)
			sig, err := k.Sign(rand.Reader, digest, &rsa.PSSOptions{SaltLength: tc.salt, Hash: tc.hash})
			require.NoError(t, err)
			assert.NoError(t, rsa.VerifyPSS(pub, tc.hash, digest, sig, &rsa.PSSOptions{SaltLength: tc.want}), "salt of exactly %d bytes", tc.want)
			assert.NoError(t, rsa.VerifyPSS(pub, tc.hash, digest, sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto}))
		})
	}
	digest := sha256.Sum256(nil)
	_, err := k.Sign(rand.Reader, digest[:], &rsa.PSSOptions{SaltLength: 300, Hash: crypto.SHA256})
	assert.ErrorIs(t, err, minidriver.ErrInvalidParameter, "salt too long for the key")
}

func TestDecryptRSA(t *testing.T) {
	_, k := rsaFixture(t)
	pub := k.Public().(*rsa.PublicKey)
	msg := []byte("a secret of 32 bytes, exactly!!!")
	require.Len(t, msg, 32)

	t.Run("PKCS1v15", func(t *testing.T) {
		got, err := k.Decrypt(rand.Reader, encryptPKCS1v15(t, pub, msg), nil)
		require.NoError(t, err)
		assert.Equal(t, msg, got)
	})
	t.Run("PKCS1v15 bad padding", func(t *testing.T) {
		bad := make([]byte, 256)
		bad[255] = 7
		_, err := k.Decrypt(rand.Reader, bad, nil)
		assert.ErrorIs(t, err, minidriver.ErrDecryption)
	})
	t.Run("session key", func(t *testing.T) {
		got, err := k.Decrypt(rand.Reader, encryptPKCS1v15(t, pub, msg), sessionKeyOpts(32))
		require.NoError(t, err)
		assert.Equal(t, msg, got)
	})
	t.Run("session key implicit rejection", func(t *testing.T) {
		for _, c := range [][]byte{
			encryptPKCS1v15(t, pub, msg[:16]), // valid padding, wrong length
			make([]byte, 256),                 // no padding at all
		} {
			got1, err := k.Decrypt(rand.Reader, c, sessionKeyOpts(32))
			require.NoError(t, err, "no error tells a bad ciphertext apart")
			got2, err := k.Decrypt(rand.Reader, c, sessionKeyOpts(32))
			require.NoError(t, err)
			assert.Len(t, got1, 32)
			assert.NotEqual(t, got1, got2, "random bytes each time")
			assert.NotEqual(t, msg, got1)
		}
	})
	t.Run("OAEP label", func(t *testing.T) {
		label := []byte("the label")
		c, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, pub, msg, label)
		require.NoError(t, err)
		got, err := k.Decrypt(rand.Reader, c, &rsa.OAEPOptions{Hash: crypto.SHA256, Label: label})
		require.NoError(t, err)
		assert.Equal(t, msg, got)
		_, err = k.Decrypt(rand.Reader, c, &rsa.OAEPOptions{Hash: crypto.SHA256, Label: []byte("other")})
		assert.ErrorIs(t, err, minidriver.ErrDecryption)
	})
	t.Run("OAEP MGF hash", func(t *testing.T) {
		c, err := rsa.EncryptOAEPWithOptions(rand.Reader, pub, msg, &rsa.OAEPOptions{Hash: crypto.SHA256, MGFHash: crypto.SHA1})
		require.NoError(t, err)
		got, err := k.Decrypt(rand.Reader, c, &rsa.OAEPOptions{Hash: crypto.SHA256, MGFHash: crypto.SHA1})
		require.NoError(t, err)
		assert.Equal(t, msg, got)
		_, err = k.Decrypt(rand.Reader, c, &rsa.OAEPOptions{Hash: crypto.SHA256})
		assert.ErrorIs(t, err, minidriver.ErrDecryption)
	})
	t.Run("too long", func(t *testing.T) {
		_, err := k.Decrypt(rand.Reader, make([]byte, 257), nil)
		assert.Error(t, err)
	})
}

func TestCertificateRequestSignedByCardKey(t *testing.T) {
	f, rk := rsaFixture(t)
	ek := f.create(t, "ec", minidriver.ECDSAP256, nil)
	for _, k := range []*basecsp.Key{rk, ek} {
		t.Run(k.Spec().String(), func(t *testing.T) {
			der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "card"}}, k)
			require.NoError(t, err)
			csr, err := x509.ParseCertificateRequest(der)
			require.NoError(t, err)
			assert.NoError(t, csr.CheckSignature())
		})
	}
}

func TestConcurrentSigning(t *testing.T) {
	f := newFixture(t, basecsp.Config{})
	k := f.create(t, "ec", minidriver.ECDSAP256, nil)
	pub := k.Public().(*ecdsa.PublicKey)
	var wg sync.WaitGroup
	errs := make([]error, 32)
	ok := make([]bool, 32)
	for i := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			digest := sha256.Sum256([]byte{byte(i)})
			sig, err := k.Sign(rand.Reader, digest[:], crypto.SHA256)
			errs[i] = err
			ok[i] = err == nil && ecdsa.VerifyASN1(pub, digest[:], sig)
		}()
	}
	wg.Wait()
	for i := range 32 {
		require.NoError(t, errs[i])
		assert.True(t, ok[i], "signature %d verifies", i)
	}
	assert.Equal(t, int32(1), f.prompt.Count.Load(), "one prompt, then the PIN cache")
}

func TestSilentFailsWhereAPromptIsNeeded(t *testing.T) {
	f := newFixture(t, basecsp.Config{})
	f.create(t, "ec", minidriver.ECDSAP256, nil)
	silent := f.open(t, basecsp.Config{Silent: true, Prompt: f.prompt})
	before := f.prompt.Count.Load()
	ct, err := silent.Container(context.Background(), "ec")
	require.NoError(t, err, "opening needs no PIN")
	k, err := ct.Key(minidriver.ECDSAP256)
	require.NoError(t, err)
	digest := sha256.Sum256(nil)
	_, err = k.Sign(rand.Reader, digest[:], crypto.SHA256)
	assert.ErrorIs(t, err, pincache.ErrSilent)
	assert.ErrorContains(t, err, "basecsp: ")
	_, err = silent.CreateContainer(context.Background(), "new", minidriver.ECDSAP256, 0, nil)
	assert.ErrorIs(t, err, pincache.ErrSilent)
	assert.Equal(t, before, f.prompt.Count.Load(), "the prompt was never asked")
}

func TestPublicNeverTouchesTheCard(t *testing.T) {
	f := newFixture(t, basecsp.Config{})
	k := f.create(t, "ec", minidriver.ECDSAP256, nil)
	f.reader.Remove()
	assert.NotNil(t, k.Public())
	digest := sha256.Sum256(nil)
	_, err := k.Sign(rand.Reader, digest[:], crypto.SHA256)
	assert.Error(t, err)
}

// sessionKeyOpts asks for PKCS #1 v1.5 decryption with implicit rejection.
func sessionKeyOpts(n int) crypto.DecrypterOpts {
	//lint:ignore SA1019 the options crypto/tls passes are what is tested.
	return &rsa.PKCS1v15DecryptOptions{SessionKeyLen: n}
}

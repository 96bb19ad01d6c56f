package piv_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"math/big"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cardmod/cardmod/cardfs"
	simpiv "github.com/cardmod/cardmod/cardsim/piv"
	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/minidriver/piv"
	"github.com/cardmod/cardmod/scrm"
)

// makeCert issues a certificate for pub, signed by a throwaway CA.
func makeCert(t testing.TB, pub crypto.PublicKey, cn string) []byte {
	t.Helper()
	ca, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Unix(1700000000, 0),
		NotAfter:     time.Unix(1900000000, 0),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, ca)
	require.NoError(t, err)
	return der
}

func getData(t testing.TB, ctx context.Context, tx *scrm.Tx, tag uint32) ([]byte, error) {
	t.Helper()
	rsp, err := tx.Do(ctx, scrm.Command{INS: 0xCB, P1: 0x3F, P2: 0xFF, Data: []byte{0x5C, 3, byte(tag >> 16), byte(tag >> 8), byte(tag)}, Ne: 65536})
	if err != nil {
		return nil, err
	}
	return rsp.Data, nil
}

func TestCertificateRoundTrip(t *testing.T) {
	e := newEnv(t, nil, piv.Plugin{})
	key := testRSAKey(t)
	var ecPub *ecdsa.PublicKey
	e.run(t, func(ctx context.Context, tx *scrm.Tx) {
		admin(t, ctx, e.md, tx, simpiv.DefaultManagementKey)
		require.NoError(t, minidriver.CreateContainer(ctx, e.md, tx, minidriver.CreateContainerRequest{Index: 0, KeySpec: minidriver.ECDSAP256}))
		require.NoError(t, minidriver.CreateContainer(ctx, e.md, tx, minidriver.CreateContainerRequest{Index: 2, KeySpec: minidriver.KeyExchange, Key: key}))
		info, err := e.md.ContainerInfo(ctx, tx, 0)
		require.NoError(t, err)
		ecPub = info.Signature.(*ecdsa.PublicKey)
	})
	certEC := makeCert(t, ecPub, "ec")
	certRSA := makeCert(t, &key.PublicKey, "rsa")
	e.run(t, func(ctx context.Context, tx *scrm.Tx) {
		admin(t, ctx, e.md, tx, simpiv.DefaultManagementKey)
		require.NoError(t, minidriver.CreateFile(ctx, e.md, tx, "mscp", "ksc00", cardfs.EveryoneReadUserWriteAc))
		assert.ErrorIs(t, minidriver.CreateFile(ctx, e.md, tx, "mscp", "ksc00", cardfs.EveryoneReadUserWriteAc), minidriver.ErrFileExists)
		empty, err := e.md.ReadFile(ctx, tx, "mscp", "ksc00")
		require.NoError(t, err)
		assert.Empty(t, empty)
		require.NoError(t, minidriver.WriteFile(ctx, e.md, tx, "mscp", "ksc00", certEC))
		// The compressed form of the Base CSP is accepted too.
		z, err := cardfs.CompressCert(certRSA)
		require.NoError(t, err)
		require.NoError(t, minidriver.WriteFile(ctx, e.md, tx, "mscp", "kxc02", z))
		assert.ErrorIs(t, minidriver.WriteFile(ctx, e.md, tx, "mscp", "kxc00", certEC), minidriver.ErrFileNotFound, "container 0 holds a signature key")
	})
	e.run(t, func(ctx context.Context, tx *scrm.Tx) {
		got, err := e.md.ReadFile(ctx, tx, "mscp", "ksc00")
		require.NoError(t, err)
		assert.Equal(t, certEC, got)
		got, err = e.md.ReadFile(ctx, tx, "mscp", "kxc02")
		require.NoError(t, err)
		assert.Equal(t, certRSA, got)
		files, err := e.md.ListFiles(ctx, tx, "mscp")
		require.NoError(t, err)
		assert.Equal(t, []string{"cmapfile", "ksc00", "kxc02"}, files)
		fi, err := e.md.FileInfo(ctx, tx, "mscp", "kxc02")
		require.NoError(t, err)
		assert.Equal(t, len(certRSA), fi.Size)
		// The PIV object is what yubico-piv-tool writes: 70, 71 00, FE.
		raw, err := getData(t, ctx, tx, 0x5FC10B)
		require.NoError(t, err)
		assert.Equal(t, append(append([]byte{0x53, 0x82, byte((len(certRSA) + 9) >> 8), byte(len(certRSA) + 9), 0x70, 0x82, byte(len(certRSA) >> 8), byte(len(certRSA))}, certRSA...), 0x71, 0x01, 0x00, 0xFE, 0x00), raw)
	})
	e.run(t, func(ctx context.Context, tx *scrm.Tx) {
		admin(t, ctx, e.md, tx, simpiv.DefaultManagementKey)
		require.NoError(t, minidriver.DeleteFile(ctx, e.md, tx, "mscp", "ksc00"))
		_, err := e.md.ReadFile(ctx, tx, "mscp", "ksc00")
		assert.ErrorIs(t, err, minidriver.ErrFileNotFound)
		assert.ErrorIs(t, minidriver.DeleteFile(ctx, e.md, tx, "mscp", "ksc00"), minidriver.ErrFileNotFound)
	})
}

func TestGzipCertificateObject(t *testing.T) {
	// yubico-piv-tool --compress: the certificate gzip'ed, CertInfo 01.
	sim := newSim(t, simpiv.Config{Version: simpiv.Version{Major: 5, Minor: 2, Patch: 7}})
	e := newEnv(t, sim, piv.Plugin{})
	key := testRSAKey(t)
	cert := makeCert(t, &key.PublicKey, "compressed")
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	_, err := zw.Write(cert)
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	e.run(t, func(ctx context.Context, tx *scrm.Tx) {
		admin(t, ctx, e.md, tx, simpiv.DefaultManagementKey)
		require.NoError(t, minidriver.CreateContainer(ctx, e.md, tx, minidriver.CreateContainerRequest{Index: 2, KeySpec: minidriver.KeyExchange, Key: key}))
		obj := append(berTLV(0x70, z.Bytes()), 0x71, 0x01, 0x01, 0xFE, 0x00)
		putData(t, ctx, tx, 0x5FC10B, obj)
	})
	// Firmware 5.2 has no GET METADATA: the container comes from the
	// certificate.
	e2 := newEnv(t, sim, piv.Plugin{})
	e2.run(t, func(ctx context.Context, tx *scrm.Tx) {
		got, err := e2.md.ReadFile(ctx, tx, "mscp", "kxc02")
		require.NoError(t, err)
		assert.Equal(t, cert, got)
		m := containerMap(t, ctx, e2.md, tx)
		recs := m.ValidRecords()
		require.Len(t, recs, 1)
		assert.Equal(t, 2, recs[0].Index)
		assert.Equal(t, uint16(2048), recs[0].KeyExchangeKeySizeBits)
		info, err := e2.md.ContainerInfo(ctx, tx, 2)
		require.NoError(t, err)
		assert.Equal(t, &key.PublicKey, info.KeyExchange)
		userPIN(t, ctx, e2.md, tx)
		digest := sha256.Sum256([]byte("m"))
		sig, err := e2.md.SignData(ctx, tx, minidriver.SignRequest{Container: 2, KeySpec: minidriver.KeyExchange, Digest: digest[:], Padding: minidriver.PaddingPKCS1, Hash: crypto.SHA256})
		require.NoError(t, err)
		assert.Len(t, sig, 256)
	})
	// A gzip bomb is refused.
	e.run(t, func(ctx context.Context, tx *scrm.Tx) {
		admin(t, ctx, e.md, tx, simpiv.DefaultManagementKey)
		var bomb bytes.Buffer
		zw := gzip.NewWriter(&bomb)
		_, err := zw.Write(make([]byte, 1<<20))
		require.NoError(t, err)
		require.NoError(t, zw.Close())
		putData(t, ctx, tx, 0x5FC10B, append(berTLV(0x70, bomb.Bytes()), 0x71, 0x01, 0x01))
	})
	e.run(t, func(ctx context.Context, tx *scrm.Tx) {
		_, err := e.md.ReadFile(ctx, tx, "mscp", "kxc02")
		assert.ErrorIs(t, err, minidriver.ErrCommDataLost)
	})
}

// ykRecord builds one 107-byte record of object 5FFF10.
func ykRecord(name string, slot, spec byte, bits uint16, flags, pin byte) []byte {
	r := make([]byte, 107)
	for i, u := range utf16.Encode([]rune(name)) {
		binary.LittleEndian.PutUint16(r[2*i:], u)
	}
	r[80], r[81] = slot, spec
	binary.LittleEndian.PutUint16(r[82:], bits)
	r[84], r[85] = flags, pin
	for i := range 20 {
		r[87+i] = byte(i + 1)
	}
	return r
}

func TestYubicoContainerMapRoundTrip(t *testing.T) {
	e := newEnv(t, nil, piv.Plugin{})
	key := testRSAKey(t)
	rec0 := ykRecord("my-container", 0x9D, 1, 2048, 0x03, 1)
	e.run(t, func(ctx context.Context, tx *scrm.Tx) {
		admin(t, ctx, e.md, tx, simpiv.DefaultManagementKey)
		require.NoError(t, minidriver.CreateContainer(ctx, e.md, tx, minidriver.CreateContainerRequest{Index: 2, KeySpec: minidriver.KeyExchange, Key: key}))
		putData(t, ctx, tx, 0x5FFF10, berTLV(0x81, rec0))
	})
	e.run(t, func(ctx context.Context, tx *scrm.Tx) {
		m := containerMap(t, ctx, e.md, tx)
		recs := m.ValidRecords()
		require.Len(t, recs, 1)
		assert.Equal(t, cardfs.ContainerMapRecord{Index: 0, Name: "my-container", Flags: 3, KeyExchangeKeySizeBits: 2048}, recs[0])
		info, err := e.md.ContainerInfo(ctx, tx, 0)
		require.NoError(t, err)
		assert.Equal(t, &key.PublicKey, info.KeyExchange)
		_, err = e.md.ContainerInfo(ctx, tx, 2)
		assert.ErrorIs(t, err, minidriver.ErrNoKeyContainer, "the stored map says which containers exist")

		// Add a container as the Base CSP would, and write the map back.
		_, err = m.Add(cardfs.ContainerMapRecord{Name: "second", Flags: cardfs.ContainerValid, SigKeySizeBits: 256}, 0)
		require.NoError(t, err)
		admin(t, ctx, e.md, tx, simpiv.DefaultManagementKey)
		require.NoError(t, minidriver.WriteFile(ctx, e.md, tx, "mscp", "cmapfile", m.Marshal()))
		require.NoError(t, minidriver.CreateContainer(ctx, e.md, tx, minidriver.CreateContainerRequest{Index: 1, KeySpec: minidriver.ECDSAP256}))
	})
	e.run(t, func(ctx context.Context, tx *scrm.Tx) {
		raw, err := getData(t, ctx, tx, 0x5FFF10)
		require.NoError(t, err)
		rec1 := ykRecord("second", 0x9C, 3, 256, 0x01, 4)
		for i := range 20 {
			rec1[87+i] = 0
		}
		want := berTLV(0x53, berTLV(0x81, append(append([]byte{}, rec0...), rec1...)))
		assert.Equal(t, want, raw, "record 0 kept byte for byte, record 1 in slot 9C")
		pin, err := e.md.ContainerPIN(ctx, tx, 1)
		require.NoError(t, err)
		assert.Equal(t, piv.PINSignature, pin)
		info, err := e.md.ContainerInfo(ctx, tx, 1)
		require.NoError(t, err)
		assert.Equal(t, minidriver.ECDSAP256, info.SignatureSpec)
	})
	// A record naming a slot twice is refused; a malformed object is data
	// loss. Another process writes it, bumping cardcf first as every
	// writer does (the map read under the old cardcf is not trusted).
	other := newEnv(t, e.sim, piv.Plugin{})
	other.run(t, func(ctx context.Context, tx *scrm.Tx) {
		admin(t, ctx, other.md, tx, simpiv.DefaultManagementKey)
		require.NoError(t, minidriver.WriteFile(ctx, other.md, tx, "", "cardcf", []byte{0, 0, 9, 0, 9, 0}))
		putData(t, ctx, tx, 0x5FFF10, berTLV(0x81, rec0[:100]))
	})
	e.run(t, func(ctx context.Context, tx *scrm.Tx) {
		_, err := e.md.ReadFile(ctx, tx, "mscp", "cmapfile")
		assert.ErrorIs(t, err, minidriver.ErrCommDataLost)
		admin(t, ctx, e.md, tx, simpiv.DefaultManagementKey)
		err = minidriver.WriteFile(ctx, e.md, tx, "mscp", "cmapfile", []byte{1, 2, 3})
		assert.ErrorIs(t, err, minidriver.ErrInvalidParameter)
	})
}

func TestFileStore(t *testing.T) {
	e := newEnv(t, nil, piv.Plugin{})
	cf := []byte{1, 2, 3, 0, 4, 0}
	e.run(t, func(ctx context.Context, tx *scrm.Tx) {
		userPIN(t, ctx, e.md, tx)
		err := minidriver.WriteFile(ctx, e.md, tx, "", "cardcf", cf)
		assert.ErrorIs(t, err, minidriver.ErrSecurityViolation, "PUT DATA needs the management key")
		admin(t, ctx, e.md, tx, simpiv.DefaultManagementKey)
		require.NoError(t, minidriver.WriteFile(ctx, e.md, tx, "", "cardcf", cf))
		require.NoError(t, minidriver.CreateDirectory(ctx, e.md, tx, "app", cardfs.UserCreateDeleteDirAc))
		assert.ErrorIs(t, minidriver.CreateDirectory(ctx, e.md, tx, "mscp", cardfs.UserCreateDeleteDirAc), minidriver.ErrFileExists)
		require.NoError(t, minidriver.CreateFile(ctx, e.md, tx, "app", "data", cardfs.UserReadWriteAc))
		require.NoError(t, minidriver.WriteFile(ctx, e.md, tx, "app", "data", []byte("hello")))
		require.NoError(t, minidriver.CreateFile(ctx, e.md, tx, "mscp", "notes", cardfs.EveryoneReadUserWriteAc))
		assert.ErrorIs(t, minidriver.CreateFile(ctx, e.md, tx, "", "cardid", cardfs.EveryoneReadUserWriteAc), minidriver.ErrFileExists)
		assert.ErrorIs(t, minidriver.WriteFile(ctx, e.md, tx, "", "cardid", make([]byte, 16)), cardfs.ErrAccessDenied)
		assert.ErrorIs(t, minidriver.DeleteFile(ctx, e.md, tx, "mscp", "cmapfile"), cardfs.ErrAccessDenied)
		assert.ErrorIs(t, minidriver.DeleteDirectory(ctx, e.md, tx, "mscp"), minidriver.ErrDirNotEmpty)
	})
	// Another process sees the files.
	other := newEnv(t, e.sim, piv.Plugin{})
	other.run(t, func(ctx context.Context, tx *scrm.Tx) {
		got, err := other.md.ReadFile(ctx, tx, "", "cardcf")
		require.NoError(t, err)
		assert.Equal(t, cf, got)
		_, err = other.md.ReadFile(ctx, tx, "app", "data")
		assert.ErrorIs(t, err, cardfs.ErrAccessDenied, "UserReadWriteAc: not for everyone")
		userPIN(t, ctx, other.md, tx)
		got, err = other.md.ReadFile(ctx, tx, "app", "data")
		require.NoError(t, err)
		assert.Equal(t, []byte("hello"), got)
		files, err := other.md.ListFiles(ctx, tx, "mscp")
		require.NoError(t, err)
		assert.Equal(t, []string{"cmapfile", "notes"}, files)
		files, err = other.md.ListFiles(ctx, tx, "app")
		require.NoError(t, err)
		assert.Equal(t, []string{"data"}, files)
		fi, err := other.md.FileInfo(ctx, tx, "app", "data")
		require.NoError(t, err)
		assert.Equal(t, minidriver.FileInfo{Size: 5, AccessCondition: cardfs.UserReadWriteAc}, fi)
		fi, err = other.md.FileInfo(ctx, tx, "", "cardcf")
		require.NoError(t, err)
		assert.Equal(t, minidriver.FileInfo{Size: 6, AccessCondition: cardfs.EveryoneReadUserWriteAc}, fi)

		admin(t, ctx, other.md, tx, simpiv.DefaultManagementKey)
		assert.ErrorIs(t, minidriver.DeleteDirectory(ctx, other.md, tx, "app"), minidriver.ErrDirNotEmpty)
		require.NoError(t, minidriver.DeleteFile(ctx, other.md, tx, "app", "data"))
		require.NoError(t, minidriver.DeleteDirectory(ctx, other.md, tx, "app"))
		_, err = other.md.ListFiles(ctx, tx, "app")
		assert.ErrorIs(t, err, minidriver.ErrDirNotFound)
		// The store object is bounded by the card's object size.
		require.NoError(t, minidriver.CreateFile(ctx, other.md, tx, "mscp", "big", cardfs.EveryoneReadUserWriteAc))
		err = minidriver.WriteFile(ctx, other.md, tx, "mscp", "big", make([]byte, 4000))
		assert.ErrorIs(t, err, minidriver.ErrNoSpace)
	})
}

// TestFileStoreLeavesOutTheEmptyMSCP: the file store object holds the
// mscp directory only while it has files of its own (every version of the
// plug-in makes it, empty, when the object has none: 8 bytes less in the
// GET DATA that starts a transaction); another process sees the same
// files either way.
func TestFileStoreLeavesOutTheEmptyMSCP(t *testing.T) {
	e := newEnv(t, nil, piv.Plugin{})
	stored := func(ctx context.Context, tx *scrm.Tx) []byte {
		raw, err := getData(t, ctx, tx, 0x5FFF20)
		require.NoError(t, err)
		return raw
	}
	seen := func(want []string) {
		other := newEnv(t, e.sim, piv.Plugin{})
		other.run(t, func(ctx context.Context, tx *scrm.Tx) {
			files, err := other.md.ListFiles(ctx, tx, "mscp")
			require.NoError(t, err)
			assert.Equal(t, want, files)
		})
	}
	e.run(t, func(ctx context.Context, tx *scrm.Tx) {
		admin(t, ctx, e.md, tx, simpiv.DefaultManagementKey)
		require.NoError(t, minidriver.WriteFile(ctx, e.md, tx, "", "cardcf", []byte{1, 2, 3, 0, 4, 0}))
		assert.NotContains(t, string(stored(ctx, tx)), "mscp", "an empty mscp is not stored")
	})
	seen([]string{"cmapfile"})
	e.run(t, func(ctx context.Context, tx *scrm.Tx) {
		admin(t, ctx, e.md, tx, simpiv.DefaultManagementKey)
		require.NoError(t, minidriver.CreateFile(ctx, e.md, tx, "mscp", "notes", cardfs.EveryoneReadUserWriteAc))
		assert.Contains(t, string(stored(ctx, tx)), "mscp", "mscp with a file of its own is stored")
	})
	seen([]string{"cmapfile", "notes"})
	e.run(t, func(ctx context.Context, tx *scrm.Tx) {
		admin(t, ctx, e.md, tx, simpiv.DefaultManagementKey)
		require.NoError(t, minidriver.DeleteFile(ctx, e.md, tx, "mscp", "notes"))
		assert.NotContains(t, string(stored(ctx, tx)), "mscp")
	})
	seen([]string{"cmapfile"})
}

func TestMSRoots(t *testing.T) {
	e := newEnv(t, nil, piv.Plugin{})
	big := bytes.Repeat([]byte("0123456789"), 500)
	e.run(t, func(ctx context.Context, tx *scrm.Tx) {
		admin(t, ctx, e.md, tx, simpiv.DefaultManagementKey)
		require.NoError(t, minidriver.CreateFile(ctx, e.md, tx, "mscp", "msroots", cardfs.EveryoneReadUserWriteAc))
		assert.ErrorIs(t, minidriver.CreateFile(ctx, e.md, tx, "mscp", "msroots", cardfs.EveryoneReadUserWriteAc), minidriver.ErrFileExists)
		got, err := e.md.ReadFile(ctx, tx, "mscp", "msroots")
		require.NoError(t, err)
		assert.Empty(t, got)
		require.NoError(t, minidriver.WriteFile(ctx, e.md, tx, "mscp", "msroots", big))
	})
	e.run(t, func(ctx context.Context, tx *scrm.Tx) {
		got, err := e.md.ReadFile(ctx, tx, "mscp", "msroots")
		require.NoError(t, err)
		assert.Equal(t, big, got)
		first, err := getData(t, ctx, tx, 0x5FFF11)
		require.NoError(t, err)
		assert.Equal(t, []byte{0x53, 0x82, 0x0B, 0xEC, 0x83, 0x82, 0x0B, 0xE8}, first[:8], "a middle part of 3048 bytes")
		second, err := getData(t, ctx, tx, 0x5FFF12)
		require.NoError(t, err)
		assert.Equal(t, byte(0x82), second[4], "the last part")
		admin(t, ctx, e.md, tx, simpiv.DefaultManagementKey)
		require.NoError(t, minidriver.WriteFile(ctx, e.md, tx, "mscp", "msroots", []byte("small")))
		_, err = getData(t, ctx, tx, 0x5FFF12)
		assert.ErrorIs(t, err, scrm.ErrNotFound)
		got, err = e.md.ReadFile(ctx, tx, "mscp", "msroots")
		require.NoError(t, err)
		assert.Equal(t, []byte("small"), got)
		require.NoError(t, minidriver.DeleteFile(ctx, e.md, tx, "mscp", "msroots"))
		_, err = e.md.ReadFile(ctx, tx, "mscp", "msroots")
		assert.ErrorIs(t, err, minidriver.ErrFileNotFound)
		assert.ErrorIs(t, minidriver.WriteFile(ctx, e.md, tx, "mscp", "msroots", make([]byte, 6*3052)), minidriver.ErrNoSpace)
	})
}

func TestReadOnly(t *testing.T) {
	e := newEnv(t, nil, piv.Plugin{ReadOnly: true})
	e.run(t, func(ctx context.Context, tx *scrm.Tx) {
		p, err := e.md.Properties(ctx, tx)
		require.NoError(t, err)
		assert.True(t, p.ReadOnly)
		assert.Equal(t, minidriver.CacheNone, p.CacheMode)
		assert.False(t, p.SupportsX509Enrollment)
		assert.False(t, e.md.Capabilities().KeyGen)
		fs, err := e.md.FreeSpace(ctx, tx)
		require.NoError(t, err)
		assert.Equal(t, 0, fs.BytesAvailable)
		assert.Equal(t, 0, fs.ContainersAvailable)
		admin(t, ctx, e.md, tx, simpiv.DefaultManagementKey) // the holder's own card: the key is theirs
		assert.ErrorIs(t, minidriver.WriteFile(ctx, e.md, tx, "", "cardcf", make([]byte, 6)), minidriver.ErrReadOnly)
		assert.ErrorIs(t, minidriver.CreateFile(ctx, e.md, tx, "mscp", "x", cardfs.EveryoneReadUserWriteAc), minidriver.ErrReadOnly)
		assert.ErrorIs(t, minidriver.CreateContainer(ctx, e.md, tx, minidriver.CreateContainerRequest{KeySpec: minidriver.ECDSAP256}), minidriver.ErrReadOnly)
		assert.ErrorIs(t, minidriver.DeleteContainer(ctx, e.md, tx, 0), minidriver.ErrReadOnly)
		cf, err := e.md.ReadFile(ctx, tx, "", "cardcf")
		require.NoError(t, err)
		assert.Equal(t, make([]byte, 6), cf)

		// A key and certificate provisioned by another tool show up
		// and sign.
		rsp, err := tx.Do(ctx, scrm.Command{INS: 0x47, P2: 0x9A, Data: []byte{0xAC, 0x03, 0x80, 0x01, 0x11}, Ne: 256})
		require.NoError(t, err)
		pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), rsp.Data[5:])
		require.NoError(t, err)
		cert := makeCert(t, pub, "provisioned")
		putData(t, ctx, tx, 0x5FC105, append(berTLV(0x70, cert), 0x71, 0x01, 0x00, 0xFE, 0x00))
	})
	e.run(t, func(ctx context.Context, tx *scrm.Tx) {
		files, err := e.md.ListFiles(ctx, tx, "mscp")
		require.NoError(t, err)
		assert.Contains(t, files, "ksc00")
		info, err := e.md.ContainerInfo(ctx, tx, 0)
		require.NoError(t, err)
		pub := info.Signature.(*ecdsa.PublicKey)
		userPIN(t, ctx, e.md, tx)
		digest := sha256.Sum256([]byte("ro"))
		sig, err := e.md.SignData(ctx, tx, minidriver.SignRequest{Container: 0, Digest: digest[:]})
		require.NoError(t, err)
		assert.True(t, ecdsa.VerifyASN1(pub, digest[:], sig))
	})
}

// TestGenericPIVWritable: a PIV card without any Yubico instruction, whose
// management key the caller has, gets key generation, certificate writes
// and certificate deletion through the SP 800-73-4 objects (item 3 of
// issue 15); before, any card that did not answer GET VERSION was
// read-only.
func TestGenericPIVWritable(t *testing.T) {
	e := newEnv(t, genericPIV{newSim(t, simpiv.Config{Version: simpiv.Version{Major: 5, Minor: 4, Patch: 3}})}, piv.Plugin{})
	e.run(t, func(ctx context.Context, tx *scrm.Tx) {
		p, err := e.md.Properties(ctx, tx)
		require.NoError(t, err)
		assert.False(t, p.ReadOnly)
		assert.True(t, e.md.Capabilities().KeyGen)
		admin(t, ctx, e.md, tx, simpiv.DefaultManagementKey)
		require.NoError(t, minidriver.CreateContainer(ctx, e.md, tx, minidriver.CreateContainerRequest{Index: 0, KeySpec: minidriver.ECDSAP256}))
		info, err := e.md.ContainerInfo(ctx, tx, 0)
		require.NoError(t, err)
		cert := makeCert(t, info.Signature.(*ecdsa.PublicKey), "generic")
		require.NoError(t, minidriver.WriteFile(ctx, e.md, tx, "mscp", "ksc00", cert))
	})
	e.run(t, func(ctx context.Context, tx *scrm.Tx) {
		got, err := e.md.ReadFile(ctx, tx, "mscp", "ksc00")
		require.NoError(t, err)
		assert.NotEmpty(t, got)
		admin(t, ctx, e.md, tx, simpiv.DefaultManagementKey)
		require.NoError(t, minidriver.DeleteFile(ctx, e.md, tx, "mscp", "ksc00"))
		_, err = e.md.ReadFile(ctx, tx, "mscp", "ksc00")
		assert.ErrorIs(t, err, minidriver.ErrFileNotFound)
	})
}

func TestGenericPIVLimits(t *testing.T) {
	e := newEnv(t, genericPIV{newSim(t, simpiv.Config{Version: simpiv.Version{Major: 5, Minor: 4, Patch: 3}})}, piv.Plugin{})
	e.run(t, func(ctx context.Context, tx *scrm.Tx) {
		ks, err := e.md.KeySizes(ctx, tx, minidriver.Signature)
		require.NoError(t, err)
		assert.Equal(t, 2048, ks.Max)
		_, err = e.md.KeySizes(ctx, tx, minidriver.ECDSAP384)
		assert.ErrorIs(t, err, minidriver.ErrUnsupported)
		p, err := e.md.Properties(ctx, tx)
		require.NoError(t, err)
		assert.Empty(t, p.Serial)
		assert.False(t, p.KeyImport)
		_, err = e.md.ReadFile(ctx, tx, "mscp", "msroots")
		assert.ErrorIs(t, err, minidriver.ErrFileNotFound)
	})
}

func TestStoredMapSlotAssignment(t *testing.T) {
	e := newEnv(t, nil, piv.Plugin{})
	e.run(t, func(ctx context.Context, tx *scrm.Tx) {
		admin(t, ctx, e.md, tx, simpiv.DefaultManagementKey)
		// A map made elsewhere puts container 0 in slot 9C.
		putData(t, ctx, tx, 0x5FFF10, berTLV(0x81, ykRecord("elsewhere", 0x9C, 3, 256, 0x03, 4)))
		require.NoError(t, minidriver.CreateContainer(ctx, e.md, tx, minidriver.CreateContainerRequest{Index: 0, KeySpec: minidriver.ECDSAP256}))
		// Container 1 would be 9C by the slot table: it gets the first
		// free slot, 9A, both when created and when the map is written.
		require.NoError(t, minidriver.CreateContainer(ctx, e.md, tx, minidriver.CreateContainerRequest{Index: 1, KeySpec: minidriver.ECDSAP384}))
		m := containerMap(t, ctx, e.md, tx)
		idx, err := m.Add(cardfs.ContainerMapRecord{Name: "new", Flags: cardfs.ContainerValid, SigKeySizeBits: 384}, 0)
		require.NoError(t, err)
		require.Equal(t, 1, idx)
		require.NoError(t, minidriver.WriteFile(ctx, e.md, tx, "mscp", "cmapfile", m.Marshal()))
		raw, err := getData(t, ctx, tx, 0x5FFF10)
		require.NoError(t, err)
		require.Len(t, raw, 6+2*107)
		assert.Equal(t, byte(0x9C), raw[6+80])
		assert.Equal(t, byte(0x9A), raw[6+107+80])
		info, err := e.md.ContainerInfo(ctx, tx, 1)
		require.NoError(t, err)
		assert.Equal(t, minidriver.ECDSAP384, info.SignatureSpec)
		pin, err := e.md.ContainerPIN(ctx, tx, 0)
		require.NoError(t, err)
		assert.Equal(t, piv.PINSignature, pin)
		_, err = e.md.ContainerInfo(ctx, tx, 2)
		assert.ErrorIs(t, err, minidriver.ErrNoKeyContainer)
		assert.ErrorIs(t, minidriver.CreateContainer(ctx, e.md, tx, minidriver.CreateContainerRequest{Index: 30, KeySpec: minidriver.ECDSAP256}), minidriver.ErrInvalidParameter)
		assert.ErrorIs(t, minidriver.CreateContainer(ctx, e.md, tx, minidriver.CreateContainerRequest{Index: 2, KeySpec: minidriver.ECDSAP256, PIN: piv.PINPUK}), minidriver.ErrInvalidParameter)
	})
}

// A certificate written through the plug-in keeps its SHA-1 fingerprint in
// the stored container map record, as Yubico's tools do; deleting it
// clears the fingerprint.
func TestStoredMapCertificateFingerprint(t *testing.T) {
	e := newEnv(t, nil, piv.Plugin{})
	key := testRSAKey(t)
	e.run(t, func(ctx context.Context, tx *scrm.Tx) {
		admin(t, ctx, e.md, tx, simpiv.DefaultManagementKey)
		require.NoError(t, minidriver.CreateContainer(ctx, e.md, tx, minidriver.CreateContainerRequest{Index: 2, KeySpec: minidriver.KeyExchange, Key: key}))
		putData(t, ctx, tx, 0x5FFF10, berTLV(0x81, ykRecord("with-cert", 0x9D, 1, 2048, 0x03, 1)))
	})
	der := makeCert(t, &key.PublicKey, "fingerprinted")
	record := func(ctx context.Context, tx *scrm.Tx) []byte {
		raw, err := getData(t, ctx, tx, 0x5FFF10)
		require.NoError(t, err)
		require.GreaterOrEqual(t, len(raw), 107)
		return raw[len(raw)-107:]
	}
	e.run(t, func(ctx context.Context, tx *scrm.Tx) {
		admin(t, ctx, e.md, tx, simpiv.DefaultManagementKey)
		require.NoError(t, minidriver.WriteFile(ctx, e.md, tx, "mscp", "kxc00", der))
		fp := sha1.Sum(der)
		assert.Equal(t, fp[:], record(ctx, tx)[87:107])
		assert.Equal(t, "with-cert", utf16Name(record(ctx, tx)[:80]))

		require.NoError(t, minidriver.DeleteFile(ctx, e.md, tx, "mscp", "kxc00"))
		assert.Equal(t, make([]byte, 20), record(ctx, tx)[87:107])
	})
}

func utf16Name(b []byte) string {
	var u []uint16
	for i := 0; i+1 < len(b); i += 2 {
		c := uint16(b[i]) | uint16(b[i+1])<<8
		if c == 0 {
			break
		}
		u = append(u, c)
	}
	return string(utf16.Decode(u))
}

// A card enrolled by Yubico's tools has the container map (5FFF10) and no
// file store (5FFF20): libykpiv's ykpiv_util_write_mscmap and Yubico's
// minidriver write the map object only, 5FFF20 is cardmod's own. A fresh
// process must read the map there too, so GET DATA 5FFF20 answering 6A82
// does not tell that 5FFF10 is absent (issue 12, item 2, left out for it).
func TestYubicoMapWithoutFileStore(t *testing.T) {
	e := newEnv(t, nil, piv.Plugin{})
	key := testRSAKey(t)
	e.run(t, func(ctx context.Context, tx *scrm.Tx) {
		admin(t, ctx, e.md, tx, simpiv.DefaultManagementKey)
		require.NoError(t, minidriver.CreateContainer(ctx, e.md, tx, minidriver.CreateContainerRequest{Index: 2, KeySpec: minidriver.KeyExchange, Key: key}))
		putData(t, ctx, tx, 0x5FFF20, nil)
		putData(t, ctx, tx, 0x5FFF10, berTLV(0x81, ykRecord("yubico-enrolled", 0x9D, 1, 2048, 0x03, 1)))
	})
	fresh := newEnv(t, e.sim, piv.Plugin{})
	fresh.run(t, func(ctx context.Context, tx *scrm.Tx) {
		_, err := getData(t, ctx, tx, 0x5FFF20)
		require.ErrorIs(t, err, scrm.ErrNotFound, "the card has no file store")
		m := containerMap(t, ctx, fresh.md, tx)
		recs := m.ValidRecords()
		require.Len(t, recs, 1)
		assert.Equal(t, "yubico-enrolled", recs[0].Name)
		info, err := fresh.md.ContainerInfo(ctx, tx, 0)
		require.NoError(t, err)
		assert.Equal(t, &key.PublicKey, info.KeyExchange)
	})
}

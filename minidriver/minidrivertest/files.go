package minidrivertest

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cardmod/cardmod/cardfs"
	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/scrm"
)

// testFileSystem checks the well-known files, their codecs, listing, file
// information and the not-found errors, without authentication.
func (s *suite) testFileSystem(t *testing.T) {
	f := s.open(t)
	read := func(t *testing.T, dir, name string) []byte {
		f := f.with(t)
		var b []byte
		f.do(func(ctx context.Context, tx *scrm.Tx) {
			var err error
			b, err = f.card.ReadFile(ctx, tx, dir, name)
			require.NoError(t, err, "ReadFile(%q, %q)", dir, name)
		})
		return b
	}
	t.Run("CardID", func(t *testing.T) {
		b := read(t, cardfs.RootDir, cardfs.CardIDFile)
		assert.Len(t, b, cardfs.CardIDSize)
		_, err := cardfs.ParseCardID(b)
		assert.NoError(t, err)
	})
	t.Run("CardCF", func(t *testing.T) {
		b := read(t, cardfs.RootDir, cardfs.CardCFFile)
		assert.GreaterOrEqual(t, len(b), cardfs.CardCFSize)
		_, err := cardfs.ParseCardCF(b)
		assert.NoError(t, err)
	})
	t.Run("CardApps", func(t *testing.T) {
		apps, err := cardfs.ParseCardApps(read(t, cardfs.RootDir, cardfs.CardAppsFile))
		require.NoError(t, err)
		assert.GreaterOrEqual(t, apps.Index(cardfs.MSCPDir), 0, "cardapps lacks mscp: %q", apps)
	})
	t.Run("ContainerMap", func(t *testing.T) {
		m, err := cardfs.ParseContainerMap(read(t, cardfs.MSCPDir, cardfs.ContainerMapFile))
		require.NoError(t, err)
		for _, k := range s.h.Keys {
			if k.Present {
				rec, ok := m.Record(k.Container)
				if assert.True(t, ok && rec.Valid(), "present key's container %d not in cmapfile", k.Container) {
					bits := rec.KeyExchangeKeySizeBits
					if k.Spec.InSignatureSlot() {
						bits = rec.SigKeySizeBits
					}
					assert.NotZero(t, bits, "cmapfile key size of container %d", k.Container)
				}
			}
		}
	})
	t.Run("ListFiles", func(t *testing.T) {
		f := f.with(t)
		f.do(func(ctx context.Context, tx *scrm.Tx) {
			root, err := f.card.ListFiles(ctx, tx, cardfs.RootDir)
			require.NoError(t, err)
			for _, name := range []string{cardfs.CardIDFile, cardfs.CardCFFile, cardfs.CardAppsFile} {
				assert.Contains(t, root, name)
			}
			for _, name := range root {
				assert.False(t, strings.EqualFold(name, cardfs.MSCPDir), "the root listing names the directory %q: ListFiles lists files only", name)
			}
			mscp, err := f.card.ListFiles(ctx, tx, cardfs.MSCPDir)
			require.NoError(t, err)
			assert.Contains(t, mscp, cardfs.ContainerMapFile)
			for _, name := range append(root, mscp...) {
				assert.NoError(t, cardfs.ValidateName(name), "listed name %q", name)
			}
		})
	})
	t.Run("FileInfo", func(t *testing.T) {
		f := f.with(t)
		f.do(func(ctx context.Context, tx *scrm.Tx) {
			for _, dir := range []string{cardfs.RootDir, cardfs.MSCPDir} {
				names, err := f.card.ListFiles(ctx, tx, dir)
				require.NoError(t, err)
				for _, name := range names {
					fi, err := f.card.FileInfo(ctx, tx, dir, name)
					if !cardfs.CanRead(fi.AccessCondition, cardfs.RoleEveryone) && isDenied(err) {
						continue // FileInfo needs read access
					}
					require.NoError(t, err, "FileInfo(%q, %q)", dir, name)
					assert.NotEqual(t, cardfs.InvalidAc, fi.AccessCondition, "%s/%s access condition", dir, name)
					if !cardfs.CanRead(fi.AccessCondition, cardfs.RoleEveryone) {
						continue
					}
					b, err := f.card.ReadFile(ctx, tx, dir, name)
					require.NoError(t, err, "ReadFile(%q, %q)", dir, name)
					assert.Equal(t, len(b), fi.Size, "%s/%s size", dir, name)
				}
			}
			fi, err := f.card.FileInfo(ctx, tx, cardfs.RootDir, cardfs.CardIDFile)
			require.NoError(t, err)
			assert.Equal(t, cardfs.CardIDSize, fi.Size)
			assert.True(t, cardfs.CanRead(fi.AccessCondition, cardfs.RoleEveryone), "everyone reads cardid")
			assert.False(t, cardfs.CanWrite(fi.AccessCondition, cardfs.RoleUser), "user writes cardid")
		})
	})
	t.Run("CaseInsensitiveNames", func(t *testing.T) {
		assert.Equal(t, read(t, cardfs.RootDir, cardfs.CardIDFile), read(t, cardfs.RootDir, "CardID"))
	})
	t.Run("NotFound", func(t *testing.T) {
		f := f.with(t)
		f.do(func(ctx context.Context, tx *scrm.Tx) {
			_, err := f.card.ReadFile(ctx, tx, cardfs.RootDir, "nosuch")
			assert.ErrorIs(t, err, minidriver.ErrFileNotFound, "ReadFile of a missing file")
			_, err = f.card.ReadFile(ctx, tx, cardfs.MSCPDir, "kxcfe")
			assert.ErrorIs(t, err, minidriver.ErrFileNotFound, "ReadFile of a missing certificate")
			_, err = f.card.ReadFile(ctx, tx, "nosuchd", "file")
			assert.ErrorIs(t, err, minidriver.ErrDirNotFound, "ReadFile in a missing directory")
			_, err = f.card.FileInfo(ctx, tx, cardfs.RootDir, "nosuch")
			assert.ErrorIs(t, err, minidriver.ErrFileNotFound, "FileInfo of a missing file")
			_, err = f.card.ListFiles(ctx, tx, "nosuchd")
			assert.ErrorIs(t, err, minidriver.ErrDirNotFound, "ListFiles of a missing directory")
		})
	})
}

// testWriteFiles checks file and directory round trips with their access
// conditions.
func (s *suite) testWriteFiles(t *testing.T) {
	if !s.h.Features.WriteFiles {
		t.Skip("harness: the file system is not writable")
	}
	const dir, name = cardfs.MSCPDir, "mdtest"
	data := bytes.Repeat([]byte("minidrivertest "), 40)
	t.Run("RoundTrip", func(t *testing.T) {
		f := s.open(t)
		_, ok := f.card.(minidriver.FileWriter)
		require.True(t, ok, "Features.WriteFiles but the card is not a minidriver.FileWriter")
		require.False(t, f.props.ReadOnly, "Features.WriteFiles but the card is read-only")
		f.do(func(ctx context.Context, tx *scrm.Tx) {
			f.loginWrite(ctx, tx)
			require.NoError(t, minidriver.CreateFile(ctx, f.card, tx, dir, name, cardfs.EveryoneReadUserWriteAc))
			fi, err := f.card.FileInfo(ctx, tx, dir, name)
			require.NoError(t, err)
			assert.Equal(t, minidriver.FileInfo{Size: 0, AccessCondition: cardfs.EveryoneReadUserWriteAc}, fi)
			require.NoError(t, minidriver.WriteFile(ctx, f.card, tx, dir, name, data))
			got, err := f.card.ReadFile(ctx, tx, dir, name)
			require.NoError(t, err)
			assert.Equal(t, data, got)
			names, err := f.card.ListFiles(ctx, tx, dir)
			require.NoError(t, err)
			assert.Contains(t, names, name)
		})
		f.do(func(ctx context.Context, tx *scrm.Tx) { // a new transaction, nobody logged in
			got, err := f.card.ReadFile(ctx, tx, dir, name)
			require.NoError(t, err)
			assert.Equal(t, data, got, "content in the next transaction")
			fi, err := f.card.FileInfo(ctx, tx, dir, name)
			require.NoError(t, err)
			assert.Equal(t, len(data), fi.Size)
		})
		g := s.openOn(t, f.sc)
		g.do(func(ctx context.Context, tx *scrm.Tx) {
			got, err := g.card.ReadFile(ctx, tx, dir, name)
			require.NoError(t, err)
			assert.Equal(t, data, got, "content seen by another context")
			g.loginWrite(ctx, tx)
			require.NoError(t, minidriver.WriteFile(ctx, g.card, tx, dir, name, []byte("short")), "shrink")
			got, err = g.card.ReadFile(ctx, tx, dir, name)
			require.NoError(t, err)
			assert.Equal(t, []byte("short"), got)
			require.NoError(t, minidriver.WriteFile(ctx, g.card, tx, dir, name, nil), "empty")
			fi, err := g.card.FileInfo(ctx, tx, dir, name)
			require.NoError(t, err)
			assert.Zero(t, fi.Size)
			require.NoError(t, minidriver.DeleteFile(ctx, g.card, tx, dir, name))
			_, err = g.card.ReadFile(ctx, tx, dir, name)
			assert.ErrorIs(t, err, minidriver.ErrFileNotFound, "read after delete")
			names, err := g.card.ListFiles(ctx, tx, dir)
			require.NoError(t, err)
			assert.NotContains(t, names, name)
		})
	})
	t.Run("Errors", func(t *testing.T) {
		f := s.open(t)
		f.do(func(ctx context.Context, tx *scrm.Tx) {
			f.loginWrite(ctx, tx)
			require.NoError(t, minidriver.CreateFile(ctx, f.card, tx, dir, name, cardfs.EveryoneReadUserWriteAc))
			err := minidriver.CreateFile(ctx, f.card, tx, dir, name, cardfs.EveryoneReadUserWriteAc)
			assert.ErrorIs(t, err, minidriver.ErrFileExists, "create twice")
			err = minidriver.CreateFile(ctx, f.card, tx, dir, "MDTEST", cardfs.EveryoneReadUserWriteAc)
			assert.ErrorIs(t, err, minidriver.ErrFileExists, "create in other case")
			err = minidriver.CreateFile(ctx, f.card, tx, "nosuchd", name, cardfs.EveryoneReadUserWriteAc)
			assert.ErrorIs(t, err, minidriver.ErrDirNotFound, "create in a missing directory")
			err = minidriver.WriteFile(ctx, f.card, tx, dir, "nosuch", data)
			assert.ErrorIs(t, err, minidriver.ErrFileNotFound, "write a missing file")
			err = minidriver.DeleteFile(ctx, f.card, tx, dir, "nosuch")
			assert.ErrorIs(t, err, minidriver.ErrFileNotFound, "delete a missing file")
			err = minidriver.CreateFile(ctx, f.card, tx, dir, "bad/name", cardfs.EveryoneReadUserWriteAc)
			assert.Equal(t, invalidParameter, minidriver.SCardCode(err), "create with a bad name: %v", err)
		})
	})
	t.Run("AccessConditions", func(t *testing.T) {
		f := s.open(t)
		f.do(func(ctx context.Context, tx *scrm.Tx) {
			err := minidriver.CreateFile(ctx, f.card, tx, dir, name, cardfs.EveryoneReadUserWriteAc)
			assert.True(t, isDenied(err), "create without authentication: %v", err)
			f.loginWrite(ctx, tx)
			require.NoError(t, minidriver.CreateFile(ctx, f.card, tx, dir, name, cardfs.EveryoneReadUserWriteAc))
			require.NoError(t, minidriver.CreateFile(ctx, f.card, tx, dir, "mdsecret", cardfs.UserReadWriteAc))
			require.NoError(t, minidriver.WriteFile(ctx, f.card, tx, dir, "mdsecret", []byte("wallet")))
			if !s.writeAuth().Has(minidriver.RoleAdmin) {
				err = minidriver.WriteFile(ctx, f.card, tx, cardfs.RootDir, cardfs.CardIDFile, make([]byte, 16))
				assert.True(t, isDenied(err), "user writes cardid: %v", err)
			}
		})
		f.do(func(ctx context.Context, tx *scrm.Tx) {
			err := minidriver.WriteFile(ctx, f.card, tx, dir, name, data)
			assert.True(t, isDenied(err), "write without authentication: %v", err)
			err = minidriver.DeleteFile(ctx, f.card, tx, dir, name)
			assert.True(t, isDenied(err), "delete without authentication: %v", err)
			_, err = f.card.ReadFile(ctx, tx, dir, "mdsecret")
			assert.True(t, isDenied(err), "read a user file without ROLE_USER: %v", err)
			_, err = f.card.ReadFile(ctx, tx, dir, name)
			assert.NoError(t, err, "everyone reads")
		})
		tx := f.begin()
		f.loginWrite(t.Context(), tx)
		tx = f.logout(tx, s.writeAuth())
		err := minidriver.WriteFile(t.Context(), f.card, tx, dir, name, data)
		assert.True(t, isDenied(err), "write after logging out: %v", err)
		f.end(tx)
	})
	t.Run("CertificateFile", func(t *testing.T) {
		if len(s.h.Keys) == 0 {
			t.Skip("harness: no key")
		}
		k := s.h.Keys[0]
		f := s.open(t)
		der := certificateFor(t, f.provision(k))
		certName, err := cardfs.CertFileName(k.Container, k.Spec.Slot())
		require.NoError(t, err)
		content := der
		if !f.card.Capabilities().CertificateCompression {
			content, err = cardfs.CompressCert(der)
			require.NoError(t, err)
		}
		f.do(func(ctx context.Context, tx *scrm.Tx) {
			f.loginWrite(ctx, tx)
			require.NoError(t, minidriver.CreateFile(ctx, f.card, tx, cardfs.MSCPDir, certName, cardfs.EveryoneReadUserWriteAc), "create %s", certName)
			require.NoError(t, minidriver.WriteFile(ctx, f.card, tx, cardfs.MSCPDir, certName, content), "write %s", certName)
		})
		f.do(func(ctx context.Context, tx *scrm.Tx) {
			got, err := f.card.ReadFile(ctx, tx, cardfs.MSCPDir, certName)
			require.NoError(t, err, "read %s", certName)
			cert, err := cardfs.DecompressCert(got)
			require.NoError(t, err, "decode %s", certName)
			assert.Equal(t, der, cert, "certificate read back")
			fi, err := f.card.FileInfo(ctx, tx, cardfs.MSCPDir, certName)
			require.NoError(t, err)
			assert.Equal(t, len(got), fi.Size)
			names, err := f.card.ListFiles(ctx, tx, cardfs.MSCPDir)
			require.NoError(t, err)
			assert.Contains(t, names, certName)
		})
		f.do(func(ctx context.Context, tx *scrm.Tx) {
			f.loginWrite(ctx, tx)
			require.NoError(t, minidriver.DeleteFile(ctx, f.card, tx, cardfs.MSCPDir, certName), "delete %s", certName)
			_, err := f.card.ReadFile(ctx, tx, cardfs.MSCPDir, certName)
			assert.ErrorIs(t, err, minidriver.ErrFileNotFound, "read %s after delete", certName)
		})
	})
	t.Run("Directories", func(t *testing.T) {
		const sub = "mdtdir"
		f := s.open(t)
		f.do(func(ctx context.Context, tx *scrm.Tx) {
			err := minidriver.CreateDirectory(ctx, f.card, tx, sub, cardfs.UserCreateDeleteDirAc)
			assert.True(t, isDenied(err), "create a directory without authentication: %v", err)
			f.loginWrite(ctx, tx)
			require.NoError(t, minidriver.CreateDirectory(ctx, f.card, tx, sub, cardfs.UserCreateDeleteDirAc))
			err = minidriver.CreateDirectory(ctx, f.card, tx, sub, cardfs.UserCreateDeleteDirAc)
			assert.ErrorIs(t, err, minidriver.ErrFileExists, "create a directory twice")
			names, err := f.card.ListFiles(ctx, tx, sub)
			require.NoError(t, err)
			assert.Empty(t, names)
			require.NoError(t, minidriver.CreateFile(ctx, f.card, tx, sub, name, cardfs.EveryoneReadUserWriteAc))
			err = minidriver.DeleteDirectory(ctx, f.card, tx, sub)
			assert.ErrorIs(t, err, minidriver.ErrDirNotEmpty, "delete a directory with a file")
			require.NoError(t, minidriver.DeleteFile(ctx, f.card, tx, sub, name))
			require.NoError(t, minidriver.DeleteDirectory(ctx, f.card, tx, sub))
			err = minidriver.DeleteDirectory(ctx, f.card, tx, sub)
			assert.ErrorIs(t, err, minidriver.ErrDirNotFound, "delete a missing directory")
			_, err = f.card.ListFiles(ctx, tx, sub)
			assert.ErrorIs(t, err, minidriver.ErrDirNotFound, "list a deleted directory")
		})
	})
}

// certificateFor returns a DER certificate for pub, issued by a throwaway
// software CA key.
func certificateFor(t *testing.T, pub crypto.PublicKey) []byte {
	t.Helper()
	if ek, ok := pub.(*ecdh.PublicKey); ok {
		curve := elliptic.P256()
		if ek.Curve() == ecdh.P384() {
			curve = elliptic.P384()
		} else if ek.Curve() == ecdh.P521() {
			curve = elliptic.P521()
		}
		p, err := ecdsa.ParseUncompressedPublicKey(curve, ek.Bytes())
		require.NoError(t, err)
		pub = p
	}
	ca, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(42),
		Subject:      pkix.Name{CommonName: "minidrivertest"},
		NotBefore:    time.Unix(1700000000, 0),
		NotAfter:     time.Unix(1900000000, 0),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, ca)
	require.NoError(t, err)
	return der
}

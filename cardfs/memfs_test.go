package cardfs

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var (
	user  = RoleSet(RoleUser)
	admin = RoleSet(RoleAdmin)
)

// formatted returns a MemFS after Format with a fixed card id.
func formatted(t *testing.T, cfg MemFSConfig) *MemFS {
	t.Helper()
	fs := NewMemFS(cfg)
	_, err := Format(fs, bytes.NewReader(bytes.Repeat([]byte{0xab}, 16)))
	require.NoError(t, err)
	return fs
}

func requirePathErr(t *testing.T, err error, target error, op string) {
	t.Helper()
	require.ErrorIs(t, err, target)
	var pe *PathError
	require.True(t, errors.As(err, &pe), "%v is not a *PathError", err)
	assert.Equal(t, op, pe.Op)
}

func TestFormat(t *testing.T) {
	fs := NewMemFS(MemFSConfig{})
	id, err := Format(fs, bytes.NewReader(unhex(t, "00112233445566778899aabbccddeeff")))
	require.NoError(t, err)
	assert.Equal(t, "00112233-4455-6677-8899-aabbccddeeff", id.String())

	want := []struct {
		dir, name string
		content   []byte
		ac        FileAccessCondition
	}{
		{"", "cardid", unhex(t, "00112233445566778899aabbccddeeff"), EveryoneReadAdminWriteAc},
		{"", "cardcf", make([]byte, 6), EveryoneReadUserWriteAc},
		{"", "cardapps", []byte("mscp\x00\x00\x00\x00"), EveryoneReadAdminWriteAc},
		{"mscp", "cmapfile", []byte{}, EveryoneReadUserWriteAc},
	}
	for _, w := range want {
		got, err := fs.ReadFile(RolesNone, w.dir, w.name)
		require.NoError(t, err, w.name)
		assert.Equal(t, w.content, got, w.name)
		info, err := fs.FileInfo(RolesNone, w.dir, w.name)
		require.NoError(t, err)
		assert.Equal(t, FileInfo{Size: len(w.content), AccessCondition: w.ac}, info)
	}
	assert.Equal(t, []string{"mscp"}, fs.ListDirectories(RolesNone))
	names, err := fs.ListFiles(RolesNone, "")
	require.NoError(t, err)
	assert.Equal(t, []string{"cardapps", "cardcf", "cardid"}, names)
	assert.Equal(t, FreeSpace{Used: 30, Available: -1}, fs.FreeSpace())

	// A second Format is refused and changes nothing.
	snap := fs.Snapshot()
	_, err = Format(fs, bytes.NewReader(make([]byte, 16)))
	assert.ErrorIs(t, err, ErrCardCreated)
	assert.ErrorIs(t, err, ErrFileExists)
	assert.EqualError(t, err, "cardfs: card already created")
	assert.Equal(t, snap, fs.Snapshot())

	// The user cannot rewrite cardid but can bump cardcf and add a
	// certificate file in mscp.
	requirePathErr(t, fs.WriteFile(user, "", "cardid", make([]byte, 16)), ErrAccessDenied, "write")
	require.NoError(t, fs.WriteFile(user, "", "cardcf", []byte{0, 0, 0, 0, 1, 0}))
	require.NoError(t, fs.CreateFile(user, "mscp", "kxc00", 0, EveryoneReadUserWriteAc))
	requirePathErr(t, fs.CreateFile(user, "", "other", 0, EveryoneReadUserWriteAc), ErrAccessDenied, "create")
}

func TestFormatErrors(t *testing.T) {
	_, err := Format(nil, bytes.NewReader(make([]byte, 16)))
	assert.ErrorIs(t, err, ErrInvalidParameter)
	_, err = Format(NewMemFS(MemFSConfig{}), bytes.NewReader(make([]byte, 3)))
	assert.Error(t, err)
	_, err = Format(NewMemFS(MemFSConfig{Capacity: 20}), bytes.NewReader(make([]byte, 16)))
	assert.ErrorIs(t, err, ErrNoSpace)

	// A creation interrupted before cardcf is completed.
	fs := NewMemFS(MemFSConfig{})
	require.NoError(t, fs.CreateFile(RolesAll, "", "cardid", 16, EveryoneReadAdminWriteAc))
	require.NoError(t, fs.WriteFile(RolesAll, "", "cardid", make([]byte, 16)))
	require.NoError(t, fs.CreateDirectory(RolesAll, "mscp", UserCreateDeleteDirAc))
	id, err := Format(fs, bytes.NewReader(bytes.Repeat([]byte{1}, 16)))
	require.NoError(t, err)
	got, err := fs.ReadFile(RolesNone, "", "cardid")
	require.NoError(t, err)
	assert.Equal(t, id.Marshal(), got)
	assert.Equal(t, 30, fs.FreeSpace().Used)

	// A root file named mscp blocks the directory.
	fs = NewMemFS(MemFSConfig{})
	require.NoError(t, fs.CreateFile(RolesAll, "", "mscp", 0, EveryoneReadUserWriteAc))
	_, err = Format(fs, bytes.NewReader(make([]byte, 16)))
	assert.ErrorIs(t, err, ErrFileExists)
}

func TestMemFSFileLifecycle(t *testing.T) {
	fs := formatted(t, MemFSConfig{})
	require.NoError(t, fs.CreateFile(user, "MSCP", "KXC00", 100, EveryoneReadUserWriteAc))
	requirePathErr(t, fs.CreateFile(user, "mscp", "kxc00", 0, EveryoneReadUserWriteAc), ErrFileExists, "create")

	data, err := fs.ReadFile(RolesNone, "mscp", "Kxc00")
	require.NoError(t, err)
	assert.Empty(t, data)
	assert.NotNil(t, data)

	cert := []byte{1, 2, 3}
	require.NoError(t, fs.WriteFile(user, "mscp", "kxc00", cert))
	cert[0] = 9 // the file holds a copy
	data, err = fs.ReadFile(RolesNone, "mscp", "kxc00")
	require.NoError(t, err)
	assert.Equal(t, []byte{1, 2, 3}, data)
	data[1] = 9 // and returns a copy
	data, _ = fs.ReadFile(RolesNone, "mscp", "kxc00")
	assert.Equal(t, []byte{1, 2, 3}, data)

	names, err := fs.ListFiles(RolesNone, "mscp")
	require.NoError(t, err)
	assert.Equal(t, []string{"cmapfile", "kxc00"}, names)

	requirePathErr(t, fs.DeleteFile(RolesNone, "mscp", "kxc00"), ErrAccessDenied, "delete")
	require.NoError(t, fs.DeleteFile(user, "mscp", "kxc00"))
	requirePathErr(t, fs.DeleteFile(user, "mscp", "kxc00"), ErrFileNotFound, "delete")
	_, err = fs.ReadFile(user, "mscp", "kxc00")
	requirePathErr(t, err, ErrFileNotFound, "read")
	assert.EqualError(t, err, "cardfs: read mscp/kxc00: file not found")
	requirePathErr(t, fs.WriteFile(user, "mscp", "kxc00", nil), ErrFileNotFound, "write")
	_, err = fs.FileInfo(user, "mscp", "kxc00")
	requirePathErr(t, err, ErrFileNotFound, "info")
}

func TestMemFSDirectories(t *testing.T) {
	fs := formatted(t, MemFSConfig{})
	requirePathErr(t, fs.CreateDirectory(user, "mscp", UserCreateDeleteDirAc), ErrFileExists, "mkdir")
	requirePathErr(t, fs.CreateDirectory(admin, "cardid", UserCreateDeleteDirAc), ErrFileExists, "mkdir")
	requirePathErr(t, fs.CreateFile(admin, "", "mscp", 0, EveryoneReadUserWriteAc), ErrFileExists, "create")
	requirePathErr(t, fs.CreateDirectory(RolesNone, "app", UserCreateDeleteDirAc), ErrAccessDenied, "mkdir")
	requirePathErr(t, fs.CreateDirectory(user, "app", AdminCreateDeleteDirAc), ErrAccessDenied, "mkdir")
	requirePathErr(t, fs.CreateDirectory(admin, "app", InvalidDirAc), ErrInvalidParameter, "mkdir")
	requirePathErr(t, fs.CreateDirectory(admin, "app/x", UserCreateDeleteDirAc), ErrInvalidName, "mkdir")

	require.NoError(t, fs.CreateDirectory(admin, "App", AdminCreateDeleteDirAc))
	requirePathErr(t, fs.CreateFile(user, "app", "f", 0, UserReadWriteAc), ErrAccessDenied, "create")
	require.NoError(t, fs.CreateFile(admin, "app", "f", 0, UserReadWriteAc))
	requirePathErr(t, fs.DeleteDirectory(admin, "app"), ErrDirNotEmpty, "rmdir")
	requirePathErr(t, fs.DeleteDirectory(user, "app"), ErrAccessDenied, "rmdir")
	require.NoError(t, fs.DeleteFile(user, "app", "f"))
	require.NoError(t, fs.DeleteDirectory(admin, "APP"))
	requirePathErr(t, fs.DeleteDirectory(admin, "app"), ErrDirNotFound, "rmdir")
	err := fs.DeleteDirectory(admin, "")
	requirePathErr(t, err, ErrInvalidName, "rmdir")
	assert.EqualError(t, err, "cardfs: rmdir /: invalid name: the root cannot be deleted")

	_, err = fs.ListFiles(RolesNone, "nodir")
	requirePathErr(t, err, ErrDirNotFound, "list")
	assert.EqualError(t, err, "cardfs: list nodir: directory not found")
	requirePathErr(t, fs.CreateFile(admin, "nodir", "f", 0, UserReadWriteAc), ErrDirNotFound, "create")
	requirePathErr(t, fs.CreateFile(admin, "mscp", "bad name", 0, UserReadWriteAc), ErrInvalidName, "create")
	requirePathErr(t, fs.CreateFile(admin, "mscp", "f", -1, UserReadWriteAc), ErrInvalidParameter, "create")
	requirePathErr(t, fs.CreateFile(admin, "mscp", "f", 0, UnknownAc), ErrInvalidParameter, "create")
	requirePathErr(t, fs.CreateFile(admin, "mscp", "f", 0, InvalidAc), ErrInvalidParameter, "create")
	_, err = fs.ReadFile(admin, "bad dir!", "f")
	requirePathErr(t, err, ErrInvalidName, "read")

	// A user directory: user creates and deletes it.
	require.NoError(t, fs.CreateDirectory(user, "wallet", UserCreateDeleteDirAc))
	require.NoError(t, fs.DeleteDirectory(user, "wallet"))
}

// TestMemFSAccessMatrix runs every operation for every access condition and
// role against a file and compares with the access-condition functions.
func TestMemFSAccessMatrix(t *testing.T) {
	acs := []FileAccessCondition{EveryoneReadUserWriteAc, UserWriteExecuteAc, EveryoneReadAdminWriteAc, UserReadWriteAc, AdminReadWriteAc}
	for _, ac := range acs {
		for role := RoleEveryone; role <= RoleAdmin; role++ {
			t.Run(fmt.Sprintf("%v/%v", ac, role), func(t *testing.T) {
				fs := formatted(t, MemFSConfig{})
				require.NoError(t, fs.CreateFile(RolesAll, "mscp", "f", 0, ac))
				roles := RoleSet(role)

				_, err := fs.ReadFile(roles, "mscp", "f")
				assert.Equal(t, CanRead(ac, role) || CanRead(ac, RoleEveryone), err == nil, "read: %v", err)
				_, err = fs.FileInfo(roles, "mscp", "f")
				assert.Equal(t, CanRead(ac, role) || CanRead(ac, RoleEveryone), err == nil, "info: %v", err)
				err = fs.WriteFile(roles, "mscp", "f", []byte{1})
				assert.Equal(t, CanWrite(ac, role), err == nil, "write: %v", err)
				err = fs.DeleteFile(roles, "mscp", "f")
				assert.Equal(t, CanDelete(ac, role), err == nil, "delete: %v", err)
				if err != nil {
					assert.ErrorIs(t, err, ErrAccessDenied)
				}
				names, err := fs.ListFiles(roles, "mscp")
				require.NoError(t, err)
				assert.Contains(t, names, "cmapfile")
			})
		}
	}
}

func TestMemFSCapacity(t *testing.T) {
	fs := formatted(t, MemFSConfig{Capacity: 100})
	assert.Equal(t, FreeSpace{Used: 30, Capacity: 100, Available: 70}, fs.FreeSpace())
	require.NoError(t, fs.CreateFile(user, "mscp", "kxc00", 1000, EveryoneReadUserWriteAc))
	requirePathErr(t, fs.WriteFile(user, "mscp", "kxc00", make([]byte, 71)), ErrNoSpace, "write")
	require.NoError(t, fs.WriteFile(user, "mscp", "kxc00", make([]byte, 70)))
	assert.Equal(t, 0, fs.FreeSpace().Available)
	require.NoError(t, fs.WriteFile(user, "mscp", "kxc00", make([]byte, 10)))
	assert.Equal(t, 60, fs.FreeSpace().Available)
	require.NoError(t, fs.DeleteFile(user, "mscp", "kxc00"))
	assert.Equal(t, 70, fs.FreeSpace().Available)

	// The file limits keep every state representable in a snapshot.
	big := NewMemFS(MemFSConfig{})
	require.NoError(t, big.CreateFile(RolesAll, "", "f", 0, AdminReadWriteAc))
	requirePathErr(t, big.WriteFile(RolesAll, "", "f", make([]byte, MaxFileSize+1)), ErrNoSpace, "write")
	for i := 0; i < MaxDirectories; i++ {
		require.NoError(t, big.CreateDirectory(RolesAll, fmt.Sprintf("d%d", i), UserCreateDeleteDirAc))
	}
	requirePathErr(t, big.CreateDirectory(RolesAll, "onemore", UserCreateDeleteDirAc), ErrNoSpace, "mkdir")
	for i := 0; i < MaxFilesPerDirectory; i++ {
		require.NoError(t, big.CreateFile(RolesAll, "d0", fmt.Sprintf("f%d", i), 0, AdminReadWriteAc))
	}
	requirePathErr(t, big.CreateFile(RolesAll, "d0", "onemore", 0, AdminReadWriteAc), ErrNoSpace, "create")
	restored := NewMemFS(MemFSConfig{})
	require.NoError(t, restored.Restore(big.Snapshot()))
	assert.Equal(t, big.Snapshot(), restored.Snapshot())
}

func TestMemFSConcurrent(t *testing.T) {
	fs := formatted(t, MemFSConfig{Capacity: 1 << 20})
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := fmt.Sprintf("ksc%02x", g)
			for i := 0; i < 50; i++ {
				if err := fs.CreateFile(user, "mscp", name, 0, EveryoneReadUserWriteAc); err != nil {
					t.Error(err)
					return
				}
				if err := fs.WriteFile(user, "mscp", name, bytes.Repeat([]byte{byte(g)}, i)); err != nil {
					t.Error(err)
					return
				}
				if _, err := fs.ReadFile(RolesNone, "mscp", name); err != nil {
					t.Error(err)
					return
				}
				_, _ = fs.ListFiles(RolesNone, "mscp")
				_ = fs.Snapshot()
				_ = fs.FreeSpace()
				if err := fs.DeleteFile(user, "mscp", name); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, 30, fs.FreeSpace().Used)
}

func TestSnapshotGolden(t *testing.T) {
	fs := NewMemFS(MemFSConfig{})
	require.NoError(t, fs.CreateFile(RolesAll, "", "b", 0, EveryoneReadUserWriteAc))
	require.NoError(t, fs.CreateFile(RolesAll, "", "a", 0, AdminReadWriteAc))
	require.NoError(t, fs.WriteFile(RolesAll, "", "a", []byte{0xaa, 0xbb}))
	require.NoError(t, fs.CreateDirectory(RolesAll, "d", UserCreateDeleteDirAc))
	require.NoError(t, fs.CreateFile(RolesAll, "d", "x", 0, UserWriteExecuteAc))
	want := unhex(t, `
		43 46 53 01                      # magic CFS, version 1
		01 00                            # one application directory
		02 00                            # root: two files
		01 61  06  02 00 00 00  aa bb    # "a" AdminReadWriteAc, 2 bytes
		01 62  01  00 00 00 00           # "b" EveryoneReadUserWriteAc, empty
		01 64  01                        # directory "d" UserCreateDeleteDirAc
		01 00                            # one file
		01 78  02  00 00 00 00           # "x" UserWriteExecuteAc, empty`)
	assert.Equal(t, want, fs.Snapshot())

	back := NewMemFS(MemFSConfig{})
	require.NoError(t, back.Restore(want))
	assert.Equal(t, want, back.Snapshot())
	data, err := back.ReadFile(admin, "", "a")
	require.NoError(t, err)
	assert.Equal(t, []byte{0xaa, 0xbb}, data)
	assert.Equal(t, 2, back.FreeSpace().Used)
}

func TestRestoreErrors(t *testing.T) {
	good := formatted(t, MemFSConfig{}).Snapshot()
	tests := []struct {
		name string
		snap []byte
	}{
		{"empty", nil},
		{"bad magic", []byte("XFS\x01\x00\x00\x00\x00")},
		{"version 2", []byte("CFS\x02\x00\x00\x00\x00")},
		{"truncated", good[:len(good)-1]},
		{"trailing", append(append([]byte(nil), good...), 0)},
		{"upper-case name", unhex(t, "43465301 0000 0100 0141 01 00000000")},
		{"illegal name", unhex(t, "43465301 0000 0100 0120 01 00000000")},
		{"empty name", unhex(t, "43465301 0000 0100 00 01 00000000")},
		{"unsorted files", unhex(t, "43465301 0000 0200 0162 01 00000000 0161 01 00000000")},
		{"duplicate files", unhex(t, "43465301 0000 0200 0161 01 00000000 0161 01 00000000")},
		{"invalid file ac", unhex(t, "43465301 0000 0100 0161 00 00000000")},
		{"unknown file ac", unhex(t, "43465301 0000 0100 0161 04 00000000")},
		{"file length beyond end", unhex(t, "43465301 0000 0100 0161 01 ffffffff")},
		{"file count beyond end", unhex(t, "43465301 0000 ffff")},
		{"dir count beyond end", unhex(t, "43465301 ffff 0000")},
		{"invalid dir ac", unhex(t, "43465301 0100 0000 0164 00 0000")},
		{"unsorted dirs", unhex(t, "43465301 0200 0000 0165 01 0000 0164 01 0000")},
		{"dir named like a root file", unhex(t, "43465301 0100 0100 0164 01 00000000 0164 01 0000")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fs := formatted(t, MemFSConfig{})
			before := fs.Snapshot()
			err := fs.Restore(tc.snap)
			requireFormatError(t, err, "snapshot")
			assert.Equal(t, before, fs.Snapshot(), "unchanged after a failed restore")
		})
	}

	small := NewMemFS(MemFSConfig{Capacity: 10})
	err := small.Restore(good)
	assert.ErrorIs(t, err, ErrNoSpace)
	assert.Equal(t, 0, small.FreeSpace().Used)
}

func FuzzMemFSRestore(f *testing.F) {
	fs := NewMemFS(MemFSConfig{})
	f.Add(fs.Snapshot())
	if _, err := Format(fs, bytes.NewReader(make([]byte, 16))); err != nil {
		f.Fatal(err)
	}
	f.Add(fs.Snapshot())
	if err := fs.CreateFile(RolesAll, "mscp", "kxc00", 0, EveryoneReadUserWriteAc); err != nil {
		f.Fatal(err)
	}
	if err := fs.WriteFile(RolesAll, "mscp", "kxc00", []byte("certificate")); err != nil {
		f.Fatal(err)
	}
	f.Add(fs.Snapshot())
	f.Add([]byte("CFS\x01\xff\xff\xff\xff"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m := NewMemFS(MemFSConfig{Capacity: 1 << 16})
		if err := m.Restore(b); err != nil {
			if !errors.Is(err, ErrNoSpace) {
				checkFormatError(t, err, "snapshot")
			}
			return
		}
		if !bytes.Equal(m.Snapshot(), b) {
			t.Fatal("snapshot round trip changed the bytes")
		}
		// Every restored file can be listed and read by an all-roles
		// caller unless it is write-only.
		for _, d := range append([]string{""}, m.ListDirectories(RolesAll)...) {
			names, err := m.ListFiles(RolesNone, d)
			if err != nil {
				t.Fatal(err)
			}
			for _, n := range names {
				if _, err := m.FileInfo(RolesAll, d, n); err != nil && !errors.Is(err, ErrAccessDenied) {
					t.Fatal(err)
				}
			}
		}
	})
}

package cardfs

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestFileAccessMatrix checks every access condition, role and right against
// the specification's CARD_FILE_ACCESS_CONDITION, written out as a table of
// strings "E U A" with the letters of the rights (R, W, X, D) or "-".
func TestFileAccessMatrix(t *testing.T) {
	matrix := map[FileAccessCondition][3]string{
		InvalidAc:                {"-", "-", "-"},
		EveryoneReadUserWriteAc:  {"R", "RWD", "RWD"},
		UserWriteExecuteAc:       {"-", "WXD", "WD"},
		EveryoneReadAdminWriteAc: {"R", "R", "RWD"},
		UnknownAc:                {"-", "-", "-"},
		UserReadWriteAc:          {"-", "RWD", "RWD"},
		AdminReadWriteAc:         {"-", "-", "RWD"},
		FileAccessCondition(7):   {"-", "-", "-"},
	}
	rights := []struct {
		letter byte
		right  Right
		fn     func(FileAccessCondition, Role) bool
	}{
		{'R', RightRead, CanRead},
		{'W', RightWrite, CanWrite},
		{'X', RightExecute, CanExecute},
		{'D', RightDelete, CanDelete},
	}
	for ac, row := range matrix {
		for role := RoleEveryone; role <= RoleAdmin; role++ {
			want := row[role]
			assert.Equal(t, want, ac.Rights(role).String(), "%v %v", ac, role)
			for _, r := range rights {
				expect := false
				for i := 0; i < len(want); i++ {
					if want[i] == r.letter {
						expect = true
					}
				}
				name := fmt.Sprintf("%v/%v/%c", ac, role, r.letter)
				assert.Equal(t, expect, r.fn(ac, role), name)
				// The same answer through a role set holding only this role
				// (everyone is always included, so compare the union).
				union := ac.Rights(RoleEveryone) | ac.Rights(role)
				assert.Equal(t, union&r.right != 0, ac.Allows(RoleSet(role), r.right), name+" via Allows")
			}
		}
		// Custom roles 3 to 7 never grant file access.
		for role := Role(3); role < 8; role++ {
			assert.Equal(t, Right(0), ac.Rights(role), "%v %v", ac, role)
		}
	}
}

func TestAllowsUnion(t *testing.T) {
	both := RoleSet(RoleUser, RoleAdmin)
	assert.True(t, UserWriteExecuteAc.Allows(both, RightWrite|RightExecute))
	assert.False(t, UserWriteExecuteAc.Allows(RoleSet(RoleAdmin), RightExecute))
	assert.False(t, UserWriteExecuteAc.Allows(RolesAll, RightRead))
	assert.True(t, EveryoneReadAdminWriteAc.Allows(RolesNone, RightRead))
	assert.False(t, EveryoneReadAdminWriteAc.Allows(RolesNone, RightRead|RightWrite))
	assert.False(t, AdminReadWriteAc.Allows(RolesAll, 0), "empty request")
}

func TestDirectoryAccessMatrix(t *testing.T) {
	// create-file, delete-dir, list for everyone, user, admin.
	matrix := map[DirectoryAccessCondition][3][3]bool{
		InvalidDirAc:                {{false, false, false}, {false, false, false}, {false, false, false}},
		UserCreateDeleteDirAc:       {{false, false, true}, {true, true, true}, {true, true, true}},
		AdminCreateDeleteDirAc:      {{false, false, true}, {false, false, true}, {true, true, true}},
		DirectoryAccessCondition(3): {{false, false, false}, {false, false, false}, {false, false, false}},
	}
	for ac, rows := range matrix {
		for role := RoleEveryone; role <= RoleAdmin; role++ {
			want := rows[role]
			assert.Equal(t, want[0], CanCreateFile(ac, role), "%v %v create", ac, role)
			assert.Equal(t, want[1], CanDeleteDirectory(ac, role), "%v %v delete", ac, role)
			assert.Equal(t, want[2], CanList(ac, role), "%v %v list", ac, role)
		}
		assert.False(t, CanCreateFile(ac, Role(5)))
	}
}

func TestRoles(t *testing.T) {
	assert.True(t, RolesNone.Has(RoleEveryone))
	assert.False(t, RolesNone.Has(RoleUser))
	s := RoleSet(RoleUser, Role(9))
	assert.Equal(t, Roles(0x02), s)
	assert.True(t, s.Has(RoleUser))
	assert.False(t, s.Has(RoleAdmin))
	assert.False(t, RolesAll.Has(Role(8)))
	assert.Equal(t, "admin", RoleAdmin.String())
	assert.Equal(t, "role 5", Role(5).String())
}

func TestAccessConditionStrings(t *testing.T) {
	assert.Equal(t, "EveryoneReadUserWriteAc", EveryoneReadUserWriteAc.String())
	assert.Equal(t, "AdminReadWriteAc", AdminReadWriteAc.String())
	assert.Equal(t, "FileAccessCondition(9)", FileAccessCondition(9).String())
	assert.Equal(t, "UserCreateDeleteDirAc", UserCreateDeleteDirAc.String())
	assert.Equal(t, "DirectoryAccessCondition(7)", DirectoryAccessCondition(7).String())
	assert.Equal(t, "-", Right(0).String())
}

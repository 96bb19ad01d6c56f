package cardfs

import "strconv"

// Role is a principal of the card: a PIN identifier (PIN_ID, 0 to 7). Only
// RoleEveryone, RoleUser and RoleAdmin take part in file access; roles 3 to
// 7 protect key containers only (spec "Developer Guidelines: Enhanced PIN
// Support").
type Role uint8

// The three principals every card has.
const (
	RoleEveryone Role = 0 // ROLE_EVERYONE: no authentication
	RoleUser     Role = 1 // ROLE_USER: the user PIN
	RoleAdmin    Role = 2 // ROLE_ADMIN: the administrator key or PIN
)

// String returns "everyone", "user", "admin" or "role N".
func (r Role) String() string {
	switch r {
	case RoleEveryone:
		return "everyone"
	case RoleUser:
		return "user"
	case RoleAdmin:
		return "admin"
	}
	return "role " + strconv.Itoa(int(r))
}

// Roles is the set of roles a caller has authenticated in the current
// transaction, as a PIN_SET bitmask: bit n set means role n is authenticated.
// Everyone is implied: the zero value is an unauthenticated caller. Access is
// the union of what each role may do (spec "Developer Guidelines: Enhanced
// PIN Support").
type Roles uint8

// Common role sets.
const (
	// RolesNone is an unauthenticated caller (everyone only).
	RolesNone Roles = 0
	// RolesAll has every role authenticated (PIN_SET_ALL_ROLES); plug-ins
	// use it to lay out their own emulated file system.
	RolesAll Roles = 0xFF
)

// RoleSet returns the set holding the given roles. Roles above 7 are
// ignored.
func RoleSet(roles ...Role) Roles {
	var s Roles
	for _, r := range roles {
		if r < 8 {
			s |= 1 << r
		}
	}
	return s
}

// Has reports whether role r is in the set. RoleEveryone always is.
func (s Roles) Has(r Role) bool {
	if r == RoleEveryone {
		return true
	}
	return r < 8 && s&(1<<r) != 0
}

// Right is a bit set of file rights.
type Right uint8

// File rights. Deleting a file needs write access to it (spec
// CARD_FILE_ACCESS_CONDITION), so RightDelete is granted exactly where
// RightWrite is.
const (
	RightRead Right = 1 << iota
	RightWrite
	RightExecute
	RightDelete
)

// String lists the rights as letters: R, W, X, D ("-" for none).
func (r Right) String() string {
	s := ""
	for i, c := range "RWXD" {
		if r&(1<<i) != 0 {
			s += string(c)
		}
	}
	if s == "" {
		return "-"
	}
	return s
}

// FileAccessCondition is CARD_FILE_ACCESS_CONDITION, fixed when a file is
// created (spec CARD_FILE_ACCESS_CONDITION).
type FileAccessCondition uint8

// File access conditions with their numeric values.
const (
	// InvalidAc is the zero value: no access condition.
	InvalidAc FileAccessCondition = 0
	// EveryoneReadUserWriteAc: everyone reads, user and admin read and
	// write. Certificates, cmapfile, cardcf, msroots.
	EveryoneReadUserWriteAc FileAccessCondition = 1
	// UserWriteExecuteAc: user writes and executes, admin writes, nobody
	// reads. Private key files.
	UserWriteExecuteAc FileAccessCondition = 2
	// EveryoneReadAdminWriteAc: everyone reads, admin writes. cardid,
	// cardapps.
	EveryoneReadAdminWriteAc FileAccessCondition = 3
	// UnknownAc: a card-specific access condition the model cannot
	// express. The card decides; these functions grant nothing.
	UnknownAc FileAccessCondition = 4
	// UserReadWriteAc: user and admin read and write, everyone nothing.
	UserReadWriteAc FileAccessCondition = 5
	// AdminReadWriteAc: only admin reads and writes.
	AdminReadWriteAc FileAccessCondition = 6
)

var fileACNames = [...]string{
	"InvalidAc", "EveryoneReadUserWriteAc", "UserWriteExecuteAc",
	"EveryoneReadAdminWriteAc", "UnknownAc", "UserReadWriteAc", "AdminReadWriteAc",
}

// String returns the specification's name of the access condition.
func (ac FileAccessCondition) String() string {
	if int(ac) < len(fileACNames) {
		return fileACNames[ac]
	}
	return "FileAccessCondition(" + strconv.Itoa(int(ac)) + ")"
}

// Rights returns what role r may do to a file under access condition ac (spec
// CARD_FILE_ACCESS_CONDITION): the admin is a super-user for reading and
// writing except that nobody reads UserWriteExecuteAc files and only the user
// executes; roles other than everyone, user and admin, InvalidAc, UnknownAc
// and undefined values grant nothing.
func (ac FileAccessCondition) Rights(r Role) Right {
	const rw = RightRead | RightWrite | RightDelete
	switch ac {
	case EveryoneReadUserWriteAc:
		switch r {
		case RoleEveryone:
			return RightRead
		case RoleUser, RoleAdmin:
			return rw
		}
	case UserWriteExecuteAc:
		switch r {
		case RoleUser:
			return RightWrite | RightExecute | RightDelete
		case RoleAdmin:
			return RightWrite | RightDelete
		}
	case EveryoneReadAdminWriteAc:
		switch r {
		case RoleEveryone, RoleUser:
			return RightRead
		case RoleAdmin:
			return rw
		}
	case UserReadWriteAc:
		switch r {
		case RoleUser, RoleAdmin:
			return rw
		}
	case AdminReadWriteAc:
		if r == RoleAdmin {
			return rw
		}
	}
	return 0
}

// Allows reports whether a caller holding roles has every right in want on
// a file under ac. Everyone's rights are always included.
func (ac FileAccessCondition) Allows(roles Roles, want Right) bool {
	var have Right
	for r := Role(0); r < 8; r++ {
		if roles.Has(r) {
			have |= ac.Rights(r)
		}
	}
	return want != 0 && have&want == want
}

// CanRead reports whether role r may read a file under ac.
func CanRead(ac FileAccessCondition, r Role) bool { return ac.Rights(r)&RightRead != 0 }

// CanWrite reports whether role r may write a file under ac.
func CanWrite(ac FileAccessCondition, r Role) bool { return ac.Rights(r)&RightWrite != 0 }

// CanExecute reports whether role r may use a file under ac for a private
// key operation.
func CanExecute(ac FileAccessCondition, r Role) bool { return ac.Rights(r)&RightExecute != 0 }

// CanDelete reports whether role r may delete a file under ac; deleting
// needs write access to the file.
func CanDelete(ac FileAccessCondition, r Role) bool { return ac.Rights(r)&RightDelete != 0 }

// DirectoryAccessCondition is CARD_DIRECTORY_ACCESS_CONDITION, fixed when a
// directory is created (spec CARD_DIRECTORY_ACCESS_CONDITION). Directory
// access conditions cannot be queried through the minidriver interface.
type DirectoryAccessCondition uint8

// Directory access conditions with their numeric values.
const (
	// InvalidDirAc is the zero value: no access condition.
	InvalidDirAc DirectoryAccessCondition = 0
	// UserCreateDeleteDirAc: user and admin may create files in the
	// directory and delete it. MSCPDir uses it.
	UserCreateDeleteDirAc DirectoryAccessCondition = 1
	// AdminCreateDeleteDirAc: only admin may create files in the directory
	// and delete it. MemFS treats the root like this.
	AdminCreateDeleteDirAc DirectoryAccessCondition = 2
)

// String returns the specification's name of the access condition.
func (ac DirectoryAccessCondition) String() string {
	switch ac {
	case InvalidDirAc:
		return "InvalidDirAc"
	case UserCreateDeleteDirAc:
		return "UserCreateDeleteDirAc"
	case AdminCreateDeleteDirAc:
		return "AdminCreateDeleteDirAc"
	}
	return "DirectoryAccessCondition(" + strconv.Itoa(int(ac)) + ")"
}

// valid reports whether ac is one of the two usable conditions.
func (ac DirectoryAccessCondition) valid() bool {
	return ac == UserCreateDeleteDirAc || ac == AdminCreateDeleteDirAc
}

// valid reports whether a file may be created with ac: InvalidAc, UnknownAc
// and undefined values cannot be enforced.
func (ac FileAccessCondition) valid() bool {
	switch ac {
	case EveryoneReadUserWriteAc, UserWriteExecuteAc, EveryoneReadAdminWriteAc,
		UserReadWriteAc, AdminReadWriteAc:
		return true
	}
	return false
}

// CanList reports whether role r may enumerate a directory under ac:
// everyone may list any directory with a valid access condition.
func CanList(ac DirectoryAccessCondition, r Role) bool {
	return ac.valid()
}

// CanCreateFile reports whether role r may create files in a directory
// under ac.
func CanCreateFile(ac DirectoryAccessCondition, r Role) bool {
	switch ac {
	case UserCreateDeleteDirAc:
		return r == RoleUser || r == RoleAdmin
	case AdminCreateDeleteDirAc:
		return r == RoleAdmin
	}
	return false
}

// CanDeleteDirectory reports whether role r may delete (and, in MemFS,
// create) a directory with access condition ac. The same roles that may
// create files in it may delete it.
func CanDeleteDirectory(ac DirectoryAccessCondition, r Role) bool {
	return CanCreateFile(ac, r)
}

// dirAllows reports whether any role in roles satisfies f for ac.
func dirAllows(ac DirectoryAccessCondition, roles Roles, f func(DirectoryAccessCondition, Role) bool) bool {
	for r := Role(0); r < 8; r++ {
		if roles.Has(r) && f(ac, r) {
			return true
		}
	}
	return false
}

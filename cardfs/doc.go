// Package cardfs models the uniform card file system of the Windows smart
// card minidriver specification (v7.07, chapter "File System
// Requirements"): the well-known files and their
// names, access conditions, byte-exact codecs for the card's own files,
// and an in-memory file system for plug-ins whose card has none.
//
// Well-known objects: the root holds cardid ([CardID], 16 random bytes),
// cardcf ([CardCF], the cache freshness counters) and cardapps
// ([CardApps]); the mscp directory holds cmapfile ([ContainerMap], one
// 86-byte record per key container), the container certificates kxcNN and
// kscNN ([CertFileName], stored compressed, see [CompressCert] and
// [DecompressCert]) and msroots ([ParseMSRoots], a certificates-only
// PKCS#7). Names are at most 8 characters and case-insensitive
// ([NormalizeName]).
//
// Access conditions ([FileAccessCondition], [DirectoryAccessCondition])
// say what each [Role] may do; [Roles] is the set of roles a caller has
// authenticated, as a PIN_SET bitmask.
//
// Every parser treats its input as hostile: sizes are checked before
// anything is allocated, nothing panics, and malformed input gives a
// [*FormatError] naming the file, which matches [ErrFormat]. Parse and
// Marshal reproduce a canonical file byte for byte; files carrying data
// the model does not interpret (cardcf's trailing bytes, free cmapfile
// records) keep it.
//
// [MemFS] is a root with one level of directories, files with access
// conditions enforced against the caller's roles, optional capacity, and a
// versioned snapshot ([MemFS.Snapshot], [MemFS.Restore]). [Format] lays
// out a new card on it. File system errors are [*PathError]
// values wrapping sentinels ([ErrAccessDenied], [ErrFileNotFound], ...)
// whose comments give the SCARD_* code the minidriver layer maps them to.
//
// Concurrency: a [MemFS] is safe for concurrent use; each method is atomic.
// A [DataCache] is safe for concurrent use: one lock guards its items (of
// every card), while Hold and Release, which frame every transaction,
// take it only to write a card's file.
// Codec values ([CardCF], [CardApps], [*ContainerMap]) are plain values
// owned by the caller: safe to read concurrently, not to mutate
// concurrently. The package has no global mutable state. It neither logs
// nor prints.
package cardfs

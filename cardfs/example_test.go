package cardfs_test

import (
	"bytes"
	"fmt"

	"github.com/cardmod/cardmod/cardfs"
)

// Building a container map and bumping cardcf before writing it, as a
// writer must (spec "File System Requirements: Cache File").
func ExampleContainerMap() {
	cf, _ := cardfs.ParseCardCF([]byte{1, 0, 0, 0, 0, 0})
	prev := cf

	var cmap cardfs.ContainerMap
	idx, _ := cmap.Add(cardfs.ContainerMapRecord{
		Name:                   "0b2b5c27-1b1e-4f8b-9b13-1d6b9b3f5a10",
		Flags:                  cardfs.ContainerDefault,
		KeyExchangeKeySizeBits: 2048,
	}, 0)
	cf.BumpFiles()      // cmapfile changes
	cf.BumpContainers() // a container appears

	certName, _ := cardfs.CertFileName(idx, cardfs.KeySpecKeyExchange)
	def, _ := cmap.Default()
	file := cmap.Marshal()
	fmt.Println("container", idx, def.Name, "cert", certName)
	fmt.Printf("cmapfile %d bytes, flags %#02x, key exchange % x\n", len(file), file[80], file[84:86])
	fmt.Printf("cardcf % x, stale: %v\n", cf.Marshal(), cf.StaleSince(prev))
	// Output:
	// container 0 0b2b5c27-1b1e-4f8b-9b13-1d6b9b3f5a10 cert kxc00
	// cmapfile 86 bytes, flags 0x03, key exchange 00 08
	// cardcf 01 00 01 00 01 00, stale: containers|files
}

// Creating a card on an in-memory file system and reading it back as
// an unauthenticated caller.
func ExampleFormat() {
	fs := cardfs.NewMemFS(cardfs.MemFSConfig{Capacity: 4096})
	id, _ := cardfs.Format(fs, bytes.NewReader(make([]byte, 16)))

	apps, _ := fs.ReadFile(cardfs.RolesNone, cardfs.RootDir, cardfs.CardAppsFile)
	parsed, _ := cardfs.ParseCardApps(apps)
	err := fs.WriteFile(cardfs.RolesNone, cardfs.RootDir, cardfs.CardCFFile, make([]byte, 6))
	fmt.Println(id)
	fmt.Println(parsed, fs.FreeSpace().Available)
	fmt.Println(err)
	// Output:
	// 00000000-0000-0000-0000-000000000000
	// [mscp] 4066
	// cardfs: write cardcf: access denied
}

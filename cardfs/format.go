package cardfs

import (
	"fmt"
	"io"
)

// Format creates the files of a new card (spec "File System Requirements")
// on fs, acting as
// the card's issuer (every role):
//
//  1. cardid (EveryoneReadAdminWriteAc): 16 bytes from rand
//  2. cardcf (EveryoneReadUserWriteAc): 6 zero bytes; the card counts as
//     created from here on
//  3. cardapps (EveryoneReadAdminWriteAc): "mscp" NUL-padded to 8 bytes
//  4. directory mscp (UserCreateDeleteDirAc)
//  5. mscp/cmapfile (EveryoneReadUserWriteAc), empty
//
// It refuses a card that already has cardcf with an error matching
// ErrCardCreated (and ErrFileExists), leaving it untouched. Files of a
// creation interrupted before cardcf are overwritten. The steps run as one
// atomic operation on fs. It returns the new card identifier.
func Format(fs *MemFS, rand io.Reader) (CardID, error) {
	if fs == nil {
		return CardID{}, fmt.Errorf("%w: nil file system", ErrInvalidParameter)
	}
	id, err := NewCardID(rand)
	if err != nil {
		return CardID{}, err
	}
	apps, _ := DefaultCardApps().Marshal()
	fs.mu.Lock()
	defer fs.mu.Unlock()
	root := fs.dirs[RootDir]
	if _, ok := root.files[CardCFFile]; ok {
		return CardID{}, ErrCardCreated
	}
	if _, ok := root.files[MSCPDir]; ok {
		return CardID{}, &PathError{Op: "mkdir", Dir: MSCPDir, Err: ErrFileExists}
	}
	mscp, haveMSCP := fs.dirs[MSCPDir]
	// Space: files replaced plus files added.
	used := fs.used
	for _, n := range []string{CardIDFile, CardAppsFile} {
		if f, ok := root.files[n]; ok {
			used -= len(f.data)
		}
	}
	if haveMSCP {
		if f, ok := mscp.files[ContainerMapFile]; ok {
			used -= len(f.data)
		}
	}
	used += CardIDSize + CardCFSize + len(apps)
	if fs.capacity > 0 && used > fs.capacity {
		return CardID{}, fmt.Errorf("cardfs: format: %w", ErrNoSpace)
	}
	root.files[CardIDFile] = &memFile{ac: EveryoneReadAdminWriteAc, data: id.Marshal()}
	root.files[CardCFFile] = &memFile{ac: EveryoneReadUserWriteAc, data: CardCF{}.Marshal()}
	root.files[CardAppsFile] = &memFile{ac: EveryoneReadAdminWriteAc, data: apps}
	if !haveMSCP {
		mscp = &memDir{ac: UserCreateDeleteDirAc, files: map[string]*memFile{}}
		fs.dirs[MSCPDir] = mscp
	}
	mscp.files[ContainerMapFile] = &memFile{ac: EveryoneReadUserWriteAc, data: []byte{}}
	fs.used = used
	return id, nil
}

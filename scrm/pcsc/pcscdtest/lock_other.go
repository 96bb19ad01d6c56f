//go:build !unix

package pcscdtest

import (
	"errors"
	"io/fs"
	"os"
)

// tryLock creates path exclusively as a lock file; unlock removes it. A
// crashed test binary leaves the file behind: remove the lock directory.
func tryLock(path string) (unlock func(), ok bool, err error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_RDWR, 0o666)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil, false, nil
		}
		return nil, false, err
	}
	_ = f.Close()
	return func() { _ = os.Remove(path) }, true, nil
}

package gids

import (
	"context"
	"errors"
	"fmt"

	"github.com/cardmod/cardmod/cardfs"
	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/scrm"
)

// names normalizes a directory ("" is the root) and a file name.
func names(dir, name string) (string, string, error) {
	d, err := normDir(dir)
	if err != nil {
		return "", "", err
	}
	n, err := cardfs.NormalizeName(name)
	if err != nil {
		return "", "", fmt.Errorf("gids: %w", err)
	}
	return d, n, nil
}

// normDir normalizes a directory name.
func normDir(dir string) (string, error) {
	if dir == "" {
		return "", nil
	}
	d, err := cardfs.NormalizeName(dir)
	if err != nil {
		return "", fmt.Errorf("gids: %w", err)
	}
	return d, nil
}

// lookup finds dir/name in the master file.
func (c *Card) lookup(ctx context.Context, tx *scrm.Tx, dir, name string) (*masterFile, mfRecord, error) {
	d, n, err := names(dir, name)
	if err != nil {
		return nil, mfRecord{}, err
	}
	mf, err := c.masterFile(ctx, tx)
	if err != nil {
		return nil, mfRecord{}, err
	}
	if !mf.hasDir(d) {
		return mf, mfRecord{}, fmt.Errorf("%w: gids: %s", minidriver.ErrDirNotFound, d)
	}
	i := mf.find(d, n)
	if i < 0 {
		return mf, mfRecord{}, fmt.Errorf("%w: gids: %s/%s", minidriver.ErrFileNotFound, d, n)
	}
	return mf, mf.records[i], nil
}

// ReadFile reads the data object the master file names for dir/name. A
// file whose object is missing (created and never written) is empty.
func (c *Card) ReadFile(ctx context.Context, tx *scrm.Tx, dir, name string) ([]byte, error) {
	isCF := dir == "" && asciiLower(name) == cardfs.CardCFFile
	if isCF {
		if c.use(tx); c.cfProbed != nil {
			return append([]byte{}, c.cfProbed...), nil
		}
		if v, ok := c.readCardCF(ctx, tx); ok {
			return v, nil
		}
	}
	_, r, err := c.lookup(ctx, tx, dir, name)
	if err != nil {
		return nil, err
	}
	b, err := c.getDO(ctx, tx, r.FID, r.DO)
	switch {
	case errors.Is(err, scrm.ErrNotFound):
		return []byte{}, nil
	case err != nil:
		return nil, cardErr("read "+r.Dir+"/"+r.Name, err)
	}
	if b == nil {
		b = []byte{}
	}
	if isCF {
		c.sawCardCF(b)
	}
	return b, nil
}

// ListFiles lists the files of dir from the master file.
func (c *Card) ListFiles(ctx context.Context, tx *scrm.Tx, dir string) ([]string, error) {
	d, err := normDir(dir)
	if err != nil {
		return nil, err
	}
	mf, err := c.masterFile(ctx, tx)
	if err != nil {
		return nil, err
	}
	if !mf.hasDir(d) {
		return nil, fmt.Errorf("%w: gids: %s", minidriver.ErrDirNotFound, d)
	}
	return mf.files(d), nil
}

// FileInfo reads the file for its size; the access condition is the one
// of the DO file holding it.
func (c *Card) FileInfo(ctx context.Context, tx *scrm.Tx, dir, name string) (minidriver.FileInfo, error) {
	_, r, err := c.lookup(ctx, tx, dir, name)
	if err != nil {
		return minidriver.FileInfo{}, err
	}
	b, err := c.ReadFile(ctx, tx, dir, name)
	if err != nil {
		return minidriver.FileInfo{}, err
	}
	return minidriver.FileInfo{Size: len(b), AccessCondition: fidAC(r.FID)}, nil
}

// CreateDirectory adds a directory record to the master file.
func (c *Card) CreateDirectory(ctx context.Context, tx *scrm.Tx, name string, ac cardfs.DirectoryAccessCondition) error {
	if name == "" {
		return fmt.Errorf("%w: gids: the root exists", minidriver.ErrInvalidParameter)
	}
	d, err := normDir(name)
	if err != nil {
		return err
	}
	fid, ok := dirFID(ac)
	if !ok {
		return fmt.Errorf("%w: gids: directory access condition %d", minidriver.ErrInvalidParameter, ac)
	}
	mf, err := c.masterFile(ctx, tx)
	if err != nil {
		return err
	}
	if mf.hasDir(d) || mf.find("", d) >= 0 {
		return fmt.Errorf("%w: gids: %s", minidriver.ErrFileExists, d)
	}
	next := &masterFile{records: append(append([]mfRecord(nil), mf.records...), mfRecord{Dir: d, FID: fid})}
	return c.writeMasterFile(ctx, tx, next)
}

// DeleteDirectory removes an empty directory's record.
func (c *Card) DeleteDirectory(ctx context.Context, tx *scrm.Tx, name string) error {
	if name == "" {
		return fmt.Errorf("%w: gids: the root cannot be deleted", minidriver.ErrInvalidParameter)
	}
	d, err := normDir(name)
	if err != nil {
		return err
	}
	mf, err := c.masterFile(ctx, tx)
	if err != nil {
		return err
	}
	i := mf.find(d, "")
	if i < 0 {
		return fmt.Errorf("%w: gids: %s", minidriver.ErrDirNotFound, d)
	}
	if len(mf.files(d)) > 0 {
		return fmt.Errorf("%w: gids: %s", minidriver.ErrDirNotEmpty, d)
	}
	next := &masterFile{records: append([]mfRecord(nil), mf.records...)}
	next.remove(i)
	return c.writeMasterFile(ctx, tx, next)
}

// CreateFile gives the new file the first free data object of the DO file
// of its access condition, empties that object, then adds the record to
// the master file.
func (c *Card) CreateFile(ctx context.Context, tx *scrm.Tx, dir, name string, ac cardfs.FileAccessCondition) error {
	d, n, err := names(dir, name)
	if err != nil {
		return err
	}
	fid, ok := fileFID(ac)
	if !ok {
		return fmt.Errorf("%w: gids: file access condition %d", minidriver.ErrInvalidParameter, ac)
	}
	mf, err := c.masterFile(ctx, tx)
	if err != nil {
		return err
	}
	if !mf.hasDir(d) {
		return fmt.Errorf("%w: gids: %s", minidriver.ErrDirNotFound, d)
	}
	if mf.find(d, n) >= 0 || (d == "" && mf.hasDir(n)) {
		return fmt.Errorf("%w: gids: %s/%s", minidriver.ErrFileExists, d, n)
	}
	do, ok := mf.freeDO(fid)
	if !ok {
		return fmt.Errorf("%w: gids: no free data object in file %04X", minidriver.ErrNoSpace, fid)
	}
	if err := c.putDO(ctx, tx, fid, do, nil); err != nil {
		return cardErr("create "+d+"/"+n, err)
	}
	next := &masterFile{records: append(append([]mfRecord(nil), mf.records...), mfRecord{Dir: d, Name: storedName(d, n), DO: do, FID: fid})}
	return c.writeMasterFile(ctx, tx, next)
}

// WriteFile replaces the file's data object.
func (c *Card) WriteFile(ctx context.Context, tx *scrm.Tx, dir, name string, data []byte) error {
	_, r, err := c.lookup(ctx, tx, dir, name)
	if err != nil {
		return err
	}
	if len(data) > mfMaxSize {
		return fmt.Errorf("%w: gids: %d bytes for %s/%s", minidriver.ErrNoSpace, len(data), r.Dir, r.Name)
	}
	c.cfProbed = nil
	if err := c.putDO(ctx, tx, r.FID, r.DO, data); err != nil {
		return cardErr("write "+r.Dir+"/"+r.Name, err)
	}
	if r.Dir == "" && asciiLower(r.Name) == cardfs.CardCFFile {
		c.cf = append(c.cf[:0:0], data...)
	}
	return nil
}

// DeleteFile removes the record from the master file, then empties the
// data object. The card checks the write right when the object is
// emptied; the master file is writable by the user, so the object is
// emptied first for files the user may not write.
func (c *Card) DeleteFile(ctx context.Context, tx *scrm.Tx, dir, name string) error {
	mf, r, err := c.lookup(ctx, tx, dir, name)
	if err != nil {
		return err
	}
	if err := c.putDO(ctx, tx, r.FID, r.DO, nil); err != nil {
		return cardErr("delete "+r.Dir+"/"+r.Name, err)
	}
	next := &masterFile{records: append([]mfRecord(nil), mf.records...)}
	next.remove(mf.find(asciiLower(r.Dir), asciiLower(r.Name)))
	return c.writeMasterFile(ctx, tx, next)
}

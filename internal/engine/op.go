package engine

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/cardmod/cardmod/cardfs"
	"github.com/cardmod/cardmod/minidriver"
	"github.com/cardmod/cardmod/pincache"
	"github.com/cardmod/cardmod/scrm"
)

// Op is one logical operation in progress: what fn of Card.Do works
// through. It is valid only during Do and used by one goroutine.
type Op struct {
	// bumped holds the cardcf classes this operation has bumped already:
	// one bump per class and transaction tells every other reader that
	// the class changed (nobody reads between the transaction's writes),
	// so later writes of the class in the same transaction need none.
	bumped cardfs.Stale

	c      *Card
	ctx    context.Context
	tx     *scrm.Tx
	cf     cardfs.CardCF
	hasCF  bool
	authed minidriver.PinSet
	// left: exclusive mode, the PINs earlier operations may have left
	// verified on the card (Card.left).
	left minidriver.PinSet
	// authing is set while an authentication runs: a panic then may
	// leave a login behind.
	authing bool
	// wrote is set once the operation started changing the card (every
	// change bumps cardcf first): it is not started over after a reset.
	wrote bool
	// unchecked: the operation did not read cardcf first (DoChecked) and
	// checks its outcome on the host; synced: cardcf was read in it.
	unchecked, synced bool
	// opened: unchecked in the transaction the card was opened in, on
	// the disk cache's data (CardsDoChecked): no PIN of this process was
	// sent to the card before, so only a PIN taken from the PIN cache
	// needs cardcf's PIN counter read first.
	opened bool
	carry  *carried
}

// carried holds, across the attempts of one Do, the PINs entered for it:
// those whose verification a card reset interrupted before the card
// judged them (pending), and copies of those the card accepted (good), so
// that an attempt after a reset verifies them again instead of asking
// again, whatever their cache policy. Everything is wiped when Do ends.
type carried struct {
	pending map[minidriver.PinID]*pincache.Attempt
	good    map[minidriver.PinID]*pincache.Secret
	// checked: DoChecked's or DoCached's operation, which may skip
	// cardcf; cfAbsentOnly: DoCached's, which skips it only on a card
	// without cardcf (DoCached); unchecked: an attempt did.
	checked, cfAbsentOnly, unchecked bool
}

func (c *carried) take(id minidriver.PinID) *pincache.Attempt {
	att := c.pending[id]
	delete(c.pending, id)
	return att
}

func (c *carried) keep(id minidriver.PinID, att *pincache.Attempt) {
	if c.pending == nil {
		c.pending = make(map[minidriver.PinID]*pincache.Attempt)
	}
	c.pending[id] = att
}

func (c *carried) accepted(id minidriver.PinID, s *pincache.Secret) {
	if c.good == nil {
		c.good = make(map[minidriver.PinID]*pincache.Secret)
	}
	c.good[id].Wipe()
	c.good[id] = s.Clone()
}

// wipe ends every carried attempt unjudged and wipes the copies.
func (c *carried) wipe() {
	for id, att := range c.pending {
		att.Done(scrm.ErrResetCard)
		delete(c.pending, id)
	}
	for id, s := range c.good {
		s.Wipe()
		delete(c.good, id)
	}
}

// settle records what an authentication call left on the card: success
// adds ids to the PINs logged out at the end of the operation; a refusal
// with a status word (a *minidriver.PINError), or a call that sent
// nothing, leaves the login state as it was; anything else (a lost,
// malformed or unexpected answer, a transport error, a deadline) makes it
// unknown, and the transaction ends with a card reset.
func (op *Op) settle(sentBefore uint64, err error, ids ...minidriver.PinID) {
	var pe *minidriver.PINError
	switch {
	case err == nil:
		for _, id := range ids {
			op.authed |= minidriver.NewPinSet(id)
		}
	case errors.As(err, &pe):
	case op.tx.Card().Stats().APDUs == sentBefore:
	case errors.Is(err, scrm.ErrResetCard):
		// The card was reset under the authentication: no login is left.
	default:
		op.tx.RequireReset()
	}
}

func (op *Op) sent() uint64 { return op.tx.Card().Stats().APDUs }

// checkIdentity reads the card's identity (cardid, through the plug-in)
// after a reset: a card that now has another identity is another card,
// and the operation fails as after a removal. How fresh the answer is is
// the plug-in's: GIDS reads the file from the card, PIV answers with the
// CHUID's GUID it read when it opened the card.
func (op *Op) checkIdentity() error {
	c := op.c
	if c.id == (cardfs.CardID{}) {
		return nil // still opening
	}
	b, err := c.md.ReadFile(op.ctx, op.tx, cardfs.RootDir, cardfs.CardIDFile)
	switch {
	case errors.Is(err, minidriver.ErrFileNotFound):
		return nil
	case err != nil:
		return fmt.Errorf("engine: read cardid after a reset: %w", err)
	}
	id, err := cardfs.ParseCardID(b)
	if err != nil || id != c.id {
		c.mu.Lock()
		c.dead = true
		c.mu.Unlock()
		return fmt.Errorf("engine: %s: the card has another identity after a reset: %w", c.reader, scrm.ErrRemovedCard)
	}
	return nil
}

// Unchecked reports whether the operation runs on cached data without
// having read cardcf (Card.DoChecked): an outcome that does not check out
// should then fail with an error matching ErrStale, so that it runs again
// on data read afresh.
func (op *Op) Unchecked() bool { return op.unchecked }

// Card returns the plug-in's card, for calls the engine does not wrap.
func (op *Op) Card() minidriver.Card { return op.c.md }

// Tx returns the transaction.
func (op *Op) Tx() *scrm.Tx { return op.tx }

// Context returns the operation's context.
func (op *Op) Context() context.Context { return op.ctx }

// syncFreshness reads cardcf from the card and drops the stale cache
// classes and PINs. A card without a usable cardcf caches nothing.
func (op *Op) syncFreshness() error {
	c := op.c
	b, err := c.md.ReadFile(op.ctx, op.tx, cardfs.RootDir, cardfs.CardCFFile)
	switch {
	case errors.Is(err, minidriver.ErrFileNotFound):
		op.synced, op.hasCF = true, false
		c.mu.Lock()
		c.cfAbsent, c.resetUnread = false, false
		c.mu.Unlock()
		return nil
	case err != nil:
		return fmt.Errorf("engine: read cardcf: %w", err)
	}
	op.synced = true
	absent := false
	if r, ok := c.md.(cardCFReporter); ok {
		absent = r.CardCFAbsent()
	}
	c.mu.Lock()
	c.cfAbsent, c.resetUnread = absent, false
	c.mu.Unlock()
	cf, err := cardfs.ParseCardCF(b)
	if err != nil {
		op.hasCF = false
		return nil // not trusted: nothing is cached for this operation
	}
	op.cf, op.hasCF = cf, true
	c.noteCF(cf)
	if cache := c.cache(); cache != nil {
		if stale := cache.Sync(c.cacheID, cf); stale&cardfs.StalePins != 0 {
			c.mu.Lock()
			c.pinfo = nil
			c.mu.Unlock()
		}
	}
	if c.id != (cardfs.CardID{}) {
		if c.e.pins.ObserveFreshness(c.pinKey(), cf.Pins) {
			c.mu.Lock()
			c.pinfo = nil
			c.mu.Unlock()
		}
	}
	return nil
}

// cardCFReporter is a plug-in that tells whether the cardcf its last
// ReadFile of cardcf returned was made up for a card that holds no cardcf
// yet but may get one (minidriver/piv on a card no cardmod process wrote
// to: its file store object answers 6A82). Card.DoCached relies on the
// write that gives such a card its cardcf ending with a card reset (PIV:
// it takes the management key, which has no logout).
type cardCFReporter interface {
	CardCFAbsent() bool
}

// cardCFQuietlyAbsent reports whether the card's last cardcf read found
// none that it may get later (Card.cfAbsent) and no transaction of the
// card has begun after a card reset since (Card.resetUnread): a cardcf
// read could see nothing then (DoCached).
func (c *Card) cardCFQuietlyAbsent() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cfAbsent && !c.resetUnread
}

// noteCF records cf as the card's last known cardcf (Card.seenCF).
func (c *Card) noteCF(cf cardfs.CardCF) {
	cf.Extra = slices.Clone(cf.Extra)
	c.mu.Lock()
	if c.seenCF == nil || !c.seenCF.Equal(cf) {
		c.hints = nil
	}
	c.seenCF = &cf
	c.mu.Unlock()
}

// cached reads item from the card's data cache; on a card whose cache
// mode keeps nothing, in an operation that checks its outcome (unchecked:
// DoChecked), from the card's hints.
func (op *Op) cached(name string) ([]byte, bool) {
	cache := op.c.cache()
	if cache == nil {
		if !op.unchecked {
			return nil, false
		}
		c := op.c
		c.mu.Lock()
		defer c.mu.Unlock()
		b, ok := c.hints[name]
		return slices.Clone(b), ok
	}
	if !op.hasCF {
		return nil, false
	}
	if b, ok := op.c.memoGet(op.cf, name); ok {
		return b, true
	}
	b, ok := cache.Get(op.c.cacheID, name)
	if ok {
		op.c.memoPut(op.cf, name, b)
	}
	return b, ok
}

// memoGet returns item name of the card's memo when it was taken under
// cf: the items of the data cache this card used last, kept under the
// card's own lock so that warm operations on different cards share no
// lock (the data cache has one for every card).
func (c *Card) memoGet(cf cardfs.CardCF, name string) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.memoCF == nil || !c.memoCF.Equal(cf) {
		return nil, false
	}
	b, ok := c.memo[name]
	return slices.Clone(b), ok
}

// memoValid reports whether the memo holds items taken under cf.
func (c *Card) memoValid(cf cardfs.CardCF) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.memoCF != nil && c.memoCF.Equal(cf) && len(c.memo) > 0
}

// memoPut keeps data as item name of the memo, valid under cf.
func (c *Card) memoPut(cf cardfs.CardCF, name string, data []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.memoCF == nil || !c.memoCF.Equal(cf) {
		cf.Extra = slices.Clone(cf.Extra)
		c.memoCF, c.memo, c.memoIdx = &cf, make(map[string][]byte), nil
	}
	c.memo[name] = slices.Clone(data)
}

func (op *Op) remember(class cardfs.Stale, name string, data []byte) {
	cache := op.c.cache()
	switch {
	case cache != nil && op.hasCF:
		_ = cache.Put(op.c.cacheID, class, name, data) // a failed disk write only costs a re-read
		op.c.memoPut(op.cf, name, data)
	case cache == nil && !op.c.e.cfg.NoCache && !op.wrote && len(data) <= maxHint:
		c := op.c
		c.mu.Lock()
		if c.hints == nil {
			c.hints = make(map[string][]byte)
		}
		c.hints[name] = slices.Clone(data)
		c.mu.Unlock()
	}
}

// maxHint bounds one item of Card.hints.
const maxHint = 16 << 10

func fileKey(dir, name string) string { return "file:" + dir + "/" + name }

// ReadFile reads a card file, from the data cache while cardcf says it is
// fresh.
func (op *Op) ReadFile(dir, name string) ([]byte, error) {
	key := fileKey(dir, name)
	if b, ok := op.cached(key); ok {
		return b, nil
	}
	b, err := op.c.md.ReadFile(op.ctx, op.tx, dir, name)
	if err != nil {
		return nil, err
	}
	op.remember(cardfs.StaleFiles, key, b)
	return b, nil
}

// bump increments the cardcf counters of classes on the card before the
// data they guard changes (spec "File System Requirements: Cache File"),
// in one write, and drops the classes from the cache. A class this
// operation bumped already is not bumped again (Op.bumped).
func (op *Op) bump(class cardfs.Stale) error {
	if class &^= op.bumped; class == 0 {
		return nil // bumped already in this transaction
	}
	op.wrote = true
	op.c.mu.Lock()
	op.c.cfAbsent = false // this write gives the card its cardcf
	op.c.hints = nil
	op.c.memoCF, op.c.memo, op.c.memoIdx = nil, nil, nil
	op.c.mu.Unlock()
	if !op.hasCF {
		return nil // a card without cardcf caches nothing to protect
	}
	if op.c.isReadOnly() {
		// "If the card is also read-only, the CSP never writes cardcf"
		// (minidriver spec, CP_CARD_CACHE_MODE): what such a card lets
		// its holder change (the PIN) leaves its files as they are.
		return nil
	}
	cf := op.cf
	cf.Extra = append([]byte(nil), op.cf.Extra...)
	if class&cardfs.StalePins != 0 {
		cf.BumpPins()
	}
	if class&cardfs.StaleContainers != 0 {
		cf.BumpContainers()
	}
	if class&cardfs.StaleFiles != 0 {
		cf.BumpFiles()
	}
	if err := minidriver.WriteFile(op.ctx, op.c.md, op.tx, cardfs.RootDir, cardfs.CardCFFile, cf.Marshal()); err != nil {
		return fmt.Errorf("engine: bump cardcf: %w", err)
	}
	op.bumped |= class
	op.cf = cf
	op.c.noteCF(cf)
	if cache := op.c.cache(); cache != nil {
		cache.Sync(op.c.cacheID, cf)
	}
	if class&cardfs.StalePins != 0 {
		op.c.e.pins.ObserveFreshness(op.c.pinKey(), cf.Pins)
	}
	return nil
}

// WriteFile replaces a card file's content, bumping cardcf first.
func (op *Op) WriteFile(dir, name string, data []byte) error {
	if err := op.checkWritable(); err != nil {
		return err
	}
	if err := op.bump(cardfs.StaleFiles); err != nil {
		return err
	}
	if err := minidriver.WriteFile(op.ctx, op.c.md, op.tx, dir, name, data); err != nil {
		return err
	}
	op.remember(cardfs.StaleFiles, fileKey(dir, name), data)
	return nil
}

// CreateFile creates an empty card file, bumping cardcf first.
func (op *Op) CreateFile(dir, name string, ac cardfs.FileAccessCondition) error {
	if err := op.checkWritable(); err != nil {
		return err
	}
	if err := op.bump(cardfs.StaleFiles); err != nil {
		return err
	}
	return minidriver.CreateFile(op.ctx, op.c.md, op.tx, dir, name, ac)
}

// DeleteFile deletes a card file, bumping cardcf first.
func (op *Op) DeleteFile(dir, name string) error {
	if err := op.checkWritable(); err != nil {
		return err
	}
	if err := op.bump(cardfs.StaleFiles); err != nil {
		return err
	}
	return minidriver.DeleteFile(op.ctx, op.c.md, op.tx, dir, name)
}

func (op *Op) checkWritable() error {
	if op.c.isReadOnly() {
		return fmt.Errorf("engine: %w", minidriver.ErrReadOnly)
	}
	return nil
}

// isReadOnly reports the card's CardProperties.ReadOnly, which
// Op.CheckWritable may set once the plug-in learns it.
func (c *Card) isReadOnly() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.props.ReadOnly
}

// CheckWritable fails with an error matching minidriver.ErrReadOnly when
// the card is read-only, so that a write is refused before anything
// authenticates for it: the card's properties say so, or the plug-in
// learns it now (minidriver.WriteChecker: a YubiKey whose CHUID its
// issuer signed), after which the card's properties say so too.
func (op *Op) CheckWritable() error {
	if err := op.checkWritable(); err != nil {
		return err
	}
	err := minidriver.CheckWritable(op.ctx, op.c.md, op.tx)
	switch {
	case err == nil, errors.Is(err, minidriver.ErrUnsupported):
		return nil
	case errors.Is(err, minidriver.ErrReadOnly):
		op.c.mu.Lock()
		op.c.props.ReadOnly = true
		op.c.mu.Unlock()
		return fmt.Errorf("engine: %w", err)
	}
	return fmt.Errorf("engine: is the card writable: %w", err)
}

// certScanKey is the data cache item of the plug-in's certificate scan
// (CertificateMap), encoded as cmapfile is.
const certScanKey = "certscan"

// CertificateMap returns the containers that hold a certificate, as a
// container map whose valid records are those containers: the plug-in's
// minidriver.CertificateScanner scan, from the data cache while cardcf
// says it is fresh. ok is false where the caller reads cmapfile instead
// (ContainerMap): a fresh cmapfile is cached already, or the plug-in has
// no scan for this card (ErrUnsupported).
func (op *Op) CertificateMap() (m *cardfs.ContainerMap, ok bool, err error) {
	if _, hit := op.cached(fileKey(cardfs.MSCPDir, cardfs.ContainerMapFile)); hit {
		return nil, false, nil
	}
	if b, hit := op.cached(certScanKey); hit {
		if m, err := cardfs.ParseContainerMap(b); err == nil {
			return m, true, nil
		}
	}
	m, err = minidriver.ScanCertificates(op.ctx, op.c.md, op.tx)
	switch {
	case errors.Is(err, minidriver.ErrUnsupported):
		return nil, false, nil
	case err != nil:
		return nil, false, err
	}
	// Certificates and the container map are files: every change of
	// either bumps the files counter.
	op.remember(cardfs.StaleFiles, certScanKey, m.Marshal())
	return m, true, nil
}

// ContainerMap reads and parses mscp/cmapfile.
func (op *Op) ContainerMap() (*cardfs.ContainerMap, error) {
	b, err := op.ReadFile(cardfs.MSCPDir, cardfs.ContainerMapFile)
	if err != nil {
		return nil, err
	}
	m, err := cardfs.ParseContainerMap(b)
	if err != nil {
		return nil, fmt.Errorf("engine: %w: %w", minidriver.ErrCommDataLost, err)
	}
	return m, nil
}

// ContainerIndex returns the index of the valid container called name
// (FindContainer), and whether there is one. While cardcf is unchanged
// the answer comes from the card's memo, without looking again.
func (op *Op) ContainerIndex(name string) (int, bool, error) {
	c := op.c
	memo := op.c.cache() != nil && op.hasCF
	if memo {
		c.mu.Lock()
		idx, ok := c.memoIdx[name]
		if ok && c.memoCF != nil && c.memoCF.Equal(op.cf) {
			c.mu.Unlock()
			return idx, idx >= 0, nil
		}
		c.mu.Unlock()
	}
	rec, found, err := op.FindContainer(name)
	if err != nil {
		return 0, false, err
	}
	idx := -1
	if found {
		idx = rec.Index
	}
	if memo {
		c.mu.Lock()
		if c.memoCF != nil && c.memoCF.Equal(op.cf) {
			if c.memoIdx == nil {
				c.memoIdx = make(map[string]int)
			}
			c.memoIdx[name] = idx
		}
		c.mu.Unlock()
	}
	return idx, idx >= 0, nil
}

// ContainerInfo returns the public keys of container idx, from the cache
// while cardcf's containers counter is unchanged.
func (op *Op) ContainerInfo(idx int) (minidriver.ContainerInfo, error) {
	key := "container:" + strconv.Itoa(idx)
	if b, ok := op.cached(key); ok {
		if info, err := decodeContainerInfo(b); err == nil {
			return info, nil
		}
	}
	info, err := op.c.md.ContainerInfo(op.ctx, op.tx, idx)
	if err != nil {
		return minidriver.ContainerInfo{}, err
	}
	if b, err := encodeContainerInfo(info); err == nil {
		op.remember(cardfs.StaleContainers, key, b)
	}
	return info, nil
}

// ContainerPIN returns the PIN protecting container idx
// (CCP_PIN_IDENTIFIER), from the cache while cardcf's containers counter
// is unchanged.
func (op *Op) ContainerPIN(idx int) (minidriver.PinID, error) {
	key := "containerpin:" + strconv.Itoa(idx)
	if b, ok := op.cached(key); ok && len(b) == 1 && minidriver.PinID(b[0]).Valid() {
		return minidriver.PinID(b[0]), nil
	}
	id, err := op.c.md.ContainerPIN(op.ctx, op.tx, idx)
	if err != nil {
		return 0, err
	}
	op.remember(cardfs.StaleContainers, key, []byte{byte(id)})
	return id, nil
}

// encodeContainerInfo stores both keys as key spec (4 bytes, big-endian),
// length (2 bytes) and PKIX DER.
func encodeContainerInfo(info minidriver.ContainerInfo) ([]byte, error) {
	var out []byte
	for _, k := range []struct {
		spec minidriver.KeySpec
		pub  crypto.PublicKey
	}{{info.SignatureSpec, info.Signature}, {info.KeyExchangeSpec, info.KeyExchange}} {
		var der []byte
		if k.pub != nil {
			var err error
			if der, err = x509.MarshalPKIXPublicKey(k.pub); err != nil {
				return nil, err
			}
		}
		out = binary.BigEndian.AppendUint32(out, uint32(k.spec))
		out = binary.BigEndian.AppendUint16(out, uint16(len(der)))
		out = append(out, der...)
	}
	return out, nil
}

var errBadCacheItem = errors.New("engine: bad cached container information")

func decodeContainerInfo(b []byte) (minidriver.ContainerInfo, error) {
	var info minidriver.ContainerInfo
	for i := range 2 {
		if len(b) < 6 {
			return info, errBadCacheItem
		}
		spec := minidriver.KeySpec(binary.BigEndian.Uint32(b))
		n := int(binary.BigEndian.Uint16(b[4:]))
		b = b[6:]
		if len(b) < n {
			return info, errBadCacheItem
		}
		var pub crypto.PublicKey
		if n > 0 {
			var err error
			if pub, err = x509.ParsePKIXPublicKey(b[:n]); err != nil {
				return info, errBadCacheItem
			}
			if spec.IsECDH() {
				if pub, err = ecdhPublic(pub); err != nil {
					return info, errBadCacheItem
				}
			}
		}
		b = b[n:]
		if i == 0 {
			info.SignatureSpec, info.Signature = spec, pub
		} else {
			info.KeyExchangeSpec, info.KeyExchange = spec, pub
		}
	}
	if len(b) != 0 {
		return info, errBadCacheItem
	}
	return info, nil
}

// PINInfo returns the description of PIN id, read once per card while the
// pins freshness counter is unchanged.
func (op *Op) PINInfo(id minidriver.PinID) (minidriver.PINInfo, error) {
	c := op.c
	c.mu.Lock()
	info, ok := c.pinfo[id]
	c.mu.Unlock()
	if ok {
		return info, nil
	}
	info, err := c.md.PINInfo(op.ctx, op.tx, id)
	if err != nil {
		return info, err
	}
	c.mu.Lock()
	if c.pinfo == nil {
		c.pinfo = make(map[minidriver.PinID]minidriver.PINInfo)
	}
	c.pinfo[id] = info
	c.mu.Unlock()
	return info, nil
}

// Authenticate makes sure PIN id is verified in this transaction: an empty
// PIN needs nothing, an external one is verified without data, an
// alphanumeric one with the cached PIN where its policy allows, else the
// prompt's. A wrong cached PIN is dropped and not retried. When the
// outcome is neither success nor a refusal, the transaction ends with a
// card reset (see Card.Do).
func (op *Op) Authenticate(id minidriver.PinID, context string) error {
	if op.authed.Has(id) {
		return nil
	}
	info, err := op.PINInfo(id)
	if err != nil {
		return err
	}
	var flags minidriver.AuthFlags
	if op.c.e.cfg.Silent {
		flags |= minidriver.Silent
	}
	op.authing = true
	defer func() { op.authing = false }()
	switch info.Type {
	case minidriver.EmptyPIN:
		return nil
	case minidriver.ExternalPIN:
		before := op.sent()
		_, err := op.c.md.Authenticate(op.ctx, op.tx, id, nil, flags)
		op.settle(before, err, id)
		return err
	case minidriver.AlphanumericPIN:
		if s := op.carry.good[id]; s != nil {
			// Accepted earlier in this Do, before a reset: verify it again.
			before := op.sent()
			_, err := op.c.md.Authenticate(op.ctx, op.tx, id, s.Bytes(), flags)
			op.settle(before, err, id)
			if pincache.IsPINFailure(err) {
				op.c.e.pins.Fail(op.c.pinKey(), id)
			}
			return err
		}
		if op.unchecked && !op.synced && !op.c.cardCFQuietlyAbsent() &&
			(!op.opened || op.c.e.pins.Holds(op.c.pinKey(), id)) {
			// Freshness is read where cached data is used that the
			// caller cannot check: a PIN cached for the card is sent
			// only while cardcf's PIN counter says it was not changed
			// elsewhere (else it is dropped without being tried). Not
			// on a card whose last read found no cardcf (Card.cfAbsent)
			// while nothing reset the card since (Card.resetUnread):
			// there the read could only see cardcf appear, and the
			// cardmod write that makes it appear (a PIN change among
			// them) ends with a card reset (see DoCached). Nor on a card
			// opened in this transaction when no PIN is cached for it
			// (Op.opened): the PIN is the one the user gives now.
			if err := op.syncFreshness(); err != nil {
				return err
			}
		}
		att := op.carry.take(id)
		if att == nil {
			req := pincache.Request{PIN: id, Info: info, Card: op.c.pinKey(), CardName: op.c.reader, AttemptsLeft: -1, Context: context}
			if att, err = op.c.e.src.Begin(op.ctx, req); err != nil {
				return fmt.Errorf("engine: PIN %d: %w", id, err)
			}
		}
		before := op.sent()
		_, err = op.c.md.Authenticate(op.ctx, op.tx, id, att.Secret().Bytes(), flags)
		op.settle(before, err, id)
		switch {
		case errors.Is(err, scrm.ErrResetCard):
			op.carry.keep(id, att) // not judged: verify it again after the reset
		case err == nil:
			op.carry.accepted(id, att.Secret())
			att.Done(nil)
		default:
			if pincache.IsPINFailure(err) {
				// A refused PIN: the next PIN this card is sent follows
				// a cardcf read, whatever the last one found.
				op.c.mu.Lock()
				op.c.cfAbsent = false
				op.c.mu.Unlock()
			}
			att.Done(err)
		}
		return err
	default:
		return fmt.Errorf("engine: PIN %d is challenge-response: %w", id, minidriver.ErrUnsupported)
	}
}

// AuthenticateResponse authenticates a challenge-response PIN (normally
// the admin key) with respond, which computes the response to the card's
// challenge.
func (op *Op) AuthenticateResponse(id minidriver.PinID, respond func(challenge []byte) ([]byte, error)) error {
	if op.authed.Has(id) {
		return nil
	}
	op.authing = true
	defer func() { op.authing = false }()
	before := op.sent()
	ch, err := minidriver.Challenge(op.ctx, op.c.md, op.tx, id)
	if err != nil {
		op.settle(before, err)
		return err
	}
	resp, err := respond(ch)
	if err != nil {
		return fmt.Errorf("engine: challenge response: %w", err)
	}
	defer clear(resp)
	before = op.sent()
	_, err = op.c.md.Authenticate(op.ctx, op.tx, id, resp, 0)
	op.settle(before, err, id)
	return err
}

// ChangeAuthenticator changes or unblocks a PIN (or changes the admin
// key) with the plug-in's CardChangeAuthenticatorEx. The PINs it involves
// are logged out at the end of the operation, as a card may leave them
// verified; when its outcome is neither success nor a refusal, the
// transaction ends with a card reset.
func (op *Op) ChangeAuthenticator(req minidriver.ChangeRequest) error {
	op.authing = true
	defer func() { op.authing = false }()
	before := op.sent()
	err := minidriver.ChangeAuthenticator(op.ctx, op.c.md, op.tx, req)
	op.settle(before, err, req.AuthPIN, req.Target)
	return err
}

// AuthenticateAdmin authenticates the challenge-response PIN id (the
// admin key, ROLE_ADMIN) with respond, which learns the card that asks
// (plug-in, reader, identity, serial, the key's algorithm where the card
// told it) beside the challenge.
func (op *Op) AuthenticateAdmin(id minidriver.PinID, respond minidriver.AdminResponder) error {
	return op.AuthenticateResponse(id, func(challenge []byte) ([]byte, error) {
		return respond(op.ctx, op.AdminChallenge(id, challenge))
	})
}

// AdminChallenge is challenge, issued by the card for the
// challenge-response PIN id, with the card that asks (plug-in, reader,
// identity, serial, the key's algorithm where the card told it), as an
// AdminResponder is given it.
func (op *Op) AdminChallenge(id minidriver.PinID, challenge []byte) minidriver.AdminChallenge {
	c := op.c
	return minidriver.AdminChallenge{
		Plugin:    c.plugin,
		Reader:    c.reader,
		CardID:    c.id,
		Serial:    slices.Clone(c.props.Serial),
		Algorithm: minidriver.ChallengeAlgorithm(c.md, id),
		Challenge: challenge,
	}
}

// NoteContainersChanged bumps cardcf's containers counter, before a key is
// created, imported or deleted.
func (op *Op) NoteContainersChanged() error {
	if err := op.checkWritable(); err != nil {
		return err
	}
	return op.bump(cardfs.StaleContainers)
}

// NoteContainersAndFilesChanged bumps cardcf's containers and files
// counters in one write, before an operation that changes both (a key
// created with its container map record).
func (op *Op) NoteContainersAndFilesChanged() error {
	if err := op.checkWritable(); err != nil {
		return err
	}
	return op.bump(cardfs.StaleContainers | cardfs.StaleFiles)
}

// NotePINsChanged bumps cardcf's PIN counter, before a PIN change or
// unblock.
func (op *Op) NotePINsChanged() error { return op.bump(cardfs.StalePins) }

// keepable returns the PINs of op.authed that may stay verified after the
// operation in exclusive mode: those whose cache policy is Normal. A PIN
// that must be asked for every time, or only for a while, is logged out.
func (op *Op) keepable() minidriver.PinSet {
	return op.authedWhere(func(info minidriver.PINInfo) bool {
		return info.CachePolicy.Type == minidriver.PINCacheNormal && entered(info)
	})
}

// stayable returns the PINs of op.authed that exclusive mode leaves
// verified at the end of a successful operation (Card.Do): PINs entered
// by the user or verified externally. Challenge-response PINs (an admin
// key) are logged out.
func (op *Op) stayable() minidriver.PinSet { return op.authedWhere(entered) }

// entered reports whether a PIN is entered by the user or verified
// externally (not a challenge-response key).
func entered(info minidriver.PINInfo) bool {
	return info.Type == minidriver.AlphanumericPIN || info.Type == minidriver.ExternalPIN
}

// authedWhere returns the PINs of op.authed whose known PINInfo satisfies
// keep.
func (op *Op) authedWhere(keep func(minidriver.PINInfo) bool) minidriver.PinSet {
	var set minidriver.PinSet
	op.c.mu.Lock()
	defer op.c.mu.Unlock()
	for _, id := range op.authed.IDs() {
		if info, ok := op.c.pinfo[id]; ok && keep(info) {
			set |= minidriver.NewPinSet(id)
		}
	}
	return set
}

// VerifyPIN verifies PIN id with pin in this transaction and, when the
// card accepts it, caches it under the PIN's cache policy (the
// "SmartCardPin" and PP_KEYEXCHANGE_PIN properties). A wrong PIN purges
// the cached one. pin is copied; the caller wipes its own.
func (op *Op) VerifyPIN(id minidriver.PinID, pin []byte) error {
	info, err := op.PINInfo(id)
	if err != nil {
		return err
	}
	if info.Type != minidriver.AlphanumericPIN {
		return fmt.Errorf("engine: PIN %d takes no PIN value: %w", id, minidriver.ErrInvalidParameter)
	}
	var flags minidriver.AuthFlags
	if op.c.e.cfg.Silent {
		flags |= minidriver.Silent
	}
	op.authing = true
	before := op.sent()
	_, err = op.c.md.Authenticate(op.ctx, op.tx, id, pin, flags)
	op.settle(before, err, id)
	op.authing = false
	if err != nil {
		if pincache.IsPINFailure(err) {
			op.c.e.pins.Fail(op.c.pinKey(), id)
		}
		return err
	}
	if err := op.c.e.pins.Put(op.c.pinKey(), id, info.CachePolicy, pincache.NewSecret(pin)); err != nil {
		return fmt.Errorf("engine: cache PIN %d: %w", id, err)
	}
	return nil
}

// FindContainer returns the cmapfile record of the container called name
// ("" = the default container); ok is false when the card has none. It
// asks as little as it can: the cached cmapfile while cardcf says it is
// fresh, else what an earlier FindContainer found under the same cardcf,
// else the plug-in's minidriver.ContainerFinder (a PIV card without a
// stored map then asks about one slot instead of 24), else cmapfile from
// the card.
func (op *Op) FindContainer(name string) (rec cardfs.ContainerMapRecord, ok bool, err error) {
	if b, hit := op.cached(fileKey(cardfs.MSCPDir, cardfs.ContainerMapFile)); hit {
		if m, perr := cardfs.ParseContainerMap(b); perr == nil {
			return findIn(m, name)
		}
	}
	key := "find:" + name
	if b, hit := op.cached(key); hit {
		if r, derr := decodeRecord(b); derr == nil {
			return r, true, nil
		}
	}
	r, err := minidriver.FindContainer(op.ctx, op.c.md, op.tx, name)
	switch {
	case err == nil:
		// The record is a piece of cmapfile: cached as cmapfile is, under
		// the files counter, which every change of cmapfile bumps.
		op.remember(cardfs.StaleFiles, key, encodeRecord(r))
		return r, true, nil
	case errors.Is(err, minidriver.ErrNoKeyContainer):
		return cardfs.ContainerMapRecord{}, false, nil
	case !errors.Is(err, minidriver.ErrUnsupported):
		return cardfs.ContainerMapRecord{}, false, err
	}
	m, err := op.ContainerMap()
	if err != nil {
		return cardfs.ContainerMapRecord{}, false, err
	}
	return findIn(m, name)
}

func findIn(m *cardfs.ContainerMap, name string) (cardfs.ContainerMapRecord, bool, error) {
	if name == "" {
		r, ok := m.Default()
		return r, ok, nil
	}
	r, ok := m.Find(name)
	return r, ok, nil
}

// encodeRecord keeps a found record in the data cache: index (2 bytes,
// big-endian), flags, the two key sizes (2 bytes each), the name.
func encodeRecord(r cardfs.ContainerMapRecord) []byte {
	b := binary.BigEndian.AppendUint16(nil, uint16(r.Index))
	b = append(b, byte(r.Flags))
	b = binary.BigEndian.AppendUint16(b, r.SigKeySizeBits)
	b = binary.BigEndian.AppendUint16(b, r.KeyExchangeKeySizeBits)
	return append(b, r.Name...)
}

func decodeRecord(b []byte) (cardfs.ContainerMapRecord, error) {
	if len(b) < 7 {
		return cardfs.ContainerMapRecord{}, errBadCacheItem
	}
	r := cardfs.ContainerMapRecord{Index: int(binary.BigEndian.Uint16(b)), Flags: cardfs.ContainerFlags(b[2]),
		SigKeySizeBits: binary.BigEndian.Uint16(b[3:]), KeyExchangeKeySizeBits: binary.BigEndian.Uint16(b[5:]), Name: string(b[7:])}
	if r.Index >= cardfs.MaxContainers || !r.Valid() || cardfs.ValidateContainerName(r.Name) != nil {
		return cardfs.ContainerMapRecord{}, errBadCacheItem
	}
	return r, nil
}

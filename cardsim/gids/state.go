package gids

import "crypto/subtle"

// state is everything the card keeps across power cycles.
type state struct {
	life  LifeCycle
	pin   pinState
	files map[uint16]*file
	// transport is the admin key of a blank card, used for key reference
	// 80 while the application is in the creation state without file
	// B080.
	transport *cardKey
}

// pinState is the user PIN (reference 80).
type pinState struct {
	value []byte // nil until set
	max   int
	left  int
}

func newState(tries int) *state {
	return &state{
		life:  LifeCycleCreation,
		pin:   pinState{max: tries, left: tries},
		files: map[uint16]*file{},
	}
}

// File descriptor bytes (ISO/IEC 7816-4 table 12) of the files a GIDS card
// holds.
const (
	fdbDOFile  = 0x39 // EF for BER-TLV data objects
	fdbKeyFile = 0x18 // internal EF holding a key (GIDS "key file")
)

// file is an EF of the application: a DO file holding BER-TLV data objects
// or a key file holding one key.
type file struct {
	fid  uint16
	fcp  []byte // the FCP template as created (62 ...)
	fdb  byte
	sec  security
	crts []crt // key files: usages allowed by the CRTs of tag A5
	life LifeCycle
	dos  map[uint32][]byte // DO files
	key  *cardKey          // key files, nil until generated or imported
}

// crt is one control reference template of a key file: the template tag
// (A4 authentication, B6 signature, B8 confidentiality) and the algorithm
// reference it allows.
type crt struct {
	tmpl byte
	alg  byte
}

// Operations of the access mode byte (ISO/IEC 7816-4 table 16 and its DO
// and key variants, as GIDS v2.0 uses them). Bit b8 of a key file's access
// mode byte is set; it selects no operation.
const (
	opGetData   = 0x01 // DO file: GET DATA
	opPutData   = 0x02 // DO file: PUT DATA
	opGetPublic = 0x01 // key file: read the public key
	opPutKey    = 0x02 // key file: import a key
	opMSE       = 0x04 // key file: MANAGE SECURITY ENVIRONMENT
	opGenerate  = 0x08 // key file: GENERATE ASYMMETRIC KEY PAIR
	opDeleteDF  = 0x01 // application: DELETE FILE of a child
	opCreateEF  = 0x02 // application: CREATE FILE (EF)
	opActivate  = 0x10 // ACTIVATE FILE
	opTerminate = 0x20 // TERMINATE (DF or EF)
	opDelete    = 0x40 // EF: DELETE FILE of itself
)

// security is a compact security attribute (tag 8C): an access mode byte
// and one security condition byte per operation whose bit is set, from
// b7 down to b1.
type security struct {
	present bool
	am      byte
	sc      [7]byte // by bit number 0 (b1) to 6 (b7)
}

// parseSecurity decodes the value of tag 8C; ok is false when the number of
// condition bytes does not match the access mode byte.
func parseSecurity(v []byte) (security, bool) {
	if len(v) == 0 {
		return security{}, false
	}
	s := security{present: true, am: v[0]}
	i := 1
	for bit := 6; bit >= 0; bit-- {
		if s.am&(1<<bit) == 0 {
			continue
		}
		if i >= len(v) {
			return security{}, false
		}
		s.sc[bit] = v[i]
		i++
	}
	// GIDS allows a second set of conditions (contact / contactless); the
	// card is contact only and ignores what follows.
	return s, true
}

// condition returns the security condition byte for op; an operation the
// access mode byte does not list is always allowed, as GidsApplet treats
// it.
func (s security) condition(op byte) byte {
	if !s.present {
		return 0x00
	}
	for bit := 0; bit < 7; bit++ {
		if op == 1<<bit {
			if s.am&op == 0 {
				return 0x00
			}
			return s.sc[bit]
		}
	}
	return 0xFF
}

// session is the volatile state of one card session.
type session struct {
	selected bool
	current  uint16 // currently selected file (appFID for the application)
	pinOK    bool
	admin    bool
	// Admin authentication (MSE SET C1/81 A4 selects the key, GENERAL
	// AUTHENTICATE runs the exchange).
	authKey  uint16
	authStep authStep
	cardChal []byte
	hostChal []byte
	// Security environment for the private keys (MSE SET 41).
	se securityEnv
}

type authStep int

const (
	authNone authStep = iota
	authExternalChallenge
	authMutualChallenge
)

type securityEnv struct {
	set  bool
	tmpl byte // B6 signature, B8 decipher, A4 key agreement
	alg  byte
	key  byte // key reference (low byte of the key file's FID)
}

// deauthenticate forgets the PIN, the admin authentication and any
// exchange in progress.
func (s *session) deauthenticate() {
	s.pinOK, s.admin = false, false
	s.authStep, s.cardChal, s.hostChal = authNone, nil, nil
	s.authKey = 0
	s.se = securityEnv{}
}

// allowed evaluates a security condition byte (ISO/IEC 7816-4 table 17):
// 00 always, FF never; otherwise b6 asks for external (admin)
// authentication and b5 for user authentication (the PIN); with b8 clear
// one of them is enough, with b8 set all are needed. A condition asking
// for secure messaging (b7) alone cannot be met. The low nibble (security
// environment: 1 contact, 2 contactless) is met by a contact card for 0
// and 1.
func (c *Card) allowed(sc byte) bool {
	if c.st.life == LifeCycleCreation {
		return true
	}
	switch sc {
	case 0x00:
		return true
	case 0xFF:
		return false
	}
	if se := sc & 0x0F; se > 1 {
		return false
	}
	needAdmin, needUser := sc&0x20 != 0, sc&0x10 != 0
	if !needAdmin && !needUser {
		return false
	}
	if sc&0x80 != 0 { // all conditions
		return (!needAdmin || c.sess.admin) && (!needUser || c.sess.pinOK)
	}
	return (needAdmin && c.sess.admin) || (needUser && c.sess.pinOK)
}

// checkFile checks op on f: a file in the creation state allows only its
// activation (6985 otherwise); then the condition of op (6982).
func (c *Card) checkFile(f *file, op byte) uint16 {
	if f.life == LifeCycleCreation && op != opActivate {
		return swConditionsNotMet
	}
	if !c.allowed(f.sec.condition(op)) {
		return swSecurityStatus
	}
	return swOK
}

// checkApp checks an operation on the application itself.
func (c *Card) checkApp(op byte) uint16 {
	sec, _ := parseSecurity(appSecurity)
	if !c.allowed(sec.condition(op)) {
		return swSecurityStatus
	}
	return swOK
}

// usedBytes is the storage the data objects take.
func (st *state) usedBytes() int {
	n := 0
	for _, f := range st.files {
		for _, v := range f.dos {
			n += len(v)
		}
	}
	return n
}

// equalCT compares secrets in constant time.
func equalCT(a, b []byte) bool { return subtle.ConstantTimeCompare(a, b) == 1 }

package gids

// Status words the GIDS application answers (ISO/IEC 7816-4 and GIDS v2.0
// section 11).
const (
	swOK                 = 0x9000
	swBytesRemaining     = 0x6100 // low byte: bytes still available
	swVerifyFail         = 0x63C0 // low nibble: tries left
	swWrongLength        = 0x6700
	swSecurityStatus     = 0x6982
	swAuthBlocked        = 0x6983
	swRefDataNotUsable   = 0x6984
	swConditionsNotMet   = 0x6985
	swCommandNotAllowed  = 0x6986
	swIncorrectData      = 0x6A80
	swFuncNotSupported   = 0x6A81
	swFileNotFound       = 0x6A82
	swNoSpace            = 0x6A84
	swIncorrectP1P2      = 0x6A86
	swRefNotFound        = 0x6A88
	swFileExists         = 0x6A89
	swInsNotSupported    = 0x6D00
	swClaNotSupported    = 0x6E00
	swUnknown            = 0x6F00
	swSecureMessagingNot = 0x6882
)

// reply is the outcome of one command: response data and status word.
type reply struct {
	data []byte
	sw   uint16
}

func status(sw uint16) reply { return reply{sw: sw} }
func ok(data []byte) reply   { return reply{data: data, sw: swOK} }

// triesLeft is 63Cx with x the tries left (at most 15).
func triesLeft(n int) reply {
	n = max(0, min(n, 15))
	return status(uint16(swVerifyFail | n))
}

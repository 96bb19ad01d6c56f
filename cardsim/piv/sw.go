package piv

// Status words used by the PIV application (ISO/IEC 7816-4 and
// SP 800-73-4 part 2).
const (
	swOK               = 0x9000
	swBytesRemaining   = 0x6100 // low byte: bytes still available
	swVerifyFail       = 0x63C0 // low nibble: tries left
	swMemoryFailure    = 0x6581
	swWrongLength      = 0x6700
	swLastCmdExpected  = 0x6883
	swSecurityStatus   = 0x6982
	swAuthBlocked      = 0x6983
	swConditionsNotMet = 0x6985
	swIncorrectData    = 0x6A80
	swFuncNotSupported = 0x6A81
	swNotFound         = 0x6A82
	swNoSpace          = 0x6A84
	swIncorrectP1P2    = 0x6A86
	swRefNotFound      = 0x6A88
	swInsNotSupported  = 0x6D00
	swClaNotSupported  = 0x6E00
	swUnknown          = 0x6F00
)

// reply is the outcome of one command: response data and status word.
type reply struct {
	data []byte
	sw   uint16
}

func status(sw uint16) reply { return reply{sw: sw} }
func ok(data []byte) reply   { return reply{data: data, sw: swOK} }
func triesLeft(n int) reply {
	if n > 15 {
		n = 15
	}
	if n < 0 {
		n = 0
	}
	return status(uint16(swVerifyFail | n))
}

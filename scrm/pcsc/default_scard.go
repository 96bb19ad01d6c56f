//go:build windows || (cgo && (darwin || cardmod_scard))

package pcsc

// defaultClient is github.com/ebfe/scard: WinSCard on Windows, the PCSC
// framework on macOS, libpcsclite with the cardmod_scard build tag.
func defaultClient() (client, error) { return scardClient{}, nil }

// clientName names the default client in documentation and tests.
const clientName = "ebfe/scard"

//go:build !windows && !darwin && !cardmod_scard

package pcsc

// defaultClient is the pure-Go client of pcsc-lite's pcscd.
func defaultClient() (client, error) { return liteClient{}, nil }

// clientName names the default client in documentation and tests.
const clientName = "pcsclite"

package piv

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/cardmod/cardmod/minidriver"
)

// TestContainerFit: a container whose map record gives another algorithm
// or size than the slot's key (another application replaced it) takes
// the key's, in the record's slot kind; a record that fits, and an
// algorithm the plug-in does not know, change nothing.
func TestContainerFit(t *testing.T) {
	for _, tc := range []struct {
		name     string
		spec     minidriver.KeySpec
		bits     int
		alg      byte
		wantSpec minidriver.KeySpec
		wantBits int
	}{
		{"fits", minidriver.ECDSAP256, 256, algP256, minidriver.ECDSAP256, 256},
		{"ECDSA to RSA", minidriver.ECDSAP256, 256, algRSA2048, minidriver.Signature, 2048},
		{"ECDH to RSA", minidriver.ECDHP256, 256, algRSA2048, minidriver.KeyExchange, 2048},
		{"RSA to ECDSA", minidriver.Signature, 2048, algP384, minidriver.ECDSAP384, 384},
		{"RSA to ECDH", minidriver.KeyExchange, 2048, algP256, minidriver.ECDHP256, 256},
		{"P-256 to P-384", minidriver.ECDSAP256, 256, algP384, minidriver.ECDSAP384, 384},
		{"RSA size", minidriver.KeyExchange, 2048, algRSA3072, minidriver.KeyExchange, 3072},
		{"unknown algorithm", minidriver.ECDSAP256, 256, 0xEE, minidriver.ECDSAP256, 256},
	} {
		ct := container{Spec: tc.spec, Bits: tc.bits}
		ct.fit(tc.alg)
		assert.Equal(t, tc.wantSpec, ct.Spec, tc.name)
		assert.Equal(t, tc.wantBits, ct.Bits, tc.name)
	}
}

package gids

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cardmod/cardmod/minidriver"
)

// FuzzParseMasterFile checks that any master file parses without panic and
// that a parsed one encodes to a file that parses to the same records.
func FuzzParseMasterFile(f *testing.F) {
	f.Add(initialMasterFile().marshal())
	f.Add([]byte{0x01})
	f.Add([]byte{0x02, 0x00})
	f.Add(append(initialMasterFile().marshal(), 0x41, 0x42))
	f.Fuzz(func(t *testing.T, b []byte) {
		mf, err := parseMasterFile(b)
		if err != nil {
			return
		}
		again, err := parseMasterFile(mf.marshal())
		require.NoError(t, err)
		assert.Equal(t, mf.records, again.records)
	})
}

// FuzzParseKeyMap checks the key map codec.
func FuzzParseKeyMap(f *testing.F) {
	km := &keyMap{}
	km.set(2, kmRecord{State: 1, Alg: algRSA2048, KeyType: keyTypeExchange, KeyFile: 0xB083, Unknown: 0xFFFF})
	f.Add(km.marshal())
	f.Add([]byte{})
	f.Add([]byte{0x01, 1, 0, 0, 0, 7, 0x9A, 0x81, 0xB0, 0xFF, 0xFF, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		km, err := parseKeyMap(b)
		if err != nil {
			return
		}
		again, err := parseKeyMap(km.marshal())
		require.NoError(t, err)
		assert.Equal(t, len(km.records), len(again.records))
		for i := range km.records {
			if r, ok := km.get(i); ok {
				_, _ = recordSpec(r)
			}
		}
		if len(b) > 0 {
			n := 1 + len(km.records)*kmRecordSize
			assert.True(t, bytes.Equal(b[:n], km.marshal()))
		}
	})
}

// FuzzParseFCI checks the SELECT answer parser.
func FuzzParseFCI(f *testing.F) {
	f.Add([]byte{0x61, 0x12, 0x4F, 0x0B, 0xA0, 0x00, 0x00, 0x03, 0x97, 0x42, 0x54, 0x46, 0x59, 0x02, 0x01, 0x73, 0x03, 0x40, 0x01, 0xC0})
	f.Add([]byte{0x6F, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := parseFCI(b)
		if err == nil {
			assert.GreaterOrEqual(t, len(a), len(aid))
		}
	})
}

// FuzzParseEFATR checks the EF.ATR parser.
func FuzzParseEFATR(f *testing.F) {
	f.Add([]byte{0x43, 0x01, 0xD4, 0x47, 0x03, 0xD0, 0x01, 0xC0, 0x46, 0x01, 0x41})
	f.Add([]byte{0x47, 0x02, 0x00, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		_ = parseEFATR(b)
	})
}

// FuzzParsePublicKey checks the public key template parser for every key
// spec and algorithm.
func FuzzParsePublicKey(f *testing.F) {
	f.Add([]byte{0x7F, 0x49, 0x06, 0x81, 0x01, 0x01, 0x82, 0x01, 0x03}, byte(0))
	f.Add([]byte{0x7F, 0x49, 0x03, 0x86, 0x01, 0x04}, byte(5))
	f.Add([]byte{0x70, 0x04, 0x7F, 0x49, 0x01, 0x00}, byte(3))
	specs := []minidriver.KeySpec{minidriver.KeyExchange, minidriver.Signature, minidriver.ECDSAP256, minidriver.ECDSAP384, minidriver.ECDSAP521, minidriver.ECDHP256, minidriver.ECDHP384, minidriver.ECDHP521}
	f.Fuzz(func(t *testing.T, b []byte, sel byte) {
		spec := specs[int(sel)%len(specs)]
		alg := algRSA1024 + sel%4
		if !spec.IsRSA() {
			alg, _ = eccAlg(spec)
		}
		pub, err := parsePublicKey(b, spec, alg)
		if err == nil {
			assert.NotNil(t, pub)
		}
	})
}

package piv_test

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cardmod/cardmod/cardsim/piv"
	"github.com/cardmod/cardmod/scrm"
)

// TestProfilesListed checks the documented list: every profile is found by
// its name, has a parseable ATR and makes a card that saves and loads as
// the same profile.
func TestProfilesListed(t *testing.T) {
	ps := piv.Profiles()
	require.Len(t, ps, 7)
	for _, p := range ps {
		t.Run(p.Name, func(t *testing.T) {
			q, ok := piv.ProfileByName(p.Name)
			require.True(t, ok)
			assert.Equal(t, p, q)
			assert.NotEmpty(t, p.Description)
			_, err := scrm.ParseATR(p.ATR)
			require.NoError(t, err, "ATR %X", p.ATR)
			tc := newCard(t, piv.Config{Profile: p})
			assert.Equal(t, p.ATR, tc.c.ATR())
			var b bytes.Buffer
			require.NoError(t, tc.c.Save(&b))
			c2, err := piv.Load(&b, piv.Config{})
			require.NoError(t, err)
			assert.Equal(t, p.Name, c2.Profile().Name)
			assert.Equal(t, p.Version, c2.Version())
		})
	}
	_, ok := piv.ProfileByName("no-such-card")
	assert.False(t, ok)
}

// TestProfileInstructions checks what each profile answers to the Yubico
// instructions it has or lacks.
func TestProfileInstructions(t *testing.T) {
	for _, tt := range []struct {
		profile                       string
		version, serial, meta, attest uint16
	}{
		{"yubikey-5.7", 0x9000, 0x9000, 0x9000, 0x9000},
		{"yubikey-5.4", 0x9000, 0x9000, 0x9000, 0x9000},
		{"yubikey-5.0", 0x9000, 0x9000, 0x6D00, 0x9000},
		{"yubikey-4", 0x9000, 0x6D00, 0x6D00, 0x9000},
		{"yubikey-neo", 0x9000, 0x6D00, 0x6D00, 0x6D00},
		{"piv-issued", 0x6D00, 0x6D00, 0x6D00, 0x6D00},
		{"piv-applet", 0x9000, 0x6D00, 0x9000, 0x6D00},
	} {
		t.Run(tt.profile, func(t *testing.T) {
			p, ok := piv.ProfileByName(tt.profile)
			require.True(t, ok)
			tc := selected(t, piv.Config{Profile: p})
			_, sw := tc.exchange(0xFD, 0, 0, nil)
			assert.Equal(t, tt.version, sw, "GET VERSION")
			_, sw = tc.exchange(0xF8, 0, 0, nil)
			assert.Equal(t, tt.serial, sw, "GET SERIAL")
			_, sw = tc.exchange(0xF7, 0, 0x9B, nil)
			assert.Equal(t, tt.meta, sw, "GET METADATA 9B")
			if tt.attest == 0x9000 {
				_, sw = tc.getData([]byte{0x5F, 0xFF, 0x01})
				assert.Equal(t, uint16(0x9000), sw, "attestation certificate 5FFF01")
			}
		})
	}
}

// TestProfileApplet: the applet lacks retired slots 8D-95 (6A86) and the
// Yubico objects 5FFF10-5FFF20 (GET DATA 6A82, PUT DATA 6A81), and
// generates keys and stores certificates through the standard objects.
func TestProfileApplet(t *testing.T) {
	tc := selected(t, piv.Config{Profile: piv.ProfileApplet()})
	_, sw := tc.exchange(0xF7, 0, 0x8C, nil)
	assert.Equal(t, uint16(0x6A82), sw, "GET METADATA of the empty slot 8C")
	for slot := byte(0x8D); slot <= 0x95; slot++ {
		_, sw := tc.exchange(0xF7, 0, slot, nil)
		assert.Equal(t, uint16(0x6A86), sw, "GET METADATA %02X", slot)
	}
	_, sw = tc.getData([]byte{0x5F, 0xFF, 0x20})
	assert.Equal(t, uint16(0x6A82), sw)
	tc.mustAuth()
	assert.Equal(t, uint16(0x6A81), tc.putData([]byte{0x5F, 0xFF, 0x20}, []byte{1}), "PUT DATA 5FFF20")
	assert.Equal(t, uint16(0x6A81), tc.putData([]byte{0x5F, 0xFF, 0x10}, []byte{1}), "PUT DATA 5FFF10")
	assert.Equal(t, uint16(0x9000), tc.putData([]byte{0x5F, 0xC1, 0x0D}, []byte{0x70, 0x00}), "PUT DATA of the slot 82 certificate")
	tc.generate(0x8C, piv.AlgECCP256)
	_, sw = tc.exchange(0x47, 0, 0x8D, tlv(0xAC, tlv(0x80, []byte{piv.AlgECCP256})))
	assert.Equal(t, uint16(0x6A86), sw, "GENERATE in 8D")
}

// TestProfileIssued: the issued card holds what its issuer wrote, answers
// 6D00 to Yubico's instructions, and refuses its holder every write.
func TestProfileIssued(t *testing.T) {
	tc := selected(t, piv.Config{Profile: piv.ProfileIssued()})
	for _, tag := range [][]byte{{0x5F, 0xC1, 0x02}, {0x5F, 0xC1, 0x07}, {0x5F, 0xC1, 0x0C}, {0x7E},
		{0x5F, 0xC1, 0x05}, {0x5F, 0xC1, 0x0A}, {0x5F, 0xC1, 0x0B}, {0x5F, 0xC1, 0x01}, {0x5F, 0xC1, 0x0D}, {0x5F, 0xC1, 0x0E}} {
		_, sw := tc.getData(tag)
		assert.Equal(t, uint16(0x9000), sw, "GET DATA %X", tag)
	}
	_, sw := tc.getData([]byte{0x5F, 0xC1, 0x0F})
	assert.Equal(t, uint16(0x6A82), sw, "third retired certificate")
	_, sw = tc.getData([]byte{0x5F, 0xFF, 0x01})
	assert.Equal(t, uint16(0x6A82), sw, "no Yubico attestation object")
	chuid, sw := tc.getData([]byte{0x5F, 0xC1, 0x02})
	require.Equal(t, uint16(0x9000), sw)
	inner := tlvs(t, tlvs(t, chuid)[0x53])
	assert.Len(t, inner[0x34], 16, "GUID")
	assert.NotEmpty(t, inner[0x3E], "issuer signature")
	kh, _ := tc.getData([]byte{0x5F, 0xC1, 0x0C})
	assert.Equal(t, []byte{2}, tlvs(t, tlvs(t, kh)[0x53])[0xC1], "keysWithOnCardCerts")
	assert.Equal(t, uint16(0x6982), tc.authMgmt(piv.DefaultManagementKey), "the factory key is not the issuer's")
	assert.Equal(t, uint16(0x6982), tc.putData([]byte{0x5F, 0xC1, 0x05}, []byte{0x70, 0x00}))
	_, sw = tc.exchange(0x47, 0, 0x9A, tlv(0xAC, tlv(0x80, []byte{piv.AlgECCP256})))
	assert.Equal(t, uint16(0x6982), sw, "GENERATE")
	// 9C is PIN-always: a signature right after VERIFY works once.
	require.Equal(t, uint16(0x9000), tc.verifyPIN(piv.DefaultPIN))
	digest := bytes.Repeat([]byte{1}, 32)
	_, sw = tc.sign(piv.AlgECCP256, 0x9C, digest)
	assert.Equal(t, uint16(0x9000), sw, "9C after VERIFY")
	_, sw = tc.sign(piv.AlgECCP256, 0x9C, digest)
	assert.Equal(t, uint16(0x6982), sw, "9C again without VERIFY")
	_, sw = tc.sign(piv.AlgECCP256, 0x9A, digest)
	assert.Equal(t, uint16(0x9000), sw, "9A once verified")
}

// TestProfileNEO: no P-384 and no retired slots on the NEO.
func TestProfileNEO(t *testing.T) {
	tc := selected(t, piv.Config{Profile: piv.ProfileYubiKeyNEO()})
	tc.mustAuth()
	_, sw := tc.exchange(0x47, 0, 0x9A, tlv(0xAC, tlv(0x80, []byte{piv.AlgECCP384})))
	assert.Equal(t, uint16(0x6A80), sw, "P-384")
	_, sw = tc.exchange(0x47, 0, 0x82, tlv(0xAC, tlv(0x80, []byte{piv.AlgECCP256})))
	assert.Equal(t, uint16(0x6A86), sw, "retired slot 82")
	tc.generate(0x9A, piv.AlgECCP256)
}

// TestProfileVersionConflict: a Version that contradicts the profile is
// refused.
func TestProfileVersionConflict(t *testing.T) {
	_, err := piv.New(piv.Config{Profile: piv.ProfileYubiKey4(), Version: piv.Version{Major: 5, Minor: 7, Patch: 1}})
	assert.Error(t, err)
}

// TestProfileOTPSerial: a YubiKey 4 or NEO gives its serial through the OTP
// application, as libykpiv reads it, and the PIV application is selected
// again afterwards; a YubiKey 5 has GET SERIAL instead.
func TestProfileOTPSerial(t *testing.T) {
	tc := newCard(t, piv.Config{Profile: piv.ProfileYubiKey4(), Serial: 0x01020304})
	tc.mustOK(0xA4, 0x04, 0x00, h("A0 00 00 05 27 20 01"))
	assert.Equal(t, h("01 02 03 04"), tc.mustOK(0x01, 0x10, 0x00, nil))
	tc.wantSW(0x6D00, 0xCB, 0x3F, 0xFF, tlv(0x5C, []byte{0x7E}))
	tc.mustOK(0xA4, 0x04, 0x00, piv.AID)
	tc.mustOK(0xCB, 0x3F, 0xFF, tlv(0x5C, []byte{0x7E}))
	five := newCard(t, piv.Config{Profile: piv.ProfileYubiKey57()})
	five.wantSW(0x6A82, 0xA4, 0x04, 0x00, h("A0 00 00 05 27 20 01"))
}

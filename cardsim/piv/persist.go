package piv

import (
	"bytes"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/cardmod/cardmod/cardsim"
)

// StateVersion is the version of the saved state format that Save writes
// and Load reads.
const StateVersion = 1

// The saved state is a JSON document:
//
//	{
//	  "version": 1,
//	  "profile": "yubikey-5.7",
//	  "firmware": "5.7.1",
//	  "serial": 10000001,
//	  "form_factor": 1,
//	  "pin": {"value": "313233343536ffff", "max": 3, "left": 3},
//	  "puk": {"value": "3132333435363738", "max": 3, "left": 3},
//	  "management_key": {"algorithm": 10, "key": "0102...", "touch": false},
//	  "keys": [{"slot": "9a", "algorithm": 17, "pin_policy": 0,
//	            "touch_policy": 0, "origin": 1, "pkcs8": "<base64 DER>"}],
//	  "objects": [{"tag": "5fc105", "data": "<base64>"}],
//	  "attestation_root": "<base64 DER certificate>"
//	}
//
// PIN and PUK are kept padded with FF to 8 bytes, in hex; private keys as
// PKCS#8 DER (X25519 included); policies as stored (0 means the slot's
// default). "profile" names the card's Profile (see ProfileByName); a
// state without it, or with the name YubiKey gives a firmware, is the
// YubiKey of "firmware", which is empty for a card without GET VERSION.
// Nothing of the session (selection, PIN verified, management key
// authenticated) is saved.
type savedState struct {
	Version         int           `json:"version"`
	Profile         string        `json:"profile,omitempty"`
	Firmware        string        `json:"firmware"`
	Serial          uint32        `json:"serial"`
	FormFactor      byte          `json:"form_factor"`
	PIN             savedSecret   `json:"pin"`
	PUK             savedSecret   `json:"puk"`
	ManagementKey   savedMgmtKey  `json:"management_key"`
	Keys            []savedKey    `json:"keys"`
	Objects         []savedObject `json:"objects"`
	AttestationRoot []byte        `json:"attestation_root,omitempty"`
}

type savedSecret struct {
	Value string `json:"value"`
	Max   int    `json:"max"`
	Left  int    `json:"left"`
}

type savedMgmtKey struct {
	Algorithm byte   `json:"algorithm"`
	Key       string `json:"key"`
	Touch     bool   `json:"touch"`
}

type savedKey struct {
	Slot        string `json:"slot"`
	Algorithm   byte   `json:"algorithm"`
	PINPolicy   byte   `json:"pin_policy"`
	TouchPolicy byte   `json:"touch_policy"`
	Origin      byte   `json:"origin"`
	PKCS8       []byte `json:"pkcs8"`
}

type savedObject struct {
	Tag  string `json:"tag"`
	Data []byte `json:"data"`
}

// LoadError reports a saved state that cannot be loaded (see
// cardsim.LoadError). The card it came from is left as it was: loading
// never wipes anything.
type LoadError = cardsim.LoadError

// ErrUnsupportedStateVersion is wrapped by the LoadError of a state whose
// version this package does not know.
var ErrUnsupportedStateVersion = cardsim.ErrUnsupportedStateVersion

// Save writes the card's persistent state (see StateVersion).
func (c *Card) Save(w io.Writer) error {
	c.mu.Lock()
	s, err := c.st.marshal()
	c.mu.Unlock()
	if err != nil {
		return err
	}
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(data, '\n'))
	return err
}

// MarshalJSON returns the state Save writes.
func (c *Card) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	if err := c.Save(&b); err != nil {
		return nil, err
	}
	return bytes.TrimSpace(b.Bytes()), nil
}

// SaveFile writes the state to path atomically: to a temporary file in the
// same directory, synced, then renamed over path, with mode 0600.
func (c *Card) SaveFile(path string) error {
	return cardsim.SaveFile(path, "piv", c.Save)
}

// Load makes a card from a state written by Save. The hooks of cfg (ATR,
// Rand, Touch, Now, MaxObjectSize) apply; its identity and secrets are
// ignored, the saved ones win. Errors are *LoadError.
func Load(r io.Reader, cfg Config) (*Card, error) {
	data, err := cardsim.ReadState(r, "piv")
	if err != nil {
		return nil, err
	}
	st, err := unmarshalState(data)
	if err != nil {
		return nil, err
	}
	return &Card{h: cfg.hooks(&st.prof), st: st, tr: newTransport()}, nil
}

// LoadFile loads a card from a file written by SaveFile.
func LoadFile(path string, cfg Config) (*Card, error) {
	return cardsim.LoadFile(path, "piv", func(r io.Reader) (*Card, error) { return Load(r, cfg) })
}

func (st *state) marshal() (*savedState, error) {
	s := &savedState{
		Version:         StateVersion,
		Profile:         st.prof.Name,
		Firmware:        st.fw.String(),
		Serial:          st.serial,
		FormFactor:      st.formFactor,
		PIN:             savedSecret{hex.EncodeToString(st.pin.value[:]), st.pin.max, st.pin.left},
		PUK:             savedSecret{hex.EncodeToString(st.puk.value[:]), st.puk.max, st.puk.left},
		ManagementKey:   savedMgmtKey{st.mgmt.alg, hex.EncodeToString(st.mgmt.key), st.mgmt.touch},
		AttestationRoot: st.rootDER,
		Keys:            []savedKey{},
		Objects:         []savedObject{},
	}
	slots := make([]int, 0, len(st.keys))
	for slot := range st.keys {
		slots = append(slots, int(slot))
	}
	sort.Ints(slots)
	for _, slot := range slots {
		k := st.keys[byte(slot)]
		der, err := x509.MarshalPKCS8PrivateKey(k.priv)
		if err != nil {
			return nil, fmt.Errorf("piv: encoding key in slot %02x: %w", slot, err)
		}
		s.Keys = append(s.Keys, savedKey{fmt.Sprintf("%02x", slot), k.alg, k.pinPolicy, k.touchPolicy, k.origin, der})
	}
	tags := make([]int, 0, len(st.objects))
	for tag := range st.objects {
		tags = append(tags, int(tag))
	}
	sort.Ints(tags)
	for _, tag := range tags {
		s.Objects = append(s.Objects, savedObject{fmt.Sprintf("%x", tag), st.objects[uint32(tag)]})
	}
	return s, nil
}

func unmarshalState(data []byte) (*state, error) {
	bad := func(reason string, err error) error { return &LoadError{Card: "piv", Reason: reason, Err: err} }
	var probe struct {
		Version *int `json:"version"`
	}
	if err := json.Unmarshal(data, &probe); err != nil {
		return nil, bad("corrupt state (not JSON)", err)
	}
	if probe.Version == nil {
		return nil, bad("no version field", nil)
	}
	if *probe.Version != StateVersion {
		return nil, bad(fmt.Sprintf("version %d", *probe.Version), ErrUnsupportedStateVersion)
	}
	var s savedState
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return nil, bad("corrupt state", err)
	}
	st := &state{serial: s.Serial, formFactor: s.FormFactor, keys: map[byte]*slotKey{}, objects: map[uint32][]byte{}}
	var fw Version
	if s.Firmware != "" && s.Firmware != (Version{}).String() {
		v, err := parseVersion(s.Firmware)
		if err != nil {
			return nil, bad("firmware", err)
		}
		fw = v
	}
	prof, known := ProfileByName(s.Profile)
	switch {
	case known && prof.Version != fw:
		return nil, bad(fmt.Sprintf("firmware %v is not that of profile %s", fw, s.Profile), nil)
	case !known && fw == (Version{}):
		return nil, bad(fmt.Sprintf("profile %q without firmware", s.Profile), nil)
	case !known && s.Profile != "" && s.Profile != YubiKey(fw).Name:
		return nil, bad(fmt.Sprintf("unknown profile %q", s.Profile), nil)
	case !known:
		prof = YubiKey(fw)
	}
	var err error
	if prof, err = resolveProfile(Config{Profile: prof}); err != nil {
		return nil, bad("profile", err)
	}
	st.prof = prof
	st.fw = fw
	for _, x := range []struct {
		name string
		in   savedSecret
		out  *secret
	}{{"pin", s.PIN, &st.pin}, {"puk", s.PUK, &st.puk}} {
		v, err := hex.DecodeString(x.in.Value)
		if err != nil || !validPaddedPIN(v) {
			return nil, bad(x.name+": value must be 6 to 8 bytes padded with FF to 8", err)
		}
		if x.in.Max < 1 || x.in.Max > 255 || x.in.Left < 0 || x.in.Left > x.in.Max {
			return nil, bad(x.name+": retry counters out of range", nil)
		}
		copy(x.out.value[:], v)
		x.out.max, x.out.left = x.in.Max, x.in.Left
	}
	mk, err := hex.DecodeString(s.ManagementKey.Key)
	if err != nil || !mgmtAlgSupported(&st.prof, s.ManagementKey.Algorithm) || len(mk) != mgmtKeyLen(s.ManagementKey.Algorithm) {
		return nil, bad("management key: wrong algorithm or length", err)
	}
	st.mgmt = managementKey{alg: s.ManagementKey.Algorithm, key: mk, touch: s.ManagementKey.Touch}
	for _, k := range s.Keys {
		slot64, err := strconv.ParseUint(k.Slot, 16, 8)
		slot := byte(slot64)
		if err != nil || !isKeySlot(slot) || !st.prof.hasSlot(slot) {
			return nil, bad(fmt.Sprintf("key slot %q", k.Slot), err)
		}
		if _, dup := st.keys[slot]; dup {
			return nil, bad(fmt.Sprintf("key slot %q twice", k.Slot), nil)
		}
		priv, err := x509.ParsePKCS8PrivateKey(k.PKCS8)
		if err != nil {
			return nil, bad(fmt.Sprintf("key in slot %s", k.Slot), err)
		}
		alg, known := keyAlg(priv)
		if !known || alg != k.Algorithm {
			return nil, bad(fmt.Sprintf("key in slot %s does not match algorithm %02X", k.Slot, k.Algorithm), nil)
		}
		if k.PINPolicy > PINPolicyAlways || k.TouchPolicy > TouchPolicyCached || (k.Origin != OriginGenerated && k.Origin != OriginImported) {
			return nil, bad(fmt.Sprintf("policies or origin of slot %s", k.Slot), nil)
		}
		st.keys[slot] = &slotKey{alg: alg, pinPolicy: k.PINPolicy, touchPolicy: k.TouchPolicy, origin: k.Origin, priv: priv}
	}
	total := 0
	for _, o := range s.Objects {
		tag64, err := strconv.ParseUint(o.Tag, 16, 32)
		tag := uint32(tag64)
		if err != nil || !validObjectTag(tag) || tag == ObjDiscovery || (!st.prof.VendorObjects && !standardObjectTag(tag)) {
			return nil, bad(fmt.Sprintf("object tag %q", o.Tag), err)
		}
		if _, dup := st.objects[tag]; dup {
			return nil, bad(fmt.Sprintf("object %q twice", o.Tag), nil)
		}
		if len(o.Data) == 0 {
			continue
		}
		total += len(o.Data)
		if total > totalObjectStorage {
			return nil, bad("objects exceed the card's storage", nil)
		}
		st.objects[tag] = o.Data
	}
	if len(s.AttestationRoot) > 0 {
		if _, err := x509.ParseCertificate(s.AttestationRoot); err != nil {
			return nil, bad("attestation root", err)
		}
		st.rootDER = s.AttestationRoot
	}
	return st, nil
}

func parseVersion(s string) (Version, error) {
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		return Version{}, fmt.Errorf("%q is not major.minor.patch", s)
	}
	var v [3]uint8
	for i, p := range parts {
		n, err := strconv.ParseUint(p, 10, 8)
		if err != nil {
			return Version{}, err
		}
		v[i] = uint8(n)
	}
	if v == [3]uint8{} {
		return Version{}, errors.New("zero version")
	}
	return Version{v[0], v[1], v[2]}, nil
}

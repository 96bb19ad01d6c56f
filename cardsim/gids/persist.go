package gids

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"

	"github.com/cardmod/cardmod/cardsim/internal/tlv"

	"github.com/cardmod/cardmod/cardsim"
)

// StateVersion is the version of the saved state format that Save writes
// and Load reads.
const StateVersion = 1

// The saved state is a JSON document:
//
//	{
//	  "version": 1,
//	  "life_cycle": "operational",
//	  "pin": {"value": "313233343536", "max": 3, "left": 3},
//	  "transport_key": "0102...08",
//	  "files": [
//	    {"fid": "a000", "fcp": "<base64 62 template>", "life_cycle": "operational",
//	     "objects": [{"tag": "df1f", "data": "<base64>"}]},
//	    {"fid": "b080", "fcp": "<base64>", "life_cycle": "operational",
//	     "key": {"secret": "0102...08"}},
//	    {"fid": "b081", "fcp": "<base64>", "life_cycle": "operational",
//	     "key": {"pkcs8": "<base64 DER>"}}
//	  ]
//	}
//
// life_cycle is "creation", "operational" or "terminated" (files:
// "creation" or "operational"); the PIN value is hex, empty while no PIN
// is set; files are sorted by identifier, data objects by tag; asymmetric
// keys are PKCS#8 DER, symmetric keys hex. The file control parameters are
// kept as created and decoded again on load. Nothing of the session
// (selection, PIN verified, admin authenticated, security environment) is
// saved.
type savedState struct {
	Version int `json:"version"`
	// Profile names the card's Profile (ProfileByName); absent means
	// the Config's.
	Profile   string      `json:"profile,omitempty"`
	LifeCycle string      `json:"life_cycle"`
	PIN       savedPIN    `json:"pin"`
	Files     []savedFile `json:"files"`
	// TransportKey is the blank card's admin key (hex), used until the
	// admin key file exists.
	TransportKey string `json:"transport_key,omitempty"`
}

type savedPIN struct {
	Value string `json:"value"`
	Max   int    `json:"max"`
	Left  int    `json:"left"`
}

type savedFile struct {
	FID       string        `json:"fid"`
	FCP       []byte        `json:"fcp"`
	LifeCycle string        `json:"life_cycle"`
	Objects   []savedObject `json:"objects,omitempty"`
	Key       *savedKey     `json:"key,omitempty"`
}

type savedObject struct {
	Tag  string `json:"tag"`
	Data []byte `json:"data"`
}

type savedKey struct {
	PKCS8  []byte `json:"pkcs8,omitempty"`
	Secret string `json:"secret,omitempty"`
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
	if _, known := ProfileByName(c.h.prof.Name); known && err == nil {
		s.Profile = c.h.prof.Name
	}
	c.mu.Unlock()
	if err != nil {
		return err
	}
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("gids: encoding state: %w", err)
	}
	_, err = w.Write(append(data, '\n'))
	return err
}

// SaveFile writes the state to path atomically: to a temporary file in the
// same directory, synced, then renamed over path, with mode 0600.
func (c *Card) SaveFile(path string) error {
	return cardsim.SaveFile(path, "gids", c.Save)
}

// Load makes a card from a state written by Save. The hooks of cfg (ATR,
// Rand, Capacity) apply; its PIN, keys and Initialized are ignored, the
// saved state wins. Errors are *LoadError.
func Load(r io.Reader, cfg Config) (*Card, error) {
	data, err := cardsim.ReadState(r, "gids")
	if err != nil {
		return nil, err
	}
	h := cfg.hooks()
	st, err := unmarshalState(data, h.capacity)
	if err != nil {
		return nil, err
	}
	var named struct {
		Profile string `json:"profile"`
	}
	if err := json.Unmarshal(data, &named); err == nil && named.Profile != "" {
		p, known := ProfileByName(named.Profile)
		if !known {
			return nil, &LoadError{Card: "gids", Reason: fmt.Sprintf("unknown profile %q", named.Profile)}
		}
		h.prof = p
	}
	return &Card{h: h, st: st, tr: newTransport()}, nil
}

// LoadFile loads a card from a file written by SaveFile.
func LoadFile(path string, cfg Config) (*Card, error) {
	return cardsim.LoadFile(path, "gids", func(r io.Reader) (*Card, error) { return Load(r, cfg) })
}

func (st *state) marshal() (*savedState, error) {
	s := &savedState{
		Version:   StateVersion,
		LifeCycle: st.life.String(),
		PIN:       savedPIN{hex.EncodeToString(st.pin.value), st.pin.max, st.pin.left},
		Files:     []savedFile{},
	}
	if st.transport != nil {
		s.TransportKey = hex.EncodeToString(st.transport.secret)
	}
	fids := make([]uint16, 0, len(st.files))
	for fid := range st.files {
		fids = append(fids, fid)
	}
	slices.Sort(fids)
	for _, fid := range fids {
		f := st.files[fid]
		sf := savedFile{FID: fmt.Sprintf("%04x", fid), FCP: f.fcp, LifeCycle: f.life.String()}
		tags := make([]uint32, 0, len(f.dos))
		for tag := range f.dos {
			tags = append(tags, tag)
		}
		slices.Sort(tags)
		for _, tag := range tags {
			sf.Objects = append(sf.Objects, savedObject{fmt.Sprintf("%x", tag), f.dos[tag]})
		}
		if k := f.key; k != nil {
			switch {
			case k.sym != nil:
				sf.Key = &savedKey{Secret: hex.EncodeToString(k.secret)}
			case k.rsa != nil || k.ec != nil:
				var priv any = k.rsa
				if k.ec != nil {
					priv = k.ec
				}
				der, err := x509.MarshalPKCS8PrivateKey(priv)
				if err != nil {
					return nil, fmt.Errorf("gids: encoding key of file %04x: %w", fid, err)
				}
				sf.Key = &savedKey{PKCS8: der}
			}
		}
		s.Files = append(s.Files, sf)
	}
	return s, nil
}

func parseLifeCycle(s string) (LifeCycle, bool) {
	for _, l := range []LifeCycle{LifeCycleCreation, LifeCycleOperational, LifeCycleTerminated} {
		if s == l.String() {
			return l, true
		}
	}
	return 0, false
}

func unmarshalState(data []byte, capacity int) (*state, error) {
	bad := func(reason string, err error) error { return &LoadError{Card: "gids", Reason: reason, Err: err} }
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
	life, okLife := parseLifeCycle(s.LifeCycle)
	if !okLife {
		return nil, bad(fmt.Sprintf("life cycle %q", s.LifeCycle), nil)
	}
	if s.PIN.Max < 1 || s.PIN.Max > 15 || s.PIN.Left < 0 || s.PIN.Left > s.PIN.Max {
		return nil, bad("PIN retry counters out of range", nil)
	}
	st := newState(s.PIN.Max)
	st.life = life
	st.pin.left = s.PIN.Left
	if s.PIN.Value != "" {
		v, err := hex.DecodeString(s.PIN.Value)
		if err != nil || !validPINLength(v) {
			// The error of a hex decoder may quote the PIN: leave it out.
			return nil, bad("PIN value must be 4 to 16 bytes in hex", nil)
		}
		st.pin.value = v
	}
	if s.TransportKey != "" {
		k, err := loadKey(&savedKey{Secret: s.TransportKey})
		if err != nil {
			return nil, bad("transport key", err)
		}
		st.transport = k
	}
	total := 0
	for _, sf := range s.Files {
		fid64, err := strconv.ParseUint(sf.FID, 16, 16)
		if err != nil || len(sf.FID) != 4 {
			return nil, bad(fmt.Sprintf("file identifier %q", sf.FID), err)
		}
		fid := uint16(fid64)
		if st.files[fid] != nil {
			return nil, bad(fmt.Sprintf("file %04x twice", fid), nil)
		}
		f, sw := parseFCP(sf.FCP)
		if sw != swOK || f.fid != fid {
			return nil, bad(fmt.Sprintf("control parameters of file %04x", fid), nil)
		}
		fl, okFL := parseLifeCycle(sf.LifeCycle)
		if !okFL || fl == LifeCycleTerminated {
			return nil, bad(fmt.Sprintf("life cycle %q of file %04x", sf.LifeCycle, fid), nil)
		}
		f.life = fl
		if len(sf.Objects) > 0 && f.fdb != fdbDOFile {
			return nil, bad(fmt.Sprintf("data objects in key file %04x", fid), nil)
		}
		for _, o := range sf.Objects {
			tag64, err := strconv.ParseUint(o.Tag, 16, 32)
			tag := uint32(tag64)
			if err != nil || !tlv.ValidTag(tag) || tag == 0x5C {
				return nil, bad(fmt.Sprintf("tag %q in file %04x", o.Tag, fid), err)
			}
			if _, dup := f.dos[tag]; dup {
				return nil, bad(fmt.Sprintf("tag %q twice in file %04x", o.Tag, fid), nil)
			}
			total += len(o.Data)
			f.dos[tag] = append([]byte{}, o.Data...)
		}
		if sf.Key != nil {
			if f.fdb != fdbKeyFile {
				return nil, bad(fmt.Sprintf("key in DO file %04x", fid), nil)
			}
			k, err := loadKey(sf.Key)
			if err != nil {
				return nil, bad(fmt.Sprintf("key of file %04x", fid), err)
			}
			f.key = k
		}
		st.files[fid] = f
	}
	if total > capacity {
		return nil, bad("data objects exceed the card's capacity", nil)
	}
	return st, nil
}

// loadKey decodes a saved key. Errors never quote key material.
func loadKey(sk *savedKey) (*cardKey, error) {
	switch {
	case len(sk.PKCS8) > 0 && sk.Secret == "":
		priv, err := x509.ParsePKCS8PrivateKey(sk.PKCS8)
		if err != nil {
			return nil, err
		}
		switch k := priv.(type) {
		case *rsa.PrivateKey:
			return rsaKey(k)
		case *ecdsa.PrivateKey:
			return ecKey(k)
		}
		return nil, errors.New("unsupported key type")
	case len(sk.PKCS8) == 0 && sk.Secret != "":
		v, err := hex.DecodeString(sk.Secret)
		if err != nil {
			return nil, errors.New("secret is not hex")
		}
		return newSymmetricKey(v)
	}
	return nil, errors.New("exactly one of pkcs8 and secret")
}
